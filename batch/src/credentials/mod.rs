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
//! The tokens are sealed at rest ([`seal`], `docs/security.md`): the access token, the
//! refresh token and the details in one column encrypted under the key of
//! `MARKETMEDIA_SECRET_KEY` or of `secret.key` beside the file; the expiries in clear columns
//! ([`SqliteCredentialStore::expiries`] lists them without the key). A file written before
//! the tokens were sealed is sealed when it is opened. With the wrong key a credential's load
//! is an error naming it, never tokens sent to a platform.
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

pub mod seal;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Row;

use marketmedia_core::raw::http::unix_millis;

pub mod postgres;
use marketmedia_core::{
    no_refresh_token, refresh_if_due, CredentialKey, CredentialStore, Error, ErrorKind, RefreshDue,
    Refresher, Result, Secret, Tokens,
};
pub use postgres::PgCredentialStore;

use seal::{Rekey, Sealer, SecretKey};

/// The file's name in the user's data directory (the CLI puts it beside `batch.sqlite`:
/// `~/.local/share/marketmedia/credentials.sqlite` on Linux).
pub const FILE_NAME: &str = "credentials.sqlite";

/// How long a process waits for another's write lock: longer than one refresh call may take
/// (the watchdog's 60 s answer deadline and the 10 s connect timeout), so a refresh in
/// another process is waited for, not failed on.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

/// The store's migrations, embedded (the job store's pattern: versioned, run at open).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "credentials",
        include_str!("../../migrations/credentials/sqlite/0001_credentials.sql"),
    ),
    (
        2,
        "sealed",
        include_str!("../../migrations/credentials/sqlite/0002_sealed.sql"),
    ),
    (
        3,
        "moved",
        include_str!("../../migrations/credentials/sqlite/0003_moved.sql"),
    ),
];

/// The columns of a row written before the tokens were sealed.
const PLAINTEXT_COLUMNS: &str = "key, access_token, access_expires_at, refresh_token, \
    refresh_expires_at, obtained_at, details";

/// What `marketmedia accounts` shows of a stored credential: its clear columns, read without
/// the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExpiries {
    /// The credential.
    pub key: CredentialKey,
    /// When its access token expires (Unix ms), when known.
    pub access_expires_at_ms: Option<u64>,
    /// When its refresh token (or authorization) ends (Unix ms), when known.
    pub refresh_expires_at_ms: Option<u64>,
    /// When its tokens were obtained (Unix ms).
    pub obtained_at_ms: u64,
}

/// The SQLite credential store (see the module's documentation).
#[derive(Clone)]
pub struct SqliteCredentialStore {
    pool: SqlitePool,
    path: PathBuf,
    sealer: Sealer,
}

impl std::fmt::Debug for SqliteCredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteCredentialStore")
            .field("path", &self.path)
            .field("sealer", &self.sealer)
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
    /// Opens the store at `path` with the key of `MARKETMEDIA_SECRET_KEY`, else of the key
    /// file `secret.key` in the same directory (created `0600` with a fresh key on first use):
    /// [`SecretKey::load`], then [`SqliteCredentialStore::open_with`].
    pub async fn open(path: &Path) -> Result<SqliteCredentialStore> {
        create_private(path)?;
        let key = SecretKey::load(&SqliteCredentialStore::key_dir(path), true)?;
        SqliteCredentialStore::open_with(path, Sealer::new(key)).await
    }

    /// The directory of the key file of a store at `path` (the store's own directory).
    pub fn key_dir(path: &Path) -> PathBuf {
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// Opens the store at `path`, sealing with `sealer`, creating it (`0600`, in a `0700`
    /// directory when the directory is new) when missing, and runs its migrations. Rows
    /// written before the tokens were sealed are sealed now, and the file is then rewritten
    /// (`VACUUM`) so that no copy of the plaintext stays in its free pages or its WAL.
    /// SQLite's `-wal` and `-shm` files take the database file's permissions.
    pub async fn open_with(path: &Path, sealer: Sealer) -> Result<SqliteCredentialStore> {
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
            // Deleted and overwritten content (a replaced sealed value, a row sealed at open)
            // is zeroed in the file rather than left in free space.
            .pragma("secure_delete", "ON")
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
        let store = SqliteCredentialStore {
            pool,
            path: path.to_owned(),
            sealer,
        };
        store.seal_plaintext_rows().await?;
        Ok(store)
    }

    /// Seals the rows an older version stored in plaintext (under the write lock, so that of
    /// several processes opening the file one does it), then scrubs the file.
    async fn seal_plaintext_rows(&self) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let rows = sqlx::query(&format!(
            "SELECT {PLAINTEXT_COLUMNS} FROM credentials WHERE sealed IS NULL"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        for row in &rows {
            let key: String = row.try_get("key").map_err(store_error)?;
            let key = CredentialKey::parse(&key)?;
            let sealed = self.sealer.seal(&key, &Self::plaintext_tokens(row)?)?;
            sqlx::query(
                "UPDATE credentials SET sealed = $1, access_token = '', refresh_token = NULL, \
                 details = 'null' WHERE key = $2",
            )
            .bind(sealed)
            .bind(key.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        if !rows.is_empty() {
            tracing::info!(
                store = %self.path.display(),
                credentials = rows.len(),
                "sealed the tokens stored in plaintext"
            );
            self.scrub().await;
        }
        Ok(())
    }

    /// Rewrites the file so that replaced values leave no copy in its free pages or its WAL
    /// (after sealing plaintext rows, after a rekey). Best effort: another process reading
    /// at that moment can make it fail, which is logged.
    async fn scrub(&self) {
        for statement in [
            "PRAGMA wal_checkpoint(TRUNCATE)",
            "VACUUM",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ] {
            if let Err(e) = sqlx::query(statement).execute(&self.pool).await {
                tracing::warn!(store = %self.path.display(), error = %e, "{statement} failed");
            }
        }
    }

    /// The sealer this store seals with.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Every stored credential's expiries, from the clear columns: no key needed, nothing
    /// decrypted (`marketmedia accounts`).
    pub async fn expiries(&self) -> Result<Vec<StoredExpiries>> {
        let rows = sqlx::query(
            "SELECT key, access_expires_at, refresh_expires_at, obtained_at FROM credentials \
             ORDER BY key",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("key").map_err(store_error)?;
                Ok(StoredExpiries {
                    key: CredentialKey::parse(&key)?,
                    access_expires_at_ms: millis(
                        row.try_get("access_expires_at").map_err(store_error)?,
                    ),
                    refresh_expires_at_ms: millis(
                        row.try_get("refresh_expires_at").map_err(store_error)?,
                    ),
                    obtained_at_ms: millis(Some(row.try_get("obtained_at").map_err(store_error)?))
                        .unwrap_or(0),
                })
            })
            .collect()
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

    /// Where `key`'s credential was moved ([`SqliteCredentialStore::retire`]): the shared
    /// store's location, redacted. `None` when it was not moved.
    pub async fn moved_to(&self, key: &CredentialKey) -> Result<Option<String>> {
        let row = sqlx::query("SELECT moved_to FROM moved WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|r| r.try_get::<String, _>("moved_to"))
            .transpose()
            .map_err(store_error)
    }

    /// Retires `key`'s tokens from this file once they were copied to the shared store at
    /// `location` (redacted here: no password, no query values): the row is deleted and a
    /// tombstone names where they went, so any later use of the credential from this file
    /// fails, saying so, instead of refreshing a copy that is no longer the truth.
    pub async fn retire(&self, key: &CredentialKey, location: &str) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        sqlx::query("DELETE FROM credentials WHERE key = $1")
            .bind(key.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query(
            "INSERT INTO moved (key, moved_to, moved_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET moved_to = excluded.moved_to, \
             moved_at = excluded.moved_at",
        )
        .bind(key.as_str())
        .bind(crate::store::redact_location(location))
        .bind(db_millis(Some(unix_millis())))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    /// The error of any use of a credential moved to `to`.
    fn moved_error(key: &CredentialKey, to: &str) -> Error {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "credential {key} was moved to the shared store {to}: this machine's \
                 credential store no longer holds or refreshes it; use it from there \
                 (`marketmedia batch … --store {to}`, `marketmedia accounts authorize NAME \
                 --store {to}`)"
            ),
        )
        .with_platform(key.platform())
    }

    /// Fails when `key` was moved away (in `conn`, inside the caller's transaction).
    async fn check_not_moved(conn: &mut SqliteConnection, key: &CredentialKey) -> Result<()> {
        let row = sqlx::query("SELECT moved_to FROM moved WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(conn)
            .await
            .map_err(store_error)?;
        match row {
            Some(r) => {
                let to: String = r.try_get("moved_to").map_err(store_error)?;
                Err(Self::moved_error(key, &to))
            }
            None => Ok(()),
        }
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

    /// The tokens of a row an older version wrote in plaintext.
    fn plaintext_tokens(row: &sqlx::sqlite::SqliteRow) -> Result<Tokens> {
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

    /// The tokens sealed in `row` (columns `key` and `sealed`).
    fn open_row(&self, row: &sqlx::sqlite::SqliteRow) -> Result<(CredentialKey, Tokens)> {
        let key: String = row.try_get("key").map_err(store_error)?;
        let key = CredentialKey::parse(&key)?;
        let sealed: Option<Vec<u8>> = row.try_get("sealed").map_err(store_error)?;
        // `open_with` sealed every row; a row without a sealed value was written since by a
        // version that did not seal (its next open seals it).
        let sealed = sealed.ok_or_else(|| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "the tokens of credential {key} were stored unsealed by an older version of \
                     marketmedia: run the command again to seal them"
                ),
            )
        })?;
        let tokens = self.sealer.open(&key, &sealed)?;
        Ok((key, tokens))
    }

    async fn read(
        &self,
        conn: &mut SqliteConnection,
        key: &CredentialKey,
    ) -> Result<Option<Tokens>> {
        let row = sqlx::query("SELECT key, sealed FROM credentials WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(conn)
            .await
            .map_err(store_error)?;
        Ok(row
            .as_ref()
            .map(|r| self.open_row(r))
            .transpose()?
            .map(|(_, t)| t))
    }

    /// Writes `tokens` for `key`; `refreshed` counts a refresh, else (a save) starts the
    /// count again.
    async fn write(
        &self,
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
             refresh_token, refresh_expires_at, obtained_at, details, sealed, refreshes, \
             updated_at) VALUES ($1, $2, '', $3, NULL, $4, $5, 'null', $6, 0, $7) \
             ON CONFLICT (key) DO UPDATE SET access_token = '', \
             access_expires_at = excluded.access_expires_at, refresh_token = NULL, \
             refresh_expires_at = excluded.refresh_expires_at, \
             obtained_at = excluded.obtained_at, details = 'null', sealed = excluded.sealed, \
             refreshes = {refreshes}, updated_at = excluded.updated_at"
        ))
        .bind(key.as_str())
        .bind(key.platform())
        .bind(db_millis(tokens.access_expires_at_ms))
        .bind(db_millis(tokens.refresh_expires_at_ms))
        .bind(db_millis(Some(tokens.obtained_at_ms)))
        .bind(self.sealer.seal(key, tokens)?)
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
        match self.read(&mut conn, key).await? {
            Some(tokens) => Ok(Some(tokens)),
            None => {
                Self::check_not_moved(&mut conn, key).await?;
                Ok(None)
            }
        }
    }

    async fn save(&self, key: &CredentialKey, tokens: &Tokens) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        Self::check_not_moved(&mut tx, key).await?;
        self.write(&mut tx, key, tokens, false).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn seed(&self, key: &CredentialKey, tokens: &Tokens) -> Result<bool> {
        if let Some(to) = self.moved_to(key).await? {
            return Err(Self::moved_error(key, &to));
        }
        // One statement: SQLite inserts only when no row has the key, whatever another
        // process committed since this one looked.
        let r = sqlx::query(
            "INSERT INTO credentials (key, platform, access_token, access_expires_at, \
             refresh_token, refresh_expires_at, obtained_at, details, sealed, refreshes, \
             updated_at) VALUES ($1, $2, '', $3, NULL, $4, $5, 'null', $6, 0, $7) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key.as_str())
        .bind(key.platform())
        .bind(db_millis(tokens.access_expires_at_ms))
        .bind(db_millis(tokens.refresh_expires_at_ms))
        .bind(db_millis(Some(tokens.obtained_at_ms)))
        .bind(self.sealer.seal(key, tokens)?)
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
        let stored = self.read(&mut tx, key).await?;
        if stored.is_none() {
            Self::check_not_moved(&mut tx, key).await?;
        }
        match refresh_if_due(key, stored.as_ref(), due, refresher).await? {
            Some(fresh) => {
                // Committed before anyone uses the new access token: the rotated refresh
                // token is never only in memory.
                self.write(&mut tx, key, &fresh, true).await?;
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
        let rows = sqlx::query("SELECT key, sealed FROM credentials ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(|row| self.open_row(row)).collect()
    }
}

#[async_trait]
impl Rekey for SqliteCredentialStore {
    async fn rekey(&self, old: &Sealer, new: &Sealer) -> Result<u64> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let rows = sqlx::query("SELECT key, sealed FROM credentials ORDER BY key")
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        let mut count = 0;
        for row in &rows {
            let key: String = row.try_get("key").map_err(store_error)?;
            let key = CredentialKey::parse(&key)?;
            let sealed: Option<Vec<u8>> = row.try_get("sealed").map_err(store_error)?;
            let Some(sealed) = sealed else {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("the tokens of credential {key} are not sealed: nothing was rekeyed"),
                ));
            };
            let resealed = old.reseal(new, &key, &sealed)?;
            sqlx::query("UPDATE credentials SET sealed = $1 WHERE key = $2")
                .bind(resealed)
                .bind(key.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            count += 1;
        }
        tx.commit().await.map_err(store_error)?;
        // The values sealed under the old key leave the file and its WAL.
        self.scrub().await;
        Ok(count)
    }
}
