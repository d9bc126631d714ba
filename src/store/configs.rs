//! Engine configuration versions, the active pointer per engine, and the audit trail.

use super::RuntimeDb;
use super::error::StoreError;
use super::pool::on_pool;
use super::tx::BeginWrite;
use crate::domain::ConfigId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Config versions already read, by id. A stored version never changes (no statement
/// updates or deletes one), so a version once read is the answer for good; ids that were
/// not found are not remembered (they may be stored later).
#[derive(Clone, Debug, Default)]
pub(crate) struct ConfigCache(Arc<Mutex<HashMap<String, StoredConfig>>>);

impl ConfigCache {
    /// The version `id`, if it was read before.
    fn get(&self, id: &ConfigId) -> Option<StoredConfig> {
        self.0.lock().ok()?.get(id.as_str()).cloned()
    }

    /// Remembers a version read from the database.
    fn put(&self, c: &StoredConfig) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(c.config_id.as_str().to_owned(), c.clone());
        }
    }
}

/// One immutable configuration version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredConfig {
    /// Content hash of `body`.
    pub config_id: ConfigId,
    /// The engine it configures.
    pub engine: String,
    /// 1, 2, 3… per engine, in order of first activation.
    pub version: i64,
    /// Canonical JSON.
    pub body: String,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// Who stored it (`cli`, `kronos`, `bootstrap`…).
    pub created_by: String,
}

/// One audited attempt to change an engine's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigChange {
    /// Monotonic id.
    pub change_id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Which engine.
    pub engine: String,
    /// `activated` or `rejected`.
    pub action: String,
    /// Active config before the change.
    pub old_config_id: Option<ConfigId>,
    /// The config activated (or attempted, when known).
    pub new_config_id: Option<ConfigId>,
    /// Who asked.
    pub actor: String,
    /// Why (for rejections: the validation errors).
    pub reason: String,
}

/// Configuration storage.
#[async_trait]
pub trait ConfigStore {
    /// Stores `body` as a new version of `engine` (unless that exact config exists) and makes
    /// it the active one, atomically, with an audit row. Activating the config that is
    /// already active changes nothing and returns `false`.
    async fn activate_config(
        &self,
        engine: &str,
        config_id: &ConfigId,
        body: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(StoredConfig, bool), StoreError>;

    /// [`Self::activate_config`] for a change a person approved although it loosens hard
    /// limits: the audit row names the limits, the person and `approval`. Nothing else may
    /// loosen one: [`Self::activate_config`] and Kronos's promotions refuse with
    /// [`StoreError::LoosensHardLimit`].
    #[allow(clippy::too_many_arguments)]
    async fn activate_config_loosening(
        &self,
        engine: &str,
        config_id: &ConfigId,
        body: &str,
        actor: &str,
        reason: &str,
        approval: &str,
        at: DateTime<Utc>,
    ) -> Result<(StoredConfig, bool), StoreError>;

    /// Stores `body` as a version of `engine` unless that exact config exists, without
    /// activating it: the configs a backtest runs under, so every row it writes can be
    /// traced to its config while the daemon's active configs stay as they are.
    async fn record_config_version(
        &self,
        engine: &str,
        config_id: &ConfigId,
        body: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Audits a rejected attempt; the active config is untouched.
    async fn record_config_rejection(
        &self,
        engine: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The engine's active configuration, if one was ever activated.
    async fn active_config(&self, engine: &str) -> Result<Option<StoredConfig>, StoreError>;
    /// One stored version by its id (active or not): what reproduces an output written
    /// under it.
    async fn config(&self, config_id: &ConfigId) -> Result<Option<StoredConfig>, StoreError>;

    /// Every stored version of the engine's config, oldest first.
    async fn config_versions(&self, engine: &str) -> Result<Vec<StoredConfig>, StoreError>;

    /// The engine's audit trail, oldest first.
    async fn config_changes(&self, engine: &str) -> Result<Vec<ConfigChange>, StoreError>;
}

pub(super) type ConfigTuple = (String, String, i64, String, DateTime<Utc>, String);

pub(super) fn to_stored(
    (config_id, engine, version, body, created_at, created_by): ConfigTuple,
) -> StoredConfig {
    StoredConfig {
        config_id: ConfigId::new(config_id),
        engine,
        version,
        body,
        created_at,
        created_by,
    }
}

/// Inside a write transaction `$tx`: the stored version `$config_id` of `$engine`, inserted
/// as the engine's next version when it does not exist yet (an id that belongs to another
/// engine is rejected). Shared by activation and by recording a backtest's configs; a macro
/// because each backend's transaction is its own type.
macro_rules! stored_version {
    ($tx:ident, $engine:expr, $config_id:expr, $body:expr, $actor:expr, $at:expr) => {{
        let existing: Option<ConfigTuple> = sqlx::query_as(SELECT_CONFIG_BY_ID)
            .bind($config_id.as_str())
            .fetch_optional(&mut *$tx)
            .await
            .map_err(StoreError::query("read config version"))?;
        let stored = match existing {
            Some(row) => to_stored(row),
            None => {
                let next: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM engine_configs WHERE engine = $1",
                )
                .bind($engine)
                .fetch_one(&mut *$tx)
                .await
                .map_err(StoreError::query("next config version"))?;
                sqlx::query(
                    "INSERT INTO engine_configs (config_id, engine, version, body, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind($config_id.as_str())
                .bind($engine)
                .bind(next)
                .bind($body)
                .bind($at)
                .bind($actor)
                .execute(&mut *$tx)
                .await
                .map_err(StoreError::query("store config version"))?;
                StoredConfig {
                    config_id: $config_id.clone(),
                    engine: $engine.to_owned(),
                    version: next,
                    body: $body.to_owned(),
                    created_at: $at,
                    created_by: $actor.to_owned(),
                }
            }
        };
        if stored.engine != $engine {
            return Err(StoreError::Rejected(format!(
                "config {} belongs to engine `{}`, not `{}`",
                $config_id, stored.engine, $engine
            ))
            .into());
        }
        stored
    }};
}

/// Inside a write transaction `$tx`: makes `$config_id` (stored as a version when new) the
/// active config of `$engine` with its audit row, unless it already is. Evaluates to the
/// stored version and whether anything changed. Shared by activation and by Kronos's
/// promotion and revert, which activate inside their own transaction.
macro_rules! activated {
    ($tx:ident, $engine:expr, $config_id:expr, $body:expr, $actor:expr, $reason:expr, $at:expr) => {
        activated!($tx, $engine, $config_id, $body, $actor, $reason, $at, None::<&str>)
    };
    ($tx:ident, $engine:expr, $config_id:expr, $body:expr, $actor:expr, $reason:expr, $at:expr, $approval:expr) => {{
        let old: Option<(String, String)> = sqlx::query_as(
            "SELECT a.config_id, c.body FROM active_configs a \
             JOIN engine_configs c ON c.config_id = a.config_id WHERE a.engine = $1",
        )
        .bind($engine)
        .fetch_optional(&mut *$tx)
        .await
        .map_err(StoreError::query("read active config"))?;
        let mut reason: String = $reason.to_owned();
        if let Some((old_id, old_body)) = &old
            && old_id.as_str() != $config_id.as_str()
        {
            let loose = $crate::store::configs::loosened_limits($engine, old_body, $body);
            if !loose.is_empty() {
                match $approval {
                    None => {
                        return Err(StoreError::LoosensHardLimit {
                            engine: $engine.to_owned(),
                            changes: loose,
                        }
                        .into());
                    }
                    Some(why) => {
                        reason = format!(
                            "{reason}; loosens hard limits ({}), approved by {}: {why}",
                            loose.join("; "),
                            $actor
                        );
                    }
                }
            }
        }
        let old: Option<String> = old.map(|(id, _)| id);
        let stored = stored_version!($tx, $engine, $config_id, $body, $actor, $at);
        if old.as_deref() == Some($config_id.as_str()) {
            (stored, false)
        } else {
            sqlx::query(
                "INSERT INTO active_configs (engine, config_id, activated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (engine) DO UPDATE SET config_id = excluded.config_id, activated_at = excluded.activated_at",
            )
            .bind($engine)
            .bind($config_id.as_str())
            .bind($at)
            .execute(&mut *$tx)
            .await
            .map_err(StoreError::query("activate config"))?;
            sqlx::query(
                "INSERT INTO config_changes (at, engine, action, old_config_id, new_config_id, actor, reason) \
                 VALUES ($1, $2, 'activated', $3, $4, $5, $6)",
            )
            .bind($at)
            .bind($engine)
            .bind(old)
            .bind($config_id.as_str())
            .bind($actor)
            .bind(&reason)
            .execute(&mut *$tx)
            .await
            .map_err(StoreError::query("audit config change"))?;
            (stored, true)
        }
    }};
}
pub(super) use activated;
pub(super) use stored_version;

/// How `new` (a config body) loosens the hard limits of `engine` relative to `old`, one
/// line per limit; empty when it does not (or a body is not JSON: nothing to compare).
pub(crate) fn loosened_limits(engine: &str, old: &str, new: &str) -> Vec<String> {
    let limits = crate::engines::hard_limits(engine);
    if limits.is_empty() {
        return Vec::new();
    }
    match (
        serde_json::from_str::<serde_json::Value>(old),
        serde_json::from_str::<serde_json::Value>(new),
    ) {
        (Ok(old), Ok(new)) => crate::config::tunable::loosened(limits, &old, &new),
        _ => Vec::new(),
    }
}

pub(super) const SELECT_CONFIG_BY_ID: &str = "SELECT c.config_id, c.engine, c.version, c.body, c.created_at, c.created_by \
     FROM engine_configs c WHERE c.config_id = $1";

#[async_trait]
impl ConfigStore for RuntimeDb {
    async fn activate_config(
        &self,
        engine: &str,
        config_id: &ConfigId,
        body: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(StoredConfig, bool), StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin config activation"))?;
            let (stored, changed) = activated!(tx, engine, config_id, body, actor, reason, at);
            if changed {
                tx.commit().await.map_err(StoreError::query("commit config activation"))?;
            } else {
                tx.rollback().await.map_err(StoreError::query("rollback"))?;
            }
            Ok((stored, changed))
        })
    }

    async fn activate_config_loosening(
        &self,
        engine: &str,
        config_id: &ConfigId,
        body: &str,
        actor: &str,
        reason: &str,
        approval: &str,
        at: DateTime<Utc>,
    ) -> Result<(StoredConfig, bool), StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin config activation"))?;
            let (stored, changed) =
                activated!(tx, engine, config_id, body, actor, reason, at, Some(approval));
            if changed {
                tx.commit().await.map_err(StoreError::query("commit config activation"))?;
            } else {
                tx.rollback().await.map_err(StoreError::query("rollback"))?;
            }
            Ok((stored, changed))
        })
    }

    async fn record_config_version(
        &self,
        engine: &str,
        config_id: &ConfigId,
        body: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("record config version"))?;
            stored_version!(tx, engine, config_id, body, actor, at);
            tx.commit().await.map_err(StoreError::query("record config version"))?;
        });
        Ok(())
    }

    async fn record_config_rejection(
        &self,
        engine: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO config_changes (at, engine, action, old_config_id, new_config_id, actor, reason) \
             VALUES ($1, $2, 'rejected', (SELECT config_id FROM active_configs WHERE engine = $2), NULL, $3, $4)";
        on_pool!(&self.pool, p => {
            let mut c = p.write_conn().await.map_err(StoreError::query("audit config rejection"))?;
            sqlx::query(SQL)
            .bind(at)
            .bind(engine)
            .bind(actor)
            .bind(reason)
            .execute(&mut *c)
            .await
            .map(|_| ())
            .map_err(StoreError::query("audit config rejection"))
        })
    }

    async fn active_config(&self, engine: &str) -> Result<Option<StoredConfig>, StoreError> {
        const SQL: &str = "SELECT c.config_id, c.engine, c.version, c.body, c.created_at, c.created_by \
             FROM engine_configs c JOIN active_configs a ON a.config_id = c.config_id WHERE a.engine = $1";
        let row: Option<ConfigTuple> = self
            .reads()
            .query_as(SQL)
            .bind(engine)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read active config"))?;
        Ok(row.map(to_stored))
    }

    async fn config(&self, config_id: &ConfigId) -> Result<Option<StoredConfig>, StoreError> {
        if let Some(c) = self.configs.get(config_id) {
            return Ok(Some(c));
        }
        const SQL: &str = "SELECT c.config_id, c.engine, c.version, c.body, c.created_at, c.created_by \
             FROM engine_configs c WHERE c.config_id = $1";
        let row: Option<ConfigTuple> = self
            .reads()
            .query_as(SQL)
            .bind(config_id.as_str())
            .fetch_optional()
            .await
            .map_err(StoreError::query("read config"))?;
        let stored = row.map(to_stored);
        if let Some(c) = &stored {
            self.configs.put(c);
        }
        Ok(stored)
    }

    async fn config_versions(&self, engine: &str) -> Result<Vec<StoredConfig>, StoreError> {
        const SQL: &str = "SELECT c.config_id, c.engine, c.version, c.body, c.created_at, c.created_by \
             FROM engine_configs c WHERE c.engine = $1 ORDER BY c.version";
        let rows: Vec<ConfigTuple> = self
            .reads()
            .query_as(SQL)
            .bind(engine)
            .fetch_all()
            .await
            .map_err(StoreError::query("read config versions"))?;
        Ok(rows.into_iter().map(to_stored).collect())
    }

    async fn config_changes(&self, engine: &str) -> Result<Vec<ConfigChange>, StoreError> {
        const SQL: &str = "SELECT change_id, at, engine, action, old_config_id, new_config_id, actor, reason \
             FROM config_changes WHERE engine = $1 ORDER BY change_id";
        type Row = (
            i64,
            DateTime<Utc>,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
        );
        let rows: Vec<Row> = self
            .reads()
            .query_as(SQL)
            .bind(engine)
            .fetch_all()
            .await
            .map_err(StoreError::query("read config changes"))?;
        Ok(rows
            .into_iter()
            .map(
                |(change_id, at, engine, action, old, new, actor, reason)| ConfigChange {
                    change_id,
                    at,
                    engine,
                    action,
                    old_config_id: old.map(ConfigId::new),
                    new_config_id: new.map(ConfigId::new),
                    actor,
                    reason,
                },
            )
            .collect())
    }
}
