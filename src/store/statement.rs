//! A statement with its arguments, owned, and runnable on any of the three ways the store
//! talks to a database: sqlx on PostgreSQL, sqlx on SQLite, and a direct SQLite connection
//! driven by the calling thread (`prometheus_sqlite_ext::direct`).
//!
//! Why it exists: sqlx's own bound statement keeps its arguments sealed inside, so only
//! sqlx can run it. The direct reads ([`super::read`]) and the batching writer
//! ([`super::writer`]) run statements without sqlx's per-connection worker thread, so the
//! arguments have to stay readable: a [`Statement`] keeps them as [`Value`]s and binds them
//! to whichever transport runs it, the way sqlx would have bound the Rust values.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use prometheus_sqlite_ext::direct::{self, DirectConnection, SqliteError};
use std::borrow::Cow;

/// An argument: one of the Rust types the store binds, each possibly NULL (a NULL keeps
/// its type: PostgreSQL checks a parameter's type even when it is NULL).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// A 64-bit integer.
    Int(Option<i64>),
    /// A 32-bit integer (PostgreSQL `integer`).
    Int4(Option<i32>),
    /// A double.
    Real(Option<f64>),
    /// A boolean (0 or 1 on SQLite, as sqlx stores it).
    Bool(Option<bool>),
    /// Text.
    Text(Option<String>),
    /// A date (`YYYY-MM-DD` text on SQLite).
    Date(Option<NaiveDate>),
    /// An instant (RFC 3339 text on SQLite, as sqlx writes it).
    Time(Option<DateTime<Utc>>),
    /// Bytes.
    Blob(Option<Vec<u8>>),
}

/// `From` for a type and its `Option`, as the variant `$v`.
macro_rules! value_from {
    ($v:ident: $($t:ty => $f:expr),+ $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                #[allow(clippy::redundant_closure_call)]
                Self::$v(Some(($f)(v)))
            }
        }
        impl From<Option<$t>> for Value {
            fn from(v: Option<$t>) -> Self {
                #[allow(clippy::redundant_closure_call)]
                Self::$v(v.map($f))
            }
        }
    )+};
}
value_from!(Int: i64 => |v| v, u32 => i64::from);
value_from!(Int4: i32 => |v| v);
value_from!(Real: f64 => |v| v);
value_from!(Bool: bool => |v| v);
value_from!(Text: String => |v| v, &str => str::to_owned, &String => String::clone);
value_from!(Date: NaiveDate => |v| v);
value_from!(Time: DateTime<Utc> => |v| v);
value_from!(Blob: Vec<u8> => |v| v, &[u8] => <[u8]>::to_vec);

impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        Self::Text(v.clone())
    }
}

/// Binds `args` to a sqlx query of either backend (one text, typed per backend).
macro_rules! bind_values {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Value::Int(v) => q.bind(v),
                Value::Int4(v) => q.bind(v),
                Value::Real(v) => q.bind(v),
                Value::Bool(v) => q.bind(v),
                Value::Text(v) => q.bind(v),
                Value::Date(v) => q.bind(v),
                Value::Time(v) => q.bind(v),
                Value::Blob(v) => q.bind(v),
            };
        }
        q
    }};
}
pub(crate) use bind_values;

/// An SQL statement (`$N` or `?` placeholders) and its arguments.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Statement {
    sql: Cow<'static, str>,
    args: Vec<Value>,
}

impl Statement {
    /// A statement of `sql`, trusted as SQL: a constant, or built from constants and
    /// numbers — never from user text, which goes in as an argument.
    pub(crate) fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        Self {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    /// Adds the next argument (`$1`, then `$2`, …).
    #[must_use]
    pub(crate) fn bind(mut self, v: impl Into<Value>) -> Self {
        self.args.push(v.into());
        self
    }

    /// Adds the next argument in place (a bulk statement's many cells).
    pub(crate) fn push(&mut self, v: Value) {
        self.args.push(v);
    }

    /// Room for `n` more arguments.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.args.reserve(n);
    }

    /// The statement's text.
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement's arguments, for binding elsewhere.
    pub(crate) fn args(&self) -> impl Iterator<Item = Value> + '_ {
        self.args.iter().cloned()
    }

    /// The statement as sqlx runs it on SQLite.
    pub(crate) fn to_sqlite(
        &self,
    ) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
        bind_values!(
            sqlx::query(sqlx::AssertSqlSafe(self.sql.clone())),
            self.args()
        )
    }

    /// The statement as sqlx runs it on PostgreSQL.
    pub(crate) fn to_postgres(
        &self,
    ) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
        bind_values!(
            sqlx::query(sqlx::AssertSqlSafe(self.sql.clone())),
            self.args()
        )
    }

    /// Runs the statement on a direct connection, handing each result row to `row`;
    /// returns the rows it changed.
    ///
    /// # Errors
    /// SQLite refused it, or `row` failed (its error).
    pub(crate) fn run_direct(
        &self,
        conn: &mut DirectConnection,
        row: impl FnMut(&direct::Row<'_>) -> Result<(), Option<sqlx::Error>>,
    ) -> Result<u64, Option<sqlx::Error>> {
        // Dates and instants bind as the text sqlx binds them as on SQLite.
        let texts: Vec<Option<String>> = self
            .args
            .iter()
            .map(|a| match a {
                Value::Date(Some(d)) => Some(d.format("%F").to_string()),
                Value::Time(Some(t)) => Some(t.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
                _ => None,
            })
            .collect();
        let bound: Vec<direct::Arg<'_>> = self
            .args
            .iter()
            .zip(&texts)
            .map(|(a, text)| match (a, text) {
                (Value::Int(Some(v)), _) => direct::Arg::Int(*v),
                (Value::Int4(Some(v)), _) => direct::Arg::Int(i64::from(*v)),
                (Value::Bool(Some(v)), _) => direct::Arg::Int(i64::from(*v)),
                (Value::Real(Some(v)), _) => direct::Arg::Real(*v),
                (Value::Text(Some(v)), _) | (Value::Date(_) | Value::Time(_), Some(v)) => {
                    direct::Arg::Text(v)
                }
                (Value::Blob(Some(v)), _) => direct::Arg::Blob(v),
                _ => direct::Arg::Null,
            })
            .collect();
        conn.run(&self.sql, &bound, row).map_err(|e| match e {
            direct::RunError::Sqlite(e) => Some(database_error(e)),
            direct::RunError::Row(e) => e,
        })
    }
}

/// A SQLite error of a direct connection as sqlx reports one (so error classes stay the
/// same: the code is SQLite's extended result code, as sqlx gives it).
pub(crate) fn database_error(e: SqliteError) -> sqlx::Error {
    sqlx::Error::Database(Box::new(DirectDbError(e)))
}

/// [`SqliteError`] as a sqlx database error.
#[derive(Debug)]
struct DirectDbError(SqliteError);

impl std::fmt::Display for DirectDbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DirectDbError {}

impl sqlx::error::DatabaseError for DirectDbError {
    fn message(&self) -> &str {
        &self.0.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(self.0.code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        // SQLite's extended codes for the constraint kinds sqlx reports.
        match self.0.code {
            2067 | 1555 => sqlx::error::ErrorKind::UniqueViolation,
            787 => sqlx::error::ErrorKind::ForeignKeyViolation,
            1299 => sqlx::error::ErrorKind::NotNullViolation,
            275 => sqlx::error::ErrorKind::CheckViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_type_when_null() {
        assert_eq!(Value::from(None::<f64>), Value::Real(None));
        assert_eq!(Value::from(None::<&str>), Value::Text(None));
        assert_eq!(Value::from(3_u32), Value::Int(Some(3)));
        assert_eq!(
            Value::from(&Some("a".to_owned())),
            Value::Text(Some("a".into()))
        );
        let s = Statement::new("SELECT $1").bind(1_i64).bind("x");
        assert_eq!(s.sql(), "SELECT $1");
        assert_eq!(s.args.len(), 2);
    }
}
