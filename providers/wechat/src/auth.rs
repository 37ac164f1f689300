//! WeChat's access token on core's token mechanism: the stable token,
//! `POST /cgi-bin/stable_token` with `{grant_type: "client_credential", appid, secret,
//! force_refresh: false}` (getStableAccessToken; `docs/tokens.md` cites the page), answering
//! `{access_token, expires_in}` with `expires_in` the token's remaining life (at most 7200 s).
//!
//! Normal mode, never `force_refresh`: repeated calls during the token's life answer the same
//! token, and in its last five minutes a new one while the old stays valid for those five
//! minutes; so every process of an app can call it without revoking the others' token, which
//! each `/cgi-bin/token` fetch did. A forced refresh revokes the token everyone uses and is
//! limited to 20 a day, 30 s apart: this library never sends one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use marketmedia_core::raw::http::{self, CallMeta};
use marketmedia_core::raw::{
    CredentialKey, Error, MemoryStore, RefreshMargin, Refresher, Result, Secret, TokenSource,
    Tokens,
};
use marketmedia_core::RetryPolicy;

use crate::config::{Credentials, WechatConfig};
use crate::wire::{self, path};
use crate::PLATFORM;

/// How long before `expires_in` runs out the token is fetched again: 10% of its life, at most
/// 4 minutes, so that the call falls in the platform's last five minutes, when normal mode
/// answers a **new** token (earlier, it answers the same one, and the fetch is wasted).
pub fn margin() -> RefreshMargin {
    RefreshMargin {
        max: Duration::from_secs(4 * 60),
        ..RefreshMargin::default()
    }
}

/// Fetches the app's stable access token.
#[derive(Clone)]
pub struct WechatRefresher {
    client: http::HttpClient,
    base_url: String,
    appid: String,
    appsecret: Secret,
}

impl std::fmt::Debug for WechatRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatRefresher")
            .field("base_url", &self.base_url)
            .field("appid", &self.appid)
            .field("appsecret", &self.appsecret)
            .finish()
    }
}

impl WechatRefresher {
    /// A refresher for `appid` on `base_url` (the API host, without a trailing slash).
    pub fn new(
        client: http::HttpClient,
        base_url: impl Into<String>,
        appid: impl Into<String>,
        appsecret: Secret,
    ) -> Self {
        WechatRefresher {
            client,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            appid: appid.into(),
            appsecret,
        }
    }

    /// `POST /cgi-bin/stable_token`, normal mode: the current token, its expiry counted from
    /// when the request was sent.
    pub async fn fetch(&self) -> Result<Tokens> {
        let m = CallMeta {
            platform: PLATFORM,
            call: "stable_token",
            part: None,
        };
        let url = reqwest::Url::parse(&format!("{}{}", self.base_url, path::STABLE_TOKEN))
            .map_err(|e| {
                Error::invalid_input(format!("bad WeChat base URL {:?}: {e}", self.base_url))
                    .with_platform(PLATFORM)
            })?;
        let body = wire::StableTokenRequest {
            grant_type: "client_credential",
            appid: &self.appid,
            secret: self.appsecret.expose(),
            force_refresh: false,
        };
        let sent_at = http::unix_millis();
        let raw = self
            .client
            .send(self.client.post(url).json(&body), m)
            .await?;
        let answer: wire::TokenResponse = crate::decode(&raw, &m)?;
        if answer.access_token.is_empty() {
            return Err(
                Error::protocol("the token answer has an empty access_token")
                    .with_platform(PLATFORM)
                    .with_call("stable_token"),
            );
        }
        Ok(Tokens::new(answer.access_token, sent_at).expiring_in(answer.expires_in))
    }
}

#[async_trait]
impl Refresher for WechatRefresher {
    async fn refresh(&self, _: &CredentialKey, _: Option<&Tokens>) -> Result<Tokens> {
        self.fetch().await
    }
}

/// The credential key of an app's token: `wechat/APPID/app`.
pub fn credential_key(appid: &str) -> Result<CredentialKey> {
    CredentialKey::new(PLATFORM, appid, "app")
}

/// The source of the uploader's tokens: the configured one; else a ready token as is; else the
/// app's stable token, kept in this uploader's memory. A failed fetch is not retried inside
/// the source: the call around it is (the driver's retry asks again), and a fetch with the
/// app's own secret has no refusal to tell apart from an outage.
pub(crate) fn token_source(
    config: &WechatConfig,
    client: &http::HttpClient,
) -> Result<TokenSource> {
    if let Some(source) = &config.token_source {
        return Ok(source.clone());
    }
    Ok(match &config.credentials {
        Credentials::Token(token) => TokenSource::fixed(token.clone()),
        Credentials::App { appid, appsecret } => {
            let refresher = WechatRefresher::new(
                client.clone(),
                config.effective_base_url(),
                appid.clone(),
                appsecret.clone(),
            );
            TokenSource::builder(
                credential_key(appid)?,
                MemoryStore::shared(),
                Arc::new(refresher),
            )
            .margin(margin())
            .retry(RetryPolicy::never())
            .build()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_falls_in_the_last_five_minutes() {
        let m = margin();
        assert_eq!(
            m.for_lifetime(Duration::from_secs(7200)),
            Duration::from_secs(240)
        );
        assert_eq!(
            m.for_lifetime(Duration::from_secs(600)),
            Duration::from_secs(60)
        );
    }
}
