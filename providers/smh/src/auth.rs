//! SMH's access tokens on core's token mechanism: `GET /api/v1/token` with the library
//! secret (`library_id`, `library_secret`, `space_id`, `user_id`, `period`, `grant`) is the
//! refresh, and a [`TokenSource`] keeps the token, fetches a new one before `expiresIn` runs
//! out (the configured margin, at most a fifth of the token's life) and once more when the API
//! answers `InvalidAccessToken` / `AuthorizationExpired`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use marketmedia_core::raw::http::{unix_millis, HttpClient};
use marketmedia_core::raw::{
    CredentialKey, Error, MemoryStore, RefreshMargin, Refresher, Result, Secret, TokenSource,
    Tokens,
};
use marketmedia_core::RetryPolicy;
use url::Url;

use crate::config::{Credentials, SmhConfig};
use crate::errors::api_error;
use crate::wire::{self, query};
use crate::{meta, protocol, PLATFORM};

/// A token answer without `expiresIn` is kept this long.
const UNKNOWN_LIFETIME_SECS: u64 = 60;

/// Fetches access tokens with the library secret.
#[derive(Clone)]
pub struct SmhRefresher {
    http: HttpClient,
    base: Url,
    config: SmhConfig,
    secret: Secret,
}

impl std::fmt::Debug for SmhRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmhRefresher")
            .field("library_id", &self.config.library_id)
            .field("space_id", &self.config.space_id)
            .finish_non_exhaustive()
    }
}

impl SmhRefresher {
    /// A refresher for `config`'s library with `secret`, sending through `http` to `base`.
    pub fn new(http: HttpClient, base: Url, config: SmhConfig, secret: Secret) -> Self {
        SmhRefresher {
            http,
            base,
            config,
            secret,
        }
    }

    /// `GET /api/v1/token`: a new access token, its expiry counted from when the request was
    /// sent.
    pub async fn fetch(&self) -> Result<Tokens> {
        let call = "token";
        let mut url = self.base.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|_| {
                Error::invalid_input("the SMH base URL cannot carry a path").with_platform(PLATFORM)
            })?;
            segs.pop_if_empty();
            segs.extend(wire::TOKEN_PATH);
        }
        {
            let c = &self.config;
            let mut q = url.query_pairs_mut();
            q.append_pair(query::LIBRARY_ID, &c.library_id);
            q.append_pair(query::LIBRARY_SECRET, self.secret.expose());
            if c.space_id != "-" {
                q.append_pair(query::SPACE_ID, &c.space_id);
            }
            if let Some(user) = &c.user_id {
                q.append_pair(query::USER_ID, user);
            }
            if let Some(period) = c.token_period {
                q.append_pair(query::PERIOD, &period.to_string());
            }
            if !c.grants.is_empty() {
                q.append_pair(query::GRANT, &c.grants.join(","));
            }
        }
        let sent_at = unix_millis();
        let raw = self.http.send(self.http.get(url), meta(call)).await?;
        if !(200..300).contains(&raw.status) {
            return Err(api_error(&raw, &meta(call)));
        }
        let answer: wire::TokenResponse = raw.json(&meta(call))?;
        let token = answer
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| protocol(call, "the token answer carries no accessToken"))?;
        Ok(Tokens::new(token, sent_at)
            .expiring_in(answer.expires_in.unwrap_or(UNKNOWN_LIFETIME_SECS)))
    }
}

#[async_trait]
impl Refresher for SmhRefresher {
    async fn refresh(&self, _: &CredentialKey, _: Option<&Tokens>) -> Result<Tokens> {
        self.fetch().await
    }
}

/// The credential key of a library's tokens: `smh/LIBRARY/SPACE` (`/USER` when a user
/// identity is set: tokens are issued to it).
pub fn credential_key(config: &SmhConfig) -> Result<CredentialKey> {
    let subject = match &config.user_id {
        Some(user) => format!("{}/{user}", config.space_id),
        None => config.space_id.clone(),
    };
    CredentialKey::new(PLATFORM, &config.library_id, &subject)
}

/// The margin SMH tokens are replaced with: the configured one, at most a fifth of the
/// token's life (`SmhConfig::token_refresh_margin`).
pub fn margin(config: &SmhConfig) -> RefreshMargin {
    RefreshMargin {
        fraction: 0.2,
        min: Duration::ZERO,
        max: config.token_refresh_margin,
    }
}

/// The source of the uploader's tokens: the configured one; else a ready token as is; else
/// tokens fetched with the library secret, kept in this uploader's memory. A failed fetch is
/// not retried inside the source: the call around it is (the driver's retry asks again), as
/// before the move, and a fetch with the library's own secret has no refusal to tell apart
/// from an outage.
pub(crate) fn token_source(
    config: &SmhConfig,
    http: &HttpClient,
    base: &Url,
) -> Result<TokenSource> {
    if let Some(source) = &config.token_source {
        return Ok(source.clone());
    }
    Ok(match &config.credentials {
        Credentials::AccessToken(token) => TokenSource::fixed(token.clone()),
        Credentials::LibrarySecret(secret) => {
            let refresher =
                SmhRefresher::new(http.clone(), base.clone(), config.clone(), secret.clone());
            TokenSource::builder(
                credential_key(config)?,
                MemoryStore::shared(),
                Arc::new(refresher),
            )
            .margin(margin(config))
            .retry(RetryPolicy::never())
            .build()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configured margin, at most a fifth of the token's life, as before the move.
    #[test]
    fn margin_is_the_configured_one_at_most_a_fifth() {
        let config = SmhConfig::builder()
            .library_id("lib")
            .library_secret("secret")
            .build()
            .unwrap();
        let m = margin(&config);
        let s = Duration::from_secs;
        assert_eq!(m.for_lifetime(s(86_400)), s(60));
        assert_eq!(m.for_lifetime(s(300)), s(60));
        assert_eq!(m.for_lifetime(s(100)), s(20));
        let other = SmhConfig::builder()
            .library_id("lib")
            .library_secret("secret")
            .space("sp")
            .user("u1")
            .build()
            .unwrap();
        let key = credential_key(&other).unwrap();
        assert_eq!(key.as_str(), "smh/lib/sp/u1");
    }
}
