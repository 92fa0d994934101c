"""Persistence: the SQLite database (one writer, group commit) and the blob store.

The only package that knows SQL: consumers reach it through protocols of their own (access.py).
"""
