//! The vocabulary of supervision, shared by the orchestrator, the actors and the durable
//! record: the states a run and an attempt go through, why an attempt failed (and so
//! whether another can help), and the events of an actor's life. Each is an enum with one
//! stored spelling, so no layer matches on literal state names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Defines a stored enum: its variants with their stored names (also their serde names),
/// `as_str`, `parse`, `Display`.
macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident => $text:literal ),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[ $( Self::$variant, )+ ];

            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $text, )+ }
            }

            /// The variant stored as `text`, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $( $text => Some(Self::$variant), )+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}
pub(crate) use stored_enum;

stored_enum! {
    /// The overall state of a DAG run (`dag_runs.state`).
    RunStatus {
        /// Jobs are pending or running.
        Running => "RUNNING",
        /// Every job succeeded.
        Succeeded => "SUCCEEDED",
        /// Finished, but a job failed whose failure policy lets the run go on (`skip` or
        /// `degraded`): its outputs are usable.
        Degraded => "DEGRADED",
        /// A job failed with `stop_downstream`: its dependents never ran.
        Failed => "FAILED",
    }
}

impl RunStatus {
    /// True for the states a run never leaves.
    pub fn is_final(self) -> bool {
        self != Self::Running
    }

    /// True when the run's outputs can be used by what follows it (an `after` trigger).
    pub fn is_usable(self) -> bool {
        matches!(self, Self::Succeeded | Self::Degraded)
    }
}

stored_enum! {
    /// How one attempt of a job stands (`job_runs.state`).
    AttemptState {
        /// Sent to its actor, not finished.
        Running => "RUNNING",
        /// Outputs persisted.
        Succeeded => "SUCCEEDED",
        /// The job failed (error or panic); `job_runs.error_class` says whether it was
        /// retried.
        Failed => "FAILED",
        /// It exceeded its timeout and was abandoned (its late result is ignored).
        TimedOut => "TIMED_OUT",
        /// The process stopped while it ran; it does not count against the retry budget.
        Interrupted => "INTERRUPTED",
    }
}

stored_enum! {
    /// Why an attempt failed, which decides whether another attempt is made.
    ErrorClass {
        /// Another attempt can succeed: a busy database, a timeout, a panic. Retried with
        /// backoff up to the job's `max_attempts`.
        Transient => "transient",
        /// A dependency (the database) cannot be reached. Retried with backoff for as long
        /// as the job's `outage_tolerance_secs` allows, without spending `max_attempts`:
        /// an outage is waited out.
        Unavailable => "unavailable",
        /// No retry can help: infeasible constraints, an invalid config, inputs a retry
        /// cannot create. The job fails at once with the reason.
        Permanent => "permanent",
    }
}

impl ErrorClass {
    /// Whether another attempt may help.
    pub fn is_retried(self) -> bool {
        self != Self::Permanent
    }
}

stored_enum! {
    /// What happened in an actor's life (`actor_events.event`).
    EventKind {
        /// The actor (or the daemon, the scheduler) started.
        Started => "started",
        /// It stopped for good.
        Stopped => "stopped",
        /// The daemon received a signal and drains.
        Stopping => "stopping",
        /// A job panicked (on the actor's thread or in a computation on the blocking pool).
        Panicked => "panicked",
        /// The actor was restarted after a panic (its caches reset).
        Restarted => "restarted",
        /// An in-flight attempt was failed because its actor restarted (it is retried).
        AttemptAbandoned => "attempt_abandoned",
        /// Past its restart budget: the actor is DEGRADED and refuses jobs.
        Escalated => "escalated",
        /// Something an operator must look at.
        Alert => "alert",
        /// An operator brought a DEGRADED actor back.
        Reset => "reset",
        /// A new configuration is active.
        Reconfigured => "reconfigured",
        /// A configuration was refused; the old one keeps running.
        ReconfigRejected => "reconfig_rejected",
        /// Fault injection is armed for this process.
        FaultsArmed => "faults_armed",
        /// A component is switched off by configuration.
        Disabled => "disabled",
        /// A component hit an error it will retry.
        Error => "error",
        /// The orchestrator stopped accepting runs.
        Draining => "draining",
        /// A DAG run became active.
        RunActivated => "run_activated",
        /// An unfinished run was resumed after a restart.
        RunResumed => "run_resumed",
        /// An unfinished run could not be resumed (its DAG is gone).
        ResumeSkipped => "resume_skipped",
        /// A DAG run reached its final state.
        RunFinished => "run_finished",
        /// An attempt exceeded its timeout.
        JobTimedOut => "job_timed_out",
        /// An attempt was cut off by a drain timeout.
        JobInterrupted => "job_interrupted",
        /// The result of an attempt that is no longer current arrived and was ignored.
        LateResultIgnored => "late_result_ignored",
        /// The scheduler fired an activation.
        Activated => "activated",
        /// The scheduler re-submitted an activation whose run had not finished.
        ActivationResumed => "resumed",
        /// An activation waits for the run it follows (`after` trigger).
        ActivationWaiting => "activation_waiting",
        /// An activation was refused (closed day, failed upstream run…).
        ActivationRefused => "activation_refused",
    }
}

impl EventKind {
    /// Events an operator should notice in the logs.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::Panicked | Self::Restarted | Self::AttemptAbandoned | Self::Error
        )
    }

    /// Events that need an operator.
    pub fn is_alarm(self) -> bool {
        matches!(self, Self::Escalated | Self::Alert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_are_distinct() {
        fn check<T: Copy + PartialEq + fmt::Debug>(
            all: &[T],
            name: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            let mut seen = std::collections::BTreeSet::new();
            for v in all {
                assert_eq!(parse(name(*v)), Some(*v));
                assert!(seen.insert(name(*v)), "{v:?} spelled twice");
            }
            assert_eq!(parse("no such state"), None);
        }
        check(RunStatus::ALL, RunStatus::as_str, RunStatus::parse);
        check(AttemptState::ALL, AttemptState::as_str, AttemptState::parse);
        check(ErrorClass::ALL, ErrorClass::as_str, ErrorClass::parse);
        check(EventKind::ALL, EventKind::as_str, EventKind::parse);
        assert!(!ErrorClass::Permanent.is_retried());
        assert!(ErrorClass::Unavailable.is_retried());
        assert!(RunStatus::Degraded.is_usable() && !RunStatus::Failed.is_usable());
    }
}
