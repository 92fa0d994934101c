-- An SMS message id is kept under its account's name since this version ("short:42"): two
-- operators' SMSCs number their messages each on its own. The references stored before it
-- take their notice's account, so that a receipt for an SMS sent before the upgrade still
-- finds it (ids an SMSC wrote in hex with letters were stored as their decimal value then, and
-- cannot be told from decimal ones: their receipts go unmatched, counted).
UPDATE peer_references
SET reference = (SELECT n.account FROM notifications n WHERE n.id = notification_id)
    || ':' || reference
WHERE channel = 'sms';
