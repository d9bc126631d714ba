-- A fitted model is stored once per (encoder, config, anchor), no longer once per content
-- id: two configs whose fits come out identical (the same model id) each keep their row,
-- so each finds its fit again instead of refitting it at every session.
ALTER TABLE encoder_models DROP CONSTRAINT encoder_models_pkey;
DROP INDEX encoder_models_fit;
ALTER TABLE encoder_models ADD PRIMARY KEY (encoder, config_id, fitted_as_of);
CREATE INDEX encoder_models_id ON encoder_models (model_id);
