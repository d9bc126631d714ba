//! How a job attempt fails: with a class that decides whether the orchestrator retries it
//! (DESIGN §4, error classes), or with a panic that its actor's supervisor handles.

use prometheus::domain::{ErrorClass, JobFailure};
use prometheus::ingest::IngestError;
use prometheus::store::StoreError;
use std::fmt;

/// Why a job attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobError {
    /// The job failed; `class` says whether another attempt can help.
    Failed {
        /// Transient, unavailable or permanent.
        class: ErrorClass,
        /// What went wrong, for the run record and the operator.
        message: String,
    },
    /// A computation panicked on the blocking pool: the same supervised event as a panic on
    /// the actor's thread (the actor restarts with its caches reset, the attempt is retried).
    Panicked(String),
}

impl JobError {
    /// A failure no retry can help: infeasible constraints, an invalid config, inputs a
    /// retry cannot create.
    pub fn permanent(message: impl fmt::Display) -> Self {
        Self::Failed {
            class: ErrorClass::Permanent,
            message: message.to_string(),
        }
    }

    /// A failure another attempt may not repeat.
    pub fn transient(message: impl fmt::Display) -> Self {
        Self::Failed {
            class: ErrorClass::Transient,
            message: message.to_string(),
        }
    }

    /// The class the orchestrator's retry policy sees.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Failed { class, .. } => *class,
            Self::Panicked(_) => ErrorClass::Transient,
        }
    }

    /// The same failure with `what` in front of its message.
    #[must_use]
    pub fn context(self, what: impl fmt::Display) -> Self {
        match self {
            Self::Failed { class, message } => Self::Failed {
                class,
                message: format!("{what}: {message}"),
            },
            Self::Panicked(m) => Self::Panicked(format!("{what}: {m}")),
        }
    }

    /// The failure as the attempt's report to the orchestrator.
    pub fn into_failure(self) -> JobFailure {
        match self {
            Self::Failed { class, message } => JobFailure::Error { class, message },
            Self::Panicked(m) => JobFailure::Panicked(m),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { class, message } => write!(f, "{message} ({class})"),
            Self::Panicked(m) => write!(f, "panicked: {m}"),
        }
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        Self::Failed {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

impl From<IngestError> for JobError {
    fn from(e: IngestError) -> Self {
        Self::Failed {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

/// The text of a caught panic.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_class_and_context_keeps_the_class() {
        let e: JobError = StoreError::Rejected("no such instrument".into()).into();
        assert_eq!(e.class(), ErrorClass::Permanent);
        let e = JobError::transient("busy").context("write scores");
        assert_eq!(
            e,
            JobError::Failed {
                class: ErrorClass::Transient,
                message: "write scores: busy".into()
            }
        );
        assert_eq!(
            JobError::Panicked("x".into()).class(),
            ErrorClass::Transient
        );
        assert_eq!(
            JobError::permanent("infeasible").into_failure().class(),
            ErrorClass::Permanent
        );
    }
}
