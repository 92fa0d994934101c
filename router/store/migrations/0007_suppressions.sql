-- Addresses that get nothing from us on a channel (bounced, «СТОП», bot blocked, an operator's
-- word), in the sender form of CONTRACTS.md; `until` NULL means until removed.
CREATE TABLE suppressions (
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    reason  TEXT NOT NULL,
    since   TEXT NOT NULL,
    until   TEXT,
    PRIMARY KEY (channel, address)
);
