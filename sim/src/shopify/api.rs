//! The Admin API's HTTP surface: `POST /admin/api/{version}/graphql.json` (the access token,
//! the cost-based throttle, then the document executed by the schema) and
//! `POST /admin/oauth/access_token` (the code exchange and the refresh).

use std::collections::BTreeMap;

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{calls, ShopifySim, PLATFORM};
use crate::request::{self, json_text, Payload, ReadOptions};
use crate::tokens::secs_until;
use crate::WireRecord;

/// The largest GraphQL or token request read.
const BODY_LIMIT: usize = 1 << 20;

/// Shopify's answer to a missing, unknown, expired or revoked access token.
const INVALID_TOKEN: &str =
    "[API] Invalid API key or access token (unrecognized login or wrong password)";

struct Exchange {
    call: String,
    path: String,
    params: BTreeMap<String, String>,
    body_len: usize,
}

impl Exchange {
    fn finish(
        self,
        sim: &ShopifySim,
        status: StatusCode,
        error: Option<String>,
        body: Value,
    ) -> Response {
        sim.core().wire().push(WireRecord {
            platform: PLATFORM,
            call: self.call,
            method: "POST".into(),
            path: self.path,
            params: self.params,
            files: Vec::new(),
            body_len: self.body_len,
            status: status.as_u16(),
            error,
        });
        (status, Json(body)).into_response()
    }
}

fn version_ok(v: &str) -> bool {
    v == "unstable"
        || (v.len() == 7
            && v.as_bytes()[4] == b'-'
            && v[..4].bytes().all(|b| b.is_ascii_digit())
            && v[5..].bytes().all(|b| b.is_ascii_digit()))
}

fn authorized(sim: &ShopifySim, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let cfg = sim.config();
    let now = sim.clock().now_millis();
    let mut st = sim.core().state();
    if token == cfg.access_token && !st.static_revoked {
        return true;
    }
    st.ledger.check_access(token, None, now).is_ok()
}

/// The operation's type and its root fields' names.
fn operation_of(query: &str, name: Option<&str>) -> Option<(OperationType, Vec<String>)> {
    let doc = async_graphql::parser::parse_query(query).ok()?;
    let op = match doc.operations {
        DocumentOperations::Single(op) => op.node,
        DocumentOperations::Multiple(ops) => {
            let chosen = match name {
                Some(n) => ops.into_iter().find(|(k, _)| k.as_str() == n)?.1,
                None => ops.into_iter().next()?.1,
            };
            chosen.node
        }
    };
    let fields = op
        .selection_set
        .node
        .items
        .iter()
        .filter_map(|s| match &s.node {
            Selection::Field(f) => Some(f.node.name.node.to_string()),
            _ => None,
        })
        .collect();
    Some((op.ty, fields))
}

/// `POST /admin/api/{version}/graphql.json`.
pub(super) async fn graphql(
    State(sim): State<ShopifySim>,
    Path(version): Path<String>,
    req: Request<Body>,
) -> Response {
    let headers = req.headers().clone();
    let path = req.uri().path().to_owned();
    let body = axum::body::to_bytes(req.into_body(), BODY_LIMIT).await;
    let body_len = body.as_ref().map(|b| b.len()).unwrap_or(0);
    let mut ex = Exchange {
        call: calls::GRAPHQL.into(),
        path,
        params: BTreeMap::new(),
        body_len,
    };
    if !version_ok(&version) {
        return ex.finish(
            &sim,
            StatusCode::NOT_FOUND,
            Some("404".into()),
            json!({"errors": "Not Found"}),
        );
    }
    let request: Option<async_graphql::Request> =
        body.ok().and_then(|b| serde_json::from_slice(&b).ok());
    let Some(request) = request else {
        return ex.finish(
            &sim,
            StatusCode::BAD_REQUEST,
            Some("400".into()),
            json!({"errors": {"query": "Required parameter missing or invalid"}}),
        );
    };
    let op = operation_of(&request.query, request.operation_name.as_deref());
    if let Some((_, fields)) = &op {
        if let Some(first) = fields.first() {
            ex.call = first.clone();
        }
    }
    if let Ok(Value::Object(vars)) = serde_json::to_value(&request.variables) {
        for (k, v) in vars {
            ex.params.insert(k, json_text(&v));
        }
    }
    if !authorized(&sim, &headers) {
        return ex.finish(
            &sim,
            StatusCode::UNAUTHORIZED,
            Some("401".into()),
            json!({"errors": INVALID_TOKEN}),
        );
    }
    let cfg = sim.config();
    let requested = match &op {
        Some((OperationType::Mutation, f)) => cfg.mutation_cost * f.len().max(1) as f64,
        Some((_, f)) => cfg.query_cost * f.len().max(1) as f64,
        None => cfg.query_cost,
    };
    let now = sim.clock().now_millis();
    let (throttled, available) = {
        let mut st = sim.core().state();
        let (points, at) = st.bucket;
        let elapsed = now.saturating_sub(at).max(0) as f64 / 1000.0;
        let points = (points + elapsed * cfg.restore_rate).min(cfg.bucket_size);
        let throttled = st.force_throttle || points < requested;
        let left = if throttled {
            points
        } else {
            points - requested
        };
        st.bucket = (left, now);
        (throttled, left)
    };
    let throttle_status = json!({
        "maximumAvailable": cfg.bucket_size,
        "currentlyAvailable": available.floor(),
        "restoreRate": cfg.restore_rate,
    });
    if throttled {
        return ex.finish(
            &sim,
            StatusCode::OK,
            Some("THROTTLED".into()),
            json!({
                "errors": [{
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }],
                "extensions": {"cost": {
                    "requestedQueryCost": requested,
                    "actualQueryCost": null,
                    "throttleStatus": throttle_status,
                }},
            }),
        );
    }
    let response = super::schema::schema()
        .execute(request.data(sim.clone()))
        .await;
    let error = response
        .errors
        .first()
        .map(|e| e.message.clone())
        .or_else(|| first_user_error(&response.data));
    let mut out = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut out {
        map.insert(
            "extensions".into(),
            json!({"cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": requested,
                "throttleStatus": throttle_status,
            }}),
        );
    }
    ex.finish(&sim, StatusCode::OK, error, out)
}

/// The first user error's code (or message) in a payload, for the wire log.
fn first_user_error(data: &async_graphql::Value) -> Option<String> {
    let data = serde_json::to_value(data).ok()?;
    let payload = data.as_object()?.values().next()?;
    ["userErrors", "mediaUserErrors"].iter().find_map(|k| {
        let first = payload.get(*k)?.as_array()?.first()?;
        first
            .get("code")
            .and_then(Value::as_str)
            .or_else(|| first.get("message").and_then(Value::as_str))
            .map(str::to_owned)
    })
}

fn oauth_refusal(status: StatusCode, error: &str, description: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// `POST /admin/oauth/access_token`, JSON or form: `client_id`, `client_secret`, then `code`
/// (with `expiring=1` for an expiring offline token) or `grant_type=refresh_token` and
/// `refresh_token`.
pub(super) async fn token(State(sim): State<ShopifySim>, req: Request<Body>) -> Response {
    let received = request::read(
        req,
        ReadOptions {
            limit: BODY_LIMIT,
            json: true,
            file_fields: &[],
        },
    )
    .await;
    let fields: BTreeMap<String, String> = match &received.payload {
        Payload::Json(map) => map.iter().map(|(k, v)| (k.clone(), json_text(v))).collect(),
        Payload::Form { .. } => received
            .payload
            .texts()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let mut params: BTreeMap<String, String> = fields.clone();
    for secret in ["client_secret", "refresh_token", "code"] {
        if params.contains_key(secret) {
            params.insert(secret.into(), "***".into());
        }
    }
    let ex = Exchange {
        call: calls::OAUTH_TOKEN.into(),
        path: received.path.clone(),
        params,
        body_len: received.body_len,
    };
    let cfg = sim.config();
    let now = sim.clock().now_millis();
    let get = |k: &str| fields.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let (status, body) = if get("client_id") != Some(cfg.client_id.as_str())
        || get("client_secret") != Some(cfg.client_secret.as_str())
    {
        oauth_refusal(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: unknown client_id or wrong client_secret.",
        )
    } else if get("grant_type") == Some("refresh_token") {
        match get("refresh_token") {
            None => oauth_refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "refresh_token is required.",
            ),
            Some(rt) => {
                let refreshed = sim.core().state().ledger.refresh(rt, None, now);
                match refreshed {
                    Ok(issued) => (
                        StatusCode::OK,
                        json!({
                            "access_token": issued.access_token,
                            "scope": cfg.scope,
                            "expires_in": issued.access_expires_in(now),
                            "refresh_token": issued.refresh_token,
                            "refresh_token_expires_in": issued.refresh_expires_in(now),
                        }),
                    ),
                    Err(why) => oauth_refusal(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        &format!("The refresh token is invalid, expired, revoked or was already replaced ({why:?})."),
                    ),
                }
            }
        }
    } else if let Some(code) = get("code") {
        let expiring = matches!(get("expiring"), Some("1") | Some("true"));
        let exchanged = sim.core().state().ledger.exchange_code(code, now, |_| true);
        match exchanged {
            Ok(issued) if expiring => (
                StatusCode::OK,
                json!({
                    "access_token": issued.access_token,
                    "scope": cfg.scope,
                    "expires_in": issued.access_expires_in(now),
                    "refresh_token": issued.refresh_token,
                    "refresh_token_expires_in": issued.refresh_expires_ms.map(|at| secs_until(at, now)),
                }),
            ),
            // A non-expiring offline token: "the same access token each time".
            Ok(_) => (
                StatusCode::OK,
                json!({"access_token": cfg.access_token, "scope": cfg.scope}),
            ),
            Err(why) => oauth_refusal(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                &format!("The authorization code is invalid, expired or used ({why:?})."),
            ),
        }
    } else {
        oauth_refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Give code, or grant_type=refresh_token and refresh_token.",
        )
    };
    let error = body.get("error").and_then(Value::as_str).map(str::to_owned);
    ex.finish(&sim, status, error, body)
}

/// Anything else: Shopify's 404.
pub(super) async fn unknown(State(sim): State<ShopifySim>, req: Request<Body>) -> Response {
    let ex = Exchange {
        call: "unknown".into(),
        path: req.uri().path().to_owned(),
        params: BTreeMap::new(),
        body_len: 0,
    };
    ex.finish(
        &sim,
        StatusCode::NOT_FOUND,
        Some("404".into()),
        json!({"errors": "Not Found"}),
    )
}
