//! One [`TokenSource`] per credential per process, over one shared [`CredentialStore`]:
//! what an application (the command, the batch engine) hands every marketplace's
//! [`Marketplace::connect`](crate::Marketplace::connect) through
//! [`ConnectOptions::with_credentials`](crate::ConnectOptions::with_credentials).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::{CredentialKey, CredentialStore, Refresher, TokenSource, Tokens};
use crate::error::{ErrorKind, Result};
use crate::marketplace::{ConnectOptions, Marketplace, Settings};
use crate::secret::Secret;

/// What the redirect of an authorization gave the seller, for
/// [`Marketplace::exchange_code`](crate::Marketplace::exchange_code): the code (single-use,
/// short-lived; `Debug` hides it) and, for Shopee, who authorized (`shop_id` or
/// `main_account_id`).
#[derive(Clone, Default)]
pub struct Authorization {
    /// The authorization code.
    pub code: Secret,
    /// Shopee: the shop that authorized.
    pub shop_id: Option<u64>,
    /// Shopee: the main account that authorized (its code serves all its shops).
    pub main_account_id: Option<u64>,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("code", &self.code)
            .field("shop_id", &self.shop_id)
            .field("main_account_id", &self.main_account_id)
            .finish()
    }
}

/// The managed token sources of a process: one per credential, shared by every account
/// that points to it (a Lazada seller's gateways), all over one [`CredentialStore`].
///
/// [`CredentialSources::prepare`] decides, per account, whether its credential is managed:
/// it is when the store holds tokens for it, or when the account's settings carry a refresh
/// token ([`Marketplace::seed_tokens`](crate::Marketplace::seed_tokens)), which is then
/// stored if the store still holds nothing for it ([`CredentialStore::seed`]). Otherwise the account keeps its fixed access token, as before.
pub struct CredentialSources {
    store: Arc<dyn CredentialStore>,
    sources: Mutex<BTreeMap<CredentialKey, TokenSource>>,
    refused: Arc<Mutex<BTreeSet<String>>>,
}

impl fmt::Debug for CredentialSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<CredentialKey> = self.lock().keys().cloned().collect();
        f.debug_struct("CredentialSources")
            .field("store", &self.store)
            .field("managed", &keys)
            .finish()
    }
}

impl CredentialSources {
    /// Sources over `store`.
    pub fn new(store: Arc<dyn CredentialStore>) -> CredentialSources {
        CredentialSources {
            store,
            sources: Mutex::new(BTreeMap::new()),
            refused: Arc::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CredentialStore> {
        &self.store
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<CredentialKey, TokenSource>> {
        // The map holds no invariant a panic could break halfway.
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The source of account `account` (settings `settings` of `market`), created on the
    /// first account of its credential and shared by the next ones: `None` when the
    /// marketplace has no refreshable credentials, or when nothing is stored for the
    /// credential and the settings carry no refresh token (the fixed access token is used).
    pub async fn prepare(
        &self,
        market: &dyn Marketplace,
        settings: &Settings,
        account: &str,
        options: &ConnectOptions,
    ) -> Result<Option<TokenSource>> {
        let Some(key) = market.credential_key(settings)? else {
            return Ok(None);
        };
        if let Some(source) = self.source(&key) {
            return Ok(Some(source));
        }
        if self.store.load(&key).await?.is_none() {
            // The store's clock: the seed's expiries are compared with it.
            let now = self.store.now_ms();
            match market.seed_tokens(settings, now) {
                // Only into an empty place: another process may have seeded and refreshed
                // since the load above, and its rotated pair must stay (the seed's refresh
                // token may be spent already).
                Some(seed) => {
                    self.store.seed(&key, &seed).await?;
                }
                None => return Ok(None),
            }
        }
        let Some(refresher) = market.refresher(settings, options)? else {
            return Ok(None);
        };
        let refresher = Arc::new(Recording {
            inner: refresher,
            account: account.to_owned(),
            refused: self.refused.clone(),
        });
        let mut sources = self.lock();
        let source = sources
            .entry(key.clone())
            .or_insert_with(|| {
                TokenSource::builder(key, self.store.clone(), refresher)
                    .account(account)
                    .build()
            })
            .clone();
        Ok(Some(source))
    }

    /// The source already prepared for `key`.
    pub fn source(&self, key: &CredentialKey) -> Option<TokenSource> {
        self.lock().get(key).cloned()
    }

    /// The accounts whose credential's refresh the platform refused in this process (the
    /// seller must authorize them again), in name order.
    pub fn refused(&self) -> Vec<String> {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// A refresher that notes the platform's refusals, so the application can exit with its
/// own status and name the accounts to authorize.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn Refresher>,
    account: String,
    refused: Arc<Mutex<BTreeSet<String>>>,
}

#[async_trait]
impl Refresher for Recording {
    async fn refresh(&self, key: &CredentialKey, current: Option<&Tokens>) -> Result<Tokens> {
        let answer = self.inner.refresh(key, current).await;
        if matches!(&answer, Err(e) if e.kind() == ErrorKind::Reauthorize) {
            self.refused
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(self.account.clone());
        }
        answer
    }
}

/// The tokens to store for an account whose settings give a refresh token
/// (`refresh_token`), when the store holds none for its credential. With an access token
/// (`access_token`) too, its age is unknown: it is used until the platform refuses it, then
/// refreshed once and the call sent again. Without one, the first call refreshes.
pub fn seed_from_settings(settings: &Settings, now_ms: u64) -> Option<Tokens> {
    let refresh = settings.secret("refresh_token").filter(|s| !s.is_empty())?;
    let access = settings
        .secret("access_token")
        .filter(|s| !s.is_empty())
        .cloned();
    let due_now = access.is_none();
    let mut tokens =
        Tokens::new(access.unwrap_or_default(), now_ms).with_refresh_token(refresh.clone(), None);
    if due_now {
        tokens.access_expires_at_ms = Some(now_ms);
    }
    Some(tokens)
}
