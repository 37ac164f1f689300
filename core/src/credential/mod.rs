//! Credentials and the tokens the platforms issue to them, kept fresh in one place.
//!
//! A **credential** is what a platform issued tokens to: an app plus a shop, merchant or
//! seller (Shopee's partner and shop, Lazada's app and seller, eBay's app and user, WeChat's
//! AppID, an SMH library). It has a stable [`CredentialKey`], never a secret. Accounts point to
//! a credential: the six country gateways of one Lazada seller are six accounts of one
//! credential, so they share one token and one refresh.
//!
//! The pieces, as object_store's `CredentialProvider` + `TokenCache` and the AWS SDK's identity
//! cache split them (`docs/tokens.md`):
//! - [`Tokens`]: an access token, its expiry, and the refresh token and its expiry, with the
//!   local time the token request was **sent** (expiries count from there, never from when
//!   the answer arrived);
//! - [`Refresher`]: a provider's call that obtains new tokens (an OAuth refresh, or a fetch
//!   with the app's own secret);
//! - [`CredentialStore`]: where tokens live between calls and processes, with a transactional
//!   "refresh if still due" that re-reads under a lock and commits the new pair before it is
//!   used; [`MemoryStore`] here, an SQLite one in `marketmedia-batch`;
//! - [`TokenSource`]: what a provider asks for the access token of each request. It refreshes
//!   ahead of expiry ([`RefreshMargin`]), one refresh at a time per credential (the others
//!   await its result), retries a refresh that failed transiently, and, through
//!   [`TokenSource::call`], sends a call again once with a refreshed token when the platform
//!   answered that the token is expired or invalid ([`Error::is_token_refused`]). A source
//!   may also hold a fixed token the caller keeps fresh itself ([`TokenSource::fixed`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

mod source;
mod sources;
#[cfg(test)]
mod tests;

pub use source::{default_refresh_retry, TokenSource, TokenSourceBuilder};
pub use sources::{seed_from_settings, Authorization, CredentialSources};

/// The command a seller runs to authorize an account's app again.
pub const AUTHORIZE_COMMAND: &str = "marketmedia accounts authorize";

/// The stable name of a credential: `platform/app/subject` (e.g. `shopee/2001887/shop-600001`,
/// `lazada/100132/seller-1001`, `ebay/MyApp-PRD-1234/user-jane`). Never a secret: it names the
/// app and the shop or seller, not their keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CredentialKey(String);

impl CredentialKey {
    /// The key of the credential `platform` issued to `app` for `subject` (the shop, merchant,
    /// seller or user). Each part must be non-empty and printable; `platform` and `app`
    /// must not contain `/`.
    pub fn new(platform: &str, app: &str, subject: &str) -> Result<CredentialKey> {
        let bad = |what: &str, why: &str| {
            Err(Error::invalid_input(format!(
                "a credential's {what} {why} (platform {platform:?}, app {app:?})"
            )))
        };
        for (what, part) in [("platform", platform), ("app", app)] {
            if part.contains('/') {
                return bad(what, "must not contain '/'");
            }
        }
        for (what, part) in [("platform", platform), ("app", app), ("subject", subject)] {
            if part.trim().is_empty() {
                return bad(what, "is empty");
            }
            if part.chars().any(char::is_control) {
                return bad(what, "contains a control character");
            }
        }
        Ok(CredentialKey(format!("{platform}/{app}/{subject}")))
    }

    /// Reads a key written by [`CredentialKey::as_str`].
    pub fn parse(key: &str) -> Result<CredentialKey> {
        let mut parts = key.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(platform), Some(app), Some(subject)) => {
                CredentialKey::new(platform, app, subject)
            }
            _ => Err(Error::invalid_input(format!(
                "{key:?} is not a credential key (platform/app/subject)"
            ))),
        }
    }

    /// The key as text (what stores are keyed by).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The platform part.
    pub fn platform(&self) -> &str {
        self.0.split('/').next().unwrap_or_default()
    }
}

impl fmt::Display for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CredentialKey {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        CredentialKey::parse(&value)
    }
}

impl From<CredentialKey> for String {
    fn from(key: CredentialKey) -> String {
        key.0
    }
}

/// A credential's tokens. `Debug` never shows the tokens.
///
/// Times are Unix milliseconds on this machine's clock (a store shared by many machines
/// keeps them on its own, [`CredentialStore::now_ms`]). The expiries are computed from
/// [`Tokens::obtained_at_ms`], the local time the token request was *sent*: whatever the
/// answer took to arrive, the token cannot have been issued before that, so the expiry is
/// never later than the platform's.
#[derive(Clone, PartialEq)]
pub struct Tokens {
    /// The access token every request carries.
    pub access_token: Secret,
    /// When the access token expires, if the platform said.
    pub access_expires_at_ms: Option<u64>,
    /// The token that obtains the next access token (OAuth platforms), if any.
    pub refresh_token: Option<Secret>,
    /// When the refresh token expires, if the platform said.
    pub refresh_expires_at_ms: Option<u64>,
    /// The local time the token request was sent.
    pub obtained_at_ms: u64,
    /// Facts of the token answer that are not secret and that a caller may need (Shopee's
    /// `shop_id_list`, Lazada's `country_user_info`, eBay's `token_type`), as the provider
    /// chose to keep them. `Null` when none.
    pub details: serde_json::Value,
}

impl Tokens {
    /// An access token obtained by a request sent at `sent_at_ms`, with no known expiry and
    /// no refresh token.
    pub fn new(access_token: impl Into<Secret>, sent_at_ms: u64) -> Tokens {
        Tokens {
            access_token: access_token.into(),
            access_expires_at_ms: None,
            refresh_token: None,
            refresh_expires_at_ms: None,
            obtained_at_ms: sent_at_ms,
            details: serde_json::Value::Null,
        }
    }

    /// The same tokens, the access token expiring `expires_in` seconds after the request was
    /// sent (the platform's `expire_in` / `expires_in`). A huge value saturates.
    pub fn expiring_in(mut self, expires_in_secs: u64) -> Tokens {
        self.access_expires_at_ms = Some(after(self.obtained_at_ms, expires_in_secs));
        self
    }

    /// The same tokens with a refresh token, expiring `expires_in` seconds after the request
    /// was sent when the platform said.
    pub fn with_refresh_token(
        mut self,
        refresh_token: impl Into<Secret>,
        expires_in_secs: Option<u64>,
    ) -> Tokens {
        self.refresh_token = Some(refresh_token.into());
        self.refresh_expires_at_ms = expires_in_secs.map(|s| after(self.obtained_at_ms, s));
        self
    }

    /// The same tokens with these details.
    pub fn with_details(mut self, details: serde_json::Value) -> Tokens {
        self.details = details;
        self
    }

    /// How long the access token lives, from the request to its expiry, when known.
    pub fn lifetime(&self) -> Option<Duration> {
        let end = self.access_expires_at_ms?;
        Some(Duration::from_millis(
            end.saturating_sub(self.obtained_at_ms),
        ))
    }

    /// When the access token should be replaced: `margin` before its expiry (scaled to its
    /// lifetime). `None` when its expiry is unknown: it is then replaced only when the
    /// platform refuses it.
    pub fn refresh_at_ms(&self, margin: &RefreshMargin) -> Option<u64> {
        let end = self.access_expires_at_ms?;
        let lifetime = self.lifetime()?;
        let early = u64::try_from(margin.for_lifetime(lifetime).as_millis()).unwrap_or(u64::MAX);
        Some(end.saturating_sub(early))
    }

    /// Whether the access token is due for replacement at `now_ms`.
    pub fn is_due(&self, margin: &RefreshMargin, now_ms: u64) -> bool {
        self.refresh_at_ms(margin).is_some_and(|at| now_ms >= at)
    }

    /// The tokens a refresh answer makes, keeping from `previous` what the answer left out:
    /// eBay's refresh answer carries no refresh token (the old one stays valid), and an
    /// answer without details keeps the previous ones.
    pub fn after_refresh(mut self, previous: Option<&Tokens>) -> Tokens {
        if let Some(prev) = previous {
            if self.refresh_token.is_none() {
                self.refresh_token = prev.refresh_token.clone();
                self.refresh_expires_at_ms = prev.refresh_expires_at_ms;
            }
            if self.details.is_null() {
                self.details = prev.details.clone();
            }
        }
        self
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &self.access_token)
            .field("access_expires_at_ms", &self.access_expires_at_ms)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("refresh_expires_at_ms", &self.refresh_expires_at_ms)
            .field("obtained_at_ms", &self.obtained_at_ms)
            .field("details", &self.details)
            .finish()
    }
}

/// `at_ms` plus `secs` seconds, saturating (the seconds come from a server).
fn after(at_ms: u64, secs: u64) -> u64 {
    at_ms.saturating_add(secs.saturating_mul(1000))
}

/// How long before its expiry an access token is replaced: a fraction of its lifetime,
/// clamped to `[min, max]`, and never more than half the lifetime.
///
/// The default, 10% clamped to [5 s, 30 min], gives Shopee's 4-hour token 24 minutes, eBay's
/// 2-hour token 12 minutes, WeChat's 7200 s token 12 minutes and Lazada's 30-day token
/// 30 minutes (what Lazada's own guide advises). The floor covers one request in flight
/// and the platforms' one-second resolution of `expires_in`; the ceiling keeps a month-long
/// token from being replaced days early; the half keeps a token that lives seconds (a
/// simulator's) from being replaced on every call. A fixed buffer (the AWS SDK's 10 s,
/// object_store's 5 min) would be too short for one platform or too long for another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshMargin {
    /// The part of the lifetime, between 0 and 1.
    pub fraction: f64,
    /// The shortest margin.
    pub min: Duration,
    /// The longest margin.
    pub max: Duration,
}

impl Default for RefreshMargin {
    fn default() -> Self {
        RefreshMargin {
            fraction: 0.10,
            min: Duration::from_secs(5),
            max: Duration::from_secs(30 * 60),
        }
    }
}

impl RefreshMargin {
    /// The margin for a token living `lifetime`.
    pub fn for_lifetime(&self, lifetime: Duration) -> Duration {
        let fraction = if self.fraction.is_finite() {
            self.fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let scaled = lifetime.mul_f64(fraction);
        let clamped = scaled.max(self.min).min(self.max.max(self.min));
        clamped.min(lifetime / 2)
    }
}

/// When a store's transactional refresh should call the platform, decided on what it reads
/// under its lock (so that of several processes, only the first refreshes).
#[derive(Debug, Clone)]
pub struct RefreshDue {
    /// The margin before expiry.
    pub margin: RefreshMargin,
    /// Now, in Unix ms.
    pub now_ms: u64,
    /// The access token the platform refused, for a refresh after a refusal: due only while
    /// the stored token is still that one (another caller may have replaced it already).
    pub refused: Option<Secret>,
}

impl RefreshDue {
    /// Whether tokens `stored` (none yet: always due) need a refresh now.
    pub fn is_due(&self, stored: Option<&Tokens>) -> bool {
        let Some(stored) = stored else {
            return true;
        };
        if self
            .refused
            .as_ref()
            .is_some_and(|refused| refused == &stored.access_token)
        {
            return true;
        }
        stored.is_due(&self.margin, self.now_ms)
    }
}

/// A provider's call that obtains new tokens for a credential.
#[async_trait]
pub trait Refresher: Send + Sync + fmt::Debug {
    /// New tokens for `key`, from `current`'s refresh token (an OAuth refresh) or from the
    /// app's own secret (a client-credential fetch: `current` may be `None`).
    ///
    /// The returned [`Tokens::obtained_at_ms`] is the local time the request was sent.
    /// Errors: the platform's explicit refusal of the refresh token (spent, revoked, expired)
    /// is [`ErrorKind::Reauthorize`]; a failure worth retrying is retryable
    /// ([`ErrorKind::Transient`], [`ErrorKind::RateLimited`]); anything else (a wrong app
    /// secret: [`ErrorKind::Auth`]) is returned to the caller as is.
    async fn refresh(&self, key: &CredentialKey, current: Option<&Tokens>) -> Result<Tokens>;
}

/// The refusal a refresher returns when there is nothing to refresh with.
pub fn no_refresh_token(key: &CredentialKey) -> Error {
    Error::new(
        ErrorKind::Reauthorize,
        format!("no refresh token is stored for credential {key}"),
    )
    .with_platform(key.platform())
}

/// Runs the refresh part of [`CredentialStore::refresh`] for a store that read `stored` under
/// its lock: `None` when the stored tokens are not due (use them), else the new tokens to
/// commit (what the refresh answer left out kept from `stored`).
pub async fn refresh_if_due(
    key: &CredentialKey,
    stored: Option<&Tokens>,
    due: &RefreshDue,
    refresher: &dyn Refresher,
) -> Result<Option<Tokens>> {
    if !due.is_due(stored) {
        return Ok(None);
    }
    let fresh = refresher.refresh(key, stored).await?;
    if fresh.access_token.is_empty() {
        return Err(Error::protocol(format!(
            "the refresh of credential {key} returned an empty access token"
        ))
        .with_platform(key.platform()));
    }
    Ok(Some(fresh.after_refresh(stored)))
}

/// Where credentials' tokens live between calls and between processes.
///
/// A store is shared by every [`TokenSource`] of a process (and, for a store on disk, by
/// every process of the machine), so that a rotated refresh token has exactly one copy.
#[async_trait]
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The tokens stored for `key`, if any.
    async fn load(&self, key: &CredentialKey) -> Result<Option<Tokens>>;

    /// Stores `tokens` for `key`, replacing what was there (after an authorization, or to
    /// import tokens obtained elsewhere).
    async fn save(&self, key: &CredentialKey, tokens: &Tokens) -> Result<()>;

    /// Stores `tokens` for `key` only when the store holds no tokens for it, atomically
    /// (one check-and-insert under the store's write lock): whether they were stored.
    ///
    /// This is how tokens from a configuration (a `refresh_token` setting) enter the store.
    /// Two processes that start on an empty store both seed; when one of them has already
    /// refreshed, spending Shopee's refresh token, the other's seed must not put the spent
    /// token back over the rotated pair: it is ignored, and that process uses the stored
    /// pair. An authorization replaces tokens with [`CredentialStore::save`] instead.
    async fn seed(&self, key: &CredentialKey, tokens: &Tokens) -> Result<bool>;

    /// Refreshes `key`'s tokens if they are still due: takes the store's write lock, reads
    /// the tokens again, and only if `due` says they still need it calls `refresher` (see
    /// [`refresh_if_due`]), **commits the new tokens** and releases the lock; returns the
    /// tokens to use, new or already there. Implementations hold the lock across the
    /// refresh call, so that of several callers only one refreshes (Shopee spends the old
    /// refresh token at once: two refreshes with it would lose the credential).
    async fn refresh(
        &self,
        key: &CredentialKey,
        due: &RefreshDue,
        refresher: &dyn Refresher,
    ) -> Result<Tokens>;

    /// Every stored credential and its tokens (for `marketmedia accounts`: expiries).
    async fn list(&self) -> Result<Vec<(CredentialKey, Tokens)>>;

    /// Now, in Unix ms, on the clock the store keeps its expiries in: the clock every
    /// expiry read from it is compared with (by [`TokenSource`], and in
    /// [`CredentialStore::refresh`]'s decision). This machine's clock by default; a store
    /// shared by several machines (PostgreSQL) answers its database's clock, so that workers
    /// whose clocks disagree still agree on when a token is due.
    fn now_ms(&self) -> u64 {
        crate::http::unix_millis()
    }
}

/// A store in this process's memory: for library users who keep no tokens on disk, and for
/// the tokens a provider fetches with the app's own secret (WeChat, SMH).
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// Serialises refreshes (the "write lock"), so that reads stay cheap.
    write: tokio::sync::Mutex<()>,
    tokens: std::sync::Mutex<BTreeMap<CredentialKey, Tokens>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A shared empty store.
    pub fn shared() -> Arc<MemoryStore> {
        Arc::new(MemoryStore::default())
    }

    fn read(&self, key: &CredentialKey) -> Option<Tokens> {
        // A panic while holding this lock cannot leave the map half-updated.
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn write(&self, key: &CredentialKey, tokens: &Tokens) {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone(), tokens.clone());
    }
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn load(&self, key: &CredentialKey) -> Result<Option<Tokens>> {
        Ok(self.read(key))
    }

    async fn save(&self, key: &CredentialKey, tokens: &Tokens) -> Result<()> {
        let _write = self.write.lock().await;
        self.write(key, tokens);
        Ok(())
    }

    async fn seed(&self, key: &CredentialKey, tokens: &Tokens) -> Result<bool> {
        let _write = self.write.lock().await;
        let mut map = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.contains_key(key) {
            return Ok(false);
        }
        map.insert(key.clone(), tokens.clone());
        Ok(true)
    }

    async fn refresh(
        &self,
        key: &CredentialKey,
        due: &RefreshDue,
        refresher: &dyn Refresher,
    ) -> Result<Tokens> {
        let _write = self.write.lock().await;
        let stored = self.read(key);
        match refresh_if_due(key, stored.as_ref(), due, refresher).await? {
            Some(fresh) => {
                self.write(key, &fresh);
                Ok(fresh)
            }
            // `refresh_if_due` refreshes when nothing is stored.
            None => stored.ok_or_else(|| no_refresh_token(key)),
        }
    }

    async fn list(&self) -> Result<Vec<(CredentialKey, Tokens)>> {
        Ok(self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect())
    }
}
