//! The demo's daily step: the `features`, `profiles` and `engines` DAGs over the last
//! sessions of the synthetic history, through the real actors (as the scheduler would run
//! them after each close), and a summary of the representations written on the last
//! session (the decisions are summarised by [`super::demo_decide`]).

use super::calendar::calendar_of;
use crate::clock::SystemClock;
use crate::context::Context;
use crate::spine::faults::FaultPlan;
use crate::spine::system::Spine;
use chrono::{Days, NaiveDate};
use prometheus::domain::{Clock, ConfigId, MarketId, RunStatus};
use prometheus::encoders::joint::SPACES;
use prometheus::store::{ConfigStore, EmbeddingStore, ProfileStore, Stores};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// What the step did and found.
#[derive(Default)]
pub struct Representations {
    sessions: Vec<NaiveDate>,
    failed: Vec<String>,
    numeric: usize,
    numeric_dim: usize,
    numeric_model: String,
    issuer_news_days: usize,
    articles: u64,
    text_model: String,
    profiles: usize,
    /// Issuers with each flag at 0.5 or more.
    raised: std::collections::BTreeMap<String, usize>,
    joint: Vec<(String, usize)>,
}

async fn active(stores: &Stores, engine: &str) -> anyhow::Result<Option<ConfigId>> {
    Ok(stores
        .runtime
        .active_config(engine)
        .await?
        .map(|c| c.config_id))
}

/// Runs the DAGs for the last `count` sessions of `market` up to `end` and summarises.
///
/// # Errors
/// Storage failures or a spine that cannot start; failed runs are reported, not errors.
pub async fn run(
    ctx: &Context,
    stores: &Stores,
    market: &MarketId,
    end: NaiveDate,
    count: usize,
) -> anyhow::Result<Representations> {
    let mut out = Representations::default();
    if count == 0 {
        return Ok(out);
    }
    let calendar = calendar_of(ctx, market.as_str())?;
    let from = end
        .checked_sub_days(Days::new(count as u64 * 2 + 30))
        .unwrap_or(end);
    let sessions = calendar.sessions(from, end);
    out.sessions = sessions[sessions.len().saturating_sub(count)..]
        .iter()
        .map(|s| s.date)
        .collect();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let spine = Spine::start(ctx, stores.clone(), FaultPlan::default(), clock).await?;
    for &date in &out.sessions {
        for dag in ["features", "profiles", "engines", "kronos_daily"] {
            let (run_id, state) = spine.run_and_wait(dag, market, date, "demo").await?;
            if state != RunStatus::Succeeded {
                out.failed.push(format!("{run_id} {state}"));
            }
        }
    }
    spine
        .shutdown(Duration::from_secs_f64(ctx.app.daemon.drain_timeout_secs))
        .await;

    let Some(&last) = out.sessions.last() else {
        return Ok(out);
    };
    let (h, r) = (&stores.historical, &stores.runtime);
    if let Some(id) = active(stores, "numeric_encoder").await? {
        let rows = h.numeric_embeddings(last, &id).await?;
        out.numeric = rows.len();
        if let Some(first) = rows.first() {
            out.numeric_dim = first.vector.len();
            out.numeric_model.clone_from(&first.model_id);
        }
    }
    if let Some(id) = active(stores, "text_encoder").await? {
        let rows = h.issuer_text(&id, out.sessions[0], last).await?;
        out.issuer_news_days = rows.len();
        out.articles = rows.iter().map(|r| u64::from(r.articles)).sum();
        if let Some(first) = rows.first() {
            out.text_model.clone_from(&first.vector.model_id);
        }
    }
    if let Some(id) = active(stores, "profiles").await? {
        let rows = r.profiles(market.as_str(), last, &id).await?;
        out.profiles = rows.len();
        for p in &rows {
            for (flag, v) in &p.risk_flags {
                if *v >= 0.5 {
                    *out.raised.entry(flag.clone()).or_default() += 1;
                }
            }
        }
    }
    for space in SPACES
        .iter()
        .map(|s| (*s).to_owned())
        .chain(["assessment:pls".to_owned()])
    {
        let n = h.joint_embeddings(&space, last).await?.len();
        if n > 0 {
            out.joint.push((space, n));
        }
    }
    Ok(out)
}

impl Representations {
    /// The summary as JSON.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "sessions": self.sessions.len(),
            "from": self.sessions.first(), "to": self.sessions.last(),
            "failed_runs": self.failed,
            "numeric": {"instruments": self.numeric, "dim": self.numeric_dim, "model_id": self.numeric_model},
            "text": {"issuer_days": self.issuer_news_days, "articles": self.articles, "model_id": self.text_model},
            "profiles": {"issuers": self.profiles, "flags_at_least_0.5": self.raised},
            "joint": self.joint.iter().map(|(s, n)| json!({"space": s, "vectors": n})).collect::<Vec<_>>(),
        })
    }

    /// The summary lines of the text report.
    pub fn print(&self) {
        let (Some(first), Some(last)) = (self.sessions.first(), self.sessions.last()) else {
            return;
        };
        println!(
            "  daily DAGs      {} sessions {first} … {last} (features, profiles and engines DAGs through the actors{})",
            self.sessions.len(),
            if self.failed.is_empty() {
                String::new()
            } else {
                format!("; FAILED: {}", self.failed.join(", "))
            }
        );
        println!(
            "    numeric       {} instruments × {} dims on {last}, model {}",
            self.numeric, self.numeric_dim, self.numeric_model
        );
        println!(
            "    news          {} articles in {} issuer-days, model {}",
            self.articles, self.issuer_news_days, self.text_model
        );
        let raised: Vec<String> = self
            .raised
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect();
        println!(
            "    profiles      {} issuers; flags ≥ 0.5: {}",
            self.profiles,
            if raised.is_empty() {
                "none".to_owned()
            } else {
                raised.join(", ")
            }
        );
        let joint: Vec<String> = self.joint.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!("    joint         {}", joint.join(", "));
    }
}
