-- The peer's ids for what it took (an SMTP queue id, each SMS part's message id, a Telegram
-- message id): later receipts and bounces name a notification by them.
CREATE TABLE peer_references (
    channel         TEXT NOT NULL,
    reference       TEXT NOT NULL,
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    PRIMARY KEY (channel, reference)
);
-- Reports that overtook the answer to their attempt (SMPP deliver_sm before submit_sm_resp):
-- held until the attempt's references are stored, then applied.
CREATE TABLE early_reports (
    channel   TEXT NOT NULL,
    reference TEXT NOT NULL,
    delivered INTEGER NOT NULL,
    reason    TEXT,
    at        TEXT NOT NULL,
    PRIMARY KEY (channel, reference)
);
