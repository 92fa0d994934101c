"""Channel adapters and the contract every adapter speaks to the router."""
