//! Kronos, the meta-orchestrator, as a supervised actor on the spine.
//!
//! It runs the `kronos_daily` DAG after each market's engine chain: `decisions` logs every
//! engine job of the day from the durable run record (which config, which run, where its
//! outputs are), and `outcomes` measures the decisions whose horizon ends that day. The
//! `kronos_weekly` DAG's `proposals` sweeps the engines whose active config the outcomes do
//! not call robust, and adds the negative controls. It
//! receives the engines' typed outputs on its edges (the seed's arrows into Kronos); like
//! every edge they are claim checks — it counts them, and reads what it logs from the
//! store, so a restart or a lost message changes nothing it writes.

pub mod candidates;
pub mod daemon_worker;
mod decisions;
pub mod experiments;
mod outcomes;
pub mod promotion;
pub mod quiet;
mod sweeps;

use crate::spine::edge::NoOutput;
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::domain::{
    EffectiveUniverse, FragilityReport, InstrumentScores, RegimeState, StabilityReport,
    TargetPortfolio,
};
use prometheus::kronos::config::KronosConfig;
use prometheus::store::ProposalRecord;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A proposal as the CLI and the HTTP API show it (JSON fields parsed, gates included).
pub fn proposal_json(p: &ProposalRecord) -> Value {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    json!({
        "proposal_id": p.proposal_id, "engine": p.engine, "market": p.market_id,
        "config_id": p.config_id, "base_config_id": p.base_config_id, "state": p.state,
        "reason": p.reason, "origin": parse(&p.origin), "search": p.sweep_id,
        "changes": parse(&p.changes), "gates": p.gates.as_deref().map(parse),
        "created_at": p.created_at, "created_by": p.created_by, "updated_at": p.updated_at,
    })
}

/// What arrives on Kronos's edges: one engine output of any kind.
#[derive(Clone, Debug)]
pub enum KronosInput {
    /// Regime → Kronos.
    Regime(RegimeState),
    /// Stability → Kronos.
    Stability(StabilityReport),
    /// Fragility → Kronos.
    Fragility(FragilityReport),
    /// Assessment → Kronos.
    Assessment(InstrumentScores),
    /// Universe → Kronos.
    Universe(EffectiveUniverse),
    /// Portfolio → Kronos.
    Portfolio(TargetPortfolio),
}

impl KronosInput {
    /// The engine that sent it.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::Regime(_) => "regime",
            Self::Stability(_) => "stability",
            Self::Fragility(_) => "fragility",
            Self::Assessment(_) => "assessment",
            Self::Universe(_) => "universe",
            Self::Portfolio(_) => "portfolio",
        }
    }
}

macro_rules! from_edge {
    ($($variant:ident: $t:ty),* $(,)?) => {
        $(impl From<$t> for KronosInput {
            fn from(v: $t) -> Self {
                Self::$variant(v)
            }
        })*
    };
}

from_edge!(
    Regime: RegimeState,
    Stability: StabilityReport,
    Fragility: FragilityReport,
    Assessment: InstrumentScores,
    Universe: EffectiveUniverse,
    Portfolio: TargetPortfolio,
);

/// The Kronos actor's jobs.
#[derive(Default)]
pub struct KronosJob {
    /// Engine outputs received since the last start, by engine (what the edges carried;
    /// reported, never decided on).
    received: Mutex<BTreeMap<&'static str, u64>>,
}

impl KronosJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "kronos";

    fn received_line(&self) -> String {
        let Ok(r) = self.received.lock() else {
            return String::new();
        };
        if r.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = r.iter().map(|(e, n)| format!("{e} {n}")).collect();
        format!("; edges since start: {}", parts.join(", "))
    }
}

#[async_trait]
impl Job for KronosJob {
    type Config = KronosConfig;
    type Input = KronosInput;
    type Output = NoOutput;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<KronosConfig>,
    ) -> Result<JobOutput<NoOutput>, JobError> {
        let (summary, rows) = match ctx.run.job_id.as_str() {
            "decisions" => decisions::log_decisions(ctx, &cfg.config).await?,
            "outcomes" => outcomes::measure(ctx, &cfg.config).await?,
            "proposals" => sweeps::propose(ctx, &cfg.config).await?,
            other => {
                return Err(JobError::permanent(format!(
                    "kronos has no job `{other}`; its jobs are `decisions`, `outcomes` and `proposals`"
                )));
            }
        };
        Ok(JobOutput {
            rows,
            summary: format!("{summary}{}", self.received_line()),
            emit: None,
        })
    }

    fn receive(&self, input: KronosInput) {
        if let Ok(mut r) = self.received.lock() {
            *r.entry(input.engine()).or_default() += 1;
        }
    }

    fn reset(&self) {
        if let Ok(mut r) = self.received.lock() {
            r.clear();
        }
    }
}
