//! TikTok Shop's seller authorization and tokens, on the auth host
//! (`https://auth.tiktok-shops.com`; `docs/platforms/tiktok.md`, "Tokens", cites the pages
//! and the SDKs each rule was checked against):
//!
//! - the seller opens `https://services.tiktokshop.com/open/authorize?service_id=…&state=…`
//!   and comes back to the app's redirect URL with `code`;
//! - `GET /api/v2/token/get?app_key&app_secret&auth_code&grant_type=authorized_code` gives
//!   the first pair; `GET /api/v2/token/refresh?app_key&app_secret&refresh_token&
//!   grant_type=refresh_token` a new one. Neither is signed (the app secret is a parameter).
//! - Both answer the common envelope with `data {access_token, access_token_expire_in,
//!   refresh_token, refresh_token_expire_in, open_id, seller_name, seller_base_region,
//!   user_type, granted_scopes}`. The two `*_expire_in` are **timestamps** (seconds since the
//!   epoch), not durations: the expiry kept is never later than the one stated.
//! - A refused refresh (`36004001` "rt has expired", `36004005` "can not find related auth
//!   record") is [`ErrorKind::Reauthorize`].

use std::fmt;

use async_trait::async_trait;
use marketmedia_core::raw::http::{self, CallMeta};
use marketmedia_core::raw::{
    no_refresh_token, CredentialKey, Error, ErrorKind, Refresher, Result, Secret, Tokens,
};

use crate::wire::{self, path, TokenData, AUTHORIZE_URL, AUTH_HOST};
use crate::{errors, PLATFORM};

/// The token calls of one app (key and secret). `Debug` hides the secret.
#[derive(Clone)]
pub struct TiktokAuth {
    app_key: String,
    app_secret: Secret,
    service_id: Option<String>,
    auth_host: String,
    authorize_url: String,
    client: http::HttpClient,
}

impl fmt::Debug for TiktokAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TiktokAuth")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("service_id", &self.service_id)
            .field(
                "auth_host",
                &marketmedia_core::RedactedUrl::new(&self.auth_host),
            )
            .finish()
    }
}

impl TiktokAuth {
    /// The calls of app `app_key` with `app_secret`, on the production auth host.
    pub fn new(app_key: impl Into<String>, app_secret: impl Into<Secret>) -> Result<TiktokAuth> {
        let app_key = app_key.into();
        let app_secret = app_secret.into();
        if app_key.trim().is_empty() {
            return Err(Error::missing_setting(PLATFORM, "app_key"));
        }
        if app_secret.is_empty() {
            return Err(Error::missing_setting(PLATFORM, "app_secret"));
        }
        Ok(TiktokAuth {
            app_key,
            app_secret,
            service_id: None,
            auth_host: AUTH_HOST.to_owned(),
            authorize_url: AUTHORIZE_URL.to_owned(),
            client: http::HttpClient::new(http::ClientOptions::default())?,
        })
    }

    /// The same calls with the app's service id (Partner Center), which the authorization
    /// page takes.
    pub fn with_service_id(mut self, service_id: impl Into<String>) -> Self {
        self.service_id = Some(service_id.into());
        self
    }

    /// The same calls on another auth host (a simulator), without the path.
    pub fn with_auth_host(mut self, host: &str) -> Self {
        self.auth_host = host.trim_end_matches('/').to_owned();
        self
    }

    /// The same calls with another authorization page.
    pub fn with_authorize_url(mut self, url: impl Into<String>) -> Self {
        self.authorize_url = url.into();
        self
    }

    /// The same calls through `client`.
    pub fn with_client(mut self, client: http::HttpClient) -> Self {
        self.client = client;
        self
    }

    /// The credential of a seller's tokens: `tiktok/APP_KEY/SUBJECT` (the seller's `open_id`,
    /// or a name of the seller's own: one seller's shops share it).
    pub fn credential_key(&self, subject: &str) -> Result<CredentialKey> {
        CredentialKey::new(PLATFORM, &self.app_key, subject)
    }

    /// A refresher of a seller's tokens.
    pub fn refresher(&self) -> TiktokRefresher {
        TiktokRefresher { auth: self.clone() }
    }

    /// The page the seller opens (`state` comes back with the code when given); needs the
    /// service id.
    pub fn authorization_url(&self, state: Option<&str>) -> Result<String> {
        let service_id = self
            .service_id
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::missing_setting(PLATFORM, "service_id"))?;
        let mut url = reqwest::Url::parse(&self.authorize_url).map_err(|e| {
            Error::invalid_input(format!(
                "bad authorization URL {:?}: {e}",
                self.authorize_url
            ))
            .with_platform(PLATFORM)
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("service_id", service_id);
            if let Some(state) = state {
                q.append_pair("state", state);
            }
        }
        Ok(url.into())
    }

    /// The first tokens, from the `code` the redirect carried.
    pub async fn exchange_code(&self, code: &str) -> Result<Tokens> {
        let code = code.trim();
        if code.is_empty() {
            return Err(
                Error::invalid_input("the authorization code is empty").with_platform(PLATFORM)
            );
        }
        self.token_call(
            "token/get",
            path::TOKEN_GET,
            [("auth_code", code), ("grant_type", "authorized_code")],
        )
        .await
    }

    /// New tokens from `refresh_token`.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Tokens> {
        self.token_call(
            "token/refresh",
            path::TOKEN_REFRESH,
            [
                ("refresh_token", refresh_token.expose()),
                ("grant_type", "refresh_token"),
            ],
        )
        .await
    }

    async fn token_call(
        &self,
        call: &'static str,
        p: &str,
        params: [(&str, &str); 2],
    ) -> Result<Tokens> {
        let meta = CallMeta {
            platform: PLATFORM,
            call,
            part: None,
        };
        let url = reqwest::Url::parse(&format!("{}{p}", self.auth_host)).map_err(|e| {
            Error::invalid_input(format!("bad TikTok Shop auth host: {e}")).with_platform(PLATFORM)
        })?;
        let mut query = vec![
            (wire::field::APP_KEY, self.app_key.as_str()),
            ("app_secret", self.app_secret.expose()),
        ];
        query.extend(params);
        let request = self.client.get(url).query(&query);
        let sent_at = http::unix_millis();
        let raw = self.client.send(request, meta).await?;
        let data: TokenData = crate::data_of(&raw, &meta, |code| match code {
            // On the auth host an invalid grant is the refresh token's or the code's.
            errors::REFRESH_TOKEN_EXPIRED | errors::NO_AUTH_RECORD => Some(ErrorKind::Reauthorize),
            _ => None,
        })?;
        tokens_of(data, sent_at).map_err(|e| e.with_call(call))
    }
}

/// The tokens of a token answer sent at `sent_at_ms`; the expiries are the answer's
/// timestamps, rounded down to the second and counted from the request.
pub fn tokens_of(data: TokenData, sent_at_ms: u64) -> Result<Tokens> {
    if data.access_token.is_empty() || data.refresh_token.is_empty() {
        return Err(
            Error::protocol("the token answer has no access_token or refresh_token")
                .with_platform(PLATFORM),
        );
    }
    let secs_left = |at: Option<i64>| {
        at.map(|at| {
            let at_ms = u64::try_from(at).unwrap_or(0).saturating_mul(1000);
            at_ms.saturating_sub(sent_at_ms) / 1000
        })
    };
    let mut tokens = Tokens::new(data.access_token, sent_at_ms)
        .with_refresh_token(data.refresh_token, secs_left(data.refresh_token_expire_in))
        .with_details(serde_json::json!({
            "open_id": data.open_id,
            "seller_name": data.seller_name,
            "seller_base_region": data.seller_base_region,
            "user_type": data.user_type,
            "granted_scopes": data.granted_scopes,
        }));
    if let Some(secs) = secs_left(data.access_token_expire_in) {
        tokens = tokens.expiring_in(secs);
    }
    Ok(tokens)
}

/// Renews a seller's tokens with the stored refresh token.
#[derive(Debug, Clone)]
pub struct TiktokRefresher {
    auth: TiktokAuth,
}

#[async_trait]
impl Refresher for TiktokRefresher {
    async fn refresh(&self, key: &CredentialKey, current: Option<&Tokens>) -> Result<Tokens> {
        let refresh_token = current
            .and_then(|t| t.refresh_token.as_ref())
            .ok_or_else(|| no_refresh_token(key))?;
        Ok(self
            .auth
            .refresh(refresh_token)
            .await?
            .after_refresh(current))
    }
}
