//! Configuration errors that say where (file or variable, key) and why.

use std::fmt;
use std::path::PathBuf;

/// One problem with one configuration key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Where the value came from: a file path or `env PV2_…`.
    pub origin: String,
    /// Dotted key path, e.g. `storage.historical_db`; empty for whole-file problems.
    pub key: String,
    /// What is wrong and, where possible, what would be right.
    pub reason: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.reason)
        } else {
            write!(f, "{}: key `{}`: {}", self.origin, self.key, self.reason)
        }
    }
}

/// Collects the issues a `validate()` finds, so all of them are reported together.
#[derive(Debug, Default)]
pub struct Issues(Vec<(String, String)>);

impl Issues {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `key` is invalid because of `reason`.
    pub fn push(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.0.push((key.into(), reason.into()));
    }

    /// Records `reason` for `key` when `bad` holds.
    pub fn check(&mut self, bad: bool, key: &str, reason: impl FnOnce() -> String) {
        if bad {
            self.push(key, reason());
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded `(key, reason)` pairs.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration directory does not exist.
    #[error(
        "config directory {0} does not exist (pass --config DIR or PV2_CONFIG=DIR naming a directory like the project's config/; `pv2 config init DIR` writes the defaults there)"
    )]
    MissingDir(PathBuf),
    /// One or more keys are invalid.
    #[error("invalid configuration:\n{}", render(.0))]
    Invalid(Vec<ConfigIssue>),
}

fn render(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("  - {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// The individual issues, when the error is a validation failure.
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            Self::Invalid(v) => v,
            _ => &[],
        }
    }
}
