"""The channel platform: the registry of installed channels, supervision, the ports."""
