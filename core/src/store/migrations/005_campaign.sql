-- 005: what the campaign layer needs on a device.
-- Targets name their county (FIPS), office and city or precinct, and so the official they share
-- with other groups. Targets written before have none: NULL, as their documents say.
ALTER TABLE idx_targets ADD COLUMN county TEXT;
ALTER TABLE idx_targets ADD COLUMN office TEXT;
ALTER TABLE idx_targets ADD COLUMN place TEXT;
ALTER TABLE idx_targets ADD COLUMN official_key TEXT;
CREATE INDEX idx_targets_official ON idx_targets(official_key) WHERE official_key IS NOT NULL;
-- Who beyond the group sees a meeting; meetings from before are private.
ALTER TABLE idx_meetings ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';
-- Whether the group shares with the campaign (from its plan's profile, like its name).
ALTER TABLE groups ADD COLUMN shares INTEGER NOT NULL DEFAULT 1;
