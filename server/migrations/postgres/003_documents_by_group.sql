-- A group's documents found by its id: the relay reads a group's access rows when a member
-- connects, not all of them at startup.
CREATE INDEX documents_by_group ON documents (group_id);
