"""The SMS channel: SMPP 3.4 to the operators' SMSCs."""
