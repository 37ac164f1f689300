//! Shopee's two token calls (Open Platform v2, "Authorization and Authentication";
//! `docs/platforms/shopee.md`, "Tokens"), public-type, signed `partner_id + path + timestamp`,
//! JSON bodies:
//!
//! - `POST /api/v2/auth/token/get` `{code, partner_id, shop_id | main_account_id}`: a code
//!   (single use, 10 minutes) for the first pair. A main account's pair serves every shop it
//!   authorized (`shop_id_list`, `merchant_id_list` in the answer).
//! - `POST /api/v2/auth/access_token/get` `{refresh_token, partner_id, shop_id | merchant_id}`:
//!   a new pair for that shop or merchant; **the refresh token presented is spent** (a second
//!   use is refused), and a main account's refresh token refreshed for one of its shops gives
//!   that shop tokens of its own.
//!
//! Both answer at the top level: `access_token`, `refresh_token`, `expire_in` (seconds),
//! `request_id`, `error` (`""`), `message` (`""`), and the refresh answer `partner_id` with
//! `shop_id` or `merchant_id`. A refused code or refresh token is `error_auth` (HTTP 403):
//! Shopee's pages read give no code of their own for it (the simulator's choice).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::auth::authenticate_public;
use super::calls::{envelope, recorded, ApiError};
use super::{is_shop, ShopeeSim, ShopeeSimConfig, ACCESS_TOKEN_GET_PATH};
use crate::request::{self, Payload, ReadOptions, Received};
use crate::tokens::Issued;
use crate::util::random_hex;

/// The largest body the token calls read.
const BODY_LIMIT: usize = 64 * 1024;

/// Answers `auth/token/get` or `auth/access_token/get` and records it.
pub(super) async fn handle(sim: ShopeeSim, req: Request<Body>, path: String) -> Response {
    let method = req.method().as_str().to_string();
    let config = sim.config();
    let received = request::read(
        req,
        ReadOptions {
            limit: BODY_LIMIT,
            json: true,
            file_fields: &[],
        },
    )
    .await;
    let now_ms = sim.clock().now_millis();
    let result = {
        let mut state = sim.state();
        state.counters.requests += 1;
        let result = if method != "POST" {
            Err(ApiError::param(format_args!("{path} only accepts POST"))
                .with_status(StatusCode::METHOD_NOT_ALLOWED))
        } else {
            authenticate_public(&path, &received, &config, now_ms)
                .and_then(|()| body(&received, &config))
                .and_then(|body| {
                    if path == ACCESS_TOKEN_GET_PATH {
                        refresh(&mut state.ledger, body, &config, now_ms)
                    } else {
                        exchange(&mut state.ledger, body, now_ms)
                    }
                })
        };
        if result.is_err() {
            state.counters.rejected += 1;
        }
        result
    };
    let request_id = random_hex(16);
    let answer = match result {
        Ok(mut fields) => {
            fields.insert("request_id".into(), json!(request_id));
            fields.insert("error".into(), json!(""));
            fields.insert("message".into(), json!(""));
            (StatusCode::OK, Value::Object(fields), None)
        }
        Err(e) => (
            e.status,
            envelope(e.error, &e.message, "", &request_id, json!({})),
            Some(e.error.to_string()),
        ),
    };
    let call = path.trim_start_matches("/api/v2/").to_string();
    recorded(&sim, call, method, path, &received, answer)
}

/// The JSON body, with `partner_id` the simulator's.
fn body<'a>(r: &'a Received, config: &ShopeeSimConfig) -> Result<&'a Map<String, Value>, ApiError> {
    let Payload::Json(body) = &r.payload else {
        return Err(ApiError::param(
            "the body must be a JSON object (Content-Type: application/json)",
        ));
    };
    match body.get("partner_id").and_then(Value::as_u64) {
        Some(id) if id == config.partner_id => Ok(body),
        Some(_) => Err(ApiError::param_exact("Invalid partner_id.")),
        None => Err(ApiError::param("partner_id is required (an integer)")),
    }
}

/// An integer member, if present (an integer also in a string is refused, as it is not one).
fn id(body: &Map<String, Value>, name: &str) -> Result<Option<u64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| ApiError::param(format_args!("{name} must be an integer"))),
    }
}

fn string<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::param(format_args!("{name} is required")))
}

fn pair_fields(issued: &Issued, now_ms: i64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "refresh_token".into(),
        json!(issued.refresh_token.clone().unwrap_or_default()),
    );
    m.insert("access_token".into(), json!(issued.access_token));
    m.insert("expire_in".into(), json!(issued.access_expires_in(now_ms)));
    m
}

/// `auth/token/get`.
fn exchange(
    ledger: &mut crate::tokens::TokenLedger,
    body: &Map<String, Value>,
    now_ms: i64,
) -> Result<Map<String, Value>, ApiError> {
    let code = string(body, "code")?;
    let wanted = match (id(body, "shop_id")?, id(body, "main_account_id")?) {
        (Some(shop), None) => format!("shop:{shop}"),
        (None, Some(main)) => format!("main_account:{main}"),
        (Some(_), Some(_)) => {
            return Err(ApiError::param("give shop_id or main_account_id, not both"))
        }
        (None, None) => return Err(ApiError::param("shop_id or main_account_id is required")),
    };
    let issued = ledger
        .exchange_code(code, now_ms, |g| g.credential == wanted)
        .map_err(|_| ApiError::new("error_auth", "Invalid code."))?;
    let mut fields = pair_fields(&issued, now_ms);
    if issued.grant.credential.starts_with("main_account:") {
        let ids = |prefix: &str| -> Vec<u64> {
            issued
                .grant
                .subjects
                .iter()
                .filter_map(|s| s.strip_prefix(prefix)?.parse().ok())
                .collect()
        };
        fields.insert("shop_id_list".into(), json!(ids("shop:")));
        fields.insert("merchant_id_list".into(), json!(ids("merchant:")));
    }
    Ok(fields)
}

/// `auth/access_token/get`.
fn refresh(
    ledger: &mut crate::tokens::TokenLedger,
    body: &Map<String, Value>,
    config: &ShopeeSimConfig,
    now_ms: i64,
) -> Result<Map<String, Value>, ApiError> {
    let refresh_token = string(body, "refresh_token")?;
    let (subject, key, value) = match (id(body, "shop_id")?, id(body, "merchant_id")?) {
        (Some(shop), None) if is_shop(config, shop) => (format!("shop:{shop}"), "shop_id", shop),
        (Some(_), None) => return Err(ApiError::param_exact("Invalid shop_id.")),
        (None, Some(m)) => (format!("merchant:{m}"), "merchant_id", m),
        (Some(_), Some(_)) => return Err(ApiError::param("give shop_id or merchant_id, not both")),
        (None, None) => return Err(ApiError::param("shop_id or merchant_id is required")),
    };
    let issued = ledger
        .refresh(refresh_token, Some(&subject), now_ms)
        .map_err(|_| ApiError::new("error_auth", "Invalid refresh_token."))?;
    let mut fields = pair_fields(&issued, now_ms);
    fields.insert("partner_id".into(), json!(config.partner_id));
    fields.insert(key.into(), json!(value));
    Ok(fields)
}
