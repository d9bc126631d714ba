-- Historical database, PostgreSQL: reference data, daily market data, derived series, news,
-- ingest bookkeeping. Dates are DATE, timestamps TIMESTAMPTZ.

CREATE TABLE markets (
    market_id TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    timezone  TEXT NOT NULL,
    calendar  TEXT NOT NULL
);

CREATE TABLE issuers (
    issuer_id TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    sector    TEXT,
    industry  TEXT,
    country   TEXT
);

CREATE TABLE instruments (
    instrument_id TEXT PRIMARY KEY,
    issuer_id     TEXT NOT NULL REFERENCES issuers (issuer_id),
    market_id     TEXT NOT NULL REFERENCES markets (market_id),
    symbol        TEXT NOT NULL,
    asset_class   TEXT NOT NULL,
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'delisted')),
    UNIQUE (market_id, symbol)
);

CREATE TABLE prices_daily (
    instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
    trade_date    DATE NOT NULL,
    open          DOUBLE PRECISION,
    high          DOUBLE PRECISION,
    low           DOUBLE PRECISION,
    close         DOUBLE PRECISION,
    adj_close     DOUBLE PRECISION NOT NULL,
    volume        DOUBLE PRECISION,
    batch_id      TEXT NOT NULL,
    PRIMARY KEY (instrument_id, trade_date)
);

-- The earliest date whose prices changed since derived series were last computed.
CREATE TABLE derive_marks (
    instrument_id TEXT PRIMARY KEY REFERENCES instruments (instrument_id),
    dirty_from    DATE NOT NULL
);

CREATE TABLE returns_daily (
    instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
    trade_date    DATE NOT NULL,
    horizon_days  BIGINT NOT NULL,
    value         DOUBLE PRECISION NOT NULL,
    run_id        TEXT NOT NULL,
    config_id     TEXT NOT NULL,
    PRIMARY KEY (instrument_id, horizon_days, trade_date)
);

CREATE TABLE volatility_daily (
    instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
    trade_date    DATE NOT NULL,
    window_days   BIGINT NOT NULL,
    value         DOUBLE PRECISION NOT NULL,
    run_id        TEXT NOT NULL,
    config_id     TEXT NOT NULL,
    PRIMARY KEY (instrument_id, window_days, trade_date)
);

CREATE TABLE factors_daily (
    factor_id  TEXT NOT NULL,
    trade_date DATE NOT NULL,
    value      DOUBLE PRECISION NOT NULL,
    members    BIGINT NOT NULL,
    run_id     TEXT NOT NULL,
    config_id  TEXT NOT NULL,
    PRIMARY KEY (factor_id, trade_date)
);

CREATE TABLE news_articles (
    article_id   TEXT PRIMARY KEY,
    published_at TIMESTAMPTZ NOT NULL,
    source       TEXT NOT NULL,
    headline     TEXT NOT NULL,
    body         TEXT NOT NULL,
    batch_id     TEXT NOT NULL
);
CREATE INDEX news_articles_published_at ON news_articles (published_at);
CREATE INDEX news_articles_batch ON news_articles (batch_id);

CREATE TABLE news_links (
    article_id    TEXT NOT NULL REFERENCES news_articles (article_id) ON DELETE CASCADE,
    issuer_id     TEXT NOT NULL REFERENCES issuers (issuer_id),
    instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
    PRIMARY KEY (article_id, issuer_id)
);
CREATE INDEX news_links_issuer ON news_links (issuer_id);

CREATE TABLE ingest_batches (
    batch_id      TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    file          TEXT NOT NULL,
    rows_ok       BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ
);

CREATE TABLE ingest_rejects (
    batch_id    TEXT NOT NULL REFERENCES ingest_batches (batch_id) ON DELETE CASCADE,
    line_no     BIGINT NOT NULL,
    column_name TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    PRIMARY KEY (batch_id, line_no, column_name)
);

-- The synthetic generator's hidden regime path, kept to score engines against it.
CREATE TABLE synthetic_regimes (
    market_id  TEXT NOT NULL,
    trade_date DATE NOT NULL,
    regime     TEXT NOT NULL,
    seed       BIGINT NOT NULL,
    PRIMARY KEY (market_id, trade_date)
);
