//! Comparing two databases output by output: what a fault drill, a crash soak or an outage
//! test checks — that a run with faults wrote exactly what a fault-free run wrote.
//!
//! Every table is an output except the bookkeeping of *how* the outputs came about (runs,
//! attempts, actor events, the scheduler's record, the configuration audit) and columns
//! that hold wall-clock instants. Each row is rendered to text inside the database, exactly
//! (floats with 17 significant digits on SQLite, PostgreSQL's shortest round-trip form;
//! blobs in hex).
//!
//! Two ways to compare: digest every table in key order and, where a digest differs, find
//! the first differing row (any two databases; cost grows with their size); or, for SQLite
//! copies of one snapshot, let triggers record the key of every row each copy touches and
//! compare only those rows (cost grows with what the runs wrote, not with the history).

use super::error::StoreError;
use super::pool::{Pool, on_pool};
use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;

/// Tables that record how outputs came about, not what they are: runs and attempts (their
/// counts differ when faults are retried), actor events, the scheduler's record, the
/// configuration and kill-switch audits, and the migration ledgers.
pub const BOOKKEEPING_TABLES: &[&str] = &[
    "dag_runs",
    "job_runs",
    "actor_events",
    "scheduler_activations",
    "scheduler_state",
    "config_changes",
    "trading_mode_changes",
];

/// Columns that hold when something was written (wall clock), by table.
pub const WALL_CLOCK_COLUMNS: &[(&str, &str)] = &[
    ("ingest_batches", "started_at"),
    ("ingest_batches", "finished_at"),
    ("engine_configs", "created_at"),
    ("active_configs", "activated_at"),
    ("exec_orders", "updated_at"),
    ("risk_actions", "at"),
];

/// One table's content, digested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDigest {
    /// The table.
    pub table: String,
    /// Rows.
    pub rows: u64,
    /// SHA-256 (hex) over the rows in key order.
    pub digest: String,
}

/// The first row where two versions of a table differ (`None` on a side that has no row
/// there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowDifference {
    /// The table.
    pub table: String,
    /// Where: `row N` (0-based, key order) or `key [..]` (the row's primary key).
    pub at: String,
    /// The row on the first side.
    pub left: Option<String>,
    /// The row on the second side.
    pub right: Option<String>,
}

/// A table's columns and the order its rows are compared in.
struct Layout {
    table: String,
    columns: Vec<String>,
    /// The primary key's columns, in key order.
    key: Vec<String>,
    order: Vec<String>,
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

async fn layouts(pool: &Pool) -> Result<Vec<Layout>, StoreError> {
    let what = "list tables for comparison";
    // (table, column, position in the primary key or 0)
    let cols: Vec<(String, String, i64)> = match pool {
        Pool::Sqlite(p) => sqlx::query_as(
            "SELECT m.name, c.name, c.pk FROM sqlite_master m JOIN pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND m.name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY m.name, c.cid",
        )
        .fetch_all(p)
        .await
        .map_err(StoreError::query(what))?,
        Pool::Postgres(p) => sqlx::query_as(
            "SELECT c.table_name::text, c.column_name::text, \
             COALESCE((SELECT k.ordinal_position FROM information_schema.key_column_usage k \
               JOIN information_schema.table_constraints t ON t.constraint_name = k.constraint_name \
               AND t.table_schema = k.table_schema \
               WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema \
               AND k.table_name = c.table_name AND k.column_name = c.column_name), 0)::bigint \
             FROM information_schema.columns c JOIN information_schema.tables t \
               ON t.table_name = c.table_name AND t.table_schema = c.table_schema \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
             AND c.table_name NOT LIKE '\\_%' \
             ORDER BY c.table_name, c.ordinal_position",
        )
        .fetch_all(p)
        .await
        .map_err(StoreError::query(what))?,
    };
    let mut out: Vec<Layout> = Vec::new();
    let mut keys: Vec<Vec<(i64, String)>> = Vec::new();
    for (table, column, pk) in cols {
        if BOOKKEEPING_TABLES.contains(&table.as_str())
            || WALL_CLOCK_COLUMNS.contains(&(table.as_str(), column.as_str()))
            || !is_identifier(&table)
            || !is_identifier(&column)
        {
            continue;
        }
        if out.last().is_none_or(|l| l.table != table) {
            out.push(Layout {
                table: table.clone(),
                columns: Vec::new(),
                key: Vec::new(),
                order: Vec::new(),
            });
            keys.push(Vec::new());
        }
        if let (Some(l), Some(k)) = (out.last_mut(), keys.last_mut()) {
            if pk > 0 {
                k.push((pk, column.clone()));
            }
            l.columns.push(column);
        }
    }
    for (l, mut k) in out.iter_mut().zip(keys) {
        k.sort();
        l.key = k.into_iter().map(|(_, c)| c).collect();
        // Key order, then every column, so rows without a unique key still sort fully.
        l.order = l.key.clone();
        for c in &l.columns {
            if !l.order.contains(c) {
                l.order.push(c.clone());
            }
        }
    }
    Ok(out)
}

/// One SQLite row as exact text; `alias` qualifies the columns.
fn sqlite_row(l: &Layout, alias: &str) -> String {
    l.columns
        .iter()
        .map(|c| {
            format!(
                "CASE typeof({alias}.\"{c}\") WHEN 'real' THEN printf('%!.17g', {alias}.\"{c}\") \
                 WHEN 'blob' THEN hex({alias}.\"{c}\") WHEN 'null' THEN '<null>' \
                 ELSE CAST({alias}.\"{c}\" AS TEXT) END"
            )
        })
        .collect::<Vec<_>>()
        .join(" || char(31) || ")
}

fn row_sql(pool: &Pool, l: &Layout) -> String {
    let row = match pool {
        Pool::Sqlite(_) => sqlite_row(l, "t"),
        Pool::Postgres(_) => {
            let cells: Vec<String> = l
                .columns
                .iter()
                .map(|c| format!("COALESCE(t.\"{c}\"::text, '<null>')"))
                .collect();
            format!("concat_ws(chr(31), {})", cells.join(", "))
        }
    };
    let order: Vec<String> = l.order.iter().map(|c| format!("t.\"{c}\"")).collect();
    format!(
        "SELECT {row} FROM \"{}\" t ORDER BY {}",
        l.table,
        order.join(", ")
    )
}

/// The table where tracked changes are kept (its leading `_` keeps it out of comparisons).
const TRACKED: &str = "_drill_tracked";

/// Makes a SQLite database record, in itself, the primary key of every row any statement
/// inserts, updates or deletes in an output table (triggers into `_drill_tracked`). Copies
/// of a database prepared this way can be compared by [`compare_tracked`]. Returns `false`
/// (and changes nothing) on PostgreSQL, where [`compare_with`] is the way.
///
/// # Errors
/// Query failures.
pub async fn track_changes(pool: &Pool) -> Result<bool, StoreError> {
    let Pool::Sqlite(p) = pool else {
        return Ok(false);
    };
    let what = "install change tracking";
    // No UNIQUE constraint: a trigger's own conflict clause yields to the statement's
    // (an upsert's would turn a repeated key into an error), so repeats are skipped by
    // NOT EXISTS on an index instead.
    let mut statements = vec![
        format!("CREATE TABLE IF NOT EXISTS {TRACKED} (tbl TEXT NOT NULL, key TEXT NOT NULL)"),
        format!("CREATE INDEX IF NOT EXISTS {TRACKED}_key ON {TRACKED} (tbl, key)"),
    ];
    for l in layouts(pool).await?.iter().filter(|l| !l.key.is_empty()) {
        let key = |row: &str| {
            let cols: Vec<String> = l.key.iter().map(|c| format!("{row}.\"{c}\"")).collect();
            let (t, k) = (&l.table, cols.join(", "));
            format!(
                "INSERT INTO {TRACKED} (tbl, key) SELECT '{t}', json_array({k}) WHERE NOT EXISTS \
                 (SELECT 1 FROM {TRACKED} WHERE tbl = '{t}' AND key = json_array({k}));"
            )
        };
        let t = &l.table;
        statements.push(format!(
            "CREATE TRIGGER IF NOT EXISTS \"_drill_{t}_ins\" AFTER INSERT ON \"{t}\" BEGIN {} END",
            key("NEW")
        ));
        statements.push(format!(
            "CREATE TRIGGER IF NOT EXISTS \"_drill_{t}_upd\" AFTER UPDATE ON \"{t}\" BEGIN {} {} END",
            key("OLD"),
            key("NEW")
        ));
        statements.push(format!(
            "CREATE TRIGGER IF NOT EXISTS \"_drill_{t}_del\" AFTER DELETE ON \"{t}\" BEGIN {} END",
            key("OLD")
        ));
    }
    let mut tx = p.begin().await.map_err(StoreError::query(what))?;
    for s in statements {
        sqlx::query(AssertSqlSafe(s))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(what))?;
    }
    tx.commit().await.map_err(StoreError::query(what))?;
    Ok(true)
}

/// The first difference between two SQLite copies of one snapshot prepared by
/// [`track_changes`]: only a row that one of them touched can differ, so only those rows
/// (the union of both sides' keys) are compared, table by table. `right_file` is the second
/// copy's file, attached to a connection of the first.
///
/// # Errors
/// Query failures; a PostgreSQL pool.
pub async fn compare_tracked(
    left: &Pool,
    right_file: &std::path::Path,
) -> Result<Option<RowDifference>, StoreError> {
    let Pool::Sqlite(p) = left else {
        return Err(StoreError::Rejected(
            "tracked comparison needs SQLite copies".into(),
        ));
    };
    let what = "compare tracked changes";
    let tables = layouts(left).await?;
    let mut conn = p.acquire().await.map_err(StoreError::query(what))?;
    sqlx::query("ATTACH DATABASE $1 AS drill_right")
        .bind(right_file.to_string_lossy().into_owned())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query(what))?;
    let mut found = None;
    let mut failure = None;
    for l in tables {
        if l.key.is_empty() {
            continue;
        }
        let on = |alias: &str| {
            l.key
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{alias}.\"{c}\" = json_extract(k.key, '$[{i}]')"))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let t = &l.table;
        let sql = format!(
            "SELECT key, a, b FROM (SELECT k.key, \
               (SELECT {ra} FROM main.\"{t}\" a WHERE {ona}) AS a, \
               (SELECT {rb} FROM drill_right.\"{t}\" b WHERE {onb}) AS b \
             FROM (SELECT key FROM main.{TRACKED} WHERE tbl = $1 \
                   UNION SELECT key FROM drill_right.{TRACKED} WHERE tbl = $1) k) \
             WHERE a IS NOT b ORDER BY key LIMIT 1",
            ra = sqlite_row(&l, "a"),
            rb = sqlite_row(&l, "b"),
            ona = on("a"),
            onb = on("b"),
        );
        match sqlx::query_as::<_, (String, Option<String>, Option<String>)>(AssertSqlSafe(sql))
            .bind(t)
            .fetch_optional(&mut *conn)
            .await
        {
            Ok(Some((key, a, b))) => {
                found = Some(RowDifference {
                    table: t.clone(),
                    at: format!("key {key}"),
                    left: a,
                    right: b,
                });
                break;
            }
            Ok(None) => {}
            Err(e) => {
                failure = Some(StoreError::Query { what, source: e });
                break;
            }
        }
    }
    let detached = sqlx::query("DETACH DATABASE drill_right")
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query(what));
    match failure {
        Some(e) => Err(e),
        None => detached.map(|_| found),
    }
}

/// Every output table of the database behind `pool`, digested.
///
/// # Errors
/// Query failures.
pub async fn digest_tables(pool: &Pool) -> Result<Vec<TableDigest>, StoreError> {
    use futures::TryStreamExt;
    let mut out = Vec::new();
    for l in layouts(pool).await? {
        let sql = row_sql(pool, &l);
        let mut hash = Sha256::new();
        let mut rows = 0u64;
        on_pool!(pool, p => {
            let mut stream = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).fetch(p);
            while let Some(row) = stream.try_next().await.map_err(StoreError::query("read rows for comparison"))? {
                hash.update(row.as_bytes());
                hash.update([b'\n']);
                rows += 1;
            }
        });
        let digest = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        out.push(TableDigest {
            table: l.table,
            rows,
            digest,
        });
    }
    Ok(out)
}

/// The rows of `table` in key order, as compared.
async fn rows(pool: &Pool, table: &str) -> Result<Vec<String>, StoreError> {
    let Some(l) = layouts(pool).await?.into_iter().find(|l| l.table == table) else {
        return Ok(Vec::new());
    };
    let sql = row_sql(pool, &l);
    Ok(
        on_pool!(pool, p => sqlx::query_scalar::<_, String>(AssertSqlSafe(sql))
        .fetch_all(p)
        .await
        .map_err(StoreError::query("read rows for comparison"))?),
    )
}

/// The first row where `table` differs between the two databases, if it does.
///
/// # Errors
/// Query failures.
pub async fn first_difference(
    left: &Pool,
    right: &Pool,
    table: &str,
) -> Result<Option<RowDifference>, StoreError> {
    let (a, b) = (rows(left, table).await?, rows(right, table).await?);
    let n = a.len().max(b.len());
    Ok((0..n)
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| RowDifference {
            table: table.to_owned(),
            at: format!("row {i}"),
            left: a.get(i).cloned(),
            right: b.get(i).cloned(),
        }))
}

/// The first difference between two databases given the left side's digests: the first
/// table (by name) whose digest differs, with its first differing row; or a table only one
/// side has.
///
/// # Errors
/// Query failures.
pub async fn compare_with(
    left: &Pool,
    left_digests: &[TableDigest],
    right: &Pool,
) -> Result<Option<RowDifference>, StoreError> {
    let right_digests = digest_tables(right).await?;
    let mut tables: Vec<&str> = left_digests
        .iter()
        .chain(&right_digests)
        .map(|d| d.table.as_str())
        .collect();
    tables.sort_unstable();
    tables.dedup();
    for t in tables {
        let (a, b) = (
            left_digests.iter().find(|d| d.table == t),
            right_digests.iter().find(|d| d.table == t),
        );
        if a.map(|d| (&d.digest, d.rows)) == b.map(|d| (&d.digest, d.rows)) {
            continue;
        }
        if let Some(diff) = first_difference(left, right, t).await? {
            return Ok(Some(diff));
        }
    }
    Ok(None)
}
