"""The intake: the journal (the idempotent receiver) and filing, the stages after it."""
