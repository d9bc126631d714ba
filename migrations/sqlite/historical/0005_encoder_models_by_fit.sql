-- A fitted model is stored once per (encoder, config, anchor), no longer once per content
-- id: two configs whose fits come out identical (the same model id) each keep their row,
-- so each finds its fit again instead of refitting it at every session.
CREATE TABLE encoder_models_by_fit (
    model_id      TEXT NOT NULL,
    encoder       TEXT NOT NULL,
    config_id     TEXT NOT NULL,
    fitted_as_of  TEXT NOT NULL,
    body          TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    PRIMARY KEY (encoder, config_id, fitted_as_of)
);
INSERT INTO encoder_models_by_fit (model_id, encoder, config_id, fitted_as_of, body, run_id)
    SELECT model_id, encoder, config_id, fitted_as_of, body, run_id FROM encoder_models;
DROP TABLE encoder_models;
ALTER TABLE encoder_models_by_fit RENAME TO encoder_models;
CREATE INDEX encoder_models_id ON encoder_models (model_id);
