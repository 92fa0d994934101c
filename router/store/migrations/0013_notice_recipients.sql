-- Addresses a citizen declared for a conversation's notices (the web chat's contact frame: an
-- email or a phone left after the dialogue went offline). The ticket's status notices and
-- replies go there as well as to the conversation's own channel (a Recipient List). Declared,
-- never verified: they are no identity of the citizen's and join them to nobody.
CREATE TABLE notice_recipients (
    conversation_id  TEXT NOT NULL,
    channel          TEXT NOT NULL,
    address          TEXT NOT NULL,
    declared_at      TEXT NOT NULL,
    PRIMARY KEY (conversation_id, channel, address)
);
-- The conversations filed to a ticket, to find their recipients when the ticket changes.
CREATE INDEX conversations_ticket ON conversations (ticket_number);
