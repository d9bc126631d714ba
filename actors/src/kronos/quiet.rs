//! Quiet windows: when the daemon's own experiment worker may start an experiment. Every
//! market the DAGs follow must be closed (overnight or a holiday — not pre-open, in session
//! or after the close, when the day's chain runs), and no activation of a DAG with a
//! priority-1 job may fall due within the margin (at least the lease of an experiment), so
//! an experiment never takes the machine from a must-run job. Decided from the calendars
//! and the scheduler's own plan, at an instant given by the caller's clock.

use crate::scheduler::{Binding, plan};
use chrono::{DateTime, Duration, Utc};
use prometheus::calendar::{ExchangeCalendar, MarketState};
use prometheus::dag::DagsConfig;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why `at` is not a quiet window, or `None` when it is.
pub fn busy_reason(
    at: DateTime<Utc>,
    margin: Duration,
    dags: &DagsConfig,
    bindings: &[Binding],
    calendars: &BTreeMap<String, Arc<ExchangeCalendar>>,
) -> Option<String> {
    for dag in dags.dags.iter().filter(|d| d.trigger.is_some()) {
        for m in &dag.markets {
            if let Some(cal) = calendars.get(m) {
                let s = cal.state_at(at).state;
                if !matches!(s, MarketState::Overnight | MarketState::Holiday) {
                    return Some(format!("{m} is {s} (DAG {} follows it)", dag.id));
                }
            }
        }
    }
    let tier_one = |dag_id: &str| {
        dags.dags
            .iter()
            .find(|d| d.id == dag_id)
            .is_some_and(|d| d.jobs.iter().any(|j| j.priority == 1))
    };
    plan(bindings, at, at + margin)
        .into_iter()
        .find(|p| tier_one(&p.dag_id))
        .map(|p| {
            format!(
                "{} for {} is due at {} (a priority-1 DAG, within the {} s margin)",
                p.dag_id,
                p.market,
                p.at.to_rfc3339(),
                margin.num_seconds()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (DagsConfig, BTreeMap<String, Arc<ExchangeCalendar>>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let dags: DagsConfig =
            toml::from_str(&std::fs::read_to_string(dir.join("dags.toml")).unwrap()).unwrap();
        let markets: prometheus::config::MarketsConfig =
            toml::from_str(&std::fs::read_to_string(dir.join("markets.toml")).unwrap()).unwrap();
        (dags, crate::scheduler::calendars(&markets).unwrap())
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn experiments_start_only_when_every_market_is_closed_and_no_must_run_job_is_near() {
        let (dags, cals) = setup();
        let bindings = crate::scheduler::bindings(&dags, &cals, None, None).unwrap();
        let margin = Duration::seconds(600);
        // Saturday noon UTC: every market closed, only Kronos's weekly (priority 3) is near.
        assert_eq!(
            busy_reason(t("2024-03-09T12:00:00Z"), margin, &dags, &bindings, &cals),
            None
        );
        // Tuesday 14:00 UTC: New York is in session.
        let why = busy_reason(t("2024-03-12T14:00:00Z"), margin, &dags, &bindings, &cals).unwrap();
        assert!(why.contains("US_EQ") && why.contains("SESSION"), "{why}");
        // Walk a whole week minute by minute: whenever a quiet window is reported, no
        // priority-1 activation falls in the next margin — an experiment started then and
        // bounded by its lease never overlaps a must-run job.
        let mut at = t("2024-03-04T00:00:00Z");
        let mut quiet = 0;
        while at < t("2024-03-11T00:00:00Z") {
            if busy_reason(at, margin, &dags, &bindings, &cals).is_none() {
                quiet += 1;
                for p in plan(&bindings, at, at + margin) {
                    let d = dags.dags.iter().find(|d| d.id == p.dag_id).unwrap();
                    assert!(
                        d.jobs.iter().all(|j| j.priority != 1),
                        "{at}: {} due at {}",
                        p.dag_id,
                        p.at
                    );
                }
            }
            at += Duration::minutes(1);
        }
        assert!(
            quiet > 60 * 24,
            "some quiet time each week: {quiet} minutes"
        );
    }
}
