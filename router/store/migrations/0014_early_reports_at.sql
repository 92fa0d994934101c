-- Held reports are forgotten after an hour (router/delivery/reports.py HELD_REPORTS_FOR), by
-- their time: each report held deletes those before it without reading the whole table.
CREATE INDEX early_reports_at ON early_reports (at);
