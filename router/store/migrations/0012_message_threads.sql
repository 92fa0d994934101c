-- The citizen's messages a later reply can name (an email's Message-ID, a Telegram message id),
-- kept against their conversation with who sent them and how far the channel vouched for them:
-- a reply finds the conversation only from the same contact, as verified or more. Our own
-- messages are found through peer_references.
CREATE TABLE message_threads (
    channel          TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    contact_id       TEXT NOT NULL,
    verified         INTEGER NOT NULL,
    PRIMARY KEY (channel, message_id)
);
