//! Creating and dropping whole PostgreSQL databases: scratch databases for tests and
//! benchmarks, so each run starts from an empty schema and leaves nothing behind.

use super::error::{StoreError, redact_url};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;

/// `server_url` with its database name replaced by `db`.
///
/// # Errors
/// [`StoreError::UnsupportedUrl`] when `server_url` is not a `postgres://` URL.
pub fn with_database(server_url: &str, db: &str) -> Result<String, StoreError> {
    let rest = server_url
        .strip_prefix("postgres://")
        .or_else(|| server_url.strip_prefix("postgresql://"))
        .ok_or_else(|| StoreError::UnsupportedUrl(redact_url(server_url)))?;
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let host = authority.split_once('/').map_or(authority, |(h, _)| h);
    Ok(match query {
        Some(q) => format!("postgres://{host}/{db}?{q}"),
        None => format!("postgres://{host}/{db}"),
    })
}

fn valid_name(db: &str) -> Result<(), StoreError> {
    if db.is_empty()
        || db.len() > 63
        || !db
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(StoreError::Rejected(format!(
            "`{db}` is not a scratch database name (a-z, 0-9, _)"
        )));
    }
    Ok(())
}

async fn admin_exec(server_url: &str, sql: String) -> Result<(), StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(server_url)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact_url(server_url),
            source,
        })?;
    let res = sqlx::query(AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .map_err(StoreError::query("database admin"));
    pool.close().await;
    res.map(|_| ())
}

/// Creates the empty database `db` on the server (dropping any leftover of the same name)
/// and returns its URL.
///
/// # Errors
/// Invalid name, connection or permission failures.
pub async fn create_database(server_url: &str, db: &str) -> Result<String, StoreError> {
    valid_name(db)?;
    admin_exec(
        server_url,
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    )
    .await?;
    admin_exec(server_url, format!("CREATE DATABASE {db}")).await?;
    with_database(server_url, db)
}

/// Drops the database `db` (closing its connections).
///
/// # Errors
/// Invalid name, connection or permission failures.
pub async fn drop_database(server_url: &str, db: &str) -> Result<(), StoreError> {
    valid_name(db)?;
    admin_exec(
        server_url,
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    )
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            super::with_database("postgres://u@h:5/postgres", "x").unwrap(),
            "postgres://u@h:5/x"
        );
        assert_eq!(
            super::with_database("postgresql://u:p@h/db?sslmode=disable", "y").unwrap(),
            "postgres://u:p@h/y?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://h", "z").unwrap(),
            "postgres://h/z"
        );
        assert!(super::with_database("sqlite://x", "z").is_err());
    }
}
