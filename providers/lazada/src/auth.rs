//! Lazada's seller authorization, as the Open Platform's "Seller authorization introduction"
//! and its System API pages give it (`docs/tokens.md` cites them):
//!
//! - the page a seller opens: `https://auth.lazada.com/oauth/authorize?response_type=code&
//!   force_auth=true&redirect_uri=…&client_id=APP_KEY` (optionally `country`); Lazada sends
//!   the seller back to `redirect_uri?code=…` (a code is good once, for 30 minutes);
//! - `GenerateAccessToken`, `/auth/token/create` with `code`, and `RefreshAccessToken`,
//!   `/auth/token/refresh` with `refresh_token`, both on the auth host
//!   `https://auth.lazada.com/rest` (one for every country), signed like every other call
//!   (`app_key`, `timestamp`, `sign_method`, `sign`; no `access_token`). They are sent as
//!   form POSTs, so the refresh token never sits in a URL.
//!
//! Answers carry `access_token`, `refresh_token`, `expires_in` and `refresh_expires_in`
//! (seconds), and the seller's id per country (`country_user_info`, `country_user_info_list`
//! in the refresh answer): one cross-border seller's token serves the six country gateways,
//! so the six accounts share one credential. Refreshing does **not** extend the refresh
//! token's life (30 days in test, 180 online): the seller authorizes again before it ends.
//! `IllegalRefreshToken` ("The specified refresh token is invalid or expired") and
//! `AUTH_TYPE_UNSUPPORTED` (an app whose tokens follow a service-market order) are refusals:
//! [`ErrorKind::Reauthorize`].

use std::fmt;

use async_trait::async_trait;
use marketmedia_core::raw::http::{unix_millis, ClientOptions, HttpClient};
use marketmedia_core::raw::{
    no_refresh_token, CredentialKey, Error, ErrorKind, Refresher, Result, Secret, Tokens,
};
use serde::Deserialize;
use serde_json::Value;

use crate::config::LazadaConfig;
use crate::wire::{Call, Envelope, Method};
use crate::{App, PLATFORM};

/// The auth host, for every country.
pub const AUTH_BASE_URL: &str = "https://auth.lazada.com/rest";
/// The page a seller opens to authorize the app.
pub const AUTHORIZE_URL: &str = "https://auth.lazada.com/oauth/authorize";

/// `GenerateAccessToken`: the first tokens, from the code.
pub const CREATE_TOKEN: Call = Call {
    name: "GenerateAccessToken",
    path: "/auth/token/create",
    method: Method::PostForm,
};

/// `RefreshAccessToken`: new tokens from the refresh token.
pub const REFRESH_TOKEN: Call = Call {
    name: "RefreshAccessToken",
    path: "/auth/token/refresh",
    method: Method::PostForm,
};

/// The codes of a refused refresh (the seller must authorize again).
pub const REFUSALS: &[&str] = &["IllegalRefreshToken", "AUTH_TYPE_UNSUPPORTED"];

/// Both token answers' fields (beside the envelope's `code`), read leniently: numbers or
/// numeric strings (the pages type `refresh_expires_in` as both).
#[derive(Debug, Default, Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<Value>,
    #[serde(default)]
    refresh_token: Option<Value>,
    #[serde(default)]
    expires_in: Option<Value>,
    #[serde(default)]
    refresh_expires_in: Option<Value>,
    #[serde(default)]
    country_user_info: Option<Value>,
    #[serde(default)]
    country_user_info_list: Option<Value>,
    #[serde(default)]
    account: Option<Value>,
    #[serde(default)]
    account_platform: Option<Value>,
    #[serde(default)]
    country: Option<Value>,
}

fn text(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn seconds(v: &Option<Value>) -> Option<u64> {
    match v {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Lazada's authorization calls for one app. `Debug` hides the app secret.
#[derive(Clone)]
pub struct LazadaAuth {
    app_key: String,
    app_secret: Secret,
    base_url: String,
    authorize_url: String,
    client: HttpClient,
}

impl fmt::Debug for LazadaAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazadaAuth")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl LazadaAuth {
    /// The calls of app `app_key` on the auth host, with a client of their own.
    pub fn new(app_key: impl Into<String>, app_secret: impl Into<Secret>) -> Result<LazadaAuth> {
        let app_key = app_key.into();
        let app_secret = app_secret.into();
        if app_key.trim().is_empty() || app_secret.is_empty() {
            return Err(
                Error::invalid_input("Lazada's app key and app secret are both needed")
                    .with_platform(PLATFORM),
            );
        }
        Ok(LazadaAuth {
            app_key,
            app_secret,
            base_url: AUTH_BASE_URL.to_owned(),
            authorize_url: AUTHORIZE_URL.to_owned(),
            client: HttpClient::new(ClientOptions::default())?,
        })
    }

    /// The calls of `config`'s app, with its client options (on the auth host, not the
    /// gateway).
    pub fn from_config(config: &LazadaConfig) -> Result<LazadaAuth> {
        let auth = LazadaAuth::new(config.app_key.clone(), config.app_secret.clone())?;
        Ok(LazadaAuth {
            client: HttpClient::new(config.options)?,
            ..auth
        })
    }

    /// The same calls on another auth host (a simulator), `/rest` included if it expects it.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The same calls, with another authorization page (a simulator's).
    pub fn with_authorize_url(mut self, url: impl Into<String>) -> Self {
        self.authorize_url = url.into();
        self
    }

    /// The same calls through `client`.
    pub fn with_client(mut self, client: HttpClient) -> Self {
        self.client = client;
        self
    }

    /// The credential key of a seller's tokens: `lazada/APP_KEY/SUBJECT`. Name the subject
    /// after the seller, not a country (the token answer's `account`, or a name of the
    /// seller's own), so that the seller's gateways share it.
    pub fn credential_key(&self, subject: &str) -> Result<CredentialKey> {
        CredentialKey::new(PLATFORM, &self.app_key, subject)
    }

    /// A refresher of a seller's tokens, for a [`TokenSource`](marketmedia_core::TokenSource).
    pub fn refresher(&self) -> LazadaRefresher {
        LazadaRefresher { auth: self.clone() }
    }

    /// The page a seller opens to authorize the app; `country` (`sg`, `my`, … or `cb`)
    /// preselects the seller's country when given.
    pub fn authorization_url(&self, redirect_uri: &str, country: Option<&str>) -> Result<String> {
        if !matches!(reqwest::Url::parse(redirect_uri), Ok(u) if matches!(u.scheme(), "http" | "https"))
        {
            return Err(Error::invalid_input(format!(
                "the redirect URI must be an http(s) URL, not {redirect_uri:?}"
            ))
            .with_platform(PLATFORM));
        }
        let mut url = reqwest::Url::parse(&self.authorize_url).map_err(|e| {
            Error::invalid_input(format!(
                "bad authorization URL {:?}: {e}",
                self.authorize_url
            ))
            .with_platform(PLATFORM)
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("force_auth", "true")
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("client_id", &self.app_key);
            if let Some(country) = country.map(str::trim).filter(|c| !c.is_empty()) {
                q.append_pair("country", country);
            }
        }
        Ok(url.into())
    }

    /// The first tokens, from the `code` of the redirect. [`Tokens::details`] keeps
    /// `country_user_info`, `account`, `account_platform` and `country`
    /// ([`sellers`] reads the seller id per country).
    pub async fn exchange_code(&self, code: &str) -> Result<Tokens> {
        let code = code.trim();
        if code.is_empty() {
            return Err(
                Error::invalid_input("the authorization code is empty").with_platform(PLATFORM)
            );
        }
        self.token_call(CREATE_TOKEN, vec![("code", code.to_owned())])
            .await
    }

    /// New tokens from `refresh_token`. Refusals ([`REFUSALS`]) are
    /// [`ErrorKind::Reauthorize`].
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Tokens> {
        self.token_call(
            REFRESH_TOKEN,
            vec![("refresh_token", refresh_token.expose().to_owned())],
        )
        .await
        .map_err(|e| {
            if e.code().is_some_and(|c| REFUSALS.contains(&c)) {
                e.with_kind(ErrorKind::Reauthorize)
            } else {
                e
            }
        })
    }

    async fn token_call(&self, call: Call, params: crate::wire::Params) -> Result<Tokens> {
        let app = App {
            client: &self.client,
            app_key: &self.app_key,
            app_secret: &self.app_secret,
            base_url: &self.base_url,
        };
        let sent_at = unix_millis();
        let env: Envelope<TokenAnswer> = app.send(call, params, None, None, None).await?;
        let a = env.data;
        let (Some(access), Some(refresh)) = (text(&a.access_token), text(&a.refresh_token)) else {
            let mut err = Error::protocol("the token answer has no access_token or refresh_token")
                .with_platform(PLATFORM)
                .with_call(call.name);
            if let Some(id) = env.request_id {
                err = err.with_request_id(id);
            }
            return Err(err);
        };
        let mut tokens = Tokens::new(access, sent_at)
            .with_refresh_token(refresh, seconds(&a.refresh_expires_in));
        if let Some(secs) = seconds(&a.expires_in) {
            tokens = tokens.expiring_in(secs);
        }
        let info = a
            .country_user_info
            .or(a.country_user_info_list)
            .unwrap_or(Value::Null);
        Ok(tokens.with_details(serde_json::json!({
            "country_user_info": info,
            "account": text(&a.account),
            "account_platform": text(&a.account_platform),
            "country": text(&a.country),
        })))
    }
}

/// The seller id per country (`sg`, `my`, …) that a token answer lists (the pages show
/// `country_user_info` both as a list of `{country, seller_id, …}` and as an object keyed
/// by country: both are read).
pub fn sellers(tokens: &Tokens) -> Vec<(String, String)> {
    let seller = |v: &Value| match &v["seller_id"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match &tokens.details["country_user_info"] {
        Value::Array(list) => list
            .iter()
            .filter_map(|e| Some((e["country"].as_str()?.to_owned(), seller(e)?)))
            .collect(),
        Value::Object(map) => map
            .iter()
            .filter_map(|(country, e)| Some((country.clone(), seller(e)?)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Renews a seller's tokens with the stored refresh token ([`LazadaAuth::refresh`]).
#[derive(Debug, Clone)]
pub struct LazadaRefresher {
    auth: LazadaAuth,
}

#[async_trait]
impl Refresher for LazadaRefresher {
    async fn refresh(&self, key: &CredentialKey, current: Option<&Tokens>) -> Result<Tokens> {
        let refresh_token = current
            .and_then(|t| t.refresh_token.as_ref())
            .ok_or_else(|| no_refresh_token(key))?;
        let mut fresh = self.auth.refresh(refresh_token).await?;
        // Refreshing does not extend the refresh token's life: whatever the answer says, it
        // ends no later than it did.
        if let (Some(before), Some(now)) = (
            current.and_then(|t| t.refresh_expires_at_ms),
            fresh.refresh_expires_at_ms,
        ) {
            fresh.refresh_expires_at_ms = Some(before.min(now));
        }
        Ok(fresh)
    }
}
