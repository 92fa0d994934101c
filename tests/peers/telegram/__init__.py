"""A Telegram Bot API test double: the HTTP contract PTB speaks, and a control API for tests."""
