"""The SMS channel: an SMPP 3.4 client (ESME) towards the operators' SMSCs."""
