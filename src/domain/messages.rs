//! The typed messages that travel along the dataflow edges and between the orchestrator
//! and the actors. Plain data: the actor shell wraps them for its mailboxes, the core never
//! depends on the actor framework.

use super::{ConfigId, ErrorClass, InstrumentId, MarketId, RunId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Prices (and news) for a market and date were persisted. Ingest → derived data
/// (→ encoders and engines as they arrive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelUpdated {
    /// The run that ingested them.
    pub run_id: RunId,
    /// The market.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// Instruments with a bar on `as_of`.
    pub instruments: Vec<InstrumentId>,
    /// Price rows inserted or changed by the run.
    pub rows_changed: u64,
    /// News articles published on `as_of`.
    pub articles: u64,
}

/// Returns, volatilities and factors through a date were persisted. Derived data →
/// encoders and engines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DerivedUpdated {
    /// The run that derived them.
    pub run_id: RunId,
    /// The market of the run.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// The configuration that produced them.
    pub config_id: ConfigId,
    /// Instruments recomputed.
    pub instruments: usize,
}

/// An encoder or the profiles service persisted its output for a market and date.
/// Numeric encoder, text encoder, profiles → joint encoder (and later the engines).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncoderOutput {
    /// The run that wrote it.
    pub run_id: RunId,
    /// The engine (`numeric_encoder`, `text_encoder`, `profiles`).
    pub engine: String,
    /// The market of the run.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// The configuration that produced it: readers select rows by it.
    pub config_id: ConfigId,
    /// The model that produced the vectors, when there are vectors.
    pub model_id: Option<String>,
    /// Entities written (instruments, issuers).
    pub entities: usize,
}

/// One attempt of one job, sent by the orchestrator to the actor that runs the job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunJob {
    /// The DAG run.
    pub run_id: RunId,
    /// The DAG.
    pub dag_id: String,
    /// The job's id within the DAG.
    pub job_id: String,
    /// Attempt number, 1-based.
    pub attempt: u32,
    /// The market of the run.
    pub market: MarketId,
    /// The trading date of the run.
    pub as_of: NaiveDate,
    /// How long the orchestrator waits before abandoning the attempt.
    pub timeout: Duration,
    /// The actors of the run's DAG: a decision engine reads an upstream engine's output
    /// of the date only when that engine is part of its own run, so a run never depends on
    /// what another DAG or strategy happened to write that day.
    pub dag_actors: Vec<String>,
    /// The config each actor of this run that has already succeeded ran with, by actor
    /// name. Rebuilt from the durable run record after a restart, so a job finds the rows
    /// its upstream wrote under exactly the config the clean run would use: this, not a
    /// message that a restart can lose, is what a job reads its inputs by.
    pub upstream: BTreeMap<String, ConfigId>,
    /// The instant a simulated run stands at (its activation's due instant), which its
    /// jobs read as their clock: a backfill that overlaps dates moves the simulated clock
    /// ahead while earlier dates still run, and their jobs must stamp what they would one
    /// date at a time. `None`: jobs read the live clock (the daemon, manual runs).
    #[serde(default)]
    pub stands_at: Option<DateTime<Utc>>,
}

impl RunJob {
    /// Whether the actor `name` runs in this job's DAG.
    pub fn runs(&self, name: &str) -> bool {
        self.dag_actors.iter().any(|a| a == name)
    }

    /// The config the actor `name` succeeded with earlier in this run, if it did.
    pub fn upstream_config(&self, name: &str) -> Option<&ConfigId> {
        self.upstream.get(name)
    }
}

/// Why an attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobFailure {
    /// The job returned an error of a class.
    Error {
        /// Whether a retry can help.
        class: ErrorClass,
        /// What went wrong.
        message: String,
    },
    /// The job panicked (on the actor's thread or in a computation); the actor is being
    /// restarted with its caches reset. Transient.
    Panicked(String),
    /// The actor restarted while this attempt was in flight, so the attempt was dropped.
    /// Transient.
    Abandoned(String),
    /// The actor is degraded (restart limit exceeded) and refuses work. Permanent until an
    /// operator resets it.
    Degraded(String),
}

impl JobFailure {
    /// The class that decides whether another attempt is made.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Error { class, .. } => *class,
            Self::Panicked(_) | Self::Abandoned(_) => ErrorClass::Transient,
            Self::Degraded(_) => ErrorClass::Permanent,
        }
    }

    /// A one-line description.
    pub fn message(&self) -> String {
        match self {
            Self::Error { message, .. } => message.clone(),
            Self::Panicked(e) => format!("panicked: {e}"),
            Self::Abandoned(e) | Self::Degraded(e) => e.clone(),
        }
    }
}

/// What a successful attempt reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReport {
    /// The configuration the attempt ran with.
    pub config_id: ConfigId,
    /// A one-line summary of what it did.
    pub summary: String,
}

/// The end of one attempt, sent by the actor to the orchestrator after the outputs are
/// persisted (or after the failure).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDone {
    /// The DAG run.
    pub run_id: RunId,
    /// The job.
    pub job_id: String,
    /// The attempt that ended.
    pub attempt: u32,
    /// The actor that ran it.
    pub actor: String,
    /// Success or why not.
    pub outcome: Result<JobReport, JobFailure>,
}

/// A request to replace an engine's configuration, from the CLI or Kronos.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyConfig {
    /// The engine (actor) to reconfigure.
    pub engine: String,
    /// The new configuration as TOML text, or as the canonical JSON of a stored version
    /// (how Kronos sends a promoted config).
    pub body: String,
    /// Who asks (`cli`, `kronos`, …), for the audit trail.
    pub requested_by: String,
    /// A person's reason for loosening a hard limit (`--loosen-limits REASON`): without
    /// one, a config that loosens any is rejected. Kronos never sets it.
    #[serde(default)]
    pub loosen_limits: Option<String>,
}

/// The regime engine persisted a market's regime for a date. Regime → stability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegimeState {
    /// The run that wrote it.
    pub run_id: RunId,
    /// The market.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// The regime config.
    pub config_id: ConfigId,
    /// The smoothed label (`CRISIS`, `RISK_OFF`, `NEUTRAL`, `CARRY`).
    pub label: String,
    /// Probability the label differs at the forecast horizon.
    pub change_risk: f64,
    /// The fitted model used.
    pub model_id: String,
}

/// The stability engine persisted a market's stability vectors and soft-target classes.
/// Stability → scenarios (→ fragility, which reads the rows under `config_id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StabilityReport {
    /// The run that wrote them.
    pub run_id: RunId,
    /// The market.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// The stability config the rows were written under.
    pub config_id: ConfigId,
    /// Instruments assessed.
    pub instruments: usize,
    /// Of which FRAGILE or worse.
    pub fragile_or_worse: usize,
}

/// The scenario engine generated (and stored) a set for a market and date. Scenarios →
/// fragility, portfolio. Carries every path's cumulative return per instrument for speed;
/// the store keeps only the first paths, and a receiver that lost the message rebuilds the
/// whole set from its config, date and the stored history (checked against `set_id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSet {
    /// The run that generated it.
    pub run_id: RunId,
    /// The market.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// The scenario config.
    pub config_id: ConfigId,
    /// Content id of the set.
    pub set_id: String,
    /// Days per path.
    pub horizon: usize,
    /// Instrument ids (columns of `path_returns`).
    pub instruments: std::sync::Arc<Vec<String>>,
    /// Cumulative return of each instrument over each path (`paths × instruments`).
    pub path_returns: std::sync::Arc<Vec<f64>>,
}

/// The fragility engine persisted a market's fragility measures. Fragility → assessment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FragilityReport {
    /// The run that wrote them.
    pub run_id: RunId,
    /// The market.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// The fragility config.
    pub config_id: ConfigId,
    /// Instruments measured.
    pub instruments: usize,
    /// Of which SHORT_CANDIDATE or CRISIS.
    pub short_candidates: usize,
}

/// The assessment engine persisted a strategy's instrument scores. Assessment → universe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstrumentScores {
    /// The run that wrote them.
    pub run_id: RunId,
    /// The market.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// The assessment config.
    pub config_id: ConfigId,
    /// The strategy the scores belong to.
    pub strategy_id: String,
    /// Names scored.
    pub scored: usize,
}

/// The universe engine persisted the day's members. Universe → portfolio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EffectiveUniverse {
    /// The run that wrote it.
    pub run_id: RunId,
    /// The market.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// The universe config.
    pub config_id: ConfigId,
    /// The universe.
    pub universe_id: String,
    /// Names the portfolio may hold (CORE and SATELLITE).
    pub included: usize,
}

/// The portfolio engine persisted a target that passed every hard limit, with its risk
/// report. Portfolio → (Kronos, monitor).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetPortfolio {
    /// The run that wrote it.
    pub run_id: RunId,
    /// The market.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// The portfolio config.
    pub config_id: ConfigId,
    /// The portfolio.
    pub portfolio_id: String,
    /// Names held.
    pub names: usize,
    /// Annualised ex-ante volatility.
    pub ex_ante_vol: f64,
}
