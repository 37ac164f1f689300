//! The staged-upload host: the targets `stagedUploadsCreate` issues, and the requests that
//! fill them.
//!
//! A **POST** target (the shape of a cloud storage POST policy, as Shopify's targets are):
//! `url` `{host}/upload/{key}` and the parameters `Content-Type`, `success_action_status`,
//! `acl`, `key`, `x-goog-date`, `x-goog-credential`, `x-goog-algorithm`, `policy` (base64 JSON:
//! the expiry, the key, the content type and the `content-length-range`) and
//! `x-goog-signature` (HMAC-SHA256 of `policy` with the simulator's own key). The form must
//! carry every parameter with the value issued, in the order issued, then the file in a field
//! `file`, last.
//!
//! A **PUT** target: `url` `{host}/upload/{key}?X-Goog-Expires=…&X-Goog-Signature=…` and the
//! parameters `content_type` and `acl`, sent as the request's `Content-Type` and `acl`
//! headers; the body is the file.
//!
//! Either way the file's size must be the signed `fileSize` (an image staged without one: 1
//! byte to the largest image) and the target unexpired (sim clock). Refusals are the storage
//! host's XML `<Error><Code>…</Code><Message>…</Message></Error>`: 400 `EntityTooLarge`,
//! `EntityTooSmall`, `InvalidArgument` (a parameter missing, changed or out of order, the file
//! not last), `ExpiredToken`; 403 `SignatureDoesNotMatch`; 404 `NoSuchKey`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::schema::{StagedMediaUploadTarget, StagedUploadParameter};
use super::{calls, Resource, ShopifySim, ShopifySimConfig, Staged, StagedRecord, PLATFORM};
use crate::request::{self, Field, Payload, ReadOptions};
use crate::util::{md5_hex, random_hex};
use crate::WireRecord;

fn sign(key: &str, text: &str) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The staged key in a resource URL (`{host}/tmp/{key}/{filename}`).
pub(crate) fn key_of_resource(url: &str) -> Option<String> {
    let rest = url.split("/tmp/").nth(1)?;
    let key = rest.split('/').next()?;
    (!key.is_empty()).then(|| key.to_owned())
}

/// Issues a target for one `StagedUploadInput`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn issue(
    sim: &ShopifySim,
    cfg: &ShopifySimConfig,
    resource: Resource,
    filename: &str,
    mime: &str,
    size: u64,
    size_signed: bool,
    method: &str,
    now_ms: i64,
) -> StagedMediaUploadTarget {
    let key = random_hex(12);
    let base = sim.staged_base();
    let expires_ms =
        now_ms.saturating_add(i64::try_from(cfg.staged_ttl.as_millis()).unwrap_or(i64::MAX));
    let object = format!("tmp/{key}/{filename}");
    let (min, max) = if size_signed { (size, size) } else { (1, size) };
    let (url, parameters) = if method == "POST" {
        let policy = serde_json::json!({
            "expiration_ms": expires_ms,
            "conditions": [
                ["eq", "$key", object],
                ["eq", "$Content-Type", mime],
                ["content-length-range", min, max],
            ],
        });
        let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let signature = sign(sim.signing_key(), &policy);
        (
            format!("{base}/upload/{key}"),
            vec![
                ("Content-Type".to_owned(), mime.to_owned()),
                ("success_action_status".to_owned(), "201".to_owned()),
                ("acl".to_owned(), "private".to_owned()),
                ("key".to_owned(), object.clone()),
                ("x-goog-date".to_owned(), format!("{}", now_ms / 1000)),
                (
                    "x-goog-credential".to_owned(),
                    "staged-uploads@shopify-sim".to_owned(),
                ),
                (
                    "x-goog-algorithm".to_owned(),
                    "GOOG4-HMAC-SHA256".to_owned(),
                ),
                ("policy".to_owned(), policy),
                ("x-goog-signature".to_owned(), signature),
            ],
        )
    } else {
        let signature = sign(sim.signing_key(), &format!("{key}\n{expires_ms}\n{mime}"));
        (
            format!("{base}/upload/{key}?X-Goog-Expires={expires_ms}&X-Goog-Signature={signature}"),
            vec![
                ("content_type".to_owned(), mime.to_owned()),
                ("acl".to_owned(), "private".to_owned()),
            ],
        )
    };
    let target = StagedMediaUploadTarget {
        url: Some(url),
        resource_url: Some(format!("{base}/{object}")),
        parameters: parameters
            .iter()
            .map(|(n, v)| StagedUploadParameter {
                name: n.clone(),
                value: v.clone(),
            })
            .collect(),
    };
    let mut st = sim.core().state();
    st.staged.insert(
        key,
        Staged {
            resource,
            filename: filename.to_owned(),
            mime: mime.to_owned(),
            size,
            exact: size_signed,
            method: method.to_owned(),
            expires_ms,
            parameters,
            bytes: None,
            evicted: false,
            uploaded_order: 0,
            requests: Vec::new(),
        },
    );
    target
}

/// A refusal in the storage host's XML.
fn xml_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")],
        format!(
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ),
    )
        .into_response()
}

struct Refusal(StatusCode, &'static str, String);

/// The storage host's "slow down", while the simulator is told to throttle
/// ([`ShopifySim::set_throttled`]): 429 `SlowDown`.
fn slow_down() -> Refusal {
    Refusal(
        StatusCode::TOO_MANY_REQUESTS,
        "SlowDown",
        "Please reduce your request rate.".into(),
    )
}

fn record(
    sim: &ShopifySim,
    method: &str,
    path: String,
    params: std::collections::BTreeMap<String, String>,
    file_len: Option<usize>,
    body_len: usize,
    outcome: &Result<(), Refusal>,
) {
    sim.core().wire().push(WireRecord {
        platform: PLATFORM,
        call: calls::STAGED_UPLOAD.into(),
        method: method.into(),
        path,
        params,
        files: file_len
            .map(|l| vec![("file".to_owned(), l)])
            .unwrap_or_default(),
        body_len,
        status: match outcome {
            Ok(()) => {
                if method == "POST" {
                    201
                } else {
                    200
                }
            }
            Err(Refusal(s, _, _)) => s.as_u16(),
        },
        error: outcome
            .as_ref()
            .err()
            .map(|Refusal(_, c, _)| (*c).to_owned()),
    });
}

/// Checks size and expiry, then stores the file.
fn take(sim: &ShopifySim, key: &str, file: Bytes) -> Result<(), Refusal> {
    let cfg = sim.config();
    let now = sim.clock().now_millis();
    let mut st = sim.core().state();
    let order = st.uploads_finished;
    let s = st.staged.get_mut(key).ok_or_else(|| {
        Refusal(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.".into(),
        )
    })?;
    if now >= s.expires_ms {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "The provided token has expired. Request signature expired.".into(),
        ));
    }
    let len = file.len() as u64;
    let (min, max) = if s.exact {
        (s.size, s.size)
    } else {
        (1, s.size)
    };
    if len > max {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            format!("Your proposed upload is larger than the maximum object size specified in your Policy Document. ({len} > {max})"),
        ));
    }
    if len < min {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "EntityTooSmall",
            format!("Your proposed upload is smaller than the minimum object size specified in your Policy Document. ({len} < {min})"),
        ));
    }
    s.bytes = Some(file);
    s.evicted = false;
    s.uploaded_order = order;
    st.uploads_finished += 1;
    st.enforce_retention(cfg.retention.max_assembled_bytes);
    Ok(())
}

fn note(sim: &ShopifySim, key: &str, size: u64, outcome: &Result<(), Refusal>) {
    if let Some(s) = sim.core().state().staged.get_mut(key) {
        if s.requests.len() < 64 {
            s.requests.push(StagedRecord {
                size,
                accepted: outcome.is_ok(),
                error: outcome
                    .as_ref()
                    .err()
                    .map(|Refusal(_, c, _)| (*c).to_owned()),
            });
        }
    }
}

fn answer(sim: &ShopifySim, key: &str, outcome: Result<(), Refusal>, post: bool) -> Response {
    match outcome {
        Err(Refusal(status, code, message)) => xml_error(status, code, &message),
        Ok(()) => {
            let st = sim.core().state();
            let etag = st
                .staged
                .get(key)
                .and_then(|s| s.bytes.as_ref())
                .map(|b| md5_hex(b))
                .unwrap_or_default();
            let object = st
                .staged
                .get(key)
                .map(|s| format!("tmp/{key}/{}", s.filename))
                .unwrap_or_default();
            drop(st);
            let mut response = if post {
                (
                    StatusCode::CREATED,
                    [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")],
                    format!(
                        "<?xml version='1.0' encoding='UTF-8'?><PostResponse><Location>{}/{object}</Location><Bucket>shopify-staged-uploads</Bucket><Key>{object}</Key><ETag>\"{etag}\"</ETag></PostResponse>",
                        sim.staged_base()
                    ),
                )
                    .into_response()
            } else {
                StatusCode::OK.into_response()
            };
            if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
                response.headers_mut().insert(header::ETAG, v);
            }
            response
        }
    }
}

/// `POST /upload/{key}`: the form, as the target's parameters say.
pub(crate) async fn post_form(
    State(sim): State<ShopifySim>,
    Path(key): Path<String>,
    req: Request<Body>,
) -> Response {
    let limit = sim.config().max_request_bytes;
    let received = request::read(
        req,
        ReadOptions {
            limit,
            json: false,
            file_fields: &["file"],
        },
    )
    .await;
    let params = received.params_body_prefixed();
    let path = received.path.clone();
    let (outcome, file_len) = check_form(&sim, &key, &received.payload);
    let outcome = match outcome {
        Ok(_) if sim.core().state().force_throttle => Err(slow_down()),
        Ok(file) => take(&sim, &key, file),
        Err(r) => Err(r),
    };
    note(&sim, &key, file_len.unwrap_or(0) as u64, &outcome);
    record(
        &sim,
        "POST",
        path,
        params,
        file_len,
        received.body_len,
        &outcome,
    );
    answer(&sim, &key, outcome, true)
}

fn check_form(
    sim: &ShopifySim,
    key: &str,
    payload: &Payload,
) -> (Result<Bytes, Refusal>, Option<usize>) {
    let bad = |m: String| Err(Refusal(StatusCode::BAD_REQUEST, "InvalidArgument", m));
    let fields = match payload {
        Payload::Form {
            fields,
            multipart: true,
        } => fields,
        Payload::TooLarge => {
            return (
                Err(Refusal(
                    StatusCode::BAD_REQUEST,
                    "EntityTooLarge",
                    "The request body is too large.".into(),
                )),
                None,
            )
        }
        _ => return (bad("Expected a multipart/form-data body.".into()), None),
    };
    let file_len = fields.iter().find_map(|f| match f {
        Field::File(p) => Some(p.bytes.len()),
        _ => None,
    });
    let issued = match sim.core().state().staged.get(key) {
        Some(s) if s.method == "POST" => s.parameters.clone(),
        Some(_) => return (bad("This target takes a PUT.".into()), file_len),
        None => {
            return (
                Err(Refusal(
                    StatusCode::NOT_FOUND,
                    "NoSuchKey",
                    "The specified key does not exist.".into(),
                )),
                file_len,
            )
        }
    };
    let mut texts = Vec::new();
    let mut file = None;
    for (i, f) in fields.iter().enumerate() {
        match f {
            Field::Text { name, value, .. } => {
                if file.is_some() {
                    return (
                        bad(format!(
                            "Field {name} follows the file: the file must be the last field."
                        )),
                        file_len,
                    );
                }
                texts.push((name.clone(), value.clone()));
            }
            Field::File(p) => {
                if p.name != "file" || i + 1 != fields.len() {
                    return (
                        bad("The file must be the last field, named file.".into()),
                        file_len,
                    );
                }
                file = Some(p.bytes.clone());
            }
        }
    }
    if texts != issued {
        let first_diff = issued
            .iter()
            .zip(texts.iter())
            .position(|(a, b)| a != b)
            .map(|i| issued[i].0.clone())
            .or_else(|| issued.get(texts.len()).map(|p| p.0.clone()))
            .unwrap_or_else(|| "an extra field".into());
        return (
            bad(format!("The form's parameters differ from the target's (first at {first_diff}): send each, as issued, in order.")),
            file_len,
        );
    }
    let policy = texts
        .iter()
        .find(|(n, _)| n == "policy")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let signature = texts
        .iter()
        .find(|(n, _)| n == "x-goog-signature")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if sign(sim.signing_key(), &policy) != signature {
        return (
            Err(Refusal(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided."
                    .into(),
            )),
            file_len,
        );
    }
    match file {
        Some(f) => (Ok(f), file_len),
        None => (bad("The form has no file field.".into()), file_len),
    }
}

/// `PUT /upload/{key}?X-Goog-Expires=…&X-Goog-Signature=…`: the bytes, with the target's
/// parameters as headers.
pub(crate) async fn put_bytes(
    State(sim): State<ShopifySim>,
    Path(key): Path<String>,
    req: Request<Body>,
) -> Response {
    let limit = sim.config().max_request_bytes;
    let path = req.uri().path().to_owned();
    let query = request::Query::parse(req.uri().query());
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let acl = req
        .headers()
        .get("acl")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = axum::body::to_bytes(req.into_body(), limit).await;
    let mut params = std::collections::BTreeMap::new();
    params.insert("content-type".to_owned(), content_type.clone());
    params.insert("acl".to_owned(), acl.clone());
    let (outcome, len) = match body {
        Err(_) => (
            Err(Refusal(
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                "The request body is too large or was cut.".into(),
            )),
            0,
        ),
        Ok(bytes) => {
            let len = bytes.len();
            let issued = sim
                .core()
                .state()
                .staged
                .get(&key)
                .map(|s| (s.method.clone(), s.mime.clone(), s.expires_ms));
            let checked = match issued {
                None => Err(Refusal(
                    StatusCode::NOT_FOUND,
                    "NoSuchKey",
                    "The specified key does not exist.".into(),
                )),
                Some((m, _, _)) if m != "PUT" => Err(Refusal(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "This target takes a POST form.".into(),
                )),
                Some((_, mime, expires)) => {
                    let expected = sign(sim.signing_key(), &format!("{key}\n{expires}\n{mime}"));
                    if query.get("X-Goog-Signature") != Some(expected.as_str())
                        || query.get("X-Goog-Expires") != Some(expires.to_string().as_str())
                    {
                        Err(Refusal(
                            StatusCode::FORBIDDEN,
                            "SignatureDoesNotMatch",
                            "The request signature we calculated does not match the signature you provided.".into(),
                        ))
                    } else if content_type != mime || acl != "private" {
                        Err(Refusal(
                            StatusCode::BAD_REQUEST,
                            "InvalidArgument",
                            format!("Content-Type {content_type:?} and acl {acl:?} must be the target's content_type and acl."),
                        ))
                    } else {
                        Ok(())
                    }
                }
            };
            let checked = match checked {
                Ok(()) if sim.core().state().force_throttle => Err(slow_down()),
                other => other,
            };
            (checked.and_then(|()| take(&sim, &key, bytes)), len)
        }
    };
    note(&sim, &key, len as u64, &outcome);
    record(&sim, "PUT", path, params, Some(len), len, &outcome);
    answer(&sim, &key, outcome, false)
}

/// Anything else on the staged host.
pub(crate) async fn unknown(State(sim): State<ShopifySim>, req: Request<Body>) -> Response {
    let outcome = Err(Refusal(
        StatusCode::NOT_FOUND,
        "NoSuchKey",
        "The specified key does not exist.".into(),
    ));
    record(
        &sim,
        req.method().as_str(),
        req.uri().path().to_owned(),
        Default::default(),
        None,
        0,
        &outcome,
    );
    xml_error(
        StatusCode::NOT_FOUND,
        "NoSuchKey",
        "The specified key does not exist.",
    )
}
