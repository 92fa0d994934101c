"""The email channel: citizens' mail in over IMAP or LMTP/SMTP, notices out over SMTP."""
