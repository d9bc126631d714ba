-- Joint vectors are ~1.2 KB each and are read only by (space, date). Stored WITHOUT ROWID
-- under a key that starts with the space and the entity, every session's ~85 vectors went
-- to ~85 different leaf pages holding three rows each, so the table grew to three times
-- its data and each session rewrote hundreds of kilobytes of pages. As a rowid table the
-- rows of a session are appended together, and the key index, which starts with the
-- date, takes each session's entries in one place and serves the read by (space, date).
CREATE TABLE joint_embeddings_by_date (
    joint_type  TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    as_of_date  TEXT NOT NULL,
    model_id    TEXT NOT NULL,
    vector      BLOB NOT NULL,
    run_id      TEXT NOT NULL,
    config_id   TEXT NOT NULL,
    PRIMARY KEY (as_of_date, joint_type, entity_id, model_id)
);
INSERT INTO joint_embeddings_by_date
    (joint_type, entity_id, as_of_date, model_id, vector, run_id, config_id)
    SELECT joint_type, entity_id, as_of_date, model_id, vector, run_id, config_id
    FROM joint_embeddings ORDER BY as_of_date, joint_type, entity_id, model_id;
DROP TABLE joint_embeddings;
ALTER TABLE joint_embeddings_by_date RENAME TO joint_embeddings;
