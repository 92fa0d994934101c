-- The ticket each conversation is about now: the one its latest message was filed to. A
-- conversation that joined another ticket by quoting its number goes on in that ticket.
CREATE TABLE conversations (
    id             TEXT PRIMARY KEY,
    ticket_number  TEXT NOT NULL REFERENCES tickets (number),
    updated_at     TEXT NOT NULL
);
-- Until now a conversation was about the newest ticket opened in it.
INSERT INTO conversations (id, ticket_number, updated_at)
SELECT conversation_id, number, created_at FROM tickets WHERE true ORDER BY created_at, number
ON CONFLICT (id) DO UPDATE SET ticket_number = excluded.ticket_number,
                               updated_at = excluded.updated_at;
