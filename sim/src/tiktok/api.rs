//! The calls: the common parameters and signature, the token header, the multipart body, the
//! documented limits, the envelope. Every request is written to the wire log.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{calls, StoredFile, TiktokSim, TiktokSimConfig, PLATFORM};
use crate::request::{self, Payload, Query, ReadOptions, Received};
use crate::tokens::AccessRefusal;
use crate::util::random_hex;
use crate::WireRecord;

/// The codes the simulator answers with (`docs/simulators/tiktok.md` gives the source of
/// each, and which are the simulator's own choice).
pub mod codes {
    /// Success.
    pub const OK: i64 = 0;
    /// An invalid access token (the 105 group is the token's).
    pub const ACCESS_TOKEN_INVALID: i64 = 105_001;
    /// "access token is expired, please refresh it".
    pub const ACCESS_TOKEN_EXPIRED: i64 = 105_002;
    /// "Invalid credentials. The 'sign' query parameter is invalid." (also the simulator's
    /// answer to an unknown `app_key` or app secret).
    pub const INVALID_SIGN: i64 = 106_001;
    /// "rt has expired".
    pub const REFRESH_TOKEN_EXPIRED: i64 = 36_004_001;
    /// "can not find related auth record": an unknown, used or revoked code or refresh token.
    pub const NO_AUTH_RECORD: i64 = 36_004_005;
    /// Too many requests.
    pub const TOO_MANY_REQUESTS: i64 = 36_009_002;
    /// Internal error.
    pub const INTERNAL_ERROR: i64 = 36_009_003;
    /// A parameter missing, malformed or not taken; a malformed multipart body; no `data`.
    pub const INVALID_PARAMETER: i64 = 36_009_004;
    /// An invalid file (format, emptiness, video aspect ratio).
    pub const INVALID_FILE: i64 = 12_038_002;
    /// A file over its size limit.
    pub const FILE_TOO_LARGE: i64 = 12_038_005;
    /// Image dimensions over the limit.
    pub const DIMENSIONS_TOO_LARGE: i64 = 12_038_014;
    /// An image format not supported.
    pub const FORMAT_NOT_SUPPORTED: i64 = 12_038_015;
}

/// A refusal: HTTP status, code, message, `Retry-After` seconds.
struct Refusal(StatusCode, i64, String, Option<u64>);

fn refuse(status: StatusCode, code: i64, message: impl Into<String>) -> Refusal {
    Refusal(status, code, message.into(), None)
}

fn param_error(message: impl Into<String>) -> Refusal {
    refuse(StatusCode::OK, codes::INVALID_PARAMETER, message)
}

fn envelope(code: i64, message: &str, data: Value) -> Value {
    json!({
        "code": code,
        "message": message,
        "request_id": random_hex(17).to_uppercase(),
        "data": data,
    })
}

struct Log {
    call: &'static str,
    method: String,
    path: String,
    params: BTreeMap<String, String>,
    files: Vec<(String, usize)>,
    body_len: usize,
}

impl Log {
    fn new(call: &'static str, received: &Received) -> Self {
        // The query as received, the app secret and token-call secrets masked.
        let params = received
            .query
            .0
            .iter()
            .map(|(k, v)| {
                let shown = match k.as_str() {
                    "app_secret" | "refresh_token" | "auth_code" | "access_token" => "***".into(),
                    _ => v.clone(),
                };
                (k.clone(), shown)
            })
            .collect();
        Log {
            call,
            method: received.method.to_string(),
            path: received.path.clone(),
            params,
            files: Vec::new(),
            body_len: 0,
        }
    }

    fn finish(self, sim: &TiktokSim, result: Result<Value, Refusal>) -> Response {
        let (status, body, error, retry_after) = match result {
            Ok(data) => (
                StatusCode::OK,
                envelope(codes::OK, "Success", data),
                None,
                None,
            ),
            Err(Refusal(status, code, message, retry_after)) => (
                status,
                envelope(code, &message, Value::Null),
                Some(code.to_string()),
                retry_after,
            ),
        };
        sim.wire().push(WireRecord {
            platform: PLATFORM,
            call: self.call.to_string(),
            method: self.method,
            path: self.path,
            params: self.params,
            files: self.files,
            body_len: self.body_len,
            status: status.as_u16(),
            error,
        });
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }
}

/// The signature of a request to `path` with `query` and `body` (`None`: multipart or none).
pub fn sign(
    app_secret: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&[u8]>,
) -> String {
    let mut pairs: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "sign" && k != "access_token")
        .collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut message = Vec::new();
    message.extend_from_slice(app_secret.as_bytes());
    message.extend_from_slice(path.as_bytes());
    for (k, v) in pairs {
        message.extend_from_slice(k.as_bytes());
        message.extend_from_slice(v.as_bytes());
    }
    if let Some(body) = body {
        message.extend_from_slice(body);
    }
    message.extend_from_slice(app_secret.as_bytes());
    let mut mac = match Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(&message);
    hex::encode(mac.finalize().into_bytes())
}

/// The common checks of an open API call, before its body is read: the rate limit,
/// `app_key`, `timestamp`, `sign` (over no body: the calls checked here are multipart or
/// GET), the token, and no `shop_cipher` (none of these calls takes one).
fn check_call(
    sim: &TiktokSim,
    cfg: &TiktokSimConfig,
    received: &Received,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    if sim.core().state().force_rate_limit {
        return Err(Refusal(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_REQUESTS,
            "Too many requests. Please try again later.".into(),
            Some(1),
        ));
    }
    let q = &received.query;
    if q.non_empty("app_key") != Some(cfg.app_key.as_str()) {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            codes::INVALID_SIGN,
            "Invalid credentials. The 'app_key' query parameter is invalid.",
        ));
    }
    if !q
        .non_empty("timestamp")
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(param_error("The 'timestamp' query parameter is invalid."));
    }
    let expected = sign(&cfg.app_secret, &received.path, &q.0, None);
    if q.get("sign") != Some(expected.as_str()) {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            codes::INVALID_SIGN,
            "Invalid credentials. The 'sign' query parameter is invalid.",
        ));
    }
    let token = headers
        .get("x-tts-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = sim.clock().now_millis();
    match sim.core().state().ledger.check_access(token, None, now) {
        Ok(_) => {}
        Err(AccessRefusal::Expired) => {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                codes::ACCESS_TOKEN_EXPIRED,
                "access token is expired, please refresh it",
            ))
        }
        Err(_) => {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                codes::ACCESS_TOKEN_INVALID,
                "Invalid credentials. The 'x-tts-access-token' header is invalid.",
            ))
        }
    }
    if q.has("shop_cipher") {
        return Err(param_error(
            "The 'shop_cipher' query parameter is not required.",
        ));
    }
    Ok(())
}

/// Reads and drops a body (up to the request limit).
async fn drain(cfg: &TiktokSimConfig, body: Body) {
    let _ = axum::body::to_bytes(body, cfg.max_request_bytes).await;
}

/// Reads a multipart body whose one `data` part is the file: anything else is refused with
/// `36009004`, never accepted.
async fn multipart_body(
    cfg: &TiktokSimConfig,
    received: &mut Received,
    parts: axum::http::request::Parts,
    body: Body,
    log: &mut Log,
) -> Result<(Bytes, Payload), Refusal> {
    if request::mime(&parts.headers) != "multipart/form-data" {
        return Err(param_error("The request body must be multipart/form-data."));
    }
    request::read_body(
        received,
        parts,
        body,
        ReadOptions {
            limit: cfg.max_request_bytes,
            json: false,
            file_fields: &["data"],
        },
    )
    .await;
    log.body_len = received.body_len;
    log.files = received.file_sizes();
    for (k, v) in received.payload.texts() {
        log.params.insert(format!("body.{k}"), v.to_string());
    }
    let payload = std::mem::replace(&mut received.payload, Payload::Empty);
    match &payload {
        Payload::Form {
            multipart: true, ..
        } => {}
        Payload::TooLarge => {
            return Err(refuse(
                StatusCode::OK,
                codes::FILE_TOO_LARGE,
                "The file size exceeds the limit.",
            ))
        }
        Payload::Malformed(why) | Payload::ReadFailed(why) | Payload::Unsupported(why) => {
            return Err(param_error(format!("Invalid request body: {why}.")))
        }
        _ => return Err(param_error("The request body must be multipart/form-data.")),
    }
    let files = payload.files("data");
    let data = match files.as_slice() {
        [one] => one.bytes.clone(),
        [] => return Err(param_error("The 'data' field is required.")),
        _ => return Err(param_error("Only one 'data' file may be uploaded.")),
    };
    if payload.all_files().any(|f| f.name != "data") {
        return Err(param_error("Unknown file field: only 'data' is taken."));
    }
    Ok((data, payload))
}

/// A video container, a PDF, or neither, by magic bytes.
fn file_format(b: &[u8]) -> Option<&'static str> {
    let at = |i: usize, s: &[u8]| b.len() >= i + s.len() && &b[i..i + s.len()] == s;
    if at(4, b"ftyp") {
        return Some(if at(8, b"qt  ") {
            "MOV"
        } else if at(8, b"3gp") || at(8, b"3g2") {
            "3GP"
        } else {
            "MP4"
        });
    }
    if at(4, b"moov") || at(4, b"mdat") || at(4, b"wide") || at(4, b"free") {
        return Some("MOV");
    }
    if at(0, b"%PDF-") {
        return Some("PDF");
    }
    if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        // EBML: MKV, or WEBM (its DocType).
        let head = &b[..b.len().min(64)];
        let webm = head.windows(4).any(|w| w == b"webm");
        return Some(if webm { "WEBM" } else { "MKV" });
    }
    if at(0, b"RIFF") && at(8, b"AVI ") {
        return Some("AVI");
    }
    if at(0, b"FLV") {
        return Some("FLV");
    }
    if at(0, &[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]) {
        return Some("WMV");
    }
    if at(0, &[0x00, 0x00, 0x01, 0xBA]) || at(0, &[0x00, 0x00, 0x01, 0xB3]) {
        return Some("MPEG");
    }
    None
}

/// The width and height of the first MP4/MOV track whose header states a picture size
/// (`moov/trak/tkhd`, 16.16 fixed point), when there is one.
fn track_size(b: &[u8]) -> Option<(u32, u32)> {
    fn boxes(b: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut at = 0usize;
        std::iter::from_fn(move || {
            let head = b.get(at..at + 8)?;
            let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let kind = &head[4..8];
            let (start, end) = match size {
                1 => {
                    let big = b.get(at + 8..at + 16)?;
                    let n = u64::from_be_bytes(big.try_into().ok()?) as usize;
                    (at + 16, at.checked_add(n)?)
                }
                0 => (at + 8, b.len()),
                n if n >= 8 => (at + 8, at.checked_add(n)?),
                _ => return None,
            };
            let body = b.get(start..end.min(b.len()))?;
            at = end;
            Some((kind, body))
        })
    }
    let (_, moov) = boxes(b).find(|(k, _)| *k == b"moov")?;
    for (kind, trak) in boxes(moov) {
        if kind != b"trak" {
            continue;
        }
        if let Some((_, tkhd)) = boxes(trak).find(|(k, _)| *k == b"tkhd") {
            if tkhd.len() >= 8 {
                let n = tkhd.len();
                let w = u32::from_be_bytes(tkhd[n - 8..n - 4].try_into().ok()?) >> 16;
                let h = u32::from_be_bytes(tkhd[n - 4..n].try_into().ok()?) >> 16;
                if w > 0 && h > 0 {
                    return Some((w, h));
                }
            }
        }
    }
    None
}

/// "Do not use additional periods, except the one preceding the file extension. Do not begin
/// the name with symbols. Do not include spaces."
fn name_ok(name: &str) -> bool {
    !name.contains(char::is_whitespace)
        && name.matches('.').count() <= 1
        && name.chars().next().is_some_and(char::is_alphanumeric)
}

/// `POST /product/202309/files/upload`.
pub(super) async fn files_upload(State(sim): State<TiktokSim>, req: Request<Body>) -> Response {
    let (mut received, parts, body) = request::head(req);
    let mut log = Log::new(calls::FILES_UPLOAD, &received);
    let cfg = sim.config();
    let result = files_checked(&sim, &cfg, &mut received, parts, body, &mut log).await;
    log.finish(&sim, result)
}

async fn files_checked(
    sim: &TiktokSim,
    cfg: &TiktokSimConfig,
    received: &mut Received,
    parts: axum::http::request::Parts,
    body: Body,
    log: &mut Log,
) -> Result<Value, Refusal> {
    if let Err(refusal) = check_call(sim, cfg, received, &parts.headers) {
        // The body is read before the answer, so that the client, still sending it, sees
        // the refusal rather than a connection closed under it.
        drain(cfg, body).await;
        return Err(refusal);
    }
    let (data, payload) = multipart_body(cfg, received, parts, body, log).await?;
    let name = payload.text("name").unwrap_or("").to_owned();
    if !name.is_empty() && !name_ok(&name) {
        return Err(param_error(
            "The 'name' is invalid: no spaces, no period but the extension's, no leading symbol.",
        ));
    }
    let invalid = |m: &str| refuse(StatusCode::OK, codes::INVALID_FILE, m);
    let format = file_format(&data).ok_or_else(|| {
        invalid(
            "The file format is not supported: PDF, MP4, MOV, MKV, WMV, WEBM, AVI, 3GP, FLV, MPEG.",
        )
    })?;
    let size = data.len() as u64;
    let max = if format == "PDF" {
        cfg.max_pdf_bytes
    } else {
        cfg.max_video_bytes
    };
    if size > max {
        return Err(refuse(
            StatusCode::OK,
            codes::FILE_TOO_LARGE,
            format!("The file size {size} exceeds the maximum of {max} bytes."),
        ));
    }
    if let Some((w, h)) = track_size(&data) {
        // 9:16 ≤ w:h ≤ 16:9, in integers.
        let (w, h) = (u64::from(w), u64::from(h));
        if 16 * w < 9 * h || 9 * w > 16 * h {
            return Err(invalid(
                "The video aspect ratio must be between 9:16 and 16:9.",
            ));
        }
    }
    let id = format!("7{:018}", rand::random::<u64>() % 1_000_000_000_000_000_000);
    let mut st = sim.core().state();
    st.uploads += 1;
    let order = st.uploads;
    st.files.insert(
        id.clone(),
        StoredFile {
            name: name.clone(),
            format,
            size,
            bytes: data,
            order,
            evicted: false,
        },
    );
    st.enforce_retention(cfg.retention.max_assembled_bytes);
    Ok(json!({
        "id": id,
        "url": format!("{CDN}/files/{id}"),
        "name": name,
        "format": format,
    }))
}

/// Where the simulated CDN would serve files and images (never served: an assumption).
const CDN: &str = "https://sim.tiktok.invalid";

/// What an image is, by magic bytes: the formats the pages list.
fn image_format(b: &[u8]) -> Option<&'static str> {
    let at = |i: usize, s: &[u8]| b.len() >= i + s.len() && &b[i..i + s.len()] == s;
    if at(0, &[0xFF, 0xD8, 0xFF]) {
        Some("JPEG")
    } else if at(0, &[0x89, b'P', b'N', b'G']) {
        Some("PNG")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("WEBP")
    } else if at(0, b"BM") {
        Some("BMP")
    } else if at(4, b"ftyp") && (at(8, b"heic") || at(8, b"heix") || at(8, b"mif1")) {
        Some("HEIC")
    } else {
        None
    }
}

/// `POST /product/202309/images/upload`.
pub(super) async fn images_upload(State(sim): State<TiktokSim>, req: Request<Body>) -> Response {
    let (mut received, parts, body) = request::head(req);
    let mut log = Log::new(calls::IMAGES_UPLOAD, &received);
    let cfg = sim.config();
    let result = images_checked(&sim, &cfg, &mut received, parts, body, &mut log).await;
    log.finish(&sim, result)
}

async fn images_checked(
    sim: &TiktokSim,
    cfg: &TiktokSimConfig,
    received: &mut Received,
    parts: axum::http::request::Parts,
    body: Body,
    log: &mut Log,
) -> Result<Value, Refusal> {
    if let Err(refusal) = check_call(sim, cfg, received, &parts.headers) {
        // The body is read before the answer, so that the client, still sending it, sees
        // the refusal rather than a connection closed under it.
        drain(cfg, body).await;
        return Err(refusal);
    }
    let (data, payload) = multipart_body(cfg, received, parts, body, log).await?;
    let use_case = payload.text("use_case").unwrap_or("MAIN_IMAGE").to_owned();
    let max_side = match use_case.as_str() {
        "MAIN_IMAGE" => 4000,
        "ATTRIBUTE_IMAGE" | "DESCRIPTION_IMAGE" | "CERTIFICATION_IMAGE" | "SIZE_CHART_IMAGE" => {
            20_000
        }
        _ => return Err(param_error("The 'use_case' field is invalid.")),
    };
    let format = image_format(&data).ok_or_else(|| {
        refuse(
            StatusCode::OK,
            codes::FORMAT_NOT_SUPPORTED,
            "The image format is not supported: JPG, JPEG, PNG, WEBP, HEIC, BMP.",
        )
    })?;
    if data.len() as u64 > cfg.max_image_bytes {
        return Err(refuse(
            StatusCode::OK,
            codes::FILE_TOO_LARGE,
            format!(
                "The image exceeds the maximum of {} bytes.",
                cfg.max_image_bytes
            ),
        ));
    }
    let dims = match format {
        "JPEG" | "PNG" => image::io::Reader::new(std::io::Cursor::new(&data[..]))
            .with_guessed_format()
            .ok()
            .and_then(|r| r.into_dimensions().ok()),
        _ => None,
    };
    if let Some((w, h)) = dims {
        if w > max_side || h > max_side {
            return Err(refuse(
                StatusCode::OK,
                codes::DIMENSIONS_TOO_LARGE,
                format!(
                    "The image is {w} x {h} px; {use_case} takes at most {max_side} x {max_side}."
                ),
            ));
        }
    }
    let uri = format!("tos-sim-i-{}", random_hex(12));
    sim.core().state().images.insert(uri.clone(), data);
    let (w, h) = dims.unwrap_or((0, 0));
    Ok(json!({
        "uri": uri,
        "url": format!("{CDN}/img/{uri}"),
        "width": w,
        "height": h,
        "use_case": use_case,
    }))
}

/// `GET /authorization/202309/shops`.
pub(super) async fn authorized_shops(State(sim): State<TiktokSim>, req: Request<Body>) -> Response {
    let (received, parts, _body) = request::head(req);
    let log = Log::new(calls::AUTHORIZED_SHOPS, &received);
    let cfg = sim.config();
    let result = check_call(&sim, &cfg, &received, &parts.headers).map(|()| {
        let shops: Vec<Value> = cfg
            .shops
            .iter()
            .map(|s| {
                json!({
                    "id": s.id, "name": s.name, "region": s.region, "cipher": s.cipher,
                    "code": format!("{}SIM{}", s.region, &s.id[s.id.len().saturating_sub(4)..]),
                    "seller_type": "LOCAL",
                })
            })
            .collect();
        json!({ "shops": shops })
    });
    log.finish(&sim, result)
}

/// The app's key and secret on a token call.
fn check_app(cfg: &TiktokSimConfig, q: &Query) -> Result<(), Refusal> {
    if q.get("app_key") != Some(cfg.app_key.as_str())
        || q.get("app_secret") != Some(cfg.app_secret.as_str())
    {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            codes::INVALID_SIGN,
            "Invalid credentials. The app_key or app_secret is invalid.",
        ));
    }
    Ok(())
}

fn token_data(cfg: &TiktokSimConfig, issued: &crate::tokens::Issued) -> Value {
    json!({
        "access_token": issued.access_token,
        "access_token_expire_in": issued.access_expires_ms.div_euclid(1000),
        "refresh_token": issued.refresh_token.clone().unwrap_or_default(),
        "refresh_token_expire_in": issued.refresh_expires_ms.unwrap_or(0).div_euclid(1000),
        "open_id": cfg.open_id,
        "seller_name": cfg.shops.first().map(|s| s.name.clone()).unwrap_or_default(),
        "seller_base_region": cfg.shops.first().map(|s| s.region.clone()).unwrap_or_default(),
        "user_type": 0,
        "granted_scopes": ["seller.authorization.info", "seller.product.basic"],
    })
}

/// `GET /api/v2/token/get?app_key&app_secret&auth_code&grant_type=authorized_code`.
pub(super) async fn token_get(State(sim): State<TiktokSim>, req: Request<Body>) -> Response {
    let (received, _parts, _body) = request::head(req);
    let log = Log::new(calls::TOKEN_GET, &received);
    let cfg = sim.config();
    let q = &received.query;
    let result = (|| {
        check_app(&cfg, q)?;
        if q.get("grant_type") != Some("authorized_code") {
            return Err(param_error("The 'grant_type' must be authorized_code."));
        }
        let code = q
            .non_empty("auth_code")
            .ok_or_else(|| param_error("The 'auth_code' is required."))?;
        let now = sim.clock().now_millis();
        let issued = sim
            .core()
            .state()
            .ledger
            .exchange_code(code, now, |_| true)
            .map_err(|_| {
                refuse(
                    StatusCode::OK,
                    codes::NO_AUTH_RECORD,
                    "can not find related auth record",
                )
            })?;
        Ok(token_data(&cfg, &issued))
    })();
    log.finish(&sim, result)
}

/// `GET /api/v2/token/refresh?app_key&app_secret&refresh_token&grant_type=refresh_token`.
pub(super) async fn token_refresh(State(sim): State<TiktokSim>, req: Request<Body>) -> Response {
    let (received, _parts, _body) = request::head(req);
    let log = Log::new(calls::TOKEN_REFRESH, &received);
    let cfg = sim.config();
    let q = &received.query;
    let result = (|| {
        check_app(&cfg, q)?;
        if q.get("grant_type") != Some("refresh_token") {
            return Err(param_error("The 'grant_type' must be refresh_token."));
        }
        let refresh = q
            .non_empty("refresh_token")
            .ok_or_else(|| param_error("The 'refresh_token' is required."))?;
        let now = sim.clock().now_millis();
        let issued = sim
            .core()
            .state()
            .ledger
            .refresh(refresh, None, now)
            .map_err(|r| match r {
                crate::tokens::RefreshRefusal::Expired => refuse(
                    StatusCode::OK,
                    codes::REFRESH_TOKEN_EXPIRED,
                    "rt has expired",
                ),
                _ => refuse(
                    StatusCode::OK,
                    codes::NO_AUTH_RECORD,
                    "can not find related auth record",
                ),
            })?;
        Ok(token_data(&cfg, &issued))
    })();
    log.finish(&sim, result)
}

/// Anything else: 404 in the envelope.
pub(super) async fn unknown(State(sim): State<TiktokSim>, req: Request<Body>) -> Response {
    let (received, _parts, _body) = request::head(req);
    let log = Log::new("unknown", &received);
    log.finish(
        &sim,
        Err(refuse(
            StatusCode::NOT_FOUND,
            codes::INVALID_PARAMETER,
            format!("No such API: {}", received.path),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_magic() {
        assert_eq!(file_format(b"\0\0\0\x18ftypisom...."), Some("MP4"));
        assert_eq!(file_format(b"\0\0\0\x14ftypqt  ...."), Some("MOV"));
        assert_eq!(file_format(b"%PDF-1.7"), Some("PDF"));
        assert_eq!(file_format(b"RIFF....AVI LIST"), Some("AVI"));
        assert_eq!(file_format(b"hello world!"), None);
        assert_eq!(image_format(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("JPEG"));
        assert_eq!(image_format(b"GIF89a"), None);
    }

    #[test]
    fn names_follow_the_rules() {
        assert!(name_ok("kettle-01234567.mp4"));
        for bad in ["a b.mp4", "a.b.mp4", "#a.mp4", ""] {
            assert!(!name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn track_sizes_are_read_from_tkhd() {
        fn bx(kind: &[u8], body: &[u8]) -> Vec<u8> {
            let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
            v.extend_from_slice(kind);
            v.extend_from_slice(body);
            v
        }
        let mut tkhd = vec![0u8; 76];
        tkhd.extend_from_slice(&(1920u32 << 16).to_be_bytes());
        tkhd.extend_from_slice(&(1080u32 << 16).to_be_bytes());
        let file = [
            bx(b"ftyp", b"isom"),
            bx(b"moov", &bx(b"trak", &bx(b"tkhd", &tkhd))),
        ]
        .concat();
        assert_eq!(track_size(&file), Some((1920, 1080)));
        assert_eq!(track_size(&bx(b"ftyp", b"isom")), None);
    }
}
