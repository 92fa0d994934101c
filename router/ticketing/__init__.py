"""Ticketing: the category catalogue, ticket numbers and SLAs, and the backend's updates."""
