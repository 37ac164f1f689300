//! Shopee's authorization calls, as the Open Platform's authorization guide gives them
//! (`docs/tokens.md` cites the pages):
//!
//! - the URL a seller opens to authorize the partner's app: `GET /api/v2/shop/auth_partner`
//!   with `partner_id`, `timestamp`, `sign` (public-type: `partner_id + path + timestamp`)
//!   and `redirect`; Shopee sends the seller back to `redirect?code=…&shop_id=…` (or
//!   `main_account_id=…` when a main account authorized several shops);
//! - the code exchange, `POST /api/v2/auth/token/get`, body `{code, partner_id, shop_id}` or
//!   `{code, partner_id, main_account_id}`, partner-signed;
//! - the refresh, `POST /api/v2/auth/access_token/get`, body `{refresh_token, partner_id,
//!   shop_id}` or `{refresh_token, partner_id, merchant_id}`, partner-signed.
//!
//! Both answers carry `access_token`, `refresh_token` and `expire_in` (seconds; 4 hours) at
//! the top level. **Every refresh returns a new refresh token and spends the old one**: the
//! new pair must be stored before the new access token is used, which core's
//! [`CredentialStore::refresh`](marketmedia_core::CredentialStore::refresh) does. The refresh
//! token lives 30 days; an authorization at most 365 days.
//!
//! ```no_run
//! # async fn demo() -> marketmedia_core::Result<()> {
//! use std::sync::Arc;
//! use marketmedia_core::{CredentialStore, MemoryStore, TokenSource};
//! use marketmedia_shopee::auth::{Grantee, ShopeeAuth, Subject};
//! use marketmedia_shopee::{ShopeeConfig, ShopeeRegion, ShopeeUploader};
//!
//! let auth = ShopeeAuth::new(2001887, "partner-key", ShopeeRegion::Production)?;
//! println!("open {}", auth.authorization_url("https://example.com/shopee/callback")?);
//! // The seller comes back to the redirect with `code` and `shop_id`:
//! let tokens = auth.exchange_code("the-code", Grantee::Shop(600001)).await?;
//! let store = MemoryStore::shared();
//! let subject = Subject::Shop(600001);
//! store.save(&auth.credential_key(subject)?, &tokens).await?;
//! let source = TokenSource::builder(auth.credential_key(subject)?, store, Arc::new(auth.refresher(subject)))
//!     .account("shopee-sg")
//!     .build();
//! let config = ShopeeConfig::builder()
//!     .partner_id(2001887)
//!     .partner_key("partner-key")
//!     .shop_id(600001)
//!     .token_source(source)
//!     .build()?;
//! let shopee = ShopeeUploader::new(config)?;
//! # let _ = shopee; Ok(()) }
//! ```

use std::fmt;

use async_trait::async_trait;
use marketmedia_core::raw::http::{self, CallMeta};
use marketmedia_core::raw::{
    no_refresh_token, CredentialKey, Error, ErrorKind, Refresher, Result, Secret, Tokens,
};
use serde::{Deserialize, Serialize};

use crate::config::{ShopeeConfig, ShopeeRegion};
use crate::signing::{self, Signer};
use crate::PLATFORM;

/// `GET`: the page a seller opens to authorize the partner's app.
pub const AUTH_PARTNER: &str = "/api/v2/shop/auth_partner";
/// `POST`: the first tokens, from the code the redirect carries.
pub const TOKEN_GET: &str = "/api/v2/auth/token/get";
/// `POST`: new tokens from the refresh token (which it spends).
pub const ACCESS_TOKEN_GET: &str = "/api/v2/auth/access_token/get";

/// Who authorized, as the redirect says: a shop (`shop_id`) or a main account
/// (`main_account_id`, whose first token serves all its shops until each refreshes its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grantee {
    /// `shop_id` of the redirect.
    Shop(u64),
    /// `main_account_id` of the redirect.
    MainAccount(u64),
}

/// Whose tokens a refresh renews: a shop or a merchant (Shopee refreshes them separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A shop's tokens (`shop_id`).
    Shop(u64),
    /// A merchant's tokens (`merchant_id`, cross-border sellers).
    Merchant(u64),
}

impl Subject {
    /// The subject part of a credential key: `shop-ID` or `merchant-ID`.
    pub fn key_part(self) -> String {
        match self {
            Subject::Shop(id) => format!("shop-{id}"),
            Subject::Merchant(id) => format!("merchant-{id}"),
        }
    }

    /// Every shop and merchant a code exchange's answer lists (`details.shop_id_list`,
    /// `details.merchant_id_list`): after a main account's authorization the same tokens
    /// are stored under each of them, and each one's first refresh gives it its own.
    pub fn listed_in(tokens: &Tokens) -> Vec<Subject> {
        let ids = |field: &str| -> Vec<u64> {
            tokens.details[field]
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
                .unwrap_or_default()
        };
        let mut all: Vec<Subject> = ids("shop_id_list").into_iter().map(Subject::Shop).collect();
        all.extend(ids("merchant_id_list").into_iter().map(Subject::Merchant));
        all
    }
}

/// `token/get` body.
#[derive(Debug, Serialize)]
struct TokenGetRequest<'a> {
    code: &'a str,
    partner_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    shop_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    main_account_id: Option<u64>,
}

/// `access_token/get` body.
#[derive(Serialize)]
struct AccessTokenGetRequest<'a> {
    refresh_token: &'a str,
    partner_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    shop_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merchant_id: Option<u64>,
}

/// Both answers: the tokens at the top level, beside the envelope's `error` and `message`.
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    refresh_token: String,
    /// Seconds.
    #[serde(default)]
    expire_in: Option<serde_json::Value>,
    #[serde(default)]
    shop_id_list: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    merchant_id_list: Option<Vec<serde_json::Value>>,
}

/// Shopee's authorization calls for one partner (app). `Debug` hides the partner key.
#[derive(Clone)]
pub struct ShopeeAuth {
    partner_id: u64,
    partner_key: Secret,
    base_url: String,
    client: http::HttpClient,
}

impl fmt::Debug for ShopeeAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopeeAuth")
            .field("partner_id", &self.partner_id)
            .field("partner_key", &self.partner_key)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl ShopeeAuth {
    /// The calls of partner `partner_id` on `region`'s host, with a client of their own.
    pub fn new(
        partner_id: u64,
        partner_key: impl Into<Secret>,
        region: ShopeeRegion,
    ) -> Result<ShopeeAuth> {
        let partner_key = partner_key.into();
        if partner_id == 0 || partner_key.is_empty() {
            return Err(Error::invalid_input(
                "Shopee's partner id and partner key are both needed",
            )
            .with_platform(PLATFORM));
        }
        Ok(ShopeeAuth {
            partner_id,
            partner_key,
            base_url: region.base_url().to_owned(),
            client: http::HttpClient::new(http::ClientOptions::default())?,
        })
    }

    /// The calls of `config`'s partner, on its host (a simulator's too), with its client
    /// options.
    pub fn from_config(config: &ShopeeConfig) -> Result<ShopeeAuth> {
        let auth = ShopeeAuth::new(config.partner_id, config.partner_key.clone(), config.region)?;
        Ok(ShopeeAuth {
            base_url: config.effective_base_url().to_owned(),
            client: http::HttpClient::new(config.options)?,
            ..auth
        })
    }

    /// The same calls on another host (a simulator, a proxy).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The same calls through `client`.
    pub fn with_client(mut self, client: http::HttpClient) -> Self {
        self.client = client;
        self
    }

    /// The credential key of `subject`'s tokens: `shopee/PARTNER/shop-ID`.
    pub fn credential_key(&self, subject: Subject) -> Result<CredentialKey> {
        CredentialKey::new(PLATFORM, &self.partner_id.to_string(), &subject.key_part())
    }

    /// A refresher of `subject`'s tokens, for a [`TokenSource`](marketmedia_core::TokenSource).
    pub fn refresher(&self, subject: Subject) -> ShopeeRefresher {
        ShopeeRefresher {
            auth: self.clone(),
            subject,
        }
    }

    /// `url` + `path` with `partner_id`, `timestamp` and the public-type `sign`, signed now.
    fn signed_url(&self, path: &str) -> Result<reqwest::Url> {
        let timestamp = http::unix_secs();
        let sign = signing::sign(
            self.partner_key.expose(),
            self.partner_id,
            path,
            timestamp,
            Signer::Public,
        );
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base_url)).map_err(|e| {
            Error::invalid_input(format!("bad Shopee base URL {:?}: {e}", self.base_url))
                .with_platform(PLATFORM)
        })?;
        url.query_pairs_mut()
            .append_pair("partner_id", &self.partner_id.to_string())
            .append_pair("timestamp", &timestamp.to_string())
            .append_pair("sign", &sign);
        Ok(url)
    }

    /// The page a seller opens to authorize the app (signed now: Shopee accepts it for
    /// 5 minutes). `redirect` is where Shopee sends the seller back with `code` and
    /// `shop_id` (or `main_account_id`).
    pub fn authorization_url(&self, redirect: &str) -> Result<String> {
        check_redirect(redirect)?;
        let mut url = self.signed_url(AUTH_PARTNER)?;
        url.query_pairs_mut().append_pair("redirect", redirect);
        Ok(url.into())
    }

    /// The first tokens, from the `code` of the redirect (usable once, for 10 minutes).
    /// [`Tokens::details`] lists the shops and merchants they serve
    /// ([`Subject::listed_in`]).
    pub async fn exchange_code(&self, code: &str, grantee: Grantee) -> Result<Tokens> {
        let code = code.trim();
        if code.is_empty() {
            return Err(
                Error::invalid_input("the authorization code is empty").with_platform(PLATFORM)
            );
        }
        let (shop_id, main_account_id) = match grantee {
            Grantee::Shop(id) => (Some(id), None),
            Grantee::MainAccount(id) => (None, Some(id)),
        };
        if shop_id == Some(0) || main_account_id == Some(0) {
            return Err(
                Error::invalid_input("the shop or main account id is 0").with_platform(PLATFORM)
            );
        }
        let body = TokenGetRequest {
            code,
            partner_id: self.partner_id,
            shop_id,
            main_account_id,
        };
        // A refused code (used, expired, another partner's) is returned as Shopee said it:
        // the seller authorizes again and brings a new code.
        let (sent_at, answer) = self.post(TOKEN_GET, "token_get", &body).await?;
        let shops = match (&answer.shop_id_list, grantee) {
            (Some(list), _) => list.clone(),
            (None, Grantee::Shop(id)) => vec![id.into()],
            (None, Grantee::MainAccount(_)) => Vec::new(),
        };
        let details = serde_json::json!({
            "shop_id_list": shops,
            "merchant_id_list": answer.merchant_id_list.clone().unwrap_or_default(),
        });
        Ok(tokens_of(answer, sent_at, "token_get")?.with_details(details))
    }

    /// New tokens for `subject` from `refresh_token`, which Shopee spends: store the answer's
    /// new pair before using it. The platform's refusal of the refresh token is
    /// [`ErrorKind::Reauthorize`].
    pub async fn refresh(&self, refresh_token: &Secret, subject: Subject) -> Result<Tokens> {
        let (shop_id, merchant_id) = match subject {
            Subject::Shop(id) => (Some(id), None),
            Subject::Merchant(id) => (None, Some(id)),
        };
        let body = AccessTokenGetRequest {
            refresh_token: refresh_token.expose(),
            partner_id: self.partner_id,
            shop_id,
            merchant_id,
        };
        let (sent_at, answer) = self
            .post(ACCESS_TOKEN_GET, "access_token_get", &body)
            .await
            .map_err(refusal)?;
        tokens_of(answer, sent_at, "access_token_get")
    }

    /// POSTs `body` to a partner-signed call; the local time it was sent and the answer.
    async fn post<B: Serialize + Sync>(
        &self,
        path: &str,
        call: &'static str,
        body: &B,
    ) -> Result<(u64, TokenAnswer)> {
        let meta = CallMeta {
            platform: PLATFORM,
            call,
            part: None,
        };
        let sent_at = http::unix_millis();
        let request = self.client.post(self.signed_url(path)?).json(body);
        let raw = self.client.send(request, meta).await?;
        // The envelope's error first; the fields are at the top level.
        crate::decode::<serde::de::IgnoredAny>(&raw, &meta)?;
        Ok((sent_at, raw.json(&meta)?))
    }
}

/// The refresh's error: Shopee's refusal of the refresh token (an `error_auth`, or any error
/// naming the refresh token: spent, expired, unknown) means the seller must authorize again.
/// A wrong signature (`error_sign`: the partner key), a clock off by minutes or a server
/// failure stay what they are.
fn refusal(e: Error) -> Error {
    let code = e.code().unwrap_or_default();
    let names_refresh = e.message().to_ascii_lowercase().contains("refresh");
    let refused = code == "error_auth"
        || (names_refresh && !matches!(e.kind(), ErrorKind::Transient | ErrorKind::RateLimited));
    if refused {
        e.with_kind(ErrorKind::Reauthorize)
    } else {
        e
    }
}

/// The tokens of an answer, checked.
fn tokens_of(answer: TokenAnswer, sent_at: u64, call: &str) -> Result<Tokens> {
    if answer.access_token.is_empty() || answer.refresh_token.is_empty() {
        return Err(Error::protocol(format!(
            "{call} answered without access_token or refresh_token"
        ))
        .with_platform(PLATFORM)
        .with_call(call.to_owned()));
    }
    let tokens = Tokens::new(answer.access_token, sent_at)
        .with_refresh_token(answer.refresh_token, Some(REFRESH_TOKEN_SECS));
    // `expire_in` as a number or a numeric string; without it the expiry is unknown and
    // the token is replaced when Shopee refuses it.
    let expire_in = match &answer.expire_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(match expire_in {
        Some(secs) => tokens.expiring_in(secs),
        None => tokens,
    })
}

/// 30 days: the refresh token's life (the authorization guide); Shopee's answer does not
/// give it.
pub const REFRESH_TOKEN_SECS: u64 = 30 * 86_400;

fn check_redirect(redirect: &str) -> Result<()> {
    match reqwest::Url::parse(redirect) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        _ => Err(Error::invalid_input(format!(
            "the redirect must be an http(s) URL, not {redirect:?}"
        ))
        .with_platform(PLATFORM)),
    }
}

/// Renews a shop's or merchant's tokens with the stored refresh token
/// ([`ShopeeAuth::refresh`]).
#[derive(Debug, Clone)]
pub struct ShopeeRefresher {
    auth: ShopeeAuth,
    subject: Subject,
}

#[async_trait]
impl Refresher for ShopeeRefresher {
    async fn refresh(&self, key: &CredentialKey, current: Option<&Tokens>) -> Result<Tokens> {
        let refresh_token = current
            .and_then(|t| t.refresh_token.as_ref())
            .ok_or_else(|| no_refresh_token(key))?;
        self.auth.refresh(refresh_token, self.subject).await
    }
}
