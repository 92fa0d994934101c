-- A notice rendered for its channel beside its text (router/delivery/notifier.py Rendering, JSON): its
-- language, the email Subject, the buttons a messenger shows under it.
ALTER TABLE notifications ADD COLUMN rendering TEXT NOT NULL DEFAULT '{}';
