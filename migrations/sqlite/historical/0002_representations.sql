-- Representations: fitted encoder models, numeric window embeddings, text embeddings of
-- news articles and their issuer-day aggregates, joint embeddings. Vectors are
-- little-endian f32 blobs. Every row carries the run and the encoder config that wrote it.

-- A fitted model (e.g. the numeric encoder's PCA), versioned by its content hash and
-- stored so every embedding can be recomputed and explained.
CREATE TABLE encoder_models (
    model_id      TEXT PRIMARY KEY,
    encoder       TEXT NOT NULL,
    config_id     TEXT NOT NULL,
    fitted_as_of  TEXT NOT NULL,
    body          TEXT NOT NULL,
    run_id        TEXT NOT NULL
);
CREATE UNIQUE INDEX encoder_models_fit ON encoder_models (encoder, config_id, fitted_as_of);

CREATE TABLE numeric_window_embeddings (
    entity_id   TEXT NOT NULL,
    as_of_date  TEXT NOT NULL,
    model_id    TEXT NOT NULL,
    vector      BLOB NOT NULL,
    run_id      TEXT NOT NULL,
    config_id   TEXT NOT NULL,
    PRIMARY KEY (entity_id, as_of_date, model_id)
) WITHOUT ROWID;
CREATE INDEX numeric_window_embeddings_date ON numeric_window_embeddings (as_of_date, model_id);

CREATE TABLE text_embeddings (
    source_type TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    model_id    TEXT NOT NULL,
    vector      BLOB NOT NULL,
    run_id      TEXT NOT NULL,
    config_id   TEXT NOT NULL,
    PRIMARY KEY (source_type, source_id, model_id)
) WITHOUT ROWID;

-- The mean (re-normalised) text vector of the articles about an issuer published in one
-- session's news window (after the previous session's close, up to this one's).
CREATE TABLE issuer_text_embeddings (
    issuer_id   TEXT NOT NULL,
    as_of_date  TEXT NOT NULL,
    model_id    TEXT NOT NULL,
    articles    INTEGER NOT NULL,
    vector      BLOB NOT NULL,
    run_id      TEXT NOT NULL,
    config_id   TEXT NOT NULL,
    PRIMARY KEY (issuer_id, as_of_date, model_id)
) WITHOUT ROWID;
CREATE INDEX issuer_text_embeddings_date ON issuer_text_embeddings (as_of_date, model_id);

CREATE TABLE joint_embeddings (
    joint_type  TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    as_of_date  TEXT NOT NULL,
    model_id    TEXT NOT NULL,
    vector      BLOB NOT NULL,
    run_id      TEXT NOT NULL,
    config_id   TEXT NOT NULL,
    PRIMARY KEY (joint_type, entity_id, as_of_date, model_id)
) WITHOUT ROWID;
CREATE INDEX joint_embeddings_date ON joint_embeddings (as_of_date, joint_type);
