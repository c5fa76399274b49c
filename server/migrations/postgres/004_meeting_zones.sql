-- Each shared meeting's IANA time zone (what its time is shown in). The campaign index is
-- built again from every group's plan at the next start, so that meetings shared before have
-- theirs too (the boards are rewritten from it).
ALTER TABLE campaign_meetings ADD COLUMN zone TEXT COLLATE "C";
DELETE FROM campaign_built;
