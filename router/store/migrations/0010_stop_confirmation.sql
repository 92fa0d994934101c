-- The one notice a suppressed address still gets: the confirmation of its «СТОП» (CONTRACTS.md).
-- The outbox lets it past a stop_requested entry, and past nothing else.
ALTER TABLE notifications ADD COLUMN confirms_stop INTEGER NOT NULL DEFAULT 0;
