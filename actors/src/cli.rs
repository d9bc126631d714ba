//! The `pv2` command-line grammar.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Prometheus v2: quantitative research and portfolio system.
#[derive(Debug, Parser)]
#[command(name = "pv2", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration directory (default.toml, markets.toml, dags.toml, engines/,
    /// strategies/). Without it: `PV2_CONFIG`, then `./config` when it exists, then the
    /// defaults built into the binary (`pv2 config init DIR` writes them out to edit).
    #[arg(long, global = true, env = "PV2_CONFIG", value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// Historical database URL (sqlite://PATH or postgres://…); overrides the config.
    #[arg(long, global = true, env = "PV2_HISTORICAL_DB", value_name = "URL")]
    pub historical_db: Option<String>,
    /// Runtime database URL; overrides the config.
    #[arg(long, global = true, env = "PV2_RUNTIME_DB", value_name = "URL")]
    pub runtime_db: Option<String>,
    /// Log format on stderr (level from PV2_LOG, default `warn`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Fault injection for tests and drills: `ACTOR:KIND@N|*` (KIND: panic, actor-panic,
    /// error, permanent, hang), comma-separated; `pv2 drill chaos` also takes `all`.
    #[arg(long, global = true, env = "PV2_FAULTS", value_name = "SPEC")]
    pub faults: Option<String>,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Output format of commands that print results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text for people.
    Text,
    /// One JSON document.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and migrate both databases and register the configured markets (idempotent).
    Init,
    /// Import a file (prices, instruments or news).
    Import {
        /// What kind of file.
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Write the Parquet catalog: prices, derived series, embeddings, profiles, engine
    /// outputs, targets and backtests, by market and year, with a manifest; incremental.
    Export(ExportArgs),
    /// Recompute derived series (returns, volatility, factors) for prices that changed.
    Derive,
    /// Generate a synthetic market, load it, derive its series and print a summary.
    Demo(DemoArgs),
    /// Run the daemon: scheduler, orchestrator, actors and the HTTP API, until SIGTERM.
    Daemon {
        /// Listen address of the HTTP API (default from `[daemon] listen`).
        #[arg(long)]
        listen: Option<String>,
    },
    /// One activation of a DAG for a market and date (through the daemon when one runs).
    Run {
        /// The market.
        #[arg(long)]
        market: String,
        /// The trading date, YYYY-MM-DD.
        #[arg(long)]
        date: chrono::NaiveDate,
        /// The DAG (default: `[daemon] daily_dag`).
        #[arg(long)]
        dag: Option<String>,
        /// Run again even if a run for that date already finished.
        #[arg(long)]
        rerun: bool,
    },
    /// Replay the scheduler over past dates on a simulated clock: every activation of the
    /// market's triggered DAGs from `--from` to `--to` runs through the same actors, one
    /// after another. Resumable: run the same command again after an interruption.
    Backfill(BackfillArgs),
    /// Backtest a strategy: the same engines driven over its rebalance dates on a simulated
    /// clock, a simulated broker in between, metrics overall and by regime.
    Backtest(BacktestArgs),
    /// Embed text with the hashing or MiniLM encoder and print the vectors.
    Embed {
        /// What to embed.
        #[command(subcommand)]
        what: EmbedCommand,
    },
    /// Exchange calendars: sessions, market state at an instant, planned activations.
    Calendar {
        /// What to show.
        #[command(subcommand)]
        what: CalendarCommand,
    },
    /// DAG runs with their job attempts, newest first.
    Runs {
        /// How many runs.
        #[arg(long, default_value_t = 20)]
        last: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// The world-state engines' stored outputs for a market and date.
    Show(ShowArgs),
    /// Supervision state of the running daemon's actors (state, restarts, config, last
    /// error); `reset NAME` brings a DEGRADED actor back without restarting the daemon.
    Actors {
        /// What to do (default: list).
        #[command(subcommand)]
        what: Option<ActorsCommand>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text, global = true)]
        format: OutputFormat,
    },
    /// Fire drills of supervision on scratch copies of the databases.
    Drill {
        /// Which drill.
        #[command(subcommand)]
        what: DrillCommand,
    },
    /// Engine configurations: show, history, apply.
    Config {
        /// What to do.
        #[command(subcommand)]
        what: ConfigCommand,
    },
    /// Kronos: how decisions turned out, candidate configs, the promotion freeze.
    Kronos {
        /// What to do.
        #[command(subcommand)]
        what: KronosCommand,
    },
    /// Measure performance.
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Kill switch: stop every order at once (persisted; checked immediately before every
    /// order, by a running daemon too).
    Halt(SwitchArgs),
    /// Kill switch: only orders that bring a position closer to zero.
    ReduceOnly(SwitchArgs),
    /// Kill switch: close every position at the next fill, and open none.
    Flatten(SwitchArgs),
    /// Kill switch: trade normally again (the pre-trade checks still apply).
    Resume(SwitchArgs),
    /// The kill switch's mode and its latest changes.
    Trading {
        /// How many changes.
        #[arg(long, default_value_t = 10)]
        last: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
}

/// Arguments of the kill switch's commands.
#[derive(Debug, Args)]
pub struct SwitchArgs {
    /// Why (kept in the audit trail).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `pv2 embed` subcommands.
#[derive(Debug, Subcommand)]
pub enum EmbedCommand {
    /// Unit vectors of sentences (one per argument; `-` reads one sentence per line from
    /// standard input).
    Text {
        /// `hashing` (no files) or `minilm` (files from scripts/fetch-models).
        #[arg(long, default_value = "hashing")]
        model: prometheus::encoders::TextModel,
        /// Directory with the MiniLM files (default: the text encoder config's models_dir).
        #[arg(long)]
        models_dir: Option<std::path::PathBuf>,
        /// ONNX Runtime threads (default: the text encoder config's threads).
        #[arg(long)]
        threads: Option<usize>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// The sentences.
        #[arg(required = true)]
        sentences: Vec<String>,
    },
}

/// `pv2 backfill` options.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The market whose sessions are replayed.
    #[arg(long)]
    pub market: String,
    /// First date (YYYY-MM-DD, in the market's time zone).
    #[arg(long)]
    pub from: chrono::NaiveDate,
    /// Last date, inclusive.
    #[arg(long)]
    pub to: chrono::NaiveDate,
    /// Only this DAG (default: every DAG triggered by the market's states).
    #[arg(long)]
    pub dag: Option<String>,
    /// Sessions in flight at once: the next dates' ingest, features and profiles run
    /// beside an earlier date's engines (each DAG still takes its dates in order, and each
    /// run stands at its own session's instant, so the outputs are those of 1).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub dates_in_flight: u16,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `pv2 backtest` options.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// A strategy name (`<config>/strategies/NAME.toml`) or a strategy file.
    #[arg(long)]
    pub strategy: String,
    /// First date (YYYY-MM-DD).
    #[arg(long)]
    pub from: chrono::NaiveDate,
    /// Last date, inclusive.
    #[arg(long)]
    pub to: chrono::NaiveDate,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `pv2 calendar …`
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// The sessions of a market between two dates (inclusive), open and close in UTC.
    Sessions {
        /// The market.
        #[arg(long)]
        market: String,
        /// First date, YYYY-MM-DD.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last date, inclusive.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Text)]
        format: TableFormat,
    },
    /// A market's state at an instant (default: now), and its next transition.
    State {
        /// The market.
        #[arg(long)]
        market: String,
        /// The instant, RFC 3339 (`2024-03-11T13:30:00Z`); default now.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// The activations the scheduler would fire between two instants (every market and
    /// cron trigger in dags.toml), in firing order.
    Plan {
        /// Start (exclusive), RFC 3339; default now.
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// End (inclusive), RFC 3339; default 24 hours after the start.
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Text)]
        format: TableFormat,
    },
}

/// Output format of commands that print tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned text for people.
    Text,
    /// CSV with a header line.
    Csv,
    /// One JSON array.
    Json,
}

/// Which engine output `pv2 show` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShowWhat {
    /// The regime, its probabilities, change risk and transition counts.
    Regime,
    /// Stability scores and soft-target classes (least stable first).
    Stability,
    /// Fragility scores, classes and short templates (most fragile first).
    Fragility,
    /// The scenario set: generator, size, and each instrument's baseline path return.
    Scenarios,
    /// Instrument scores: expected return, score, confidence, label, alpha families.
    Scores,
    /// Universe members by tier, and why the others are excluded.
    Universe,
    /// The target portfolio's weights.
    Portfolio,
    /// The target portfolio's risk report.
    Risk,
    /// The execution ledger's positions at each session's close.
    Positions,
    /// Orders planned each session, with their state (sent, filled, blocked…) and why.
    Orders,
    /// Fills (paper broker's and imported statements').
    Fills,
    /// The account each session (equity, cash, P&L, costs) with its P&L by sector.
    Pnl,
    /// P&L by name each session.
    PnlNames,
    /// Pre-trade blocks, kill-switch refusals and reconciliation stops.
    RiskActions,
}

impl ShowWhat {
    /// What its rows are, in words (error messages).
    pub fn engine_rows(self) -> &'static str {
        match self {
            Self::Positions => "positions",
            Self::Orders => "orders",
            Self::Fills => "fills",
            Self::Pnl | Self::PnlNames => "account days",
            Self::RiskActions => "risk actions",
            _ => self.engine(),
        }
    }

    /// The engine whose rows it shows.
    pub fn engine(self) -> &'static str {
        match self {
            Self::Regime => "regime",
            Self::Stability => "stability",
            Self::Fragility => "fragility",
            Self::Scenarios => "scenarios",
            Self::Scores => "assessment",
            Self::Universe => "universe",
            Self::Portfolio | Self::Risk => "portfolio",
            Self::Positions
            | Self::Orders
            | Self::Fills
            | Self::Pnl
            | Self::PnlNames
            | Self::RiskActions => "execution",
        }
    }
}

/// `pv2 show` options.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// What to show.
    #[arg(value_enum)]
    pub what: ShowWhat,
    /// Market id.
    #[arg(long)]
    pub market: String,
    /// Trading date (YYYY-MM-DD); or a range with --from and --to.
    #[arg(long, required_unless_present_all = ["from", "to"], conflicts_with_all = ["from", "to"])]
    pub date: Option<chrono::NaiveDate>,
    /// First date of a timeline: one row per date (regime, scenarios, risk) or per date and
    /// instrument (the others).
    #[arg(long, requires = "to")]
    pub from: Option<chrono::NaiveDate>,
    /// Last date of a timeline, inclusive.
    #[arg(long, requires = "from")]
    pub to: Option<chrono::NaiveDate>,
    /// The engine config whose rows to show (default: the engine's active config).
    #[arg(long)]
    pub config_id: Option<String>,
    /// For scores, universe, portfolio and risk: the strategy, universe or portfolio id
    /// (default: the active config's; a backtest's rows are under its backtest id); for
    /// the ledger (positions, orders, fills, pnl…): the account id.
    #[arg(long)]
    pub id: Option<String>,
    /// At most this many instruments (per date).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Output format: text, json, or csv (a table, as for a timeline).
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    pub format: TableFormat,
    /// With `regime --from D --to D`: one row per label saying what the market did over
    /// the 21 sessions after its days (realised volatility, return, deepest fall) — how far
    /// the labels can be trusted.
    #[arg(long, requires = "from")]
    pub calibration: bool,
}

/// `pv2 actors …`
#[derive(Debug, Subcommand)]
pub enum ActorsCommand {
    /// Bring a DEGRADED actor back into service (its restart budget starts afresh, its
    /// caches are dropped); recorded with who asked.
    Reset {
        /// Actor name.
        name: String,
    },
}

/// `pv2 drill …`
#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Run the day's DAG chain of a market on scratch copies of the databases, once clean
    /// and once per fault, and print whether every output table came out identical. The
    /// global `--faults` names the faults: `all` (the default: every actor of the chain ×
    /// panic, error, hang on its first job) or specs `ACTOR:KIND@N`, each drilled alone.
    Chaos(ChaosArgs),
}

/// Arguments of `pv2 drill chaos`.
#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// The market.
    #[arg(long)]
    pub market: String,
    /// The session whose chain is drilled (YYYY-MM-DD).
    #[arg(long)]
    pub date: chrono::NaiveDate,
    /// Where the scratch copies go (default: a temporary directory beside the databases).
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `pv2 config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The active configuration of an engine.
    Show {
        /// Engine name.
        engine: String,
    },
    /// Every version and every change (accepted or rejected) of an engine's configuration.
    History {
        /// Engine name.
        engine: String,
    },
    /// Write the built-in default configuration to DIR (never overwriting a file), to be
    /// edited and used with `--config DIR` or `PV2_CONFIG=DIR`.
    Init {
        /// The directory to create.
        dir: PathBuf,
    },
    /// Validate and activate a configuration file (hot, in the running daemon if any).
    Apply {
        /// Engine name.
        engine: String,
        /// TOML file.
        file: PathBuf,
        /// Your reason for loosening a hard limit (a pre-trade or risk limit); without it a
        /// config that loosens one is rejected. Kept in the audit trail.
        #[arg(long, value_name = "REASON")]
        loosen_limits: Option<String>,
    },
}

/// `pv2 kronos …`
#[derive(Debug, Subcommand)]
pub enum KronosCommand {
    /// Analytics from the outcomes known by a date: each config's label (dominated, robust,
    /// niche, unrated) and its metrics by regime.
    Report {
        /// Only this engine.
        #[arg(long)]
        engine: Option<String>,
        /// Only this market.
        #[arg(long)]
        market: Option<String>,
        /// Use only outcomes known by this date (default: all stored).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Candidate configs, newest first.
    Proposals {
        /// Only proposals in this state (PROPOSED, REFUSED, PASSED, FAILED, PROMOTED,
        /// REJECTED, REVERTED).
        #[arg(long)]
        state: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// One proposal: its changes, body and audit trail.
    Show {
        /// The proposal id (`kp-…`).
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Propose a config for an engine (TOML, like `config apply`); refused at once if it
    /// loosens a hard limit.
    Propose {
        /// The engine.
        engine: String,
        /// The TOML file.
        file: PathBuf,
        /// The market its experiment runs on.
        #[arg(long, default_value = "US_EQ")]
        market: String,
        /// Who proposes it (default: the `USER` environment variable).
        #[arg(long)]
        by: Option<String>,
        /// The last day of its experiment's holdout (default: the market's latest decision).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// The experiment queue, newest first; `run` works through it now.
    Experiments {
        /// `run`: be a worker until the queue is empty.
        #[command(subcommand)]
        what: Option<ExperimentsCommand>,
        /// Only this search.
        #[arg(long)]
        search: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text, global = true)]
        format: OutputFormat,
    },
    /// A long-running experiment worker on the shared queue (run several, on several
    /// machines sharing one PostgreSQL), until SIGTERM or Ctrl-C.
    Worker {
        /// Its name in leases (default: host and process id).
        #[arg(long)]
        name: Option<String>,
        /// Seconds between looks at an empty queue.
        #[arg(long, default_value_t = 10)]
        poll_secs: u64,
    },
    /// Promote a PASSED (or SHADOW) proposal: its config becomes active (audited, in one transaction)
    /// and the running daemon's engine switches to it at once.
    Approve {
        /// The proposal id.
        id: String,
        /// Why.
        #[arg(long, default_value = "approved")]
        reason: String,
        /// Who (default: the `USER` environment variable).
        #[arg(long)]
        by: Option<String>,
    },
    /// Undo a promotion: the config it replaced becomes active again.
    Revert {
        /// The proposal id.
        id: String,
        /// Why.
        #[arg(long, default_value = "reverted")]
        reason: String,
        /// Who (default: the `USER` environment variable).
        #[arg(long)]
        by: Option<String>,
    },
    /// Run a PASSED proposal in shadow: beside the active config in the daily chain, on the
    /// same inputs, its outputs stored under its own config and never read downstream, its
    /// decisions measured; `show` compares it with the active config. Approve or reject it
    /// after.
    Shadow {
        /// The proposal id.
        id: String,
        /// Sessions to run (default: Kronos's `shadow_sessions`).
        #[arg(long)]
        sessions: Option<u32>,
        /// Why.
        #[arg(long, default_value = "shadow before promotion")]
        reason: String,
        /// Who (default: the `USER` environment variable).
        #[arg(long)]
        by: Option<String>,
    },
    /// Turn a proposal down (a shadow stops).
    Reject {
        /// The proposal id.
        id: String,
        /// Why.
        #[arg(long, default_value = "rejected by a person")]
        reason: String,
        /// Who (default: the `USER` environment variable).
        #[arg(long)]
        by: Option<String>,
    },
    /// Stop every promotion until `unfreeze`.
    Freeze {
        /// Why.
        reason: String,
        /// Who (default: the `USER` environment variable).
        #[arg(long)]
        by: Option<String>,
    },
    /// Allow promotions again.
    Unfreeze {
        /// Why it is safe again.
        reason: String,
        /// Who (default: the `USER` environment variable).
        #[arg(long)]
        by: Option<String>,
    },
    /// The audit trail (proposals, state changes, freezes), oldest first.
    Audit {
        /// How many rows.
        #[arg(long, default_value_t = 50)]
        last: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
}

/// `pv2 kronos experiments …`
#[derive(Debug, Subcommand)]
pub enum ExperimentsCommand {
    /// Work through the queue in this process until it is empty, then judge each finished
    /// search.
    Run {
        /// Also wait for experiments other workers are running, until none is left.
        #[arg(long)]
        wait: bool,
    },
}

/// `pv2 import …`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Daily prices: `--format yahoo --symbol SYM` (Date,Open,High,Low,Close,Adj Close,Volume)
    /// or `--format wide` (Date,SYM1,SYM2,… adjusted closes).
    Prices {
        /// File layout.
        #[arg(long, value_enum)]
        format: PriceFileFormat,
        /// Symbol of a Yahoo-style file.
        #[arg(long)]
        symbol: Option<String>,
        /// Market the prices belong to.
        #[arg(long, default_value = "US_EQ")]
        market: String,
        /// Print the summary as JSON.
        #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// The file.
        file: PathBuf,
    },
    /// Instruments: symbol,name,sector,industry,country,market[,asset_class,currency].
    Instruments {
        /// Print the summary as JSON.
        #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// The file.
        file: PathBuf,
    },
    /// Fundamentals: symbol,period_end,filed,metric,value (known from the filing date).
    Fundamentals {
        /// Print the summary as JSON.
        #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// The file.
        file: PathBuf,
    },
    /// A broker statement: date,symbol,side,quantity,price[,fees] — fills executed
    /// elsewhere, matched to the account's sent orders and reconciled.
    Fills {
        /// The market the symbols trade on.
        #[arg(long, default_value = "US_EQ")]
        market: String,
        /// The account (default: the execution config's).
        #[arg(long)]
        account: Option<String>,
        /// Print the summary as JSON.
        #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// The file.
        file: PathBuf,
    },
    /// News JSON lines: id,published_at,source,headline,body,symbols[].
    News {
        /// Print the summary as JSON.
        #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// The file.
        file: PathBuf,
    },
    /// Import a batch again from the raw-file archive: the same bytes, the same way, into
    /// the same target (its rows and rejects are replaced, never doubled).
    Replay {
        /// The account a fills batch is booked into (default: the execution config's).
        #[arg(long)]
        account: Option<String>,
        /// Print the summary as JSON.
        #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// The batch id (every import prints it; `ingest_batches.batch_id`).
        batch: String,
    },
}

/// `pv2 export` options.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The catalog's directory (default: `[catalog] dir`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only these datasets (repeatable; default: all). `--list` names them.
    #[arg(long = "dataset")]
    pub datasets: Vec<String>,
    /// List the datasets and their columns, export nothing.
    #[arg(long)]
    pub list: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// Layout of a price file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PriceFileFormat {
    /// One symbol per file with OHLCV columns.
    Yahoo,
    /// Adjusted closes, one column per symbol (no volume).
    Wide,
}

/// `pv2 demo` options (defaults from `[demo]` in default.toml).
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of synthetic instruments.
    #[arg(long)]
    pub instruments: Option<usize>,
    /// Years of daily history.
    #[arg(long)]
    pub years: Option<u32>,
    /// Generator seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Last sessions to run through the features and profiles DAGs (0 = none).
    #[arg(long)]
    pub encode_sessions: Option<usize>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `pv2 bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Bulk-load synthetic daily OHLCV into SQLite and/or PostgreSQL and print rows/s; on
    /// PostgreSQL also time `psql \copy` of the same rows into the same table.
    Ingest(BenchIngestArgs),
    /// Embed synthetic news with MiniLM in batches and print sentences/s (the Python side
    /// of the comparison is `scripts/bench-minilm`, which runs both).
    Minilm(BenchMinilmArgs),
    /// Fit the regime engine's Gaussian mixture on 30 years of synthetic market features and
    /// print time and log-likelihood (the scikit-learn side of the comparison is
    /// `scripts/bench-gmm`, which runs both on the same data).
    Gmm(BenchGmmArgs),
    /// Run the daily `engines` DAG through the actors on a large synthetic market (in
    /// scratch SQLite databases) and print seconds per run and milliseconds per job.
    Dag(BenchDagArgs),
    /// Time a Kronos search on the current databases: one sweep of `--candidates` configs
    /// (one-key steps over the engines' tunable keys) plus the baseline, run by `--workers`
    /// `pv2 kronos worker` processes; prints the wall time and seconds per experiment.
    Kronos(BenchKronosArgs),
}

/// `pv2 bench kronos` options.
#[derive(Debug, clap::Args)]
pub struct BenchKronosArgs {
    /// Candidates in the search.
    #[arg(long, default_value_t = 20)]
    pub candidates: usize,
    /// Sweep this engine only (default: the engines in chain order until `--candidates`).
    #[arg(long)]
    pub engine: Option<String>,
    /// Worker processes.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// The market.
    #[arg(long, default_value = "US_EQ")]
    pub market: String,
    /// The last day of the holdout.
    #[arg(long)]
    pub as_of: chrono::NaiveDate,
    /// Print results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `pv2 bench dag` options.
#[derive(Debug, Args)]
pub struct BenchDagArgs {
    /// Instruments to generate.
    #[arg(long, default_value_t = 5000)]
    pub instruments: usize,
    /// Years of weekday sessions (the engines read up to three years back).
    #[arg(long, default_value_t = 3)]
    pub years: u32,
    /// Runs, on the last sessions in date order (the first one is cold).
    #[arg(long, default_value_t = 4)]
    pub runs: usize,
    /// Seed of the synthetic market.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Directory for the scratch databases (recreated).
    #[arg(long, default_value = "data/bench-dag")]
    pub dir: PathBuf,
    /// Print results as JSON.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `pv2 bench gmm` options.
#[derive(Debug, Args)]
pub struct BenchGmmArgs {
    /// Years of daily market features (synthetic, 50 instruments).
    #[arg(long, default_value_t = 30)]
    pub years: u32,
    /// Mixture components.
    #[arg(long, default_value_t = 3)]
    pub states: usize,
    /// Restarts (scikit-learn's `n_init`).
    #[arg(long, default_value_t = 3)]
    pub restarts: usize,
    /// Timed fits (the best is reported).
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// Also write the standardised feature matrix as CSV, for the Python side.
    #[arg(long)]
    pub data_out: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `pv2 bench minilm` options.
#[derive(Debug, Args)]
pub struct BenchMinilmArgs {
    /// Texts to embed (synthetic news: headline and the start of the body).
    #[arg(long, default_value_t = 1024)]
    pub sentences: usize,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Timed passes over all texts (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Directory with the MiniLM files.
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// Also write the texts, one per line, for the Python side.
    #[arg(long)]
    pub corpus_out: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// Which backends a benchmark runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchBackend {
    /// Only SQLite.
    Sqlite,
    /// Only PostgreSQL.
    Postgres,
    /// Both.
    Both,
}

/// `pv2 bench ingest` options.
#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    /// Instruments to generate.
    #[arg(long, default_value_t = 5000)]
    pub instruments: usize,
    /// Years of weekday sessions.
    #[arg(long, default_value_t = 10)]
    pub years: u32,
    /// Backends to measure.
    #[arg(long, value_enum, default_value_t = BenchBackend::Both)]
    pub backend: BenchBackend,
    /// PostgreSQL server URL (a scratch database is created and dropped on it).
    #[arg(long, env = "PV2_BENCH_PG_URL")]
    pub postgres_url: Option<String>,
    /// Directory for the scratch SQLite file.
    #[arg(long, default_value = "data/bench")]
    pub sqlite_dir: PathBuf,
    /// Timed repetitions per contender (best is reported).
    #[arg(long, default_value_t = 2)]
    pub repeat: u32,
    /// Print results as JSON.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}
