-- The contacts merged into one person are looked up for every message (repeats, status
-- queries): walking merged_into backwards needs an index; most contacts are never merged.
CREATE INDEX contacts_merged_into ON contacts (merged_into) WHERE merged_into IS NOT NULL;
