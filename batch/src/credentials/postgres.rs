//! The credential store of workers on many machines: the tokens of every credential in the
//! PostgreSQL database of their job store (`--store postgres://…`), one row per credential.
//!
//! It implements core's [`CredentialStore`]:
//! - a refresh is one transaction: `SELECT … FOR UPDATE` on the credential's row (other
//!   workers wait there), the row read again, "still due?" decided against the **database's
//!   clock** (`clock_timestamp()`, not the machine's), the refresher called only if it is,
//!   and the new pair **committed before the token is returned**; the workers that waited
//!   then read that pair and refresh nothing;
//! - the platform's refusal of the refresh token is recorded in the row (`state`
//!   `reauthorize`, the platform's message, never a secret) and committed: every worker then
//!   fails at once with that message instead of presenting the refused (or spent) token
//!   again, until an authorization ([`CredentialStore::save`]) clears it;
//! - a refresh about to be sent is recorded first (an **intent**, committed on a connection
//!   of its own, deleted with the new pair): a worker that finds one left over knows that a
//!   worker died after sending a refresh, and says so if the platform then refuses;
//! - expiries are kept on the database's clock: what a refresher measured on this machine's
//!   clock is rebased before it is written, and [`CredentialStore::now_ms`] answers this
//!   machine's clock plus the offset last measured against the database's.
//!
//! The tokens are stored only in the `sealed` column: the whole [`Tokens`] sealed with the
//! workers' key ([`Sealer`], the credential's key as associated data, a fresh nonce per
//! write); the expiries are in clear columns. The key is never in the database: workers on
//! several machines share it through `MARKETMEDIA_SECRET_KEY` (`docs/security.md`). A row
//! the key cannot open is an error naming the credential, never garbage sent to a platform.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::Row;

use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::{
    no_refresh_token, refresh_if_due, CredentialKey, CredentialStore, Error, ErrorKind, RefreshDue,
    Refresher, Result, Tokens,
};

use super::seal::{Rekey, Sealer};

/// The database's clock in Unix ms. `clock_timestamp()`, not `now()`: `now()` is when the
/// transaction started, which for a worker that waited on the row lock is before the wait.
const DB_NOW: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// The state of a credential whose refresh the platform refused.
pub const STATE_REAUTHORIZE: &str = "reauthorize";
/// The state of a usable credential.
pub const STATE_READY: &str = "ready";

/// What the store knows of a credential besides its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialState {
    /// [`STATE_READY`] or [`STATE_REAUTHORIZE`].
    pub state: String,
    /// Why, when not ready (the platform's message; never a secret).
    pub message: Option<String>,
    /// Refreshes committed since the last authorization.
    pub refreshes: u64,
}

impl CredentialState {
    /// Whether the credential must be authorized again.
    pub fn needs_authorization(&self) -> bool {
        self.state == STATE_REAUTHORIZE
    }
}

/// The environment variable of the test hook that stops a refresh at a fixed point (see
/// [`KILL_POINT_AFTER_ANSWER`]).
pub const KILL_POINT_ENV: &str = "MARKETMEDIA_TEST_KILL_POINT";
/// A test hook: with [`KILL_POINT_ENV`] set to this, the process aborts
/// ([`std::process::abort`], no cleanup, as a SIGKILL would) in a PostgreSQL refresh right
/// after the platform answered and before the new pair is committed: the window the tests of
/// "death mid-refresh" exercise. Read once; nothing else in the process looks at it.
pub const KILL_POINT_AFTER_ANSWER: &str = "after-refresh-answer";

fn kill_point(point: &str) {
    static SET: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let set = SET.get_or_init(|| std::env::var(KILL_POINT_ENV).ok());
    if set.as_deref() == Some(point) {
        eprintln!("{KILL_POINT_ENV}={point}: aborting the process (test hook)");
        std::process::abort();
    }
}

/// The PostgreSQL credential store (see the module's documentation).
#[derive(Clone)]
pub struct PgCredentialStore {
    pool: PgPool,
    /// Intents are committed on connections of their own, while the refresh's transaction
    /// holds the row lock (a pool of their own: a refresh waiting for one never holds one).
    side: PgPool,
    location: String,
    sealer: Sealer,
    /// The database's clock minus this machine's, in ms, as last measured.
    offset_ms: Arc<AtomicI64>,
    local_clock: fn() -> u64,
    worker: String,
}

impl std::fmt::Debug for PgCredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The location is redacted (no password); the pool is not printed.
        f.debug_struct("PgCredentialStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn store_error(e: sqlx::Error) -> Error {
    let kind = match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Io,
    };
    // sqlx's messages name the statement's problem, never a bound value.
    Error::new(
        kind,
        format!("the credential store (PostgreSQL) failed: {e}"),
    )
    .with_source(e)
}

fn to_db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_db(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn shift(v: u64, by: i64) -> u64 {
    if by >= 0 {
        v.saturating_add(by.unsigned_abs())
    } else {
        v.saturating_sub(by.unsigned_abs())
    }
}

/// `tokens` with every time moved by `by` ms (from one clock to another).
fn rebase(mut tokens: Tokens, by: i64) -> Tokens {
    tokens.obtained_at_ms = shift(tokens.obtained_at_ms, by);
    tokens.access_expires_at_ms = tokens.access_expires_at_ms.map(|v| shift(v, by));
    tokens.refresh_expires_at_ms = tokens.refresh_expires_at_ms.map(|v| shift(v, by));
    tokens
}

impl PgCredentialStore {
    /// Connects to the database at `url` (the job store's) and runs the migrations (the job
    /// store's: the credentials are tables of the same schema); tokens are sealed and opened
    /// with `sealer` (every worker of the database needs the same key).
    pub async fn connect(url: &str, sealer: Sealer) -> Result<PgCredentialStore> {
        let location = crate::store::redact_location(url);
        let connect_error = |e: sqlx::Error| {
            Error::new(
                ErrorKind::Io,
                format!("cannot open the credential store at {location}: {e}"),
            )
            .with_source(e)
        };
        // Small: a process refreshes each credential once at a time (its token sources are
        // single-flight) and reads are short; many workers share the server's connections.
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(130))
            .connect(url)
            .await
            .map_err(connect_error)?;
        crate::store::sql::migrator(crate::store::sql::POSTGRES_MIGRATIONS)
            .run(&pool)
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("credential store {location}: {e}")))?;
        let side = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy(url)
            .map_err(connect_error)?;
        let store = PgCredentialStore {
            pool,
            side,
            location,
            sealer,
            offset_ms: Arc::new(AtomicI64::new(0)),
            local_clock: unix_millis,
            worker: format!("pid {}", std::process::id()),
        };
        store.measure_clock().await?;
        Ok(store)
    }

    /// Replaces this machine's clock as the store reads it (a test hook: tests make it
    /// disagree with the database's). Refreshers' times are taken to be on this clock.
    pub async fn with_local_clock(mut self, clock: fn() -> u64) -> Result<PgCredentialStore> {
        self.local_clock = clock;
        self.offset_ms = Arc::new(AtomicI64::new(0));
        self.measure_clock().await?;
        Ok(self)
    }

    /// Where the store is, fit to print (no password, no query values).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The database's clock minus this machine's, in ms, as last measured.
    pub fn clock_offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Records the offset of the database's clock `db_now`, read between the local times
    /// `before` and `after`.
    fn note_clock(&self, before: u64, db_now: i64, after: u64) {
        let local = before / 2 + after / 2;
        let offset = db_now.saturating_sub(to_db(local));
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// Measures the database's clock against this machine's; answers the database's now.
    async fn measure_clock(&self) -> Result<i64> {
        let before = (self.local_clock)();
        let row = sqlx::query(&format!("SELECT {DB_NOW} AS db_now"))
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let db_now: i64 = row.try_get("db_now").map_err(store_error)?;
        self.note_clock(before, db_now, (self.local_clock)());
        Ok(db_now)
    }

    /// Whether the credential must be authorized again, and its refresh count; `None` when
    /// nothing is stored for it.
    pub async fn state(&self, key: &CredentialKey) -> Result<Option<CredentialState>> {
        let row =
            sqlx::query("SELECT state, state_message, refreshes FROM credentials WHERE key = $1")
                .bind(key.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        row.map(|r| {
            Ok(CredentialState {
                state: r.try_get("state").map_err(store_error)?,
                message: r.try_get("state_message").map_err(store_error)?,
                refreshes: from_db(r.try_get("refreshes").map_err(store_error)?),
            })
        })
        .transpose()
    }

    /// How many refreshes were committed for `key` since its last authorization.
    pub async fn refresh_count(&self, key: &CredentialKey) -> Result<u64> {
        Ok(self.state(key).await?.map_or(0, |s| s.refreshes))
    }

    /// Whether an intent of a refresh is left for `key` (a worker died after sending one).
    pub async fn refresh_intent_left(&self, key: &CredentialKey) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM credential_refresh_intents WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.is_some())
    }

    /// Writes `tokens` (on the database's clock) for `key` in `conn`: a refresh counts one
    /// more refresh, a save starts the count again; both make the credential ready and drop
    /// any intent left.
    async fn write(
        &self,
        conn: &mut PgConnection,
        key: &CredentialKey,
        tokens: &Tokens,
        refreshed: bool,
    ) -> Result<()> {
        let sealed = self.sealer.seal(key, tokens)?;
        let refreshes = if refreshed {
            "credentials.refreshes + 1"
        } else {
            "0"
        };
        sqlx::query(&format!(
            "INSERT INTO credentials (key, platform, sealed, access_expires_at, \
             refresh_expires_at, obtained_at, state, state_message, state_at, refreshes, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, '{STATE_READY}', NULL, NULL, 0, {DB_NOW}) \
             ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed, \
             access_expires_at = excluded.access_expires_at, \
             refresh_expires_at = excluded.refresh_expires_at, \
             obtained_at = excluded.obtained_at, state = '{STATE_READY}', \
             state_message = NULL, state_at = NULL, refreshes = {refreshes}, \
             updated_at = excluded.updated_at"
        ))
        .bind(key.as_str())
        .bind(key.platform())
        .bind(sealed)
        .bind(tokens.access_expires_at_ms.map(to_db))
        .bind(tokens.refresh_expires_at_ms.map(to_db))
        .bind(to_db(tokens.obtained_at_ms))
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
        sqlx::query("DELETE FROM credential_refresh_intents WHERE key = $1")
            .bind(key.as_str())
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Records that the platform refused `key`'s refresh: every worker then waits for an
    /// authorization instead of presenting the token again.
    async fn write_refusal(
        &self,
        conn: &mut PgConnection,
        key: &CredentialKey,
        message: &str,
    ) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE credentials SET state = '{STATE_REAUTHORIZE}', state_message = $2, \
             state_at = {DB_NOW}, updated_at = {DB_NOW} WHERE key = $1"
        ))
        .bind(key.as_str())
        .bind(message)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
        sqlx::query("DELETE FROM credential_refresh_intents WHERE key = $1")
            .bind(key.as_str())
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Commits, on a connection of its own, that a refresh of `key` is about to be sent.
    async fn write_intent(&self, key: &CredentialKey) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO credential_refresh_intents (key, started_at, worker) \
             VALUES ($1, {DB_NOW}, $2) ON CONFLICT (key) DO UPDATE SET \
             started_at = excluded.started_at, worker = excluded.worker"
        ))
        .bind(key.as_str())
        .bind(&self.worker)
        .execute(&self.side)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    /// The error every worker gets for a credential recorded as refused.
    fn refused(key: &CredentialKey, message: Option<&str>) -> Error {
        let message = message.unwrap_or("the platform refused the refresh token");
        Error::new(
            ErrorKind::Reauthorize,
            format!("{message} (recorded in the shared credential store)"),
        )
        .with_platform(key.platform())
    }
}

#[async_trait]
impl CredentialStore for PgCredentialStore {
    async fn load(&self, key: &CredentialKey) -> Result<Option<Tokens>> {
        let before = (self.local_clock)();
        let row = sqlx::query(&format!(
            "SELECT {DB_NOW} AS db_now, (SELECT sealed FROM credentials WHERE key = $1) AS sealed"
        ))
        .bind(key.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        let db_now: i64 = row.try_get("db_now").map_err(store_error)?;
        self.note_clock(before, db_now, (self.local_clock)());
        let sealed: Option<Vec<u8>> = row.try_get("sealed").map_err(store_error)?;
        sealed.map(|s| self.sealer.open(key, &s)).transpose()
    }

    async fn save(&self, key: &CredentialKey, tokens: &Tokens) -> Result<()> {
        // Tokens obtained on this machine's clock, stored on the database's.
        self.measure_clock().await?;
        let tokens = rebase(tokens.clone(), self.clock_offset_ms());
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        self.write(&mut tx, key, &tokens, false).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn seed(&self, key: &CredentialKey, tokens: &Tokens) -> Result<bool> {
        self.measure_clock().await?;
        let tokens = rebase(tokens.clone(), self.clock_offset_ms());
        let sealed = self.sealer.seal(key, &tokens)?;
        // One statement: inserted only when no row has the key, whatever another worker
        // committed since this one looked.
        let r = sqlx::query(&format!(
            "INSERT INTO credentials (key, platform, sealed, access_expires_at, \
             refresh_expires_at, obtained_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, {DB_NOW}) ON CONFLICT (key) DO NOTHING"
        ))
        .bind(key.as_str())
        .bind(key.platform())
        .bind(sealed)
        .bind(tokens.access_expires_at_ms.map(to_db))
        .bind(tokens.refresh_expires_at_ms.map(to_db))
        .bind(to_db(tokens.obtained_at_ms))
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
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The row lock first: whoever holds it is the one worker that may refresh. The clock
        // is read after the lock is granted.
        let row = sqlx::query(&format!(
            "SELECT c.sealed, c.state, c.state_message, {DB_NOW} AS db_now, \
             i.started_at AS intent_at, i.worker AS intent_by \
             FROM credentials c LEFT JOIN credential_refresh_intents i ON i.key = c.key \
             WHERE c.key = $1 FOR UPDATE OF c"
        ))
        .bind(key.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(store_error)?;
            return Err(no_refresh_token(key));
        };
        let local_before = (self.local_clock)();
        let db_now: i64 = row.try_get("db_now").map_err(store_error)?;
        self.note_clock(local_before, db_now, local_before);
        let state: String = row.try_get("state").map_err(store_error)?;
        if state == STATE_REAUTHORIZE {
            let message: Option<String> = row.try_get("state_message").map_err(store_error)?;
            tx.rollback().await.map_err(store_error)?;
            return Err(Self::refused(key, message.as_deref()));
        }
        let sealed: Vec<u8> = row.try_get("sealed").map_err(store_error)?;
        let stored = self.sealer.open(key, &sealed)?;
        // "Still due?" on the database's clock: what another worker committed while this one
        // waited for the lock is not due any more.
        let due = RefreshDue {
            now_ms: from_db(db_now),
            ..due.clone()
        };
        if !due.is_due(Some(&stored)) {
            tx.rollback().await.map_err(store_error)?;
            return Ok(stored);
        }
        let intent_at: Option<i64> = row.try_get("intent_at").map_err(store_error)?;
        let intent_by: Option<String> = row.try_get("intent_by").map_err(store_error)?;
        if let Some(at) = intent_at {
            tracing::warn!(
                credential = %key,
                worker = intent_by.as_deref().unwrap_or("?"),
                started_ms_ago = db_now.saturating_sub(at),
                "a refresh of this credential was sent and never committed (its worker stopped): the platform may have answered it"
            );
        }
        self.write_intent(key).await?;
        // The refresher measures on this machine's clock; the row keeps the database's.
        let offset = db_now.saturating_sub(to_db(local_before));
        match refresh_if_due(key, Some(&stored), &due, refresher).await {
            Ok(Some(fresh)) => {
                kill_point(KILL_POINT_AFTER_ANSWER);
                let fresh = rebase(fresh, offset);
                // Committed before anyone uses the new access token: the rotated refresh
                // token is never only in this process's memory.
                self.write(&mut tx, key, &fresh, true).await?;
                tx.commit().await.map_err(store_error)?;
                tracing::debug!(credential = %key, "refreshed tokens committed");
                Ok(fresh)
            }
            Ok(None) => {
                tx.rollback().await.map_err(store_error)?;
                Ok(stored)
            }
            Err(e) if e.kind() == ErrorKind::Reauthorize => {
                let mut message = e.message().to_owned();
                if intent_at.is_some() {
                    message.push_str(
                        "; a worker stopped after sending an earlier refresh of this \
                         credential and before saving its answer, so the platform may have \
                         spent the refresh token then",
                    );
                }
                message.push_str(&format!(
                    "; the credential lives in the shared store {}: authorize it there \
                     (`--store` with that URL)",
                    self.location
                ));
                self.write_refusal(&mut tx, key, &message).await?;
                tx.commit().await.map_err(store_error)?;
                Err(e.with_message(message))
            }
            // Not answered (an outage, a timeout): the intent stays, as the answer may have
            // been lost on the way.
            Err(e) => {
                tx.rollback().await.map_err(store_error)?;
                Err(e)
            }
        }
    }

    async fn list(&self) -> Result<Vec<(CredentialKey, Tokens)>> {
        let rows = sqlx::query("SELECT key, sealed FROM credentials ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("key").map_err(store_error)?;
                let key = CredentialKey::parse(&key)?;
                let sealed: Vec<u8> = row.try_get("sealed").map_err(store_error)?;
                let tokens = self.sealer.open(&key, &sealed)?;
                Ok((key, tokens))
            })
            .collect()
    }

    fn now_ms(&self) -> u64 {
        shift((self.local_clock)(), self.clock_offset_ms())
    }
}

#[async_trait]
impl Rekey for PgCredentialStore {
    /// One transaction: every row locked (`FOR UPDATE`: a refresh waits, and cannot write a
    /// pair sealed under the old key meanwhile), opened with `old`, sealed under `new`,
    /// committed; a row `old` cannot open fails it all, naming the credential.
    async fn rekey(&self, old: &Sealer, new: &Sealer) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let rows = sqlx::query("SELECT key, sealed FROM credentials ORDER BY key FOR UPDATE")
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        let mut count = 0;
        for row in &rows {
            let key: String = row.try_get("key").map_err(store_error)?;
            let key = CredentialKey::parse(&key)?;
            let sealed: Vec<u8> = row.try_get("sealed").map_err(store_error)?;
            let resealed = old.reseal(new, &key, &sealed)?;
            sqlx::query(&format!(
                "UPDATE credentials SET sealed = $2, updated_at = {DB_NOW} WHERE key = $1"
            ))
            .bind(key.as_str())
            .bind(resealed)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            count += 1;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(count)
    }
}
