-- 004: the relay this device syncs with, remembered from the last connection that reached it
-- (a join, a sync, a request), so that later commands need not be told it again.
ALTER TABLE device ADD COLUMN relay TEXT;
