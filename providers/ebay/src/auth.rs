//! eBay's OAuth user tokens, as eBay's OAuth guides give them (`docs/tokens.md` cites the
//! pages: "Getting the user's consent", "Exchanging the authorization code for a User access
//! token", "Refreshing a User access token"):
//!
//! - the page a user opens: `https://auth.ebay.com/oauth2/authorize?client_id=…&
//!   redirect_uri=RUNAME&response_type=code&scope=…` (sandbox `auth.sandbox.ebay.com`); eBay
//!   sends the user back to the RuName's accept URL with `code`;
//! - `POST /identity/v1/oauth2/token` on `https://api.ebay.com` (sandbox
//!   `api.sandbox.ebay.com`), `Content-Type: application/x-www-form-urlencoded`,
//!   `Authorization: Basic base64(client_id:client_secret)`, with `grant_type=
//!   authorization_code&code&redirect_uri` for the first tokens and `grant_type=
//!   refresh_token&refresh_token&scope` for each new access token.
//!
//! The code exchange answers `access_token`, `expires_in` (about 2 hours), `refresh_token`,
//! `refresh_token_expires_in` (about 18 months) and `token_type`; a refresh answers a new
//! access token only: the refresh token stays. A refused refresh is `400` with
//! `{"error": "invalid_grant", …}`: [`ErrorKind::Reauthorize`].

use std::fmt;

use async_trait::async_trait;
use marketmedia_core::raw::http::{self, CallMeta, RawResponse};
use marketmedia_core::raw::{
    no_refresh_token, CredentialKey, Error, ErrorKind, Refresher, Result, Secret, Tokens,
};
use serde::Deserialize;

use crate::config::EbayEnvironment;
use crate::PLATFORM;

/// The token call's path.
pub const TOKEN_PATH: &str = "/identity/v1/oauth2/token";
/// The scope the Media API needs (`createVideo`, `uploadVideo`, `getVideo`,
/// `createImageFromFile`).
pub const SELL_INVENTORY_SCOPE: &str = "https://api.ebay.com/oauth/api_scope/sell.inventory";

/// The host of the token call in `environment`.
pub fn token_host(environment: EbayEnvironment) -> &'static str {
    match environment {
        EbayEnvironment::Production => "https://api.ebay.com",
        EbayEnvironment::Sandbox => "https://api.sandbox.ebay.com",
    }
}

/// The consent page of `environment`.
pub fn authorize_url(environment: EbayEnvironment) -> &'static str {
    match environment {
        EbayEnvironment::Production => "https://auth.ebay.com/oauth2/authorize",
        EbayEnvironment::Sandbox => "https://auth.sandbox.ebay.com/oauth2/authorize",
    }
}

/// Both answers' fields.
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    refresh_token_expires_in: Option<u64>,
    #[serde(default)]
    token_type: Option<String>,
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// eBay's OAuth calls for one application (client id and secret) and RuName. `Debug` hides
/// the client secret.
#[derive(Clone)]
pub struct EbayAuth {
    client_id: String,
    client_secret: Secret,
    ru_name: String,
    scopes: Vec<String>,
    token_url: String,
    authorize_url: String,
    client: http::HttpClient,
}

impl fmt::Debug for EbayAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EbayAuth")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("ru_name", &self.ru_name)
            .field("scopes", &self.scopes)
            .field("token_url", &self.token_url)
            .finish()
    }
}

impl EbayAuth {
    /// The calls of application `client_id` (App ID) with `client_secret` (Cert ID) and its
    /// RuName (the "eBay Redirect URL name" eBay takes as `redirect_uri`), in
    /// `environment`, asking for [`SELL_INVENTORY_SCOPE`].
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        ru_name: impl Into<String>,
        environment: EbayEnvironment,
    ) -> Result<EbayAuth> {
        let client_id = client_id.into();
        let client_secret = client_secret.into();
        let ru_name = ru_name.into();
        if client_id.trim().is_empty() || client_secret.is_empty() || ru_name.trim().is_empty() {
            return Err(Error::invalid_input(
                "eBay's client id, client secret and RuName are all needed",
            )
            .with_platform(PLATFORM));
        }
        Ok(EbayAuth {
            client_id,
            client_secret,
            ru_name,
            scopes: vec![SELL_INVENTORY_SCOPE.to_owned()],
            token_url: format!("{}{TOKEN_PATH}", token_host(environment)),
            authorize_url: authorize_url(environment).to_owned(),
            client: http::HttpClient::new(http::ClientOptions::default())?,
        })
    }

    /// The same calls asking for `scopes` instead.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The same calls with the token call on another host (a simulator):
    /// `{host}/identity/v1/oauth2/token`.
    pub fn with_token_host(mut self, host: &str) -> Self {
        self.token_url = format!("{}{TOKEN_PATH}", host.trim_end_matches('/'));
        self
    }

    /// The same calls with another consent page (a simulator's).
    pub fn with_authorize_url(mut self, url: impl Into<String>) -> Self {
        self.authorize_url = url.into();
        self
    }

    /// The same calls through `client`.
    pub fn with_client(mut self, client: http::HttpClient) -> Self {
        self.client = client;
        self
    }

    /// The credential key of a user's tokens: `ebay/CLIENT_ID/SUBJECT` (the eBay user name,
    /// or a name of the seller's own).
    pub fn credential_key(&self, subject: &str) -> Result<CredentialKey> {
        CredentialKey::new(PLATFORM, &self.client_id, subject)
    }

    /// A refresher of a user's tokens, for a [`TokenSource`](marketmedia_core::TokenSource).
    pub fn refresher(&self) -> EbayRefresher {
        EbayRefresher { auth: self.clone() }
    }

    /// The consent page the user opens; `state` comes back with the code when given.
    pub fn authorization_url(&self, state: Option<&str>) -> Result<String> {
        let mut url = reqwest::Url::parse(&self.authorize_url).map_err(|e| {
            Error::invalid_input(format!("bad consent URL {:?}: {e}", self.authorize_url))
                .with_platform(PLATFORM)
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &self.ru_name)
                .append_pair("response_type", "code")
                .append_pair("scope", &self.scopes.join(" "));
            if let Some(state) = state {
                q.append_pair("state", state);
            }
        }
        Ok(url.into())
    }

    /// The first tokens, from the `code` the accept URL received (as pasted from the
    /// address bar: URL-encoded or not).
    pub async fn exchange_code(&self, code: &str) -> Result<Tokens> {
        let code = code.trim();
        if code.is_empty() {
            return Err(
                Error::invalid_input("the authorization code is empty").with_platform(PLATFORM)
            );
        }
        // The code arrives URL-encoded in the accept URL (`v%5E1.1%23i…`); its own
        // characters (`^`, `#`) hold no `%`, so decoding a raw code changes nothing.
        let code = percent_encoding::percent_decode_str(code).decode_utf8_lossy();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_ref()),
            ("redirect_uri", self.ru_name.as_str()),
        ];
        let (sent_at, answer) = self.token_call("authorization_code", &form).await?;
        let refresh = answer
            .refresh_token
            .clone()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                Error::protocol("the code exchange answered no refresh_token")
                    .with_platform(PLATFORM)
                    .with_call("authorization_code")
            })?;
        let refresh_secs = answer.refresh_token_expires_in;
        Ok(tokens_of(answer, sent_at).with_refresh_token(refresh, refresh_secs))
    }

    /// A new access token from `refresh_token` (which stays valid). eBay's `invalid_grant`
    /// is [`ErrorKind::Reauthorize`].
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Tokens> {
        let scope = self.scopes.join(" ");
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("scope", scope.as_str()),
        ];
        let (sent_at, answer) = self.token_call("refresh_token", &form).await?;
        Ok(tokens_of(answer, sent_at))
    }

    async fn token_call(
        &self,
        call: &'static str,
        form: &[(&str, &str)],
    ) -> Result<(u64, TokenAnswer)> {
        let meta = CallMeta {
            platform: PLATFORM,
            call,
            part: None,
        };
        let url = reqwest::Url::parse(&self.token_url).map_err(|e| {
            Error::invalid_input(format!("bad eBay token URL {:?}: {e}", self.token_url))
                .with_platform(PLATFORM)
        })?;
        let request = self
            .client
            .post(url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .form(form);
        let sent_at = http::unix_millis();
        let raw = self.client.send(request, meta).await?;
        if !(200..300).contains(&raw.status) {
            return Err(oauth_error(&raw, &meta));
        }
        let answer: TokenAnswer = raw.json(&meta)?;
        if answer.access_token.is_empty() {
            return Err(Error::protocol("the token answer has no access_token")
                .with_platform(PLATFORM)
                .with_call(call));
        }
        Ok((sent_at, answer))
    }
}

fn tokens_of(answer: TokenAnswer, sent_at: u64) -> Tokens {
    let tokens = Tokens::new(answer.access_token, sent_at).with_details(serde_json::json!({
        "token_type": answer.token_type,
    }));
    match answer.expires_in {
        Some(secs) => tokens.expiring_in(secs),
        None => tokens,
    }
}

/// An OAuth error answer as a typed error: `invalid_grant` (a refresh token or code spent,
/// revoked, expired or another app's) is [`ErrorKind::Reauthorize`]; `invalid_client` (the
/// app's own credentials) [`ErrorKind::Auth`]; otherwise by status.
fn oauth_error(raw: &RawResponse, meta: &CallMeta<'_>) -> Error {
    let body: Option<OAuthError> = serde_json::from_slice(&raw.body).ok();
    let code = body
        .as_ref()
        .and_then(|b| b.error.clone())
        .unwrap_or_default();
    let description = body
        .as_ref()
        .and_then(|b| b.error_description.clone())
        .unwrap_or_default();
    let kind = match code.as_str() {
        "invalid_grant" => ErrorKind::Reauthorize,
        "invalid_client" | "unauthorized_client" => ErrorKind::Auth,
        "invalid_request" | "invalid_scope" | "unsupported_grant_type" => ErrorKind::InvalidInput,
        _ => http::kind_for_status(raw.status).unwrap_or(ErrorKind::Protocol),
    };
    let message = match (code.is_empty(), description.is_empty()) {
        (true, _) => format!("eBay answered HTTP {}", raw.status),
        (false, true) => code.clone(),
        (false, false) => description,
    };
    let mut err = Error::new(kind, message)
        .with_platform(PLATFORM)
        .with_call(meta.call)
        .with_http_status(raw.status)
        .with_code(code);
    if let Some(after) = raw.retry_after() {
        err = err.with_retry_after(after);
    }
    err
}

/// Renews a user's access token with the stored refresh token ([`EbayAuth::refresh`]).
#[derive(Debug, Clone)]
pub struct EbayRefresher {
    auth: EbayAuth,
}

#[async_trait]
impl Refresher for EbayRefresher {
    async fn refresh(&self, key: &CredentialKey, current: Option<&Tokens>) -> Result<Tokens> {
        let refresh_token = current
            .and_then(|t| t.refresh_token.as_ref())
            .ok_or_else(|| no_refresh_token(key))?;
        self.auth.refresh(refresh_token).await
    }
}
