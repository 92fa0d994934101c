-- Journal first, parse later (channels.contract.Received): a row holds either a RawInbound
-- an adapter built itself (`inbound`) or the bytes a peer delivered (`received`), parsed after
-- the commit. `digest` is of the content alone, so a key that comes again with other content is
-- told from a redelivery; such content is its own row, a revision of the first or a conflict.
-- States: received | filed | failed | conflict | unparseable (filed flagged, a dead letter) |
-- dropped.
ALTER TABLE journal ADD COLUMN format TEXT NOT NULL DEFAULT 'inbound';
ALTER TABLE journal ADD COLUMN digest TEXT;
ALTER TABLE journal ADD COLUMN revision_of INTEGER REFERENCES journal (id);

-- Adapters' own durable state (channels.contract.StatePort): values by key, and append-only
-- streams whose entries are numbered per stream and appended once per key.
CREATE TABLE adapter_state (
    channel     TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (channel, key)
) WITHOUT ROWID;
CREATE TABLE adapter_streams (
    channel  TEXT NOT NULL,
    stream   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    key      TEXT NOT NULL,
    value    BLOB NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (channel, stream, seq),
    UNIQUE (channel, key)
);

-- The web chat's sessions and notices move behind that port, in the chat's own encoding
-- (channels/webchat/sessions.py): JSON values, a session under `session:TOKEN_HASH`, its notices
-- in the stream `notices:SESSION_ID`, and each file a notice carried under `file:SESSION:ID`.
INSERT INTO adapter_state (channel, key, value, updated_at)
SELECT 'webchat', 'session:' || token_hash,
       CAST(json_object('id', id, 'language', language, 'identity', identity) AS BLOB), last_seen
FROM chat_sessions;
INSERT INTO adapter_streams (channel, stream, seq, key, value, at)
SELECT 'webchat', 'notices:' || session, seq, notification_id,
       CAST(json_object('kind', kind, 'ticket', ticket, 'text', text, 'at', at,
                        'attachments', json(attachments)) AS BLOB), at
FROM chat_notices;
INSERT OR IGNORE INTO adapter_state (channel, key, value, updated_at)
SELECT 'webchat', 'file:' || n.session || ':' || json_extract(f.value, '$.id'), X'', n.at
FROM chat_notices n, json_each(n.attachments) f;
DROP TABLE chat_notices;
DROP TABLE chat_sessions;
