-- The request an Idempotency-Key came with (a hash of its body): the same key
-- with another request is refused instead of answered with the first run.
-- NULL: a run made without a key, or by a schedule (its key is its slot).
ALTER TABLE runs ADD COLUMN request_hash TEXT;
