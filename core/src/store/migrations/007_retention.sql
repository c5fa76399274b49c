-- 007: how many months of contacts each group keeps (its plan's or brief's setting), so that
-- erasing older periods is one query when the store opens.
ALTER TABLE groups ADD COLUMN retention_months INTEGER;
