-- Every imported file is archived by the SHA-256 of its bytes before it is parsed; a batch
-- names its file there and what it was imported into, so `pv2 import replay BATCH` can
-- import the same bytes the same way again. NULL: a synthetic batch, or one imported before
-- the archive existed.
ALTER TABLE ingest_batches ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE ingest_batches ADD COLUMN archive_sha256 TEXT;
