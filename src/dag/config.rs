//! DAG definitions, from `config/dags.toml`.

use crate::calendar::MarketState;
use crate::config::Issues;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Every DAG.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DagsConfig {
    /// One entry per DAG.
    #[serde(default, rename = "dag")]
    pub dags: Vec<DagDef>,
}

/// A DAG: jobs with dependencies, activated per market and trading date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DagDef {
    /// Stable id, e.g. `daily`.
    pub id: String,
    /// What the DAG is for.
    #[serde(default)]
    pub description: String,
    /// Markets it is activated for (empty = global DAG).
    #[serde(default)]
    pub markets: Vec<String>,
    /// What activates the DAG on a schedule (none: only explicit `pv2 run` / backfills).
    #[serde(default)]
    pub trigger: Option<TriggerDef>,
    /// The jobs, in any order; dependencies define the order of execution.
    #[serde(rename = "job")]
    pub jobs: Vec<JobDef>,
    /// Whether runs of several dates (same market) may overlap. By default a run starts
    /// only once the earlier dates' runs are over: jobs may depend on what other jobs
    /// wrote for earlier dates (derive consumes the marks ingest leaves). With `true`,
    /// only each job's own dates are kept in order (job J of a date waits for job J of the
    /// earlier dates), so different jobs of different dates run side by side — right for a
    /// chain whose jobs read only their upstream's output of the same date and their own
    /// earlier output, like a backtest's engines.
    #[serde(default)]
    pub overlap_dates: bool,
}

/// How missed activations are handled after downtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Skip everything missed (recorded as skipped).
    None,
    /// Fire only the most recent missed activation of each market.
    #[default]
    Latest,
    /// Fire every missed activation, oldest first.
    All,
}

/// A DAG's trigger: the moment each of its markets enters a state (`on`), or a cron
/// schedule in a time zone for global DAGs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerDef {
    /// Activate when a market of the DAG enters this state (as of that session's date).
    #[serde(default)]
    pub on: Option<MarketState>,
    /// Cron expression, seconds first (`sec min hour day-of-month month day-of-week [year]`).
    #[serde(default)]
    pub cron: Option<String>,
    /// Activate after this DAG's run for the same market and date has succeeded or
    /// finished DEGRADED (its activations follow the upstream DAG's; a failed upstream run
    /// refuses this one).
    #[serde(default)]
    pub after: Option<String>,
    /// IANA time zone of the cron expression (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// What to do about activations missed while the daemon was down.
    #[serde(default)]
    pub catch_up: CatchUp,
}

/// What a job's final failure does to the rest of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Jobs depending on it are blocked; the run fails.
    StopDownstream,
    /// The job is skipped; dependents run as if it had succeeded.
    Skip,
    /// Dependents run; the run finishes DEGRADED.
    Degraded,
}

/// One job of a DAG.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDef {
    /// Id within the DAG, e.g. `derive`.
    pub id: String,
    /// The actor that runs it.
    pub actor: String,
    /// Jobs that must be done first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The market must have entered this state for the run's date before the job may run
    /// (a POST_CLOSE job never runs before that session's close). None: no requirement.
    #[serde(default)]
    pub required_state: Option<MarketState>,
    /// 1 = must run, 2, 3 = can wait; ready jobs are dispatched by tier.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Attempts before the job fails for good.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// Upper bound of a retry delay.
    #[serde(default = "default_backoff_max")]
    pub backoff_max_ms: u64,
    /// Relative jitter of a retry delay, 0..=1.
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    /// An attempt running longer than this is abandoned and retried.
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// How long (in backoff, summed) the job keeps retrying while the database cannot be
    /// reached; such failures do not spend `max_attempts`, so a restarted database server
    /// is waited out instead of failing the run.
    #[serde(default = "default_outage_tolerance")]
    pub outage_tolerance_secs: f64,
    /// What a final failure does downstream.
    #[serde(default = "default_on_failure")]
    pub on_failure: OnFailure,
}

fn default_priority() -> u8 {
    1
}
fn default_attempts() -> u32 {
    3
}
fn default_backoff() -> u64 {
    500
}
fn default_backoff_max() -> u64 {
    60_000
}
fn default_jitter() -> f64 {
    0.2
}
fn default_timeout() -> f64 {
    600.0
}
fn default_outage_tolerance() -> f64 {
    600.0
}
fn default_on_failure() -> OnFailure {
    OnFailure::StopDownstream
}

impl DagsConfig {
    /// The DAG with this id.
    pub fn get(&self, id: &str) -> Option<&DagDef> {
        self.dags.iter().find(|d| d.id == id)
    }

    /// Records every problem: duplicate ids, unknown dependencies or actors, cycles,
    /// out-of-range settings.
    pub fn validate(&self, known_actors: &[&str], known_markets: &[&str], issues: &mut Issues) {
        let mut ids = BTreeSet::new();
        for (d, dag) in self.dags.iter().enumerate() {
            let key = format!("dag[{d}]");
            issues.check(!ids.insert(dag.id.as_str()), &format!("{key}.id"), || {
                format!("DAG `{}` is defined twice", dag.id)
            });
            issues.check(dag.jobs.is_empty(), &format!("{key}.job"), || {
                "a DAG needs at least one job".into()
            });
            for m in &dag.markets {
                issues.check(
                    !known_markets.contains(&m.as_str()),
                    &format!("{key}.markets"),
                    || {
                        format!(
                            "unknown market `{m}`; configured: {}",
                            known_markets.join(", ")
                        )
                    },
                );
            }
            dag.validate_jobs(&key, known_actors, issues);
            if let Some(t) = &dag.trigger {
                t.validate(&format!("{key}.trigger"), dag, issues);
                if let Some(up) = &t.after {
                    self.validate_after(&format!("{key}.trigger.after"), dag, up, issues);
                }
            }
        }
    }
}

impl DagsConfig {
    /// The market-state trigger at the root of a chain of `after` triggers starting at
    /// `dag_id`, or why there is none.
    pub fn root_trigger(&self, dag_id: &str) -> Result<(&DagDef, MarketState), String> {
        let mut seen = BTreeSet::new();
        let mut id = dag_id;
        loop {
            if !seen.insert(id) {
                return Err(format!("`after` triggers form a cycle through `{id}`"));
            }
            let dag = self.get(id).ok_or_else(|| format!("unknown DAG `{id}`"))?;
            match dag.trigger.as_ref() {
                Some(TriggerDef {
                    after: Some(up), ..
                }) => id = up,
                Some(TriggerDef {
                    on: Some(state), ..
                }) => return Ok((dag, *state)),
                _ => {
                    return Err(format!(
                        "DAG `{id}` has no market-state trigger (`on`) to follow"
                    ));
                }
            }
        }
    }

    fn validate_after(&self, key: &str, dag: &DagDef, up: &str, issues: &mut Issues) {
        match self.root_trigger(up) {
            Err(reason) => issues.push(key, reason),
            Ok((root, _)) => {
                for m in dag.markets.iter().filter(|m| !root.markets.contains(m)) {
                    issues.push(
                        key,
                        format!(
                            "market {m} is not a market of `{}`, which starts the chain",
                            root.id
                        ),
                    );
                }
            }
        }
    }
}

impl TriggerDef {
    fn validate(&self, key: &str, dag: &DagDef, issues: &mut Issues) {
        let given = [self.on.is_some(), self.cron.is_some(), self.after.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            issues.push(
                key,
                "give exactly one of `on` (a market state), `cron` or `after` (another DAG)",
            );
            return;
        }
        if self.after.is_some() {
            issues.check(dag.markets.is_empty(), &format!("{key}.after"), || {
                "an `after` trigger needs the DAG's `markets`".into()
            });
            return;
        }
        match (&self.on, &self.cron) {
            (Some(_), Some(_)) | (None, None) => {}
            (Some(state), None) => {
                issues.check(*state == MarketState::Holiday, &format!("{key}.on"), || {
                    "HOLIDAY is not entered at an instant; use PRE_OPEN, SESSION, POST_CLOSE or OVERNIGHT".into()
                });
                issues.check(dag.markets.is_empty(), &format!("{key}.on"), || {
                    "a market-state trigger needs the DAG's `markets`".into()
                });
            }
            (None, Some(expr)) => {
                issues.check(expr.parse::<cron::Schedule>().is_err(), &format!("{key}.cron"), || {
                    format!("`{expr}` is not a cron expression (seconds first, e.g. \"0 30 6 * * Mon-Fri\")")
                });
                issues.check(!dag.markets.is_empty(), &format!("{key}.cron"), || {
                    "a cron trigger is for global DAGs: remove the DAG's `markets`, or trigger on a market state with `on`".into()
                });
                for job in dag.jobs.iter().filter(|j| j.required_state.is_some()) {
                    issues.push(
                        format!("{key}.cron"),
                        format!("job `{}` requires a market state, which a global cron DAG has no market for", job.id),
                    );
                }
            }
        }
        if let Some(tz) = &self.timezone {
            issues.check(
                tz.parse::<chrono_tz::Tz>().is_err(),
                &format!("{key}.timezone"),
                || format!("`{tz}` is not an IANA time zone"),
            );
        }
    }
}

impl DagDef {
    fn validate_jobs(&self, key: &str, known_actors: &[&str], issues: &mut Issues) {
        let ids: BTreeSet<&str> = self.jobs.iter().map(|j| j.id.as_str()).collect();
        issues.check(ids.len() != self.jobs.len(), &format!("{key}.job"), || {
            "job ids must be unique".into()
        });
        for (i, j) in self.jobs.iter().enumerate() {
            let k = format!("{key}.job[{i}]");
            issues.check(
                !known_actors.contains(&j.actor.as_str()),
                &format!("{k}.actor"),
                || {
                    format!(
                        "unknown actor `{}`; actors: {}",
                        j.actor,
                        known_actors.join(", ")
                    )
                },
            );
            for dep in &j.depends_on {
                issues.check(
                    !ids.contains(dep.as_str()),
                    &format!("{k}.depends_on"),
                    || format!("no job `{dep}` in this DAG"),
                );
                issues.check(dep == &j.id, &format!("{k}.depends_on"), || {
                    "a job cannot depend on itself".into()
                });
            }
            issues.check(
                !(1..=3).contains(&j.priority),
                &format!("{k}.priority"),
                || format!("{} is not a tier; use 1, 2 or 3", j.priority),
            );
            issues.check(
                !(1..=100).contains(&j.max_attempts),
                &format!("{k}.max_attempts"),
                || format!("{} is out of range; use 1..=100", j.max_attempts),
            );
            issues.check(
                j.backoff_ms > j.backoff_max_ms,
                &format!("{k}.backoff_ms"),
                || "exceeds backoff_max_ms".into(),
            );
            issues.check(
                !(0.0..=1.0).contains(&j.jitter),
                &format!("{k}.jitter"),
                || format!("{} is out of range; use 0..=1", j.jitter),
            );
            issues.check(
                !(j.timeout_secs > 0.0 && j.timeout_secs <= 86_400.0),
                &format!("{k}.timeout_secs"),
                || format!("{} is out of range; use (0, 86400]", j.timeout_secs),
            );
            issues.check(
                !(j.outage_tolerance_secs >= 0.0 && j.outage_tolerance_secs <= 86_400.0),
                &format!("{k}.outage_tolerance_secs"),
                || {
                    format!(
                        "{} is out of range; use [0, 86400]",
                        j.outage_tolerance_secs
                    )
                },
            );
        }
        if self.topological_order().is_none() {
            issues.push(format!("{key}.job"), "dependencies form a cycle");
        }
    }

    /// Job indices in an order where every job comes after its dependencies (ties by
    /// position in the file), or `None` when the dependencies have a cycle.
    pub fn topological_order(&self) -> Option<Vec<usize>> {
        let index: BTreeMap<&str, usize> = self
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.id.as_str(), i))
            .collect();
        let mut remaining: Vec<usize> = self.jobs.iter().map(|j| j.depends_on.len()).collect();
        let mut order = Vec::with_capacity(self.jobs.len());
        let mut done = vec![false; self.jobs.len()];
        while order.len() < self.jobs.len() {
            let next = (0..self.jobs.len()).find(|&i| !done[i] && remaining[i] == 0)?;
            done[next] = true;
            order.push(next);
            for (i, j) in self.jobs.iter().enumerate() {
                let hits = j
                    .depends_on
                    .iter()
                    .filter(|d| index.get(d.as_str()) == Some(&next))
                    .count();
                remaining[i] = remaining[i].saturating_sub(hits);
            }
        }
        Some(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, deps: &[&str]) -> JobDef {
        JobDef {
            id: id.into(),
            actor: "ingest".into(),
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            required_state: None,
            priority: 1,
            max_attempts: 3,
            backoff_ms: 10,
            backoff_max_ms: 100,
            jitter: 0.1,
            timeout_secs: 5.0,
            outage_tolerance_secs: 60.0,
            on_failure: OnFailure::StopDownstream,
        }
    }

    fn issues_of(cfg: &DagsConfig) -> Vec<(String, String)> {
        let mut issues = Issues::new();
        cfg.validate(&["ingest"], &["US_EQ"], &mut issues);
        issues.into_pairs()
    }

    #[test]
    fn order_respects_dependencies() {
        let dag = DagDef {
            id: "d".into(),
            overlap_dates: false,
            description: String::new(),
            markets: vec![],
            trigger: None,
            jobs: vec![job("c", &["b"]), job("a", &[]), job("b", &["a"])],
        };
        assert_eq!(dag.topological_order(), Some(vec![1, 2, 0]));
    }

    #[test]
    fn every_problem_is_reported() {
        let mut bad = job("x", &["nope", "x"]);
        bad.actor = "ghost".into();
        bad.priority = 7;
        bad.jitter = 2.0;
        bad.timeout_secs = 0.0;
        let cfg = DagsConfig {
            dags: vec![
                DagDef {
                    id: "d".into(),
                    overlap_dates: false,
                    description: String::new(),
                    markets: vec!["MOON".into()],
                    trigger: None,
                    jobs: vec![bad],
                },
                DagDef {
                    id: "c".into(),
                    overlap_dates: false,
                    description: String::new(),
                    markets: vec![],
                    trigger: Some(TriggerDef {
                        on: Some(MarketState::PostClose),
                        cron: None,
                        after: None,
                        timezone: Some("Mars/Base".into()),
                        catch_up: CatchUp::All,
                    }),
                    jobs: vec![job("a", &["b"]), job("b", &["a"])],
                },
            ],
        };
        let keys: Vec<String> = issues_of(&cfg).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "dag[0].markets",
                "dag[0].job[0].actor",
                "dag[0].job[0].depends_on",
                "dag[0].job[0].depends_on",
                "dag[0].job[0].priority",
                "dag[0].job[0].jitter",
                "dag[0].job[0].timeout_secs",
                "dag[0].job",
                "dag[1].job",
                "dag[1].trigger.on",
                "dag[1].trigger.timezone",
            ]
        );
    }

    #[test]
    fn triggers_are_checked() {
        let dag = |markets: &[&str], trigger: TriggerDef, gated: bool| {
            let mut j = job("a", &[]);
            if gated {
                j.required_state = Some(MarketState::PostClose);
            }
            DagDef {
                id: "t".into(),
                overlap_dates: false,
                description: String::new(),
                markets: markets.iter().map(|m| (*m).to_owned()).collect(),
                trigger: Some(trigger),
                jobs: vec![j],
            }
        };
        let t = |on: Option<MarketState>, cron: Option<&str>| TriggerDef {
            on,
            cron: cron.map(str::to_owned),
            after: None,
            timezone: None,
            catch_up: CatchUp::Latest,
        };
        let reasons = |d: DagDef| {
            issues_of(&DagsConfig { dags: vec![d] })
                .into_iter()
                .map(|(k, r)| format!("{k}: {r}"))
                .collect::<Vec<_>>()
        };
        assert!(reasons(dag(&["US_EQ"], t(Some(MarketState::PostClose), None), true)).is_empty());
        assert!(reasons(dag(&[], t(None, Some("0 30 6 * * Mon-Fri")), false)).is_empty());
        let both = reasons(dag(
            &["US_EQ"],
            t(Some(MarketState::Session), Some("* * * * * *")),
            false,
        ));
        assert!(both[0].contains("exactly one of `on`"), "{both:?}");
        let neither = reasons(dag(&["US_EQ"], t(None, None), false));
        assert!(neither[0].contains("exactly one of `on`"), "{neither:?}");
        let holiday = reasons(dag(&["US_EQ"], t(Some(MarketState::Holiday), None), false));
        assert!(
            holiday[0].starts_with("dag[0].trigger.on: HOLIDAY"),
            "{holiday:?}"
        );
        let bad_cron = reasons(dag(&[], t(None, Some("every day")), false));
        assert!(
            bad_cron[0].contains("`every day` is not a cron expression"),
            "{bad_cron:?}"
        );
        let cron_on_market = reasons(dag(&["US_EQ"], t(None, Some("0 0 7 * * *")), true));
        assert_eq!(cron_on_market.len(), 2, "{cron_on_market:?}");
        assert!(cron_on_market[0].contains("for global DAGs"));
        assert!(cron_on_market[1].contains("job `a` requires a market state"));
    }

    #[test]
    fn after_triggers_follow_a_chain_to_a_market_state() {
        let dag = |id: &str, markets: &[&str], trigger: TriggerDef| DagDef {
            id: id.into(),
            overlap_dates: false,
            description: String::new(),
            markets: markets.iter().map(|m| (*m).to_owned()).collect(),
            trigger: Some(trigger),
            jobs: vec![job("a", &[])],
        };
        let on = TriggerDef {
            on: Some(MarketState::PostClose),
            cron: None,
            after: None,
            timezone: None,
            catch_up: CatchUp::Latest,
        };
        let after = |up: &str| TriggerDef {
            on: None,
            after: Some(up.into()),
            ..on.clone()
        };
        let good = DagsConfig {
            dags: vec![
                dag("daily", &["US_EQ"], on.clone()),
                dag("features", &["US_EQ"], after("daily")),
                dag("profiles", &["US_EQ"], after("features")),
            ],
        };
        assert!(issues_of(&good).is_empty(), "{:?}", issues_of(&good));
        let (root, state) = good.root_trigger("profiles").unwrap();
        assert_eq!((root.id.as_str(), state), ("daily", MarketState::PostClose));

        let bad = DagsConfig {
            dags: vec![
                dag("daily", &["US_EQ"], on.clone()),
                dag("x", &["JP_EQ"], after("daily")),
                dag("y", &["US_EQ"], after("z")),
                dag("z", &["US_EQ"], after("y")),
                dag("w", &["US_EQ"], after("nope")),
                dag(
                    "v",
                    &["US_EQ"],
                    TriggerDef {
                        on: Some(MarketState::Session),
                        ..after("daily")
                    },
                ),
            ],
        };
        let reasons: Vec<String> = issues_of(&bad)
            .into_iter()
            .map(|(k, r)| format!("{k}: {r}"))
            .collect();
        let all = reasons.join("\n");
        assert!(
            all.contains("dag[1].trigger.after: market JP_EQ is not a market of `daily`"),
            "{all}"
        );
        assert!(all.contains("form a cycle"), "{all}");
        assert!(all.contains("unknown DAG `nope`"), "{all}");
        assert!(all.contains("dag[5].trigger: give exactly one of"), "{all}");
    }
}
