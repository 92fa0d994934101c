"""Attachments: blob storage, type checks, malware scanning, quarantine."""
