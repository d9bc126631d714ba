//! What the scheduler fires and when, as a pure computation: the bindings of triggered DAGs
//! to market-state transitions (from the exchange calendars) or cron schedules, and the
//! activations due in a window, in firing order.

use chrono::{DateTime, NaiveDate, Offset, SecondsFormat, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use prometheus::calendar::{ExchangeCalendar, MarketState};
use prometheus::dag::{CatchUp, DagsConfig};
use prometheus::domain::MarketId;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

enum Kind {
    Market {
        market: MarketId,
        calendar: Arc<ExchangeCalendar>,
        state: MarketState,
        /// For an `after` trigger: the upstream DAG and the chain's depth (1 = follows a
        /// DAG triggered by the state itself).
        after: Option<(String, usize)>,
    },
    Cron {
        schedule: Box<cron::Schedule>,
        tz: Tz,
        expr: String,
    },
}

/// One DAG bound to one market's state, or to a cron schedule.
pub struct Binding {
    dag_id: String,
    kind: Kind,
    pub(super) catch_up: CatchUp,
}

/// An activation due at an instant: what the scheduler fires, in firing order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PlannedActivation {
    /// When it is due.
    pub at: DateTime<Utc>,
    /// The DAG it activates.
    pub dag_id: String,
    /// The market (`GLOBAL` for cron DAGs).
    pub market: MarketId,
    /// The trading date of the run.
    pub as_of: NaiveDate,
    /// The state entered (`POST_CLOSE`…) or `cron <expr>`.
    pub trigger: String,
    /// Its durable id (`<dag>:<market>:<date>:<STATE>`, `<dag>:cron:<instant>`).
    pub activation_id: String,
    /// East before west at equal instants: minus the market's UTC offset.
    #[serde(skip)]
    east_rank: i32,
    #[serde(skip)]
    pub(super) binding: usize,
    /// Cron activations name their run by instant (several a day are possible).
    #[serde(skip)]
    pub(super) run_key: Option<String>,
    /// Set by the catch-up policy: record, do not run.
    #[serde(skip)]
    pub(super) skip: bool,
    /// The upstream run that must succeed first (`after` triggers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_run: Option<String>,
    /// Position in its `after` chain: upstream DAGs fire first at the same instant.
    #[serde(skip)]
    depth: usize,
}

type Due = PlannedActivation;

#[cfg(test)]
impl PlannedActivation {
    /// A bare activation of `dag` in `market` at `at`, for tests of what is done with one.
    pub(super) fn for_test(at: DateTime<Utc>, dag: &str, market: MarketId) -> Self {
        Self {
            at,
            dag_id: dag.into(),
            as_of: at.date_naive(),
            trigger: "POST_CLOSE".into(),
            activation_id: format!("{dag}:{market}:{}:POST_CLOSE", at.date_naive()),
            market,
            east_rank: 0,
            binding: 0,
            run_key: None,
            skip: false,
            after_run: None,
            depth: 0,
        }
    }
}

/// Every activation of `bindings` due in `(from, to]`, in firing order: by instant, east
/// before west at the same instant (follow the sun), then by DAG and id.
pub fn plan(
    bindings: &[Binding],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<PlannedActivation> {
    let mut due: Vec<Due> = bindings
        .iter()
        .enumerate()
        .flat_map(|(i, b)| b.due(i, from, to))
        .collect();
    due.sort_by(|a, b| {
        (
            a.at,
            a.east_rank,
            &a.market,
            a.depth,
            &a.dag_id,
            &a.activation_id,
        )
            .cmp(&(
                b.at,
                b.east_rank,
                &b.market,
                b.depth,
                &b.dag_id,
                &b.activation_id,
            ))
    });
    due
}

impl Binding {
    /// Activations due in `(from, to]`.
    fn due(&self, index: usize, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Due> {
        match &self.kind {
            Kind::Market {
                market,
                calendar,
                state,
                after,
            } => calendar
                .transitions(from, to)
                .into_iter()
                .filter(|t| t.state == *state)
                .map(|t| Due {
                    at: t.at,
                    east_rank: -calendar
                        .tz()
                        .offset_from_utc_datetime(&t.at.naive_utc())
                        .fix()
                        .local_minus_utc(),
                    dag_id: self.dag_id.clone(),
                    market: market.clone(),
                    as_of: t.session,
                    trigger: after.as_ref().map_or_else(
                        || state.as_str().to_owned(),
                        |(up, _)| format!("after {up}"),
                    ),
                    after_run: after
                        .as_ref()
                        .map(|(up, _)| format!("{up}:{market}:{}", t.session)),
                    depth: after.as_ref().map_or(0, |(_, d)| *d),
                    activation_id: format!(
                        "{}:{market}:{}:{}",
                        self.dag_id,
                        t.session,
                        state.as_str()
                    ),
                    binding: index,
                    run_key: None,
                    skip: false,
                })
                .collect(),
            Kind::Cron { schedule, tz, expr } => schedule
                .after(&from.with_timezone(tz))
                .take_while(|t| t.with_timezone(&Utc) <= to)
                .map(|t| Due {
                    at: t.with_timezone(&Utc),
                    east_rank: -t.offset().fix().local_minus_utc(),
                    dag_id: self.dag_id.clone(),
                    market: MarketId::from("GLOBAL"),
                    as_of: t.date_naive(),
                    trigger: format!("cron {expr}"),
                    activation_id: format!(
                        "{}:cron:{}",
                        self.dag_id,
                        t.with_timezone(&Utc)
                            .to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                    binding: index,
                    after_run: None,
                    depth: 0,
                    run_key: Some(
                        t.with_timezone(&Utc)
                            .to_rfc3339_opts(SecondsFormat::Secs, true),
                    ),
                    skip: false,
                })
                .collect(),
        }
    }

    /// The first activation strictly after `t`.
    pub(super) fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Market {
                calendar, state, ..
            } => {
                // (`after` bindings share their root's instants.)
                // Look ahead in widening steps so long holidays cannot hide the next event.
                let mut horizon = TimeDelta::days(10);
                while horizon <= TimeDelta::days(400) {
                    if let Some(x) = calendar
                        .transitions(t, t + horizon)
                        .into_iter()
                        .find(|x| x.state == *state)
                    {
                        return Some(x.at);
                    }
                    horizon = horizon * 4;
                }
                None
            }
            Kind::Cron { schedule, tz, .. } => schedule
                .after(&t.with_timezone(tz))
                .next()
                .map(|x| x.with_timezone(&Utc)),
        }
    }
}

/// Builds the bindings of every triggered DAG (restricted to `only_market` when given, and
/// to `only_dag`).
///
/// # Errors
/// A DAG bound to a market without a calendar, or an invalid cron expression or zone.
pub fn bindings(
    dags: &DagsConfig,
    calendars: &BTreeMap<String, Arc<ExchangeCalendar>>,
    only_market: Option<&str>,
    only_dag: Option<&str>,
) -> Result<Vec<Binding>, String> {
    let mut out = Vec::new();
    for dag in &dags.dags {
        let Some(trigger) = &dag.trigger else {
            continue;
        };
        if only_dag.is_some_and(|d| d != dag.id) {
            continue;
        }
        let root = if let Some(up) = &trigger.after {
            let (_, state) = dags
                .root_trigger(up)
                .map_err(|e| format!("DAG `{}`: {e}", dag.id))?;
            let mut depth = 1;
            let mut id = up.as_str();
            while let Some(next) = dags
                .get(id)
                .and_then(|d| d.trigger.as_ref())
                .and_then(|t| t.after.as_deref())
            {
                depth += 1;
                id = next;
            }
            Some((state, Some((up.clone(), depth))))
        } else {
            trigger.on.map(|s| (s, None))
        };
        if let Some((state, after)) = root {
            for m in &dag.markets {
                if only_market.is_some_and(|o| o != m) {
                    continue;
                }
                let calendar = calendars
                    .get(m)
                    .ok_or_else(|| format!("DAG `{}`: market {m} has no calendar", dag.id))?;
                out.push(Binding {
                    dag_id: dag.id.clone(),
                    kind: Kind::Market {
                        market: MarketId::new(m),
                        calendar: Arc::clone(calendar),
                        state,
                        after: after.clone(),
                    },
                    catch_up: trigger.catch_up,
                });
            }
        } else if let (Some(expr), None) = (&trigger.cron, only_market) {
            let schedule = cron::Schedule::from_str(expr)
                .map_err(|e| format!("DAG `{}`: cron `{expr}`: {e}", dag.id))?;
            let tz: Tz = trigger
                .timezone
                .as_deref()
                .unwrap_or("UTC")
                .parse()
                .map_err(|_| format!("DAG `{}`: bad time zone", dag.id))?;
            out.push(Binding {
                dag_id: dag.id.clone(),
                kind: Kind::Cron {
                    schedule: Box::new(schedule),
                    tz,
                    expr: expr.clone(),
                },
                catch_up: trigger.catch_up,
            });
        }
    }
    Ok(out)
}

/// The calendars of every configured market.
///
/// # Errors
/// A market whose calendar cannot be built.
pub fn calendars(
    markets: &prometheus::config::MarketsConfig,
) -> Result<BTreeMap<String, Arc<ExchangeCalendar>>, String> {
    markets
        .markets
        .iter()
        .map(|m| {
            Ok((
                m.id.clone(),
                Arc::new(m.calendar().map_err(|e| format!("{}: {e}", m.id))?),
            ))
        })
        .collect()
}

/// The UTC instant of a local midnight (start of a date in a zone).
pub fn start_of_day(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or_else(
            || date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            |t| t.with_timezone(&Utc),
        )
}
