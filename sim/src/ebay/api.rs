//! The calls: bearer token, the POST limit, validation, `Content-Range` ordering, status on the
//! sim clock, and eBay's `errors[]` answers. Every request is written to the wire log.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{calls, EbaySim, EbaySimConfig, Image, Video, VideoOutcome, BASE_PATH, PLATFORM};
use crate::request::{self, Payload, ReadOptions};
use crate::util::{civil_from_days, millis, random_hex};
use crate::WireRecord;

/// The error ids the simulator answers with. 1001 and 2001 are eBay's common REST errors;
/// the Media API publishes no per-call table on the pages the simulator was written from, so
/// the `1900xx` ids are the simulator's own (`docs/simulators/ebay.md`).
pub mod codes {
    /// 401, domain `OAuth`: "Invalid access token".
    pub const INVALID_ACCESS_TOKEN: u32 = 1001;
    /// 429, domain `ACCESS`: the user's 50 POST per 5 s limit.
    pub const TOO_MANY_REQUESTS: u32 = 2001;
    /// 400: a missing or malformed field, header or body.
    pub const INVALID_REQUEST: u32 = 190_001;
    /// 400: `size` above the largest video.
    pub const VIDEO_TOO_LARGE: u32 = 190_002;
    /// 404: no such video (or a `PENDING_UPLOAD` video past its keeping time).
    pub const VIDEO_NOT_FOUND: u32 = 190_003;
    /// 400: the bytes (or `Content-Range` total) differ from the `size` given at creation.
    pub const SIZE_MISMATCH: u32 = 190_004;
    /// 400: a `Content-Range` that does not parse or does not fit its body.
    pub const INVALID_CONTENT_RANGE: u32 = 190_005;
    /// 400: a range that leaves a gap after, or overlaps, the bytes received.
    pub const RANGE_OUT_OF_ORDER: u32 = 190_006;
    /// 409: every byte already arrived; the video is processing or done.
    pub const ALREADY_UPLOADED: u32 = 190_007;
    /// 400: no `image` file, an empty or oversized one, or not a supported format.
    pub const INVALID_IMAGE: u32 = 190_008;
    /// 404: no such image, or no such resource.
    pub const NOT_FOUND: u32 = 190_009;
    /// 413: a body over the simulator's request limit.
    pub const BODY_TOO_LARGE: u32 = 190_010;
}

/// A refusal: status, error id, message, and `Retry-After` seconds for a 429.
struct Refusal(StatusCode, u32, String, Option<i64>);

fn refuse(status: StatusCode, id: u32, message: impl Into<String>) -> Refusal {
    Refusal(status, id, message.into(), None)
}

fn error_body(id: u32, message: &str) -> Value {
    let (domain, category, short) = match id {
        // eBay's own words: the short `message` clients match on, the long one beside it.
        codes::INVALID_ACCESS_TOKEN => ("OAuth", "REQUEST", "Invalid access token"),
        codes::TOO_MANY_REQUESTS => ("ACCESS", "REQUEST", message),
        _ => ("API_MEDIA", "REQUEST", message),
    };
    json!({ "errors": [{
        "errorId": id, "domain": domain, "category": category,
        "message": short, "longMessage": message,
    }]})
}

/// What one handler produced, for the answer and the wire record.
struct Outcome {
    response: Response,
    status: u16,
    error: Option<String>,
}

impl From<Refusal> for Outcome {
    fn from(Refusal(status, id, message, retry_after): Refusal) -> Self {
        let mut response = (status, Json(error_body(id, &message))).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        Outcome {
            response,
            status: status.as_u16(),
            error: Some(id.to_string()),
        }
    }
}

fn ok(status: StatusCode, response: Response) -> Outcome {
    Outcome {
        response,
        status: status.as_u16(),
        error: None,
    }
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
    fn new(call: &'static str, method: &Method, path: &str) -> Self {
        Log {
            call,
            method: method.to_string(),
            path: path.to_string(),
            params: BTreeMap::new(),
            files: Vec::new(),
            body_len: 0,
        }
    }

    fn header(&mut self, headers: &HeaderMap, name: header::HeaderName) {
        if let Some(v) = headers.get(&name).and_then(|v| v.to_str().ok()) {
            self.params.insert(name.as_str().to_string(), v.to_string());
        }
    }

    fn finish(self, sim: &EbaySim, outcome: Outcome) -> Response {
        sim.wire().push(WireRecord {
            platform: PLATFORM,
            call: self.call.to_string(),
            method: self.method,
            path: self.path,
            params: self.params,
            files: self.files,
            body_len: self.body_len,
            status: outcome.status,
            error: outcome.error,
        });
        outcome.response
    }
}

/// `Authorization: Bearer <token>` with a user access token the ledger holds valid (unknown,
/// revoked and expired alike get eBay's one answer, 401 / 1001).
fn check_token(sim: &EbaySim, headers: &HeaderMap) -> Result<(), Refusal> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let now = sim.clock().now_millis();
    let valid = given.is_some_and(|t| sim.core().state().ledger.check_access(t, None, now).is_ok());
    if valid {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::UNAUTHORIZED,
            codes::INVALID_ACCESS_TOKEN,
            "Invalid access token. Check the value of the Authorization HTTP request header.",
        ))
    }
}

/// The user's POST limit over a sliding window on the sim clock.
fn check_post(sim: &EbaySim, cfg: &EbaySimConfig) -> Result<(), Refusal> {
    let now = sim.clock().now_millis();
    let mut st = sim.core().state();
    let limited = |secs: i64| {
        Refusal(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_REQUESTS,
            "Too many requests. The request limit has been reached for the resource.".into(),
            Some(secs),
        )
    };
    if st.force_rate_limit {
        return Err(limited(1));
    }
    let Some((limit, window)) = cfg.post_limit else {
        return Ok(());
    };
    let window = millis(window);
    while st.posts.front().is_some_and(|t| *t <= now - window) {
        st.posts.pop_front();
    }
    if st.posts.len() >= limit {
        let oldest = st.posts.front().copied().unwrap_or(now);
        let wait_ms = (oldest + window - now).max(1);
        return Err(limited((wait_ms + 999) / 1000));
    }
    st.posts.push_back(now);
    Ok(())
}

/// The status `getVideo` answers for `v` at `now`.
pub(super) fn status_of(v: &Video, cfg: &EbaySimConfig, now: i64) -> &'static str {
    match v.uploaded_ms {
        None => "PENDING_UPLOAD",
        Some(t) if now < t + millis(cfg.processing_delay) => "PROCESSING",
        Some(_) => match v.outcome {
            VideoOutcome::Live => "LIVE",
            VideoOutcome::ProcessingFailed => "PROCESSING_FAILED",
            VideoOutcome::Blocked => "BLOCKED",
        },
    }
}

/// Forgets `PENDING_UPLOAD` videos past their keeping time.
fn expire(sim: &EbaySim, cfg: &EbaySimConfig) {
    let now = sim.clock().now_millis();
    let ttl = millis(cfg.pending_ttl);
    sim.core()
        .state()
        .videos
        .retain(|_, v| v.uploaded_ms.is_some() || now < v.created_ms + ttl);
}

/// `2026-01-31T12:00:00.000Z`.
fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

const THIRTY_DAYS_MS: i64 = 30 * 86_400 * 1000;

fn base_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}{BASE_PATH}")
}

fn created(location: String) -> Response {
    (StatusCode::CREATED, [(header::LOCATION, location)]).into_response()
}

/// `POST /video`: `title`, `size`, `classification: ["ITEM"]`, optional `description`.
pub(super) async fn create_video(State(sim): State<EbaySim>, req: Request<Body>) -> Response {
    let mut log = Log::new(calls::CREATE_VIDEO, req.method(), req.uri().path());
    let headers = req.headers().clone();
    let cfg = sim.config();
    let received = request::read(
        req,
        ReadOptions {
            limit: 1 << 20,
            json: true,
            file_fields: &[],
        },
    )
    .await;
    log.params = received.params_body_prefixed();
    log.body_len = received.body_len;
    let outcome = match create_video_checked(&sim, &cfg, &headers, &received.payload) {
        Ok(o) => o,
        Err(r) => r.into(),
    };
    log.finish(&sim, outcome)
}

fn create_video_checked(
    sim: &EbaySim,
    cfg: &EbaySimConfig,
    headers: &HeaderMap,
    payload: &Payload,
) -> Result<Outcome, Refusal> {
    check_token(sim, headers)?;
    check_post(sim, cfg)?;
    let bad = |m: &str| refuse(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, m);
    let Payload::Json(body) = payload else {
        return Err(bad(
            "The request body must be a JSON object (Content-Type: application/json).",
        ));
    };
    let title = body
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| bad("The 'title' field is required."))?;
    let size = body
        .get("size")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
        .ok_or_else(|| bad("The 'size' field is required: the video's size in bytes."))?;
    if size > cfg.max_video_bytes {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            codes::VIDEO_TOO_LARGE,
            format!(
                "The video size {size} exceeds the maximum of {} bytes.",
                cfg.max_video_bytes
            ),
        ));
    }
    let item = body
        .get("classification")
        .and_then(Value::as_array)
        .is_some_and(|c| c.len() == 1 && c[0].as_str() == Some("ITEM"));
    if !item {
        return Err(bad("The 'classification' field must be [\"ITEM\"]."));
    }
    let description = match body.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(_) => return Err(bad("The 'description' field must be a string.")),
    };
    let id = random_hex(16);
    let now = sim.clock().now_millis();
    sim.core().state().videos.insert(
        id.clone(),
        Video {
            title: title.to_string(),
            description,
            size,
            created_ms: now,
            bytes: Vec::new(),
            chunks: Vec::new(),
            uploaded_ms: None,
            uploaded_order: 0,
            evicted: false,
            outcome: cfg.outcome,
        },
    );
    let location = format!("{}/video/{id}", base_of(headers));
    Ok(ok(StatusCode::CREATED, created(location)))
}

/// `bytes START-END/TOTAL`, as (start, end, total).
fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(start) && all_digits(end) && all_digits(total)) {
        return None;
    }
    Some((start.parse().ok()?, end.parse().ok()?, total.parse().ok()?))
}

/// `POST /video/{video_id}/upload`: the whole file, or one `Content-Range` chunk in order.
pub(super) async fn upload_video(
    State(sim): State<EbaySim>,
    Path(id): Path<String>,
    req: Request<Body>,
) -> Response {
    let mut log = Log::new(calls::UPLOAD_VIDEO, req.method(), req.uri().path());
    let cfg = sim.config();
    let (parts, body) = req.into_parts();
    for h in [
        header::CONTENT_TYPE,
        header::CONTENT_RANGE,
        header::CONTENT_LENGTH,
    ] {
        log.header(&parts.headers, h);
    }
    let outcome = match upload_checked(&sim, &cfg, &id, &parts.headers, body, &mut log).await {
        Ok(o) => o,
        Err(r) => r.into(),
    };
    log.finish(&sim, outcome)
}

async fn upload_checked(
    sim: &EbaySim,
    cfg: &EbaySimConfig,
    id: &str,
    headers: &HeaderMap,
    body: Body,
    log: &mut Log,
) -> Result<Outcome, Refusal> {
    check_token(sim, headers)?;
    check_post(sim, cfg)?;
    let bytes: Bytes = axum::body::to_bytes(body, cfg.max_request_bytes)
        .await
        .map_err(|_| {
            refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::BODY_TOO_LARGE,
                "The request body is too large or could not be read.",
            )
        })?;
    log.body_len = bytes.len();
    log.files.push(("body".into(), bytes.len()));
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !mime.eq_ignore_ascii_case("application/octet-stream") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            "The Content-Type must be application/octet-stream.",
        ));
    }
    let range = match headers.get(header::CONTENT_RANGE) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(parse_content_range)
                .ok_or_else(|| {
                    refuse(
                        StatusCode::BAD_REQUEST,
                        codes::INVALID_CONTENT_RANGE,
                        "The Content-Range must be 'bytes START-END/TOTAL'.",
                    )
                })?,
        ),
    };
    expire(sim, cfg);
    let now = sim.clock().now_millis();
    let mut st = sim.core().state();
    let video = st.videos.get_mut(id).ok_or_else(|| {
        refuse(
            StatusCode::NOT_FOUND,
            codes::VIDEO_NOT_FOUND,
            format!("The video {id} was not found."),
        )
    })?;
    // Without Content-Range the body is the whole file.
    let (start, end, total) = match range {
        Some(r) => r,
        None if bytes.is_empty() => (0, 0, 0),
        None => (0, bytes.len() as u64 - 1, bytes.len() as u64),
    };
    let size_mismatch = |what: String| refuse(StatusCode::BAD_REQUEST, codes::SIZE_MISMATCH, what);
    if bytes.is_empty() || total != video.size {
        return Err(size_mismatch(format!(
            "The uploaded size {total} does not match the size {} given at createVideo.",
            video.size
        )));
    }
    if end < start || end >= total || end - start + 1 != bytes.len() as u64 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            codes::INVALID_CONTENT_RANGE,
            format!(
                "The Content-Range bytes {start}-{end}/{total} does not match a body of {} bytes.",
                bytes.len()
            ),
        ));
    }
    let held = video.received();
    let record = |accepted: bool, error: Option<u32>| super::ChunkRecord {
        start,
        end,
        accepted,
        error: error.map(|e| e.to_string()),
    };
    let answer = if video.evicted {
        // Its bytes are gone (retention limit): a re-send cannot be compared with them.
        Err(refuse(
            StatusCode::CONFLICT,
            codes::ALREADY_UPLOADED,
            "The video was already uploaded.",
        ))
    } else if end < held {
        // Bytes already held: an identical re-send (an answer that was lost) is harmless.
        let same = video.bytes[start as usize..=end as usize] == bytes[..];
        if same {
            Ok(())
        } else {
            Err(refuse(
                StatusCode::BAD_REQUEST,
                codes::RANGE_OUT_OF_ORDER,
                format!(
                    "The range {start}-{end} overlaps the {held} bytes received with other bytes."
                ),
            ))
        }
    } else if held == video.size {
        Err(refuse(
            StatusCode::CONFLICT,
            codes::ALREADY_UPLOADED,
            "The video was already uploaded.",
        ))
    } else if start != held {
        Err(refuse(
            StatusCode::BAD_REQUEST,
            codes::RANGE_OUT_OF_ORDER,
            format!(
                "Ranges must be sent in order: the next range starts at byte {held}, not {start}."
            ),
        ))
    } else {
        video.bytes.extend_from_slice(&bytes);
        Ok(())
    };
    // The last byte just arrived: the video is uploaded (status PROCESSING from now).
    let finished =
        answer.is_ok() && video.uploaded_ms.is_none() && video.bytes.len() as u64 == video.size;
    if finished {
        video.uploaded_ms = Some(now);
    }
    let outcome = match answer {
        Ok(()) => {
            video.chunks.push(record(true, None));
            Ok(ok(StatusCode::OK, StatusCode::OK.into_response()))
        }
        Err(r) => {
            video.chunks.push(record(false, Some(r.1)));
            Err(r)
        }
    };
    if finished {
        st.uploads_finished += 1;
        let order = st.uploads_finished;
        if let Some(v) = st.videos.get_mut(id) {
            v.uploaded_order = order;
        }
        st.enforce_retention(cfg.retention.max_assembled_bytes);
    }
    outcome
}

/// `GET /video/{video_id}`.
pub(super) async fn get_video(
    State(sim): State<EbaySim>,
    Path(id): Path<String>,
    req: Request<Body>,
) -> Response {
    let log = Log::new(calls::GET_VIDEO, req.method(), req.uri().path());
    let cfg = sim.config();
    let outcome = match get_video_checked(&sim, &cfg, &id, req.headers()) {
        Ok(o) => o,
        Err(r) => r.into(),
    };
    log.finish(&sim, outcome)
}

fn get_video_checked(
    sim: &EbaySim,
    cfg: &EbaySimConfig,
    id: &str,
    headers: &HeaderMap,
) -> Result<Outcome, Refusal> {
    check_token(sim, headers)?;
    expire(sim, cfg);
    let now = sim.clock().now_millis();
    let st = sim.core().state();
    let v = st.videos.get(id).ok_or_else(|| {
        refuse(
            StatusCode::NOT_FOUND,
            codes::VIDEO_NOT_FOUND,
            format!("The video {id} was not found."),
        )
    })?;
    let status = status_of(v, cfg, now);
    let mut body = json!({
        "videoId": id,
        "title": v.title,
        "size": v.size,
        "classification": ["ITEM"],
        "status": status,
        "expirationDate": iso(v.created_ms + THIRTY_DAYS_MS),
    });
    if let Some(d) = &v.description {
        body["description"] = json!(d);
    }
    if v.uploaded_ms.is_some() {
        body["thumbnail"] = json!({ "imageUrl": format!("https://i.ebayimg.sim/thumbs/{id}.jpg") });
    }
    match status {
        "LIVE" => {
            body["playLists"] = json!([
                { "playUrl": format!("https://video.ebaycdn.sim/{id}/manifest.mpd"), "protocol": "DASH" },
                { "playUrl": format!("https://video.ebaycdn.sim/{id}/playlist.m3u8"), "protocol": "HLS" },
            ]);
        }
        "PROCESSING_FAILED" => {
            body["statusMessage"] = json!("The video could not be processed.");
        }
        "BLOCKED" => {
            body["statusMessage"] = json!("The video was blocked by moderation.");
            body["moderation"] =
                json!({ "rejectReasons": ["The video does not meet eBay's video policy."] });
        }
        _ => {}
    }
    Ok(ok(StatusCode::OK, Json(body).into_response()))
}

/// Whether `b` starts like one of the formats createImageFromFile lists (JPG, GIF, PNG, BMP,
/// TIFF, AVIF, HEIC, WEBP).
fn supported_image(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xD8, 0xFF])
        || b.starts_with(b"\x89PNG\r\n\x1a\n")
        || b.starts_with(b"GIF87a")
        || b.starts_with(b"GIF89a")
        || b.starts_with(b"BM")
        || b.starts_with(b"II*\0")
        || b.starts_with(b"MM\0*")
        || (b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP")
        || (b.len() >= 12
            && &b[4..8] == b"ftyp"
            && matches!(&b[8..12], b"avif" | b"avis" | b"heic" | b"heix" | b"mif1"))
}

fn image_url(id: &str) -> String {
    format!("https://i.ebayimg.sim/images/g/{id}/s-l1600.jpg")
}

/// `POST /image/create_image_from_file`: one multipart file field `image`.
pub(super) async fn create_image(State(sim): State<EbaySim>, req: Request<Body>) -> Response {
    let mut log = Log::new(
        calls::CREATE_IMAGE_FROM_FILE,
        req.method(),
        req.uri().path(),
    );
    let headers = req.headers().clone();
    let cfg = sim.config();
    let received = request::read(
        req,
        ReadOptions {
            limit: cfg.max_image_bytes + (64 << 10),
            json: false,
            file_fields: &["image"],
        },
    )
    .await;
    log.params = received.params_body_prefixed();
    log.files = received.file_sizes();
    log.body_len = received.body_len;
    let outcome = match create_image_checked(&sim, &cfg, &headers, &received.payload) {
        Ok(o) => o,
        Err(r) => r.into(),
    };
    log.finish(&sim, outcome)
}

fn create_image_checked(
    sim: &EbaySim,
    cfg: &EbaySimConfig,
    headers: &HeaderMap,
    payload: &Payload,
) -> Result<Outcome, Refusal> {
    check_token(sim, headers)?;
    check_post(sim, cfg)?;
    let bad = |m: String| refuse(StatusCode::BAD_REQUEST, codes::INVALID_IMAGE, m);
    if matches!(payload, Payload::TooLarge) {
        return Err(bad(format!(
            "The image exceeds the maximum of {} bytes.",
            cfg.max_image_bytes
        )));
    }
    if !matches!(
        payload,
        Payload::Form {
            multipart: true,
            ..
        }
    ) {
        return Err(bad(
            "The body must be multipart/form-data with an 'image' file.".into(),
        ));
    }
    let files = payload.files("image");
    let [file] = files.as_slice() else {
        return Err(bad(format!(
            "Exactly one 'image' file is expected, {} were sent.",
            files.len()
        )));
    };
    if file.bytes.is_empty() || file.bytes.len() > cfg.max_image_bytes {
        return Err(bad(format!(
            "The image must be 1 to {} bytes, not {}.",
            cfg.max_image_bytes,
            file.bytes.len()
        )));
    }
    if !supported_image(&file.bytes) {
        return Err(bad(
            "The image format is not supported (JPG, GIF, PNG, BMP, TIFF, AVIF, HEIC, WEBP)."
                .into(),
        ));
    }
    let id = random_hex(12);
    let now = sim.clock().now_millis();
    sim.core().state().images.insert(
        id.clone(),
        Image {
            bytes: file.bytes.clone(),
            created_ms: now,
        },
    );
    let mut response = created(format!("{}/image/{id}", base_of(headers)));
    *response.body_mut() = Body::from(
        json!({ "imageUrl": image_url(&id), "expirationDate": iso(now + THIRTY_DAYS_MS) })
            .to_string(),
    );
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(ok(StatusCode::CREATED, response))
}

/// `GET /image/{image_id}`.
pub(super) async fn get_image(
    State(sim): State<EbaySim>,
    Path(id): Path<String>,
    req: Request<Body>,
) -> Response {
    let log = Log::new(calls::GET_IMAGE, req.method(), req.uri().path());
    let outcome = (|| {
        check_token(&sim, req.headers())?;
        let st = sim.core().state();
        let img = st.images.get(&id).ok_or_else(|| {
            refuse(
                StatusCode::NOT_FOUND,
                codes::NOT_FOUND,
                format!("The image {id} was not found."),
            )
        })?;
        Ok::<_, Refusal>(ok(
            StatusCode::OK,
            Json(json!({
                "imageUrl": image_url(&id),
                "expirationDate": iso(img.created_ms + THIRTY_DAYS_MS),
            }))
            .into_response(),
        ))
    })();
    let outcome = outcome.unwrap_or_else(Outcome::from);
    log.finish(&sim, outcome)
}

/// Any other path or method.
pub(super) async fn unknown(State(sim): State<EbaySim>, req: Request<Body>) -> Response {
    let log = Log::new("unknown", req.method(), req.uri().path());
    let outcome = refuse(
        StatusCode::NOT_FOUND,
        codes::NOT_FOUND,
        format!("No resource {} {}.", req.method(), req.uri().path()),
    )
    .into();
    log.finish(&sim, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, 9, 10)));
        assert_eq!(parse_content_range("bytes 5-9/10"), Some((5, 9, 10)));
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("bytes 0-9/*"), None);
        assert_eq!(parse_content_range("0-9/10"), None);
        assert_eq!(parse_content_range("bytes -1-9/10"), None);
        assert_eq!(parse_content_range("bytes 0-99999999999999999999/1"), None);
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso(1_767_225_600_000 + 3_723_000),
            "2026-01-01T01:02:03.000Z"
        );
    }
}
