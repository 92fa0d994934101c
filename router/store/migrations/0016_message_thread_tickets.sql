-- The ticket each kept message was filed to, so that a reply joins the ticket of the message
-- it answers (a chat's one conversation spans every ticket of the chat). NULL for a command,
-- and for messages kept before this version: a reply to one goes by its conversation.
-- (0015 was taken by a migration since removed; a database that applied it must still get this.)
ALTER TABLE message_threads ADD COLUMN ticket_number TEXT;
