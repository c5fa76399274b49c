-- 009: each meeting's IANA time zone in the index, for lists that show local times. Rows from
-- before are NULL until their plan next changes; lists read those as the meeting's default
-- zone (its official's county's, else the group's jurisdiction's), which is what they had.
ALTER TABLE idx_meetings ADD COLUMN zone TEXT;
