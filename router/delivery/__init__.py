"""Delivery of notices to citizens: the notification state machine (the outbox follows)."""
