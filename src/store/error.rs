//! Storage errors: what was being done, on which database, and why it failed — and whether
//! a retry can help.

use crate::domain::ErrorClass;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL's scheme is not one the store speaks.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    UnsupportedUrl(String),
    /// Could not open or reach the database.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL with any password removed.
        url: String,
        /// The driver error.
        source: sqlx::Error,
    },
    /// A migration failed; the database is left at the last applied version.
    #[error("migrating the {db} database failed: {source}")]
    Migrate {
        /// `historical` or `runtime`.
        db: &'static str,
        /// The migrator's error.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("{what} failed: {source}")]
    Query {
        /// The operation, e.g. `write prices`.
        what: &'static str,
        /// The driver error.
        source: sqlx::Error,
    },
    /// Stored data violates an invariant (e.g. an unknown status string).
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// The table or value.
        what: &'static str,
        /// What was found.
        detail: String,
    },
    /// The caller asked for something the data does not allow (e.g. prices for an
    /// instrument that is not registered).
    #[error("{0}")]
    Rejected(String),
    /// A config would loosen hard limits without a person's approval.
    #[error(
        "the {engine} config loosens hard limits ({}); no automated change may, and a person does it with `pv2 config apply {engine} FILE --loosen-limits REASON` (audited)",
        changes.join("; ")
    )]
    LoosensHardLimit {
        /// The engine.
        engine: String,
        /// `key: was → now` per loosened limit.
        changes: Vec<String>,
    },
}

impl StoreError {
    /// Adapter for `map_err`: labels a driver error with the operation that failed.
    pub(crate) fn query(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { what, source }
    }

    /// Whether a retry can help: the database cannot be reached (unavailable: an outage is
    /// waited out), is busy or asks for a retry (transient), or the request itself is
    /// wrong and will fail the same way again (permanent).
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Connect { .. } => ErrorClass::Unavailable,
            Self::Query { source, .. } => driver_error_class(source),
            Self::UnsupportedUrl(_)
            | Self::Migrate { .. }
            | Self::Corrupt { .. }
            | Self::Rejected(_)
            | Self::LoosensHardLimit { .. } => ErrorClass::Permanent,
        }
    }
}

/// The class of a driver error: lost or refused connections are outages; a busy or locked
/// database, serialisation failures, deadlocks and exhausted resources are worth retrying;
/// anything the server rejected for what was asked (constraints, types, syntax) is not.
pub fn driver_error_class(e: &sqlx::Error) -> ErrorClass {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => ErrorClass::Unavailable,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                // SQLite: busy, locked, I/O error, disk full, cannot open.
                "5" | "6" | "10" | "13" | "14" | "261" | "262" | "517" => ErrorClass::Transient,
                // PostgreSQL: connection exceptions; admin or crash shutdown, cannot connect
                // now (a server starting or stopping).
                c if c.starts_with("08") || c.starts_with("57P") => ErrorClass::Unavailable,
                // Serialisation failure, deadlock, insufficient resources, lock timeout.
                c if c == "40001" || c == "40P01" || c.starts_with("53") || c == "55P03" => {
                    ErrorClass::Transient
                }
                _ => ErrorClass::Permanent,
            }
        }
        _ => ErrorClass::Permanent,
    }
}

/// `url` with the password part of `user:password@` replaced, safe to log.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_errors_are_classified() {
        let io = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ));
        assert_eq!(driver_error_class(&io), ErrorClass::Unavailable);
        assert_eq!(
            driver_error_class(&sqlx::Error::PoolTimedOut),
            ErrorClass::Unavailable
        );
        assert_eq!(
            driver_error_class(&sqlx::Error::RowNotFound),
            ErrorClass::Permanent
        );
        let rejected = StoreError::Rejected("instrument X is not registered".into());
        assert_eq!(rejected.class(), ErrorClass::Permanent);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            super::redact_url("sqlite://data/x.db"),
            "sqlite://data/x.db"
        );
    }
}
