//! What the catalog holds: each dataset's source tables, columns and partitioning, written
//! once so the export, the manifest and the README's schema agree.
//!
//! Every dataset is partitioned by market and by the year of one date column, as Hive-style
//! directories (`prices/market=US_EQ/year=2024/part-0.parquet`) that pandas, polars, DuckDB
//! and Spark read as a partitioned table. Columns keep the database's names; dates are
//! Parquet `DATE`, vectors `LIST<FLOAT>`, JSON bodies text.

/// Which database a dataset is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Database {
    /// Market data, derived series, embeddings.
    Historical,
    /// Engine outputs, targets, backtests.
    Runtime,
}

/// A column's type in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text (ids, labels, JSON bodies).
    Text,
    /// A calendar date (Parquet `DATE`, days since 1970-01-01).
    Date,
    /// A 64-bit integer.
    Int,
    /// A 64-bit float.
    Real,
    /// A boolean.
    Bool,
    /// A vector stored as little-endian f32 bytes, exported as `LIST<FLOAT>`.
    Vector,
}

impl Kind {
    /// The name the manifest uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "string",
            Self::Date => "date",
            Self::Int => "int64",
            Self::Real => "float64",
            Self::Bool => "bool",
            Self::Vector => "list<float32>",
        }
    }
}

/// One exported column: its name, the SQL expression that reads it (over the dataset's
/// `FROM`, aliased `t`), and its type.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The column's name in the Parquet files.
    pub name: &'static str,
    /// The expression (both backends' SQL).
    pub expr: &'static str,
    /// Its type.
    pub kind: Kind,
}

const fn col(name: &'static str, expr: &'static str, kind: Kind) -> Column {
    Column { name, expr, kind }
}

/// One dataset of the catalog.
#[derive(Clone, Copy, Debug)]
pub struct Dataset {
    /// Its directory under the catalog and its name on the command line.
    pub name: &'static str,
    /// What it holds, for `pv2 export --list` and the manifest.
    pub about: &'static str,
    /// The database it comes from.
    pub database: Database,
    /// The `FROM` clause: the table aliased `t`, with joins that give the market.
    pub from: &'static str,
    /// The market of a row (the first partition key).
    pub market: &'static str,
    /// The date whose year is the second partition key.
    pub date: &'static str,
    /// The order of rows within a partition after the date (the key's other columns).
    pub order: &'static str,
    /// The columns.
    pub columns: &'static [Column],
}

use Kind::{Bool, Date, Int, Real, Text, Vector};

/// Every dataset, in export order.
pub const DATASETS: &[Dataset] = &[
    Dataset {
        name: "prices",
        about: "daily bars as imported (raw OHLC, adjusted close, volume) and their batch",
        database: Database::Historical,
        from: "prices_daily t JOIN instruments i ON i.instrument_id = t.instrument_id",
        market: "i.market_id",
        date: "t.trade_date",
        order: "t.instrument_id",
        columns: &[
            col("instrument_id", "t.instrument_id", Text),
            col("trade_date", "t.trade_date", Date),
            col("open", "t.open", Real),
            col("high", "t.high", Real),
            col("low", "t.low", Real),
            col("close", "t.close", Real),
            col("adj_close", "t.adj_close", Real),
            col("volume", "t.volume", Real),
            col("batch_id", "t.batch_id", Text),
        ],
    },
    Dataset {
        name: "returns",
        about: "log returns over 1, 5 and 21 sessions",
        database: Database::Historical,
        from: "returns_daily t JOIN instruments i ON i.instrument_id = t.instrument_id",
        market: "i.market_id",
        date: "t.trade_date",
        order: "t.instrument_id, t.horizon_days",
        columns: &[
            col("instrument_id", "t.instrument_id", Text),
            col("trade_date", "t.trade_date", Date),
            col("horizon_days", "t.horizon_days", Int),
            col("value", "t.value", Real),
            col("run_id", "t.run_id", Text),
            col("config_id", "t.config_id", Text),
        ],
    },
    Dataset {
        name: "volatility",
        about: "realised volatility over trailing windows",
        database: Database::Historical,
        from: "volatility_daily t JOIN instruments i ON i.instrument_id = t.instrument_id",
        market: "i.market_id",
        date: "t.trade_date",
        order: "t.instrument_id, t.window_days",
        columns: &[
            col("instrument_id", "t.instrument_id", Text),
            col("trade_date", "t.trade_date", Date),
            col("window_days", "t.window_days", Int),
            col("value", "t.value", Real),
            col("run_id", "t.run_id", Text),
            col("config_id", "t.config_id", Text),
        ],
    },
    Dataset {
        name: "factors",
        about: "market (MKT:<market>) and sector (SEC:<market>:<sector>) factor returns",
        database: Database::Historical,
        // Factor ids name their market second: `MKT:US_EQ`, `SEC:US_EQ:Energy`, `XS2:US_EQ`.
        from: "factors_daily t JOIN markets m ON t.factor_id LIKE '%:' || m.market_id \
               OR t.factor_id LIKE '%:' || m.market_id || ':%'",
        market: "m.market_id",
        date: "t.trade_date",
        order: "t.factor_id",
        columns: &[
            col("factor_id", "t.factor_id", Text),
            col("trade_date", "t.trade_date", Date),
            col("value", "t.value", Real),
            col("members", "t.members", Int),
            col("run_id", "t.run_id", Text),
            col("config_id", "t.config_id", Text),
        ],
    },
    Dataset {
        name: "numeric_embeddings",
        about: "market-window embeddings of instruments",
        database: Database::Historical,
        from: "numeric_window_embeddings t \
               LEFT JOIN instruments i ON i.instrument_id = t.entity_id",
        market: "COALESCE(i.market_id, '_none')",
        date: "t.as_of_date",
        order: "t.entity_id, t.model_id",
        columns: &[
            col("entity_id", "t.entity_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("model_id", "t.model_id", Text),
            col("vector", "t.vector", Vector),
            col("run_id", "t.run_id", Text),
            col("config_id", "t.config_id", Text),
        ],
    },
    Dataset {
        name: "joint_embeddings",
        about: "joint (numeric + text + profile) embeddings of instruments and markets",
        database: Database::Historical,
        // Entities are instruments, or a market (the regime context); anything else is
        // filed under `market=_none`.
        from: "joint_embeddings t LEFT JOIN instruments i ON i.instrument_id = t.entity_id \
               LEFT JOIN markets m ON m.market_id = t.entity_id",
        market: "COALESCE(i.market_id, m.market_id, '_none')",
        date: "t.as_of_date",
        order: "t.joint_type, t.entity_id, t.model_id",
        columns: &[
            col("joint_type", "t.joint_type", Text),
            col("entity_id", "t.entity_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("model_id", "t.model_id", Text),
            col("vector", "t.vector", Vector),
            col("run_id", "t.run_id", Text),
            col("config_id", "t.config_id", Text),
        ],
    },
    Dataset {
        name: "profiles",
        about: "issuer profiles (JSON body) with risk flags",
        database: Database::Runtime,
        from: "profiles t",
        market: "t.market_id",
        date: "t.as_of_date",
        order: "t.issuer_id, t.config_id",
        columns: &[
            col("issuer_id", "t.issuer_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("config_id", "t.config_id", Text),
            col("body", "t.body", Text),
            col("risk_flags", "t.risk_flags", Text),
            col("run_id", "t.run_id", Text),
        ],
    },
    Dataset {
        name: "regimes",
        about: "the regime engine's label per session",
        database: Database::Runtime,
        from: "regimes t",
        market: "t.market_id",
        date: "t.as_of_date",
        order: "t.config_id",
        columns: &[
            col("as_of_date", "t.as_of_date", Date),
            col("config_id", "t.config_id", Text),
            col("label", "t.label", Text),
            col("raw_label", "t.raw_label", Text),
            col("change_risk", "t.change_risk", Real),
            col("model_id", "t.model_id", Text),
            col("body", "t.body", Text),
            col("run_id", "t.run_id", Text),
        ],
    },
    Dataset {
        name: "stability",
        about: "stability vectors (score and JSON body) per instrument",
        database: Database::Runtime,
        from: "stability_vectors t",
        market: "t.market_id",
        date: "t.as_of_date",
        order: "t.instrument_id, t.config_id",
        columns: &[
            col("instrument_id", "t.instrument_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("config_id", "t.config_id", Text),
            col("stability_score", "t.stability_score", Real),
            col("body", "t.body", Text),
            col("run_id", "t.run_id", Text),
        ],
    },
    Dataset {
        name: "soft_targets",
        about: "soft-target classes per instrument",
        database: Database::Runtime,
        from: "soft_target_classes t",
        market: "t.market_id",
        date: "t.as_of_date",
        order: "t.instrument_id, t.config_id",
        columns: &[
            col("instrument_id", "t.instrument_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("config_id", "t.config_id", Text),
            col("soft_target_score", "t.soft_target_score", Real),
            col("class", "t.class", Text),
            col("forecast_class", "t.forecast_class", Text),
            col("regime", "t.regime", Text),
            col("run_id", "t.run_id", Text),
        ],
    },
    Dataset {
        name: "fragility",
        about: "fragility scores and classes per instrument",
        database: Database::Runtime,
        from: "fragility_measures t",
        market: "t.market_id",
        date: "t.as_of_date",
        order: "t.instrument_id, t.config_id",
        columns: &[
            col("instrument_id", "t.instrument_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("config_id", "t.config_id", Text),
            col("scenario_set_id", "t.scenario_set_id", Text),
            col("fragility_score", "t.fragility_score", Real),
            col("class", "t.class", Text),
            col("body", "t.body", Text),
            col("run_id", "t.run_id", Text),
        ],
    },
    Dataset {
        name: "scores",
        about: "the assessment's scores and expected returns per strategy and instrument",
        database: Database::Runtime,
        from: "instrument_scores t",
        market: "t.market_id",
        date: "t.as_of_date",
        order: "t.strategy_id, t.instrument_id, t.horizon_days, t.config_id",
        columns: &[
            col("strategy_id", "t.strategy_id", Text),
            col("instrument_id", "t.instrument_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("horizon_days", "t.horizon_days", Int),
            col("config_id", "t.config_id", Text),
            col("expected_return", "t.expected_return", Real),
            col("score", "t.score", Real),
            col("confidence", "t.confidence", Real),
            col("label", "t.label", Text),
            col("prediction", "t.prediction", Real),
            col("momentum", "t.momentum", Real),
            col("reversal", "t.reversal", Real),
            col("low_vol", "t.low_vol", Real),
            col("quality", "t.quality", Real),
            col("fragility", "t.fragility", Real),
            col("run_id", "t.run_id", Text),
        ],
    },
    Dataset {
        name: "universe",
        about: "universe membership with tier, score and reasons",
        database: Database::Runtime,
        from: "universe_members t",
        market: "t.market_id",
        date: "t.as_of_date",
        order: "t.universe_id, t.instrument_id, t.config_id",
        columns: &[
            col("universe_id", "t.universe_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("instrument_id", "t.instrument_id", Text),
            col("config_id", "t.config_id", Text),
            col("included", "CASE WHEN t.included THEN 1 ELSE 0 END", Bool),
            col("tier", "t.tier", Text),
            col("score", "t.score", Real),
            col("sector", "t.sector", Text),
            col("reasons", "t.reasons", Text),
            col("run_id", "t.run_id", Text),
        ],
    },
    Dataset {
        name: "targets",
        about: "target portfolio weights",
        database: Database::Runtime,
        from: "target_portfolios t",
        market: "t.market_id",
        date: "t.as_of_date",
        order: "t.portfolio_id, t.instrument_id, t.config_id",
        columns: &[
            col("portfolio_id", "t.portfolio_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("instrument_id", "t.instrument_id", Text),
            col("config_id", "t.config_id", Text),
            col("weight", "t.weight", Real),
            col("method", "t.method", Text),
            col("run_id", "t.run_id", Text),
        ],
    },
    Dataset {
        name: "risk_reports",
        about: "portfolio risk reports (JSON body with the scenario block)",
        database: Database::Runtime,
        from: "portfolio_risk_reports t",
        market: "t.market_id",
        date: "t.as_of_date",
        order: "t.portfolio_id, t.config_id",
        columns: &[
            col("portfolio_id", "t.portfolio_id", Text),
            col("as_of_date", "t.as_of_date", Date),
            col("config_id", "t.config_id", Text),
            col("method", "t.method", Text),
            col("names", "t.names", Int),
            col("ex_ante_vol", "t.ex_ante_vol", Real),
            col("historical_es_99", "t.historical_es_99", Real),
            col("scenario_es_99", "t.scenario_es_99", Real),
            col("turnover", "t.turnover", Real),
            col("body", "t.body", Text),
            col("run_id", "t.run_id", Text),
        ],
    },
    Dataset {
        name: "backtest_runs",
        about: "backtests (strategy, configs, state, metrics), partitioned by their last date",
        database: Database::Runtime,
        from: "backtest_runs t",
        market: "t.market_id",
        date: "t.to_date",
        order: "t.backtest_id",
        columns: &[
            col("backtest_id", "t.backtest_id", Text),
            col("strategy", "t.strategy", Text),
            col("from_date", "t.from_date", Date),
            col("to_date", "t.to_date", Date),
            col("state", "t.state", Text),
            col("rebalances", "t.rebalances", Int),
            col("failed_rebalances", "t.failed_rebalances", Int),
            col("metrics", "t.metrics", Text),
            col("strategy_body", "t.strategy_body", Text),
            col("engine_configs", "t.engine_configs", Text),
            col("run_id", "t.run_id", Text),
            col("config_id", "t.config_id", Text),
        ],
    },
    Dataset {
        name: "backtest_daily",
        about: "each backtest's equity, cash, returns, exposure, costs and regime per session",
        database: Database::Runtime,
        from: "backtest_daily t JOIN backtest_runs b ON b.backtest_id = t.backtest_id",
        market: "b.market_id",
        date: "t.trade_date",
        order: "t.backtest_id",
        columns: &[
            col("backtest_id", "t.backtest_id", Text),
            col("trade_date", "t.trade_date", Date),
            col("equity", "t.equity", Real),
            col("cash", "t.cash", Real),
            col("daily_return", "t.daily_return", Real),
            col("benchmark_return", "t.benchmark_return", Real),
            col("gross_exposure", "t.gross_exposure", Real),
            col("traded_notional", "t.traded_notional", Real),
            col("costs", "t.costs", Real),
            col("regime", "t.regime", Text),
            col("run_id", "t.run_id", Text),
            col("config_id", "t.config_id", Text),
        ],
    },
    Dataset {
        name: "backtest_trades",
        about: "each backtest's fills",
        database: Database::Runtime,
        from: "backtest_trades t JOIN backtest_runs b ON b.backtest_id = t.backtest_id",
        market: "b.market_id",
        date: "t.trade_date",
        order: "t.backtest_id, t.instrument_id",
        columns: &[
            col("backtest_id", "t.backtest_id", Text),
            col("trade_date", "t.trade_date", Date),
            col("instrument_id", "t.instrument_id", Text),
            col("order_date", "t.order_date", Date),
            col("shares", "t.shares", Real),
            col("requested_shares", "t.requested_shares", Real),
            col("price", "t.price", Real),
            col("notional", "t.notional", Real),
            col("commission", "t.commission", Real),
            col("slippage", "t.slippage", Real),
            col("target_weight", "t.target_weight", Real),
            col("run_id", "t.run_id", Text),
            col("config_id", "t.config_id", Text),
        ],
    },
];

/// The dataset called `name`.
pub fn dataset(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().find(|d| d.name == name)
}
