-- Files an operator sends with a reply (attachments uploaded to the ticket, checked clean):
-- the notification names them by attachment id, the chat notice describes them for download.
ALTER TABLE notifications ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';  -- JSON [id, ...]
ALTER TABLE chat_notices ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';   -- JSON [file, ...]
