"""Persistence: the SQLite database (one writer, group commit) and the blob store."""
