//! The two SQL back ends. They share every statement (SQLite takes PostgreSQL's `$N`
//! placeholders too) and differ in their pool, their migrations and how they claim.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use marketmedia_core::raw::{PartReceipt, UploadSession};
use marketmedia_core::{AssetUrl, ProcessingHandle};

use super::{
    Count, Failure, JobStore, MediaKind, NewTask, Outstanding, StoredAsset, Task, TaskFilter,
    TaskState,
};
use crate::error::{Error, Result};

/// A migrator running `migrations` (version, description, SQL), embedded in the binary.
pub(crate) fn migrator(migrations: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations: Vec<Migration> = migrations
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Whether SQLite answered that the file is busy or locked (`SQLITE_BUSY`, `SQLITE_LOCKED`
/// and their extended codes), or the pool gave up waiting for a connection.
pub(crate) fn sqlite_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(
                db.code().as_deref(),
                Some("5" | "6" | "261" | "262" | "517")
            ) || db.message().contains("locked")
        }
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

/// How many times opening an SQLite file is tried when SQLite answers at once that it is
/// locked (another process switching a new file to WAL): at most about 4 s in all.
const OPEN_ATTEMPTS: u32 = 50;

/// Opens a pool on an SQLite file that other processes may be creating at the same moment,
/// and runs `migrations` under the write lock. The job store and the credential store both
/// open this way.
///
/// - Switching a new file to WAL takes an exclusive lock for which SQLite may answer
///   "database is locked" at once, without its busy handler, when another process is
///   switching it too. Such a failure is retried a bounded number of times; a connect that
///   failed after waiting (the busy timeout) is not.
/// - sqlx takes no lock to migrate SQLite: two processes opening a new file would both find
///   no migration applied and both create the tables. Under `BEGIN IMMEDIATE` the second
///   waits, then finds them applied; sqlx runs each migration's own transaction as a
///   savepoint inside this one. (`run_direct` is `run` on a connection, which sqlx keeps
///   public for this use: `run(&mut *tx)` does not compile in a `Send` future.)
pub(crate) async fn open_sqlite(
    pool: SqlitePoolOptions,
    options: SqliteConnectOptions,
    migrations: &[(i64, &'static str, &'static str)],
) -> sqlx::Result<SqlitePool> {
    let mut attempt: u32 = 0;
    let pool = loop {
        let started = std::time::Instant::now();
        match pool.clone().connect_with(options.clone()).await {
            Ok(pool) => break pool,
            Err(e)
                if sqlite_busy(&e)
                    && attempt < OPEN_ATTEMPTS
                    && started.elapsed() < Duration::from_secs(1) =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt.min(10)))).await;
            }
            Err(e) => return Err(e),
        }
    };
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    migrator(migrations)
        .run_direct(&mut *tx)
        .await
        .map_err(|e| sqlx::Error::Migrate(Box::new(e)))?;
    tx.commit().await?;
    Ok(pool)
}

/// The versioned migrations, embedded so that an installed binary carries them.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "tasks",
        include_str!("../../migrations/sqlite/0001_tasks.sql"),
    ),
    (
        2,
        "accounts",
        include_str!("../../migrations/sqlite/0002_accounts.sql"),
    ),
];
pub(crate) const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "tasks",
        include_str!("../../migrations/postgres/0001_tasks.sql"),
    ),
    (
        2,
        "accounts",
        include_str!("../../migrations/postgres/0002_accounts.sql"),
    ),
    (
        3,
        "credentials",
        include_str!("../../migrations/postgres/0003_credentials.sql"),
    ),
];

const COLUMNS: &str =
    "id, batch, line, sku, media, kind, marketplace, platform, account, path, size, \
    content_key, fields, state, session, receipts, handle, asset_id, urls, reused, error_kind, \
    error_message, attempts, next_at, lease_owner, bytes_sent";

const INSERT: &str = "INSERT INTO tasks (batch, line, sku, media, kind, marketplace, account, \
    path, size, content_key, fields, updated_at, platform) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
    $9, $10, $11, $12, $13) ON CONFLICT (batch, sku, media, marketplace) DO NOTHING";

/// `{lock}` is `FOR UPDATE SKIP LOCKED` on PostgreSQL. The `NOT EXISTS` keeps two tasks of
/// the same content and account from uploading at once (duplicate rows): the second waits
/// and then reuses the first one's asset.
const CLAIM: &str = "UPDATE tasks SET state = 'running', lease_owner = $1, lease_until = $2, \
    attempts = attempts + 1, updated_at = $3 \
    WHERE id = (SELECT t.id FROM tasks t WHERE t.marketplace = $4 AND t.next_at <= $3 \
      AND (t.state IN ('pending', 'retry', 'waiting') \
           OR (t.state IN ('running', 'processing') AND t.lease_until < $3)) \
      AND NOT EXISTS (SELECT 1 FROM tasks o WHERE o.content_key = t.content_key \
           AND o.account = t.account AND o.id <> t.id \
           AND o.state IN ('running', 'processing') AND o.lease_until >= $3) \
      ORDER BY t.id LIMIT 1 {lock}) \
    RETURNING ";

/// The states in which a task is held by a lease: every write of a worker checks it, with the
/// lease owner, so a worker that lost its lease (expired, or the task cancelled) writes nothing.
const LEASED: &str = "state IN ('running', 'processing')";

macro_rules! sql_store {
    ($store:ident, $db:ty, $lock:expr, $pre_claim:expr) => {
        impl $store {
            fn task_from_row(row: &<$db as sqlx::Database>::Row) -> Result<Task> {
                let state: String = row.try_get("state")?;
                let kind: String = row.try_get("kind")?;
                let fields: String = row.try_get("fields")?;
                let session: Option<String> = row.try_get("session")?;
                let receipts: Option<String> = row.try_get("receipts")?;
                let handle: Option<String> = row.try_get("handle")?;
                let urls: Option<String> = row.try_get("urls")?;
                Ok(Task {
                    id: row.try_get("id")?,
                    spec: NewTask {
                        batch: row.try_get("batch")?,
                        line: row.try_get::<i64, _>("line")? as u64,
                        sku: row.try_get("sku")?,
                        media: row.try_get("media")?,
                        kind: if kind == "image" {
                            MediaKind::Image
                        } else {
                            MediaKind::Video
                        },
                        marketplace: row.try_get("marketplace")?,
                        platform: row.try_get("platform")?,
                        account: row.try_get("account")?,
                        path: row.try_get("path")?,
                        size: row.try_get::<i64, _>("size")? as u64,
                        content_key: row.try_get("content_key")?,
                        fields: serde_json::from_str(&fields)?,
                    },
                    state: TaskState::parse(&state)
                        .ok_or_else(|| Error::Store(format!("unknown task state {state:?}")))?,
                    session: session.map(|s| serde_json::from_str(&s)).transpose()?,
                    receipts: receipts
                        .map(|s| serde_json::from_str(&s))
                        .transpose()?
                        .unwrap_or_default(),
                    handle: handle.map(|s| serde_json::from_str(&s)).transpose()?,
                    asset_id: row.try_get("asset_id")?,
                    urls: urls
                        .map(|s| serde_json::from_str(&s))
                        .transpose()?
                        .unwrap_or_default(),
                    reused: row.try_get::<i64, _>("reused")? != 0,
                    error_kind: row.try_get("error_kind")?,
                    error_message: row.try_get("error_message")?,
                    attempts: row.try_get::<i64, _>("attempts")? as u32,
                    next_at: row.try_get("next_at")?,
                    lease_owner: row.try_get("lease_owner")?,
                    bytes_sent: row.try_get::<i64, _>("bytes_sent")? as u64,
                })
            }
        }

        #[async_trait]
        impl JobStore for $store {
            async fn add_tasks(&self, tasks: &[NewTask]) -> Result<u64> {
                let now = now_ms();
                let mut tx = self.pool.begin().await?;
                let mut added = 0;
                for t in tasks {
                    let r = sqlx::query(INSERT)
                        .bind(&t.batch)
                        .bind(t.line as i64)
                        .bind(&t.sku)
                        .bind(&t.media)
                        .bind(t.kind.as_str())
                        .bind(&t.marketplace)
                        .bind(&t.account)
                        .bind(&t.path)
                        .bind(t.size as i64)
                        .bind(&t.content_key)
                        .bind(serde_json::to_string(&t.fields)?)
                        .bind(now)
                        .bind(&t.platform)
                        .execute(&mut *tx)
                        .await?;
                    added += r.rows_affected();
                }
                tx.commit().await?;
                Ok(added)
            }

            async fn claim(
                &self,
                owner: &str,
                marketplace: &str,
                now: i64,
                lease_until: i64,
            ) -> Result<Option<Task>> {
                let mut tx = self.pool.begin().await?;
                for statement in $pre_claim {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                let sql = format!("{}{COLUMNS}", CLAIM.replace("{lock}", $lock));
                let row = sqlx::query(&sql)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(marketplace)
                    .fetch_optional(&mut *tx)
                    .await?;
                let task = row.as_ref().map(Self::task_from_row).transpose()?;
                // A task claimed while processing keeps that state (its handle is polled).
                if let Some(t) = &task {
                    if t.handle.is_some() {
                        sqlx::query("UPDATE tasks SET state = 'processing' WHERE id = $1")
                            .bind(t.id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(task)
            }

            async fn renew(&self, id: i64, owner: &str, lease_until: i64) -> Result<bool> {
                let sql = format!(
                    "UPDATE tasks SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND {LEASED}"
                );
                let r = sqlx::query(&sql)
                    .bind(lease_until)
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn save_session(
                &self,
                id: i64,
                owner: &str,
                session: &UploadSession,
                receipts: &[PartReceipt],
            ) -> Result<bool> {
                let bytes: u64 = receipts.iter().map(|r| r.size).sum();
                let sql = format!(
                    "UPDATE tasks SET session = $1, receipts = $2, bytes_sent = $3, updated_at = $4 \
                     WHERE id = $5 AND lease_owner = $6 AND {LEASED}"
                );
                let r = sqlx::query(&sql)
                    .bind(serde_json::to_string(session)?)
                    .bind(serde_json::to_string(receipts)?)
                    .bind(bytes as i64)
                    .bind(now_ms())
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn set_processing(
                &self,
                id: i64,
                owner: &str,
                handle: &ProcessingHandle,
            ) -> Result<bool> {
                let sql = format!(
                    "UPDATE tasks SET state = 'processing', handle = $1, updated_at = $2 \
                     WHERE id = $3 AND lease_owner = $4 AND {LEASED}"
                );
                let r = sqlx::query(&sql)
                    .bind(serde_json::to_string(handle)?)
                    .bind(now_ms())
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn find_asset(
                &self,
                content_key: &str,
                marketplace: &str,
                account: &str,
            ) -> Result<Option<StoredAsset>> {
                // The identity names its marketplace: `marketplace` (the name the asset was
                // made under) is not part of the match, so a renamed account finds its assets.
                let _ = marketplace;
                let row = sqlx::query(
                    "SELECT asset_id, urls, created_by FROM assets \
                     WHERE content_key = $1 AND account = $2 ORDER BY created_at LIMIT 1",
                )
                .bind(content_key)
                .bind(account)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| -> Result<StoredAsset> {
                    let urls: String = row.try_get("urls")?;
                    Ok(StoredAsset {
                        asset_id: row.try_get("asset_id")?,
                        urls: serde_json::from_str(&urls)?,
                        created_by: row.try_get("created_by")?,
                    })
                })
                .transpose()
            }

            async fn complete(
                &self,
                task: &Task,
                owner: &str,
                asset_id: &str,
                urls: &[AssetUrl],
                bytes_sent: u64,
                reused: bool,
            ) -> Result<bool> {
                let now = now_ms();
                let urls = serde_json::to_string(urls)?;
                let mut tx = self.pool.begin().await?;
                let sql = format!(
                    "UPDATE tasks SET state = 'done', asset_id = $1, urls = $2, reused = $3, \
                     bytes_sent = $4, lease_owner = NULL, lease_until = 0, error_kind = NULL, \
                     error_message = NULL, updated_at = $5 \
                     WHERE id = $6 AND lease_owner = $7 AND {LEASED}"
                );
                let r = sqlx::query(&sql)
                    .bind(asset_id)
                    .bind(&urls)
                    .bind(i64::from(reused))
                    .bind(bytes_sent as i64)
                    .bind(now)
                    .bind(task.id)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?;
                if !reused {
                    sqlx::query(
                        "INSERT INTO assets (content_key, marketplace, account, asset_id, urls, \
                         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (content_key, marketplace, account) DO NOTHING",
                    )
                    .bind(&task.spec.content_key)
                    .bind(&task.spec.marketplace)
                    .bind(&task.spec.account)
                    .bind(asset_id)
                    .bind(&urls)
                    .bind(task.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(r.rows_affected() == 1)
            }

            async fn release(&self, id: i64, owner: &str) -> Result<bool> {
                // A running task goes back to pending (its session stays); a processing one
                // keeps its state and handle. Either is claimable at once: no lease.
                let sql = format!(
                    "UPDATE tasks SET state = CASE WHEN handle IS NULL THEN 'pending' ELSE state END, \
                     lease_owner = NULL, lease_until = 0, \
                     attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $1 \
                     WHERE id = $2 AND lease_owner = $3 AND {LEASED}"
                );
                let r = sqlx::query(&sql)
                    .bind(now_ms())
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn fail(
                &self,
                id: i64,
                owner: &str,
                failure: &Failure,
                drop_session: bool,
            ) -> Result<bool> {
                let (state, next_at) = match failure.retry_at {
                    Some(at) => (TaskState::Retry, at),
                    None => (TaskState::Failed, 0),
                };
                let session = if drop_session {
                    ", session = NULL, receipts = NULL, handle = NULL"
                } else {
                    ""
                };
                let sql = format!(
                    "UPDATE tasks SET state = $1, next_at = $2, error_kind = $3, error_message = $4, \
                     lease_owner = NULL, lease_until = 0, updated_at = $5{session} \
                     WHERE id = $6 AND lease_owner = $7 AND {LEASED}"
                );
                let r = sqlx::query(&sql)
                    .bind(state.as_str())
                    .bind(next_at)
                    .bind(&failure.kind)
                    .bind(&failure.message)
                    .bind(now_ms())
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn wait_for_authorization(
                &self,
                id: i64,
                owner: &str,
                message: &str,
                next_at: i64,
            ) -> Result<bool> {
                let sql = format!(
                    "UPDATE tasks SET state = 'waiting', next_at = $1, \
                     error_kind = 'needs authorization', error_message = $2, \
                     lease_owner = NULL, lease_until = 0, \
                     attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $3 \
                     WHERE id = $4 AND lease_owner = $5 AND {LEASED}"
                );
                let r = sqlx::query(&sql)
                    .bind(next_at)
                    .bind(message)
                    .bind(now_ms())
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn counts(&self, batch: Option<&str>) -> Result<Vec<Count>> {
                let rows = sqlx::query(
                    "SELECT marketplace, state, COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes \
                     FROM tasks WHERE ($1 IS NULL OR batch = $1) \
                     GROUP BY marketplace, state ORDER BY marketplace, state",
                )
                .bind(batch)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let state: String = row.try_get("state")?;
                        Ok(Count {
                            marketplace: row.try_get("marketplace")?,
                            state: TaskState::parse(&state).ok_or_else(|| {
                                Error::Store(format!("unknown task state {state:?}"))
                            })?,
                            tasks: row.try_get::<i64, _>("n")? as u64,
                            bytes: row.try_get::<i64, _>("bytes")? as u64,
                        })
                    })
                    .collect()
            }

            async fn outstanding(&self, marketplaces: &[String]) -> Result<Outstanding> {
                if marketplaces.is_empty() {
                    return Ok(Outstanding::default());
                }
                let list: Vec<String> =
                    (1..=marketplaces.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT COUNT(*) AS n, \
                     CAST(COALESCE(SUM(CASE WHEN state = 'waiting' THEN 1 ELSE 0 END), 0) AS BIGINT) AS w, \
                     MIN(CASE WHEN state IN ('running', 'processing') THEN lease_until ELSE next_at END) AS at \
                     FROM tasks WHERE state IN ('pending', 'retry', 'waiting', 'running', 'processing') \
                     AND marketplace IN ({})",
                    list.join(", ")
                );
                let mut query = sqlx::query(&sql);
                for m in marketplaces {
                    query = query.bind(m);
                }
                let row = query.fetch_one(&self.pool).await?;
                let n: i64 = row.try_get("n")?;
                let at: Option<i64> = row.try_get("at")?;
                let w: i64 = row.try_get("w")?;
                Ok(Outstanding {
                    tasks: n as u64,
                    waiting: w as u64,
                    next_at: at,
                })
            }

            async fn tasks(
                &self,
                after: i64,
                limit: u32,
                filter: &TaskFilter,
            ) -> Result<Vec<Task>> {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM tasks WHERE id > $1 AND ($2 IS NULL OR state = $2) \
                     AND ($3 IS NULL OR batch = $3) ORDER BY id LIMIT $4"
                ))
                .bind(after)
                .bind(filter.state.map(TaskState::as_str))
                .bind(filter.batch.as_deref())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::task_from_row).collect()
            }

            async fn retry_failed(&self, batch: Option<&str>) -> Result<u64> {
                let r = sqlx::query(
                    "UPDATE tasks SET state = 'pending', attempts = 0, next_at = 0, \
                     error_kind = NULL, error_message = NULL, updated_at = $1 \
                     WHERE state = 'failed' AND ($2 IS NULL OR batch = $2)",
                )
                .bind(now_ms())
                .bind(batch)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected())
            }

            async fn cancel(&self, batch: Option<&str>) -> Result<u64> {
                let r = sqlx::query(
                    "UPDATE tasks SET state = 'cancelled', lease_owner = NULL, lease_until = 0, \
                     updated_at = $1 WHERE state IN ('pending', 'retry', 'waiting', 'running', 'processing') \
                     AND ($2 IS NULL OR batch = $2)",
                )
                .bind(now_ms())
                .bind(batch)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected())
            }

            async fn adopt_account(&self, platform: &str, old: &str, identity: &str) -> Result<u64> {
                if old == identity {
                    return Ok(0);
                }
                let mut tx = self.pool.begin().await?;
                let tasks = sqlx::query(
                    "UPDATE tasks SET account = $1 WHERE platform = $2 AND account = $3",
                )
                .bind(identity)
                .bind(platform)
                .bind(old)
                .execute(&mut *tx)
                .await?;
                let assets = sqlx::query(
                    "UPDATE assets SET account = $1 WHERE marketplace = $2 AND account = $3 \
                     AND NOT EXISTS (SELECT 1 FROM assets n WHERE n.content_key = assets.content_key \
                     AND n.marketplace = assets.marketplace AND n.account = $1)",
                )
                .bind(identity)
                .bind(platform)
                .bind(old)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(tasks.rows_affected() + assets.rows_affected())
            }

            async fn forget_session(&self, id: i64) -> Result<bool> {
                let r = sqlx::query(
                    "UPDATE tasks SET session = NULL, receipts = NULL, handle = NULL, updated_at = $1 \
                     WHERE id = $2 AND state = 'cancelled'",
                )
                .bind(now_ms())
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }
        }
    };
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    marketmedia_core::raw::http::unix_millis() as i64
}

/// The embedded store: one SQLite file, no server. Several workers of one machine may share
/// it (SQLite serialises writers); for many machines use [`PostgresStore`].
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it and its directory when missing) the store at `path`, and runs the
    /// migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // WAL lets readers (status, export) run while a worker writes.
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit survives the process being killed (what a worker
            // must survive); only a power loss may undo the last commits, which re-sends a few
            // parts. FULL synced the disk on every receipt: 42 ms of store time per task
            // instead of 3 (`cargo bench --bench batch`).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        // One connection per process: SQLite has one writer at a time anyway, and a single
        // connection cannot deadlock two deferred transactions upgrading to write. Other
        // processes on the file wait on the busy timeout.
        let pool = open_sqlite(
            SqlitePoolOptions::new().max_connections(1),
            options,
            SQLITE_MIGRATIONS,
        )
        .await?;
        Ok(SqliteStore { pool })
    }
}

/// The shared store: PostgreSQL, for several `batch work` processes on one or many machines.
/// Workers claim with `FOR UPDATE SKIP LOCKED`.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` and runs the migrations.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        migrator(POSTGRES_MIGRATIONS).run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

/// The advisory lock every claim takes for its transaction: claims are serialised (they are
/// short), so the check that no other worker uploads the same content cannot race, while
/// `SKIP LOCKED` keeps claims from waiting on rows that workers are updating.
const PG_CLAIM_LOCK: [&str; 1] = ["SELECT pg_advisory_xact_lock(7267001)"];
const NO_STATEMENTS: [&str; 0] = [];

sql_store!(SqliteStore, sqlx::Sqlite, "", NO_STATEMENTS);
sql_store!(
    PostgresStore,
    sqlx::Postgres,
    "FOR UPDATE SKIP LOCKED",
    PG_CLAIM_LOCK
);
