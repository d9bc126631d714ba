//! Storage errors: what was being done, on which database, and why it failed.

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
}

impl StoreError {
    /// Adapter for `map_err`: labels a driver error with the operation that failed.
    pub(crate) fn query(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { what, source }
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
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            super::redact_url("sqlite://data/x.db"),
            "sqlite://data/x.db"
        );
    }
}
