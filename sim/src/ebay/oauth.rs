//! eBay's token endpoint, `POST /identity/v1/oauth2/token` (eBay's OAuth guides:
//! "Exchanging the authorization code for a User access token", "Using a refresh token to
//! update a User access token"; `docs/platforms/ebay.md`, "Tokens"):
//!
//! - `Content-Type: application/x-www-form-urlencoded`,
//!   `Authorization: Basic base64(client_id:client_secret)`;
//! - `grant_type=authorization_code`, `code`, `redirect_uri` (the RuName) →
//!   `{access_token, expires_in, refresh_token, refresh_token_expires_in, token_type:
//!   "User Access Token"}`;
//! - `grant_type=refresh_token`, `refresh_token`, `scope` (optional here; when given, within
//!   the scopes consented to) → `{access_token, expires_in, token_type}`: the refresh token
//!   is not renewed, it serves until it expires (18 months).
//!
//! Refusals are OAuth's JSON (`error`, `error_description`) with eBay's own words: 401
//! `invalid_client` "client authentication failed"; 400 `invalid_grant` "the provided
//! authorization grant code is invalid or was issued to another client" (code) or "the
//! provided authorization refresh token is invalid or was issued to another client"
//! (refresh); 400 `invalid_request`, `unsupported_grant_type`, `invalid_scope`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Value};

use super::{calls, EbaySim, EbaySimConfig, PLATFORM};
use crate::request::{self, Payload, ReadOptions};
use crate::WireRecord;

/// The largest form the endpoint reads.
const BODY_LIMIT: usize = 64 * 1024;

/// A refusal: status, `error`, `error_description`.
struct OauthError(StatusCode, &'static str, &'static str);

const INVALID_REQUEST: OauthError = OauthError(
    StatusCode::BAD_REQUEST,
    "invalid_request",
    "request is missing a required parameter or malformed.",
);
const INVALID_CLIENT: OauthError = OauthError(
    StatusCode::UNAUTHORIZED,
    "invalid_client",
    "client authentication failed",
);
const BAD_CODE: OauthError = OauthError(
    StatusCode::BAD_REQUEST,
    "invalid_grant",
    "the provided authorization grant code is invalid or was issued to another client",
);
const BAD_REFRESH: OauthError = OauthError(
    StatusCode::BAD_REQUEST,
    "invalid_grant",
    "the provided authorization refresh token is invalid or was issued to another client",
);
const UNSUPPORTED_GRANT: OauthError = OauthError(
    StatusCode::BAD_REQUEST,
    "unsupported_grant_type",
    "grant type in request is not supported by the authorization server",
);
const INVALID_SCOPE: OauthError = OauthError(
    StatusCode::BAD_REQUEST,
    "invalid_scope",
    "The requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client",
);

/// Whether every scope of `asked` (space-separated) is one of `granted`.
pub(super) fn scope_within(asked: &str, granted: &str) -> bool {
    let granted: Vec<&str> = granted.split_whitespace().collect();
    let mut asked = asked.split_whitespace().peekable();
    asked.peek().is_some() && asked.all(|s| granted.contains(&s))
}

/// The client id of a `Basic` header whose id and secret are the application's.
fn client_of(headers: &HeaderMap, cfg: &EbaySimConfig) -> Result<String, OauthError> {
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or(INVALID_CLIENT)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(INVALID_CLIENT)?;
    match decoded.split_once(':') {
        Some((id, secret)) if id == cfg.client_id && secret == cfg.client_secret => {
            Ok(id.to_owned())
        }
        _ => Err(INVALID_CLIENT),
    }
}

/// `POST /identity/v1/oauth2/token`.
pub(super) async fn token(State(sim): State<EbaySim>, req: Request<Body>) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let cfg = sim.config();
    let received = request::read(
        req,
        ReadOptions {
            limit: BODY_LIMIT,
            json: false,
            file_fields: &[],
        },
    )
    .await;
    let mut params: BTreeMap<String, String> = received.params_body_prefixed();
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        params.insert("content-type".into(), ct.to_owned());
    }
    // The wire log shows the scheme and the client id, never the secret.
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let scheme = auth.split_whitespace().next().unwrap_or("");
        let shown = match client_of(&headers, &cfg) {
            Ok(id) => format!("{scheme} {id}:***"),
            Err(_) => format!("{scheme} (not the application's)"),
        };
        params.insert("authorization".into(), shown);
    }
    let result = answer(&sim, &cfg, &headers, &received.payload);
    let (status, body, error) = match result {
        Ok(v) => (StatusCode::OK, v, None),
        Err(OauthError(status, error, description)) => (
            status,
            json!({ "error": error, "error_description": description }),
            Some(error.to_owned()),
        ),
    };
    sim.wire().push(WireRecord {
        platform: PLATFORM,
        call: calls::OAUTH_TOKEN.to_owned(),
        method,
        path,
        params,
        files: Vec::new(),
        body_len: received.body_len,
        status: status.as_u16(),
        error,
    });
    (status, Json(body)).into_response()
}

fn answer(
    sim: &EbaySim,
    cfg: &EbaySimConfig,
    headers: &HeaderMap,
    payload: &Payload,
) -> Result<Value, OauthError> {
    let form = matches!(
        payload,
        Payload::Form {
            multipart: false,
            ..
        }
    ) || matches!(payload, Payload::Empty)
        && request::mime(headers) == "application/x-www-form-urlencoded";
    if !form {
        return Err(INVALID_REQUEST);
    }
    client_of(headers, cfg)?;
    let field = |name: &str| payload.text(name).filter(|v| !v.is_empty());
    let now = sim.clock().now_millis();
    match field("grant_type").ok_or(INVALID_REQUEST)? {
        "authorization_code" => {
            let (Some(code), Some(redirect)) = (field("code"), field("redirect_uri")) else {
                return Err(INVALID_REQUEST);
            };
            if redirect != cfg.ru_name {
                return Err(BAD_CODE);
            }
            let issued = sim
                .core()
                .state()
                .ledger
                .exchange_code(code, now, |_| true)
                .map_err(|_| BAD_CODE)?;
            Ok(json!({
                "access_token": issued.access_token,
                "expires_in": issued.access_expires_in(now),
                "refresh_token": issued.refresh_token.clone().unwrap_or_default(),
                "refresh_token_expires_in": issued.refresh_expires_in(now),
                "token_type": "User Access Token",
            }))
        }
        "refresh_token" => {
            let refresh = field("refresh_token").ok_or(INVALID_REQUEST)?;
            if field("scope").is_some_and(|scope| !scope_within(scope, &cfg.scope)) {
                return Err(INVALID_SCOPE);
            }
            let issued = sim
                .core()
                .state()
                .ledger
                .refresh(refresh, None, now)
                .map_err(|_| BAD_REFRESH)?;
            Ok(json!({
                "access_token": issued.access_token,
                "expires_in": issued.access_expires_in(now),
                "token_type": "User Access Token",
            }))
        }
        _ => Err(UNSUPPORTED_GRANT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_must_be_within_the_consent() {
        let granted = "a b c";
        assert!(scope_within("a", granted));
        assert!(scope_within("c a", granted));
        assert!(!scope_within("a d", granted));
        assert!(!scope_within("", granted));
    }
}
