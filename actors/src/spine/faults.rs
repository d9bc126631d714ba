//! Fault injection, a real feature for tests and drills: `PV2_FAULTS` / `--faults` with
//! comma-separated specs `ACTOR:KIND@WHEN`. WHEN is `N` (the actor's N-th job since the
//! process started, restarts included) or `*` (every job). KIND is one of:
//!
//! - `panic` — a panic inside the job's computation, on tokio's blocking pool (the job's
//!   first `JobContext::compute`; a job that finishes without one panics there once its
//!   outputs are written);
//! - `actor-panic` — a panic on the actor's own thread before the job starts;
//! - `error` — a transient error before the job starts (retried);
//! - `permanent` — a permanent error before the job starts (not retried: the run fails);
//! - `hang` — the job sleeps past its timeout, then does its work (its late result is
//!   ignored).
//!
//! Example: `stability:panic@1,ingest:hang@2`.
//!
//! The runtime database's batching writer takes faults of its own, `writer:abort@N` and
//! `writer:panic@N`: its N-th group of writes aborts the process (or panics its thread)
//! after the group's statements ran and before they are committed — the crash between
//! enqueue and commit that must never leave a job SUCCEEDED without its rows.

use prometheus::store::WriterFault;
use std::fmt;

/// What an injected fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// A panic inside the job's computation on the blocking pool.
    Panic,
    /// A panic on the actor's thread before the job starts.
    ActorPanic,
    /// A transient error before the job starts.
    Error,
    /// A permanent error before the job starts.
    Permanent,
    /// The job sleeps past its timeout, then does its work (its late result is ignored).
    Hang,
}

impl FaultKind {
    /// Every kind, as the drill's matrix lists them.
    pub const ALL: [Self; 5] = [
        Self::Panic,
        Self::ActorPanic,
        Self::Error,
        Self::Permanent,
        Self::Hang,
    ];

    /// The spec spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::ActorPanic => "actor-panic",
            Self::Error => "error",
            Self::Permanent => "permanent",
            Self::Hang => "hang",
        }
    }

    /// The kind spelled `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Which jobs a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultWhen {
    /// The N-th job (1-based).
    Nth(u64),
    /// Every job.
    Every,
}

/// One parsed spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The actor it targets.
    pub actor: String,
    /// What happens.
    pub kind: FaultKind,
    /// When.
    pub when: FaultWhen,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.as_str();
        match self.when {
            FaultWhen::Nth(n) => write!(f, "{}:{kind}@{n}", self.actor),
            FaultWhen::Every => write!(f, "{}:{kind}@*", self.actor),
        }
    }
}

/// The name the batching writer's faults go by.
const WRITER: &str = "writer:";

/// The batching writer's fault in a spec list (`writer:abort@N` or `writer:panic@N`), if
/// any: what to inject and into which group.
///
/// # Errors
/// A message naming the bad spec and the accepted forms.
pub fn writer_fault(spec: &str) -> Result<Option<(WriterFault, u64)>, String> {
    let mut found = None;
    for item in spec.split(',').map(str::trim) {
        let Some(rest) = item.strip_prefix(WRITER) else {
            continue;
        };
        let bad = |why: &str| {
            format!("fault spec `{item}`: {why} (expected writer:abort@N or writer:panic@N, N ≥ 1)")
        };
        let (kind, n) = rest.split_once('@').ok_or_else(|| bad("missing `@`"))?;
        let kind = match kind {
            "abort" => WriterFault::Abort,
            "panic" => WriterFault::Panic,
            other => return Err(bad(&format!("unknown kind `{other}`"))),
        };
        let n = match n.parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(bad(&format!("`{n}` is not a group number ≥ 1"))),
        };
        if found.replace((kind, n)).is_some() {
            return Err(bad("only one writer fault per process"));
        }
    }
    Ok(found)
}

/// Every fault of a process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan(Vec<Fault>);

impl FaultPlan {
    /// Parses a spec list, checking actor names against `actors`.
    ///
    /// # Errors
    /// A message naming the bad spec and the accepted forms.
    pub fn parse(spec: &str, actors: &[&str]) -> Result<Self, String> {
        let mut faults = Vec::new();
        for item in spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.starts_with(WRITER))
        {
            let bad = |why: &str| {
                format!(
                    "fault spec `{item}`: {why} (expected ACTOR:KIND@N or ACTOR:KIND@*, KIND one of panic, actor-panic, error, permanent, hang)"
                )
            };
            let (actor, rest) = item.split_once(':').ok_or_else(|| bad("missing `:`"))?;
            let (kind, when) = rest.split_once('@').ok_or_else(|| bad("missing `@`"))?;
            if !actors.contains(&actor) {
                return Err(bad(&format!(
                    "unknown actor `{actor}`; actors: {}",
                    actors.join(", ")
                )));
            }
            let Some(kind) = FaultKind::parse(kind) else {
                return Err(bad(&format!("unknown kind `{kind}`")));
            };
            let when = match when {
                "*" => FaultWhen::Every,
                n => match n.parse::<u64>() {
                    Ok(n) if n >= 1 => FaultWhen::Nth(n),
                    _ => return Err(bad(&format!("`{n}` is not a job number ≥ 1"))),
                },
            };
            faults.push(Fault {
                actor: actor.to_owned(),
                kind,
                when,
            });
        }
        Ok(Self(faults))
    }

    /// The faults aimed at `actor`.
    pub fn for_actor(&self, actor: &str) -> ActorFaults {
        ActorFaults(
            self.0
                .iter()
                .filter(|f| f.actor == actor)
                .cloned()
                .collect(),
        )
    }

    /// True when no fault is planned.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One fault: `kind` on `actor`'s `n`-th job.
    pub fn single(actor: &str, kind: FaultKind, n: u64) -> Self {
        Self(vec![Fault {
            actor: actor.to_owned(),
            kind,
            when: FaultWhen::Nth(n),
        }])
    }

    /// Every planned fault, one plan each (a drill runs them one at a time).
    pub fn split(&self) -> Vec<Self> {
        self.0.iter().map(|f| Self(vec![f.clone()])).collect()
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&items.join(","))
    }
}

/// The faults of one actor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActorFaults(Vec<Fault>);

impl ActorFaults {
    /// The fault hitting the actor's `n`-th job, if any (the first matching spec wins).
    pub fn on_job(&self, n: u64) -> Option<FaultKind> {
        self.0
            .iter()
            .find(|f| match f.when {
                FaultWhen::Nth(k) => k == n,
                FaultWhen::Every => true,
            })
            .map(|f| f.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_faults_parse_apart_from_the_actors_faults() {
        let spec = "stability:panic@1,writer:abort@3";
        assert_eq!(writer_fault(spec).unwrap(), Some((WriterFault::Abort, 3)));
        assert_eq!(
            FaultPlan::parse(spec, &["stability"]).unwrap(),
            FaultPlan::single("stability", FaultKind::Panic, 1)
        );
        assert_eq!(
            writer_fault("writer:panic@1").unwrap(),
            Some((WriterFault::Panic, 1))
        );
        assert_eq!(writer_fault("stability:panic@1").unwrap(), None);
        for bad in [
            "writer:hang@1",
            "writer:abort@0",
            "writer:abort",
            "writer:abort@1,writer:panic@2",
        ] {
            assert!(writer_fault(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn specs_parse_and_select_jobs() {
        let plan = FaultPlan::parse(
            "derived:panic@1, ingest:error@2,derived:hang@*,ingest:actor-panic@5,ingest:permanent@6",
            &["ingest", "derived"],
        )
        .unwrap();
        assert_eq!(
            plan.to_string(),
            "derived:panic@1,ingest:error@2,derived:hang@*,ingest:actor-panic@5,ingest:permanent@6"
        );
        let d = plan.for_actor("derived");
        assert_eq!(d.on_job(1), Some(FaultKind::Panic));
        assert_eq!(d.on_job(2), Some(FaultKind::Hang));
        let i = plan.for_actor("ingest");
        assert_eq!(
            (i.on_job(1), i.on_job(2), i.on_job(3)),
            (None, Some(FaultKind::Error), None)
        );
        assert_eq!(
            (i.on_job(5), i.on_job(6)),
            (Some(FaultKind::ActorPanic), Some(FaultKind::Permanent))
        );
        assert!(FaultPlan::parse("", &[]).unwrap().is_empty());
    }

    #[test]
    fn bad_specs_say_why() {
        for (spec, why) in [
            ("derived", "missing `:`"),
            ("derived:panic", "missing `@`"),
            ("ghost:panic@1", "unknown actor `ghost`"),
            ("derived:explode@1", "unknown kind"),
            ("derived:panic@0", "not a job number"),
        ] {
            let e = FaultPlan::parse(spec, &["derived"]).unwrap_err();
            assert!(e.contains(why), "{spec}: {e}");
        }
    }
}
