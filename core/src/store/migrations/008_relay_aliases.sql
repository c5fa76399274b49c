-- 008: the other addresses the remembered relay says are its own (the nodes of one relay, each
-- with its own URL), as audiences, one per line: a device with groups dials only its relay, and
-- these count as it. Emptied when the device moves to another relay.
ALTER TABLE device ADD COLUMN relay_aliases TEXT NOT NULL DEFAULT '';
