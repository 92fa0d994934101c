-- Every delivery state a notification went through, with the event and why
-- (GET /api/v1/notifications/{id} "history"); router/delivery/states.py is the table of moves.
CREATE TABLE notification_history (
    seq             INTEGER PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    at              TEXT NOT NULL,
    state           TEXT NOT NULL,
    event           TEXT NOT NULL,
    reason          TEXT
);
CREATE INDEX notification_history_by_id ON notification_history (notification_id);

-- `failed` now means failed for good (CONTRACTS.md): a notification between attempts after a
-- temporary failure waits in `queued`.
UPDATE notifications SET state = 'queued' WHERE state = 'failed';
DROP INDEX notifications_due;
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'queued';
