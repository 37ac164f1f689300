//! Shopify's offline access tokens, as its OAuth pages and changelog give them
//! (`docs/platforms/shopify.md`, "Tokens", cites them):
//!
//! - the page the merchant opens: `https://{shop}/admin/oauth/authorize?client_id=…&scope=…&
//!   redirect_uri=…&state=…` (no `grant_options[]`: offline access, the default mode);
//!   Shopify sends the merchant back to the redirect URI with `code`;
//! - `POST https://{shop}/admin/oauth/access_token` with `client_id`, `client_secret` and
//!   `code` (and `expiring=1` for an expiring offline token) for the first token, and with
//!   `grant_type=refresh_token` and `refresh_token` for each new one.
//!
//! Two kinds of offline token: a **non-expiring** one (the answer holds `access_token` and
//! `scope` only; used as given, nothing to refresh) and an **expiring** one (`expires_in`
//! 3600, a `refresh_token` and its `refresh_token_expires_in`). Each refresh answers a new
//! pair: the refresh token is replaced on every use, and since 2026-08-28 the previous one
//! stays usable until the replacement is first used (at most 30 days), so a refresh answer
//! lost before it was stored is recovered by refreshing again with the stored token. A
//! refused refresh (`invalid_grant`) is [`ErrorKind::Reauthorize`].

use std::fmt;

use async_trait::async_trait;
use marketmedia_core::raw::http::{self, CallMeta, RawResponse};
use marketmedia_core::raw::{
    no_refresh_token, CredentialKey, Error, ErrorKind, Refresher, Result, Secret, Tokens,
};

use crate::wire::{self, TokenAnswer};
use crate::PLATFORM;

/// Shopify's OAuth calls for one app (client id and secret) on one store. `Debug` hides the
/// client secret.
#[derive(Clone)]
pub struct ShopifyAuth {
    client_id: String,
    client_secret: Secret,
    shop: String,
    scopes: Vec<String>,
    redirect_uri: Option<String>,
    expiring: bool,
    base_url: String,
    client: http::HttpClient,
}

impl fmt::Debug for ShopifyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyAuth")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("shop", &self.shop)
            .field("scopes", &self.scopes)
            .field("expiring", &self.expiring)
            .field(
                "base_url",
                &marketmedia_core::raw::RedactedUrl::new(&self.base_url),
            )
            .finish()
    }
}

/// The scopes the uploads need: `write_products` (productCreateMedia) and `write_files`
/// (fileCreate, stagedUploadsCreate).
pub const DEFAULT_SCOPES: &[&str] = &["write_products", "write_files"];

impl ShopifyAuth {
    /// The calls of app `client_id` with `client_secret` on `shop` (`NAME.myshopify.com`),
    /// asking for [`DEFAULT_SCOPES`] and expiring offline tokens.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        shop: impl Into<String>,
    ) -> Result<ShopifyAuth> {
        let client_id = client_id.into();
        let client_secret = client_secret.into();
        let shop = shop.into();
        if client_id.trim().is_empty() || client_secret.is_empty() || shop.trim().is_empty() {
            return Err(Error::invalid_input(
                "Shopify's client id, client secret and shop are all needed",
            )
            .with_platform(PLATFORM));
        }
        Ok(ShopifyAuth {
            base_url: format!("https://{shop}"),
            client_id,
            client_secret,
            shop,
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            redirect_uri: None,
            expiring: true,
            client: http::HttpClient::new(http::ClientOptions::default())?,
        })
    }

    /// The same calls asking for `scopes` instead.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The redirect URI the consent sends the code to (one of the app's allowed URLs).
    pub fn with_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// Asks the code exchange for an expiring offline token (`true`, the default) or a
    /// non-expiring one.
    pub fn expiring(mut self, expiring: bool) -> Self {
        self.expiring = expiring;
        self
    }

    /// The same calls on another host than `https://{shop}` (a simulator).
    pub fn with_base_url(mut self, base_url: &str) -> Self {
        self.base_url = base_url.trim_end_matches('/').to_owned();
        self
    }

    /// The same calls through `client`.
    pub fn with_client(mut self, client: http::HttpClient) -> Self {
        self.client = client;
        self
    }

    /// The credential key of the store's tokens: `shopify/CLIENT_ID/SHOP`.
    pub fn credential_key(&self) -> Result<CredentialKey> {
        CredentialKey::new(PLATFORM, &self.client_id, &self.shop)
    }

    /// A refresher of the store's tokens, for a [`TokenSource`](marketmedia_core::TokenSource).
    pub fn refresher(&self) -> ShopifyRefresher {
        ShopifyRefresher { auth: self.clone() }
    }

    /// The consent page the merchant opens; `state` comes back with the code when given.
    pub fn authorization_url(&self, state: Option<&str>) -> Result<String> {
        let page = format!("{}{}", self.base_url, wire::AUTHORIZE_PATH);
        let mut url = reqwest::Url::parse(&page).map_err(|e| {
            Error::invalid_input(format!("bad consent URL: {e}")).with_platform(PLATFORM)
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.client_id)
                .append_pair("scope", &self.scopes.join(","));
            if let Some(uri) = &self.redirect_uri {
                q.append_pair("redirect_uri", uri);
            }
            if let Some(state) = state {
                q.append_pair("state", state);
            }
        }
        Ok(url.into())
    }

    /// The first token, from the `code` the redirect received: an expiring offline token
    /// with its refresh token, or a non-expiring one ([`ShopifyAuth::expiring`]).
    pub async fn exchange_code(&self, code: &str) -> Result<Tokens> {
        let code = code.trim();
        if code.is_empty() {
            return Err(
                Error::invalid_input("the authorization code is empty").with_platform(PLATFORM)
            );
        }
        let mut body = serde_json::json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret.expose(),
            "code": code,
        });
        if self.expiring {
            body["expiring"] = serde_json::json!(1);
        }
        let (sent_at, answer) = self.token_call("authorization_code", &body).await?;
        if self.expiring && answer.refresh_token.as_deref().unwrap_or("").is_empty() {
            return Err(Error::protocol(
                "an expiring token was asked for, and no refresh_token came",
            )
            .with_platform(PLATFORM)
            .with_call("authorization_code"));
        }
        Ok(tokens_of(answer, sent_at))
    }

    /// A new pair from `refresh_token` (which Shopify then replaces). `invalid_grant` is
    /// [`ErrorKind::Reauthorize`].
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Tokens> {
        let body = serde_json::json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret.expose(),
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.expose(),
        });
        let (sent_at, answer) = self.token_call("refresh_token", &body).await?;
        if answer.refresh_token.as_deref().unwrap_or("").is_empty() {
            return Err(Error::protocol("the refresh answered no refresh_token")
                .with_platform(PLATFORM)
                .with_call("refresh_token"));
        }
        Ok(tokens_of(answer, sent_at))
    }

    async fn token_call(
        &self,
        call: &'static str,
        body: &serde_json::Value,
    ) -> Result<(u64, TokenAnswer)> {
        let meta = CallMeta {
            platform: PLATFORM,
            call,
            part: None,
        };
        let url = reqwest::Url::parse(&format!("{}{}", self.base_url, wire::TOKEN_PATH)).map_err(
            |e| Error::invalid_input(format!("bad Shopify token URL: {e}")).with_platform(PLATFORM),
        )?;
        let request = self.client.post(url).json(body);
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
    let mut tokens = Tokens::new(answer.access_token, sent_at)
        .with_details(serde_json::json!({ "scope": answer.scope }));
    if let Some(secs) = answer.expires_in {
        tokens = tokens.expiring_in(secs);
    }
    match answer.refresh_token.filter(|r| !r.is_empty()) {
        Some(refresh) => tokens.with_refresh_token(refresh, answer.refresh_token_expires_in),
        None => tokens,
    }
}

/// An OAuth error answer as a typed error: `invalid_grant` (a refresh token or code spent,
/// retired, revoked or expired) is [`ErrorKind::Reauthorize`]; `invalid_client` the app's
/// own credentials ([`ErrorKind::Auth`]); otherwise by status.
pub fn oauth_error(raw: &RawResponse, meta: &CallMeta<'_>) -> Error {
    let body: Option<wire::OAuthError> = serde_json::from_slice(&raw.body).ok();
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
        _ => crate::errors::kind_for_http(raw.status),
    };
    let message = match (code.is_empty(), description.is_empty()) {
        (true, _) => format!("Shopify answered HTTP {}", raw.status),
        (false, true) => code.clone(),
        (false, false) => description,
    };
    let mut err = Error::new(kind, message)
        .with_platform(PLATFORM)
        .with_call(meta.call)
        .with_http_status(raw.status);
    if !code.is_empty() {
        err = err.with_code(code);
    }
    if let Some(after) = raw.retry_after() {
        err = err.with_retry_after(after);
    }
    err
}

/// Renews the store's expiring offline token with the stored refresh token
/// ([`ShopifyAuth::refresh`]); the new refresh token replaces it in the store.
#[derive(Debug, Clone)]
pub struct ShopifyRefresher {
    auth: ShopifyAuth,
}

#[async_trait]
impl Refresher for ShopifyRefresher {
    async fn refresh(&self, key: &CredentialKey, current: Option<&Tokens>) -> Result<Tokens> {
        let refresh_token = current
            .and_then(|t| t.refresh_token.as_ref())
            .ok_or_else(|| no_refresh_token(key))?;
        self.auth.refresh(refresh_token).await
    }
}
