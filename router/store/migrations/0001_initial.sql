-- Intake journal: raw inbound exactly as received, one row per channel idempotency key.
CREATE TABLE journal (
    id            INTEGER PRIMARY KEY,
    channel       TEXT NOT NULL,
    account       TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    raw           BLOB NOT NULL,             -- the encoded RawInbound, or empty when...
    raw_sha256    TEXT,                      -- ...it is large and kept in the blob store
    state         TEXT NOT NULL DEFAULT 'received',  -- received | filed | failed
    redeliveries  INTEGER NOT NULL DEFAULT 0,
    envelope_id   TEXT,
    error         TEXT,
    UNIQUE (channel, account, idem_key)
);
CREATE INDEX journal_pending ON journal (state) WHERE state <> 'filed';

-- Contact identity graph: identities belong to contacts; merges point one contact at another.
CREATE TABLE contacts (
    id           TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL,
    merged_into  TEXT REFERENCES contacts (id)
);
CREATE TABLE identities (
    kind          TEXT NOT NULL,
    address       TEXT NOT NULL,
    contact_id    TEXT NOT NULL REFERENCES contacts (id),
    verified      INTEGER NOT NULL DEFAULT 0,
    display_name  TEXT,
    first_seen    TEXT NOT NULL,
    PRIMARY KEY (kind, address)
);
CREATE INDEX identities_contact ON identities (contact_id);
CREATE TABLE contact_merges (
    id         INTEGER PRIMARY KEY,
    survivor   TEXT NOT NULL REFERENCES contacts (id),
    absorbed   TEXT NOT NULL REFERENCES contacts (id),
    evidence   TEXT NOT NULL,
    merged_at  TEXT NOT NULL,
    undone_at  TEXT
);

-- Tickets and their numbering; the counter row per year is never decremented.
CREATE TABLE ticket_counters (
    year  INTEGER PRIMARY KEY,
    last  INTEGER NOT NULL
);
CREATE TABLE tickets (
    number              TEXT PRIMARY KEY,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    status              TEXT NOT NULL,
    category_code       TEXT NOT NULL,
    category_name       TEXT NOT NULL,
    priority            TEXT NOT NULL,
    first_response_due  TEXT NOT NULL,
    resolution_due      TEXT NOT NULL,
    channel             TEXT NOT NULL,
    account             TEXT NOT NULL,
    address             TEXT NOT NULL,
    language            TEXT NOT NULL,
    conversation_id     TEXT NOT NULL,
    contact_id          TEXT NOT NULL REFERENCES contacts (id),
    related             TEXT NOT NULL DEFAULT '[]',
    status_comment      TEXT,
    status_reason       TEXT,
    expected_at         TEXT
);
CREATE INDEX tickets_conversation ON tickets (conversation_id, created_at);
CREATE TABLE ticket_contacts (
    number      TEXT NOT NULL REFERENCES tickets (number),
    contact_id  TEXT NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (number, contact_id)
);
CREATE TABLE ticket_events (
    id        INTEGER PRIMARY KEY,
    number    TEXT NOT NULL REFERENCES tickets (number),
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,  -- status | reply
    status    TEXT,
    detail    TEXT NOT NULL DEFAULT '{}',
    idem_key  TEXT UNIQUE
);

-- Message store: every envelope. feed_seq, the feed cursor, is assigned when the envelope is
-- handed off, not when stored: one held for an attachment scan gets its place on release, so
-- a consumer past its insert position still sees it.
CREATE TABLE envelopes (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_seq         INTEGER UNIQUE,
    id               TEXT NOT NULL UNIQUE,
    journal_id       INTEGER NOT NULL UNIQUE REFERENCES journal (id),
    received_at      TEXT NOT NULL,
    ticket_number    TEXT REFERENCES tickets (number),
    contact_id       TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    held             TEXT,  -- why it is not handed off yet (e.g. 'scan'), NULL otherwise
    body             BLOB NOT NULL
);
CREATE INDEX envelopes_ticket ON envelopes (ticket_number, seq);
CREATE INDEX envelopes_contact ON envelopes (contact_id, received_at);

-- Webhook handoff: one row per envelope in guaranteed delivery.
CREATE TABLE handoffs (
    envelope_seq     INTEGER PRIMARY KEY REFERENCES envelopes (seq),
    state            TEXT NOT NULL DEFAULT 'queued',  -- queued | delivered | dead
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    first_queued_at  REAL NOT NULL,
    last_error       TEXT
);
CREATE INDEX handoffs_due ON handoffs (next_attempt_at) WHERE state = 'queued';

-- Outbox: notifications to citizens, each in exactly one delivery state.
CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    source_key       TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    ticket_number    TEXT,
    contact_id       TEXT,
    channel          TEXT NOT NULL,
    account          TEXT NOT NULL,
    address          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    automatic        INTEGER NOT NULL,
    text             TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'queued',  -- queued|sending|sent|delivered|failed|dead
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    first_queued_at  REAL NOT NULL,
    sent_at          REAL,
    last_error       TEXT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state IN ('queued', 'failed');
CREATE INDEX notifications_contact ON notifications (contact_id, sent_at) WHERE automatic = 1;

-- Web chat sessions and the notices shown in them (replayed on resume).
-- The session token is a bearer secret: only its SHA-256 is stored; `id` is the public name.
CREATE TABLE chat_sessions (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    language    TEXT NOT NULL,
    identity    TEXT
);
CREATE TABLE chat_notices (
    session          TEXT NOT NULL REFERENCES chat_sessions (id),
    seq              INTEGER NOT NULL,
    notification_id  TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    ticket           TEXT,
    text             TEXT NOT NULL,
    at               TEXT NOT NULL,
    PRIMARY KEY (session, seq)
);

-- Attachments: every file a citizen sent, with its type check and malware scan verdict.
-- Infected and rejected content lives in the quarantine blob store, never served to the backend.
CREATE TABLE attachments (
    id             TEXT PRIMARY KEY,
    sha256         TEXT NOT NULL,
    size           INTEGER NOT NULL,
    filename       TEXT NOT NULL,
    declared_type  TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    channel        TEXT NOT NULL,
    owner          TEXT,            -- the web chat session that uploaded it, if any
    status         TEXT NOT NULL,   -- pending | clean | infected | rejected | error
    detail         TEXT,
    reason_code    TEXT,            -- why it was not accepted: a key of [attachment_reasons]
    flags          TEXT NOT NULL DEFAULT '[]',
    quarantined    INTEGER NOT NULL DEFAULT 0,
    received_at    REAL NOT NULL,
    scanned_at     REAL
);
CREATE INDEX attachments_pending ON attachments (received_at) WHERE status = 'pending';
CREATE INDEX envelopes_held ON envelopes (held) WHERE held IS NOT NULL;
