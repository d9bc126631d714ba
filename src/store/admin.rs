//! Creating, copying and dropping whole databases: empty scratch databases for tests and
//! benchmarks (PostgreSQL), and scratch copies of a user's databases for fire drills (both
//! backends), so each run starts from a known state and leaves nothing behind.

use super::error::{StoreError, redact_url};
use super::pool::Pool;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use std::path::{Path, PathBuf};

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

/// The database name in a `postgres://` URL.
fn database_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let path = rest.split_once('?').map_or(rest, |(a, _)| a);
    path.split_once('/').map(|(_, db)| db.to_owned())
}

/// The file of a `sqlite://PATH` URL.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://")?;
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// A consistent copy of the database at `url`, which may be in use, named `name`: a SQLite
/// file `dir/name.db` written by `VACUUM INTO` (one transaction's view, no WAL), or a
/// PostgreSQL database `name` on the same server created from it as a template (which the
/// server allows only while nobody else is connected to the source). Returns its URL.
///
/// # Errors
/// An unsupported URL, a name that is not `[a-z0-9_]`, the copy failing (for PostgreSQL:
/// other sessions on the source — stop the daemon or drill a SQLite copy).
pub async fn snapshot(url: &str, dir: &Path, name: &str) -> Result<String, StoreError> {
    valid_name(name)?;
    if sqlite_file(url).is_some() {
        let dest = dir.join(format!("{name}.db"));
        if dest.exists() {
            std::fs::remove_file(&dest).map_err(|e| {
                StoreError::Rejected(format!("cannot replace {}: {e}", dest.display()))
            })?;
        }
        let pool = Pool::connect(url, 1).await?;
        let Pool::Sqlite(p) = &pool else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let res = sqlx::query("VACUUM INTO $1")
            .bind(dest.to_string_lossy().into_owned())
            .execute(p)
            .await
            .map_err(StoreError::query("snapshot the database"));
        pool.close().await;
        res?;
        return Ok(format!("sqlite://{}", dest.display()));
    }
    clone_postgres(url, name).await
}

/// A fast copy, named `name`, of a snapshot nobody uses (made by [`snapshot`]): a file copy
/// for SQLite, a template copy for PostgreSQL. Returns its URL.
///
/// # Errors
/// As [`snapshot`].
pub async fn clone_snapshot(
    snapshot_url: &str,
    dir: &Path,
    name: &str,
) -> Result<String, StoreError> {
    valid_name(name)?;
    if let Some(file) = sqlite_file(snapshot_url) {
        let dest = dir.join(format!("{name}.db"));
        std::fs::copy(&file, &dest).map_err(|e| {
            StoreError::Rejected(format!(
                "cannot copy {} to {}: {e}",
                file.display(),
                dest.display()
            ))
        })?;
        return Ok(format!("sqlite://{}", dest.display()));
    }
    clone_postgres(snapshot_url, name).await
}

async fn clone_postgres(url: &str, name: &str) -> Result<String, StoreError> {
    let source = database_of(url)
        .filter(|d| valid_name(d).is_ok())
        .ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
    let server = with_database(url, "postgres")?;
    admin_exec(
        &server,
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await?;
    admin_exec(
        &server,
        format!("CREATE DATABASE {name} TEMPLATE {source}"),
    )
    .await
    .map_err(|e| {
        StoreError::Rejected(format!(
            "cannot copy PostgreSQL database {source} ({e}); PostgreSQL copies a database only while no other session is connected to it: stop the daemon first"
        ))
    })?;
    with_database(url, name)
}

/// Removes a copy made by [`snapshot`] or [`clone_snapshot`].
///
/// # Errors
/// The file or database cannot be removed.
pub async fn remove_copy(url: &str) -> Result<(), StoreError> {
    if let Some(file) = sqlite_file(url) {
        for suffix in ["", "-wal", "-shm"] {
            let f = PathBuf::from(format!("{}{suffix}", file.display()));
            if f.exists() {
                std::fs::remove_file(&f).map_err(|e| {
                    StoreError::Rejected(format!("cannot remove {}: {e}", f.display()))
                })?;
            }
        }
        return Ok(());
    }
    let name = database_of(url).ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
    drop_database(&with_database(url, "postgres")?, &name).await
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
