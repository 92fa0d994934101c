"""Fixtures shared by every test directory."""

from tests.clamd_fixtures import clamd

__all__ = ["clamd"]
