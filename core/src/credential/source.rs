//! [`TokenSource`]: the access token of each request, refreshed ahead of expiry, one refresh
//! at a time per credential, and once more when the platform refuses it.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt, Shared};

use super::AUTHORIZE_COMMAND;
use super::{CredentialKey, CredentialStore, RefreshDue, RefreshMargin, Refresher, Tokens};
use crate::error::{Error, ErrorKind, Result};
use crate::retry::RetryPolicy;
use crate::secret::Secret;

/// How a refresh that failed transiently is retried unless the source is told otherwise: 3
/// attempts, 100 ms then 200 ms apart (with jitter), a `Retry-After` of up to 10 s honoured.
/// Brief on purpose: the refresh runs inside a call that has a retry policy of its own (the
/// driver's: 6 attempts up to 10 s apart), which asks the source again on its next attempt;
/// retries nested in retries multiply (6 × 6 attempts, minutes against a dead token host).
pub fn default_refresh_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_delay: std::time::Duration::from_millis(100),
        max_delay: std::time::Duration::from_secs(1),
        max_retry_after: std::time::Duration::from_secs(10),
        ..RetryPolicy::default()
    }
}

/// The one refresh in flight for a credential, awaited by every caller that needs it.
type Flight = Shared<BoxFuture<'static, std::result::Result<Tokens, Arc<Error>>>>;

/// What a provider asks for the access token of each request.
///
/// Either a **fixed** token the caller keeps fresh itself ([`TokenSource::fixed`]: the token
/// is used as given, and a refusal is returned as is), or a **managed** credential
/// ([`TokenSource::builder`]) whose tokens live in a [`CredentialStore`] and are renewed by a
/// provider's [`Refresher`]:
/// - ahead of expiry, by [`RefreshMargin`] (10% of the token's lifetime, 5 s to 30 min);
/// - single-flight: one refresh at a time per source, every other caller awaiting its result
///   (success or failure) instead of refreshing again; the refresh runs in a task of its own,
///   so a caller that gives up (a cancelled upload) cannot cut it between the platform's
///   answer and the store's commit;
/// - a refresh that fails transiently is retried with the source's [`RetryPolicy`] (briefly by
///   default: [`default_refresh_retry`]); the
///   platform's explicit refusal ([`ErrorKind::Reauthorize`]) is returned at once, names the
///   credential and the command that authorizes it again, and is kept: later calls fail fast
///   until new tokens are stored (by `marketmedia accounts authorize` in any process);
/// - [`TokenSource::call`] sends a call with the token, and once more with a refreshed token
///   when the platform answered that the token is expired or invalid
///   ([`Error::is_token_refused`]).
///
/// Clones share everything: give one source per credential to every account and uploader
/// that uses it. Needs a Tokio runtime (refreshes run as tasks).
#[derive(Clone)]
pub struct TokenSource {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Fixed(Secret),
    Managed(Arc<Managed>),
}

struct Managed {
    key: CredentialKey,
    accounts: Vec<String>,
    store: Arc<dyn CredentialStore>,
    refresher: Arc<dyn Refresher>,
    margin: RefreshMargin,
    retry: RetryPolicy,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The tokens last obtained (from the store or a refresh).
    tokens: Option<Tokens>,
    /// The refresh (or first load) in flight.
    flight: Option<Flight>,
    /// The platform's refusal to refresh, kept until other tokens are stored.
    refusal: Option<Refusal>,
}

struct Refusal {
    error: Error,
    /// `obtained_at_ms` of the tokens stored when the refusal came (none: `None`).
    stored_at: Option<u64>,
}

/// Builds a managed [`TokenSource`] (see [`TokenSource::builder`]).
pub struct TokenSourceBuilder {
    key: CredentialKey,
    accounts: Vec<String>,
    store: Arc<dyn CredentialStore>,
    refresher: Arc<dyn Refresher>,
    margin: RefreshMargin,
    retry: RetryPolicy,
}

impl TokenSourceBuilder {
    /// Replaces the token `margin` before expiry (default [`RefreshMargin::default`]).
    pub fn margin(mut self, margin: RefreshMargin) -> Self {
        self.margin = margin;
        self
    }

    /// Retries a refresh that failed transiently with `retry` (default
    /// [`default_refresh_retry`]: 3 attempts, 100 ms then 200 ms).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Names an account that uses the credential: the first one named is the one errors
    /// tell the seller to authorize again (`marketmedia accounts authorize NAME`).
    pub fn account(mut self, name: impl Into<String>) -> Self {
        self.accounts.push(name.into());
        self
    }

    /// The source.
    pub fn build(self) -> TokenSource {
        TokenSource {
            inner: Inner::Managed(Arc::new(Managed {
                key: self.key,
                accounts: self.accounts,
                store: self.store,
                refresher: self.refresher,
                margin: self.margin,
                retry: self.retry,
                state: Mutex::new(State::default()),
            })),
        }
    }
}

impl TokenSource {
    /// A source that always answers `token` (today's behaviour: the caller refreshes it
    /// outside this library). A refusal of it is returned to the caller as is.
    pub fn fixed(token: impl Into<Secret>) -> TokenSource {
        TokenSource {
            inner: Inner::Fixed(token.into()),
        }
    }

    /// A managed source for credential `key`, its tokens in `store`, renewed by `refresher`.
    pub fn builder(
        key: CredentialKey,
        store: Arc<dyn CredentialStore>,
        refresher: Arc<dyn Refresher>,
    ) -> TokenSourceBuilder {
        TokenSourceBuilder {
            key,
            accounts: Vec::new(),
            store,
            refresher,
            margin: RefreshMargin::default(),
            retry: default_refresh_retry(),
        }
    }

    /// The credential, for a managed source.
    pub fn key(&self) -> Option<&CredentialKey> {
        match &self.inner {
            Inner::Fixed(_) => None,
            Inner::Managed(m) => Some(&m.key),
        }
    }

    /// Whether the source can obtain a new token (a managed source).
    pub fn is_refreshable(&self) -> bool {
        matches!(self.inner, Inner::Managed(_))
    }

    /// Whether a fixed source holds an empty token (a configuration error to report before
    /// any request). A managed source is never empty here: its tokens come from the store.
    pub fn is_empty_fixed(&self) -> bool {
        matches!(&self.inner, Inner::Fixed(t) if t.is_empty())
    }

    /// The access token for one request: the current one, refreshed first when it is due.
    pub async fn access_token(&self) -> Result<Secret> {
        Ok(self.tokens().await?.access_token)
    }

    /// The current tokens (a fixed source: its token, with no expiry).
    pub async fn tokens(&self) -> Result<Tokens> {
        match &self.inner {
            Inner::Fixed(token) => Ok(Tokens::new(token.clone(), 0)),
            Inner::Managed(m) => m.tokens(None).await,
        }
    }

    /// Sends one call with the access token (`send` builds and sends the request from it,
    /// signing it as it is sent), and, when the platform answered that the token is expired
    /// or invalid ([`Error::is_token_refused`]), once more with a token refreshed for the
    /// purpose (or the one another caller refreshed meanwhile). A fixed source sends once.
    pub async fn call<T, F, Fut>(&self, mut send: F) -> Result<T>
    where
        F: FnMut(Secret) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = self.access_token().await?;
        let first = send(token.clone()).await;
        let Inner::Managed(m) = &self.inner else {
            return first;
        };
        match first {
            Err(e) if e.is_token_refused() => {
                tracing::debug!(
                    credential = %m.key,
                    platform = e.platform(),
                    call = e.call(),
                    "the platform refused the access token; refreshing it and sending the call again"
                );
                let fresh = m.tokens(Some(&token)).await?;
                send(fresh.access_token).await
            }
            other => other,
        }
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Fixed(token) => f.debug_tuple("TokenSource::Fixed").field(token).finish(),
            Inner::Managed(m) => f
                .debug_struct("TokenSource")
                .field("key", &m.key)
                .field("accounts", &m.accounts)
                .field("store", &m.store)
                .field("refresher", &m.refresher)
                .field("margin", &m.margin)
                .finish_non_exhaustive(),
        }
    }
}

impl Managed {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update of the state is a plain assignment: a panic elsewhere cannot leave it
        // half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn due(&self, refused: Option<&Secret>) -> RefreshDue {
        RefreshDue {
            margin: self.margin,
            now_ms: self.store.now_ms(),
            refused: refused.cloned(),
        }
    }

    /// The tokens to use now; after a refusal of `refused`, tokens other than it when the
    /// platform gives others.
    async fn tokens(self: &Arc<Self>, refused: Option<&Secret>) -> Result<Tokens> {
        if let Some(error) = self.kept_refusal().await {
            return Err(error);
        }
        let mut last = None;
        // Twice at most: a refresh already in flight for another reason may come back with
        // the refused token (it was not yet due), and then one more refresh is for us.
        for _ in 0..2 {
            let flight = {
                let mut state = self.state();
                // A refusal recorded since `kept_refusal` looked (the refresh this caller
                // would have waited for ended in it just before): kept as well, not a new
                // refresh with the same refresh token.
                if let Some(refusal) = &state.refusal {
                    return Err(refusal.error.detached());
                }
                if let Some(tokens) = &state.tokens {
                    let replaced = refused.is_none_or(|r| r != &tokens.access_token);
                    if replaced && !tokens.is_due(&self.margin, self.store.now_ms()) {
                        return Ok(tokens.clone());
                    }
                }
                match &state.flight {
                    Some(flight) => flight.clone(),
                    None => {
                        let flight = self.start(refused.cloned());
                        state.flight = Some(flight.clone());
                        flight
                    }
                }
            };
            let tokens = flight.await.map_err(|e| e.detached())?;
            if refused.is_some_and(|r| r == &tokens.access_token) {
                // WeChat's stable token in normal mode may answer the same token again.
                last = Some(tokens);
                continue;
            }
            return Ok(tokens);
        }
        last.ok_or_else(|| Error::protocol("no tokens after a refresh"))
    }

    /// The refusal kept from an earlier refresh, unless other tokens were stored since (a new
    /// authorization, possibly by another process), which lifts it.
    async fn kept_refusal(&self) -> Option<Error> {
        let stored_at = {
            let state = self.state();
            state.refusal.as_ref()?.stored_at
        };
        let now_stored = self.store.load(&self.key).await.ok().flatten();
        let mut state = self.state();
        match now_stored {
            Some(t) if Some(t.obtained_at_ms) != stored_at => {
                tracing::debug!(credential = %self.key, "new tokens were stored; using them");
                state.refusal = None;
                state.tokens = None;
                None
            }
            _ => state.refusal.as_ref().map(|r| r.error.detached()),
        }
    }

    /// Starts the one refresh (or first load) of this source, in a task of its own.
    fn start(self: &Arc<Self>, refused: Option<Secret>) -> Flight {
        let me = Arc::clone(self);
        let account = crate::http::current_account();
        let task = tokio::spawn(async move {
            match account {
                // The refresh counts against the limits of the account that needed it.
                Some(account) => crate::http::in_account(&account, me.run(refused)).await,
                None => me.run(refused).await,
            }
        });
        async move {
            match task.await {
                Ok(result) => result.map_err(Arc::new),
                Err(e) => Err(Arc::new(
                    Error::new(
                        ErrorKind::Transient,
                        "the token refresh stopped before it finished",
                    )
                    .with_source(e),
                )),
            }
        }
        .boxed()
        .shared()
    }

    /// Obtains the tokens and records the outcome for every caller.
    async fn run(self: Arc<Self>, refused: Option<Secret>) -> Result<Tokens> {
        let result = self.obtain(refused.as_ref()).await;
        let stored_at = match &result {
            Err(e) if e.kind() == ErrorKind::Reauthorize => Some(
                self.store
                    .load(&self.key)
                    .await
                    .ok()
                    .flatten()
                    .map(|t| t.obtained_at_ms),
            ),
            _ => None,
        };
        let mut state = self.state();
        state.flight = None;
        match &result {
            Ok(tokens) => {
                state.tokens = Some(tokens.clone());
                state.refusal = None;
            }
            Err(e) => {
                if let Some(stored_at) = stored_at {
                    state.refusal = Some(Refusal {
                        error: e.detached(),
                        stored_at,
                    });
                }
            }
        }
        result
    }

    /// The stored tokens when they are not due (another caller or process may have refreshed
    /// them), else a refresh through the store, retried while it fails transiently.
    async fn obtain(&self, refused: Option<&Secret>) -> Result<Tokens> {
        // Reading takes no write lock: most of the time the store has what we need.
        let stored = self
            .store
            .load(&self.key)
            .await
            .map_err(|e| self.explain(e))?;
        if let Some(stored) = stored {
            if !self.due(refused).is_due(Some(&stored)) {
                return Ok(stored);
            }
        }
        let mut attempt = 1;
        loop {
            let due = self.due(refused);
            match self
                .store
                .refresh(&self.key, &due, self.refresher.as_ref())
                .await
            {
                Ok(tokens) => {
                    tracing::debug!(credential = %self.key, "access token ready");
                    return Ok(tokens);
                }
                Err(e) => match self.retry.next_delay(attempt, &e) {
                    Some(delay) => {
                        tracing::debug!(
                            credential = %self.key,
                            attempt,
                            error = %e,
                            "refreshing the access token failed; trying again"
                        );
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                    }
                    None => return Err(self.explain(e)),
                },
            }
        }
    }

    /// The error a caller sees: a refusal names the credential and the command to run.
    fn explain(&self, e: Error) -> Error {
        if e.kind() == ErrorKind::Reauthorize {
            let account = self.accounts.first().map(String::as_str).unwrap_or("NAME");
            let message = format!(
                "{}; credential {} must be authorized again: run `{AUTHORIZE_COMMAND} {account}`",
                e.message(),
                self.key
            );
            let e = e.with_message(message);
            if e.platform().is_none() {
                e.with_platform(self.key.platform().to_owned())
            } else {
                e
            }
        } else {
            let message = format!(
                "refreshing the access token of credential {} failed: {}",
                self.key,
                e.message()
            );
            e.with_message(message)
        }
    }
}
