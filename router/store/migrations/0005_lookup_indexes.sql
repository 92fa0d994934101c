-- Lookups that walked whole tables: a person's tickets (bare status queries, the chat's
-- welcome), and every upload of the same bytes (a verdict of infected is shared by them all).
CREATE INDEX ticket_contacts_contact ON ticket_contacts (contact_id);
CREATE INDEX attachments_content ON attachments (sha256);
