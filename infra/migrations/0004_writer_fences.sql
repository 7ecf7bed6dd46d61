-- The fencing epochs of the pipeline's single writers (pipeline/fence.py): one row per role
-- ('flow', 'persist:{shard}') holding the highest writer-lease epoch that has written. Every
-- write transaction of such a writer first raises the row to its own epoch, and finds no row
-- (and rolls back) when a newer holder has been there: an older holder, paused past its lease,
-- can never commit after a newer one has. The row lock also orders the two: a transaction of
-- the old holder still open when the new one arrives commits (or not) before the new one's.

CREATE TABLE IF NOT EXISTS writer_fences (
    role  TEXT   PRIMARY KEY,
    epoch BIGINT NOT NULL
);
