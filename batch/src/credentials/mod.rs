//! The credential store of one machine: the tokens of every credential in one SQLite file
//! in the user's data directory (`credentials.sqlite`, created `0600`), shared by `upload`,
//! `images`, `status` and every `batch` process, so that a rotated refresh token has exactly
//! one copy.
//!
//! It implements core's [`CredentialStore`]: a refresh takes the database's write lock
//! (`BEGIN IMMEDIATE`), reads the credential again, calls the platform only if the tokens are
//! still due, and commits the new pair before the new access token is used. Two processes
//! that find a token due at the same moment make one refresh: the second waits for the lock,
//! then reads what the first committed. The lock is held across the refresh call (a few
//! seconds at most; the busy timeout below waits longer than one call's deadlines).
//!
//! ```no_run
//! # async fn demo(refresher: std::sync::Arc<dyn marketmedia_core::Refresher>) -> marketmedia_core::Result<()> {
//! use std::sync::Arc;
//! use marketmedia_batch::credentials::SqliteCredentialStore;
//! use marketmedia_core::{CredentialKey, TokenSource};
//!
//! let store = SqliteCredentialStore::open(std::path::Path::new("credentials.sqlite")).await?;
//! let key = CredentialKey::new("shopee", "2001887", "shop-600001")?;
//! let tokens = TokenSource::builder(key, Arc::new(store), refresher)
//!     .account("shopee-sg")
//!     .build();
//! let access = tokens.access_token().await?;
//! # let _ = access; Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Row;

use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::{
    no_refresh_token, refresh_if_due, CredentialKey, CredentialStore, Error, ErrorKind, RefreshDue,
    Refresher, Result, Secret, Tokens,
};

/// The file's name in the user's data directory (the CLI puts it beside `batch.sqlite`:
/// `~/.local/share/marketmedia/credentials.sqlite` on Linux).
pub const FILE_NAME: &str = "credentials.sqlite";

/// How long a process waits for another's write lock: longer than one refresh call may take
/// (the watchdog's 60 s answer deadline and the 10 s connect timeout), so a refresh in
/// another process is waited for, not failed on.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

/// The store's migrations, embedded (the job store's pattern: versioned, run at open).
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "credentials",
    include_str!("../../migrations/credentials/sqlite/0001_credentials.sql"),
)];

const COLUMNS: &str = "key, access_token, access_expires_at, refresh_token, \
    refresh_expires_at, obtained_at, details";

/// The SQLite credential store (see the module's documentation).
#[derive(Clone)]
pub struct SqliteCredentialStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteCredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteCredentialStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A failure of the store itself: retryable when the database was busy (another process
/// held the write lock past [`BUSY_TIMEOUT`]), else local I/O. sqlx's messages name the
/// table or the SQLite error, never a stored value.
fn store_error(e: sqlx::Error) -> Error {
    let kind = if crate::store::sql::sqlite_busy(&e) {
        ErrorKind::Transient
    } else {
        ErrorKind::Io
    };
    Error::new(kind, format!("the credential store failed: {e}")).with_source(e)
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("credential store: cannot {what} {}: {e}", path.display()),
    )
    .with_source(e)
}

/// Creates `path` readable and writable by its owner only (`0600`) before SQLite opens it,
/// and takes any wider permission away from an existing file; a new parent directory is
/// created `0700`.
fn create_private(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(|e| io_error("create the directory", dir, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| io_error("create", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io_error("restrict the permissions of", path, e))?;
    }
    Ok(())
}

fn millis(v: Option<i64>) -> Option<u64> {
    v.map(|v| u64::try_from(v).unwrap_or(0))
}

fn db_millis(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

impl SqliteCredentialStore {
    /// Opens the store at `path`, creating it (`0600`, in a `0700` directory when the
    /// directory is new) when missing, and runs its migrations. SQLite's `-wal` and `-shm`
    /// files take the database file's permissions.
    pub async fn open(path: &Path) -> Result<SqliteCredentialStore> {
        create_private(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            // WAL: readers (every request's `load`) never wait for a refresh in progress.
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed refresh survives a power loss too. Shopee spends the old
            // refresh token at once, so losing the commit would lose the credential; there
            // is one commit per refresh, not per part.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        // Opened as the job store is: retried while another process switches a new file to
        // WAL, migrated under the write lock (`store::sql::open_sqlite`).
        let pool = crate::store::sql::open_sqlite(
            SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(BUSY_TIMEOUT + Duration::from_secs(10)),
            options,
            MIGRATIONS,
        )
        .await
        .map_err(|e| match e {
            sqlx::Error::Migrate(e) => Error::new(ErrorKind::Io, format!("credential store: {e}")),
            e => store_error(e),
        })?;
        Ok(SqliteCredentialStore {
            pool,
            path: path.to_owned(),
        })
    }

    /// Where the store is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many refreshes were committed for `key` since its tokens were last saved
    /// ([`CredentialStore::save`]: an authorization).
    pub async fn refresh_count(&self, key: &CredentialKey) -> Result<u64> {
        let row = sqlx::query("SELECT refreshes FROM credentials WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("refreshes"))
            .transpose()
            .map_err(store_error)?
            .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    /// Forgets `key`'s tokens (the seller revoked the app). Whether there were any.
    pub async fn remove(&self, key: &CredentialKey) -> Result<bool> {
        let r = sqlx::query("DELETE FROM credentials WHERE key = $1")
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(r.rows_affected() > 0)
    }

    fn tokens_from(row: &sqlx::sqlite::SqliteRow) -> Result<Tokens> {
        let get = |e: sqlx::Error| store_error(e);
        let details: String = row.try_get("details").map_err(get)?;
        Ok(Tokens {
            access_token: Secret::new(row.try_get::<String, _>("access_token").map_err(get)?),
            access_expires_at_ms: millis(row.try_get("access_expires_at").map_err(get)?),
            refresh_token: row
                .try_get::<Option<String>, _>("refresh_token")
                .map_err(get)?
                .map(Secret::new),
            refresh_expires_at_ms: millis(row.try_get("refresh_expires_at").map_err(get)?),
            obtained_at_ms: millis(Some(row.try_get("obtained_at").map_err(get)?)).unwrap_or(0),
            // Written by `write` from a JSON value; anything else reads as none.
            details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        })
    }

    async fn read(conn: &mut SqliteConnection, key: &CredentialKey) -> Result<Option<Tokens>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM credentials WHERE key = $1"))
            .bind(key.as_str())
            .fetch_optional(conn)
            .await
            .map_err(store_error)?;
        row.as_ref().map(Self::tokens_from).transpose()
    }

    /// Writes `tokens` for `key`; `refreshed` counts a refresh, else (a save) starts the
    /// count again.
    async fn write(
        conn: &mut SqliteConnection,
        key: &CredentialKey,
        tokens: &Tokens,
        refreshed: bool,
    ) -> Result<()> {
        let refreshes = if refreshed {
            "credentials.refreshes + 1"
        } else {
            "0"
        };
        sqlx::query(&format!(
            "INSERT INTO credentials (key, platform, access_token, access_expires_at, \
             refresh_token, refresh_expires_at, obtained_at, details, refreshes, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) \
             ON CONFLICT (key) DO UPDATE SET access_token = excluded.access_token, \
             access_expires_at = excluded.access_expires_at, \
             refresh_token = excluded.refresh_token, \
             refresh_expires_at = excluded.refresh_expires_at, \
             obtained_at = excluded.obtained_at, details = excluded.details, \
             refreshes = {refreshes}, updated_at = excluded.updated_at"
        ))
        .bind(key.as_str())
        .bind(key.platform())
        .bind(tokens.access_token.expose())
        .bind(db_millis(tokens.access_expires_at_ms))
        .bind(tokens.refresh_token.as_ref().map(Secret::expose))
        .bind(db_millis(tokens.refresh_expires_at_ms))
        .bind(db_millis(Some(tokens.obtained_at_ms)))
        .bind(tokens.details.to_string())
        .bind(db_millis(Some(unix_millis())))
        .execute(conn)
        .await
        .map_err(store_error)?;
        Ok(())
    }
}

#[async_trait]
impl CredentialStore for SqliteCredentialStore {
    async fn load(&self, key: &CredentialKey) -> Result<Option<Tokens>> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        Self::read(&mut conn, key).await
    }

    async fn save(&self, key: &CredentialKey, tokens: &Tokens) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        Self::write(&mut tx, key, tokens, false).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn seed(&self, key: &CredentialKey, tokens: &Tokens) -> Result<bool> {
        // One statement: SQLite inserts only when no row has the key, whatever another
        // process committed since this one looked.
        let r = sqlx::query(
            "INSERT INTO credentials (key, platform, access_token, access_expires_at, \
             refresh_token, refresh_expires_at, obtained_at, details, refreshes, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key.as_str())
        .bind(key.platform())
        .bind(tokens.access_token.expose())
        .bind(db_millis(tokens.access_expires_at_ms))
        .bind(tokens.refresh_token.as_ref().map(Secret::expose))
        .bind(db_millis(tokens.refresh_expires_at_ms))
        .bind(db_millis(Some(tokens.obtained_at_ms)))
        .bind(tokens.details.to_string())
        .bind(db_millis(Some(unix_millis())))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(r.rows_affected() > 0)
    }

    async fn refresh(
        &self,
        key: &CredentialKey,
        due: &RefreshDue,
        refresher: &dyn Refresher,
    ) -> Result<Tokens> {
        // The write lock first: whoever holds it is the one process that may refresh.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let stored = Self::read(&mut tx, key).await?;
        match refresh_if_due(key, stored.as_ref(), due, refresher).await? {
            Some(fresh) => {
                // Committed before anyone uses the new access token: the rotated refresh
                // token is never only in memory.
                Self::write(&mut tx, key, &fresh, true).await?;
                tx.commit().await.map_err(store_error)?;
                tracing::debug!(credential = %key, "refreshed tokens committed");
                Ok(fresh)
            }
            None => {
                tx.rollback().await.map_err(store_error)?;
                stored.ok_or_else(|| no_refresh_token(key))
            }
        }
    }

    async fn list(&self) -> Result<Vec<(CredentialKey, Tokens)>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM credentials ORDER BY key"))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("key").map_err(store_error)?;
                Ok((CredentialKey::parse(&key)?, Self::tokens_from(row)?))
            })
            .collect()
    }
}
