//! The simulator's state and the handling of each call.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

use super::request::{self, Payload, Received};
use super::{
    probe, signing, PartInfo, ShopeeCounters, ShopeeSim, ShopeeSimConfig, StoredImage,
    UploadSnapshot, UploadStatus, API_PREFIX, PLATFORM,
};
use crate::sim::WireRecord;

// ---------------------------------------------------------------------------------------------
// Calls

/// The calls the simulator answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    InitVideoUpload,
    UploadVideoPart,
    CompleteVideoUpload,
    GetVideoUploadResult,
    CancelVideoUpload,
    UploadImage,
}

/// How a call's parameters travel in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// A JSON object (`Content-Type: application/json`).
    Json,
    /// `multipart/form-data`.
    Multipart,
    /// No body: query only.
    None,
}

impl Call {
    const ALL: [Call; 6] = [
        Call::InitVideoUpload,
        Call::UploadVideoPart,
        Call::CompleteVideoUpload,
        Call::GetVideoUploadResult,
        Call::CancelVideoUpload,
        Call::UploadImage,
    ];

    fn from_path(path: &str) -> Option<Call> {
        let name = path.strip_prefix(API_PREFIX)?;
        Call::ALL.into_iter().find(|c| c.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Call::InitVideoUpload => "init_video_upload",
            Call::UploadVideoPart => "upload_video_part",
            Call::CompleteVideoUpload => "complete_video_upload",
            Call::GetVideoUploadResult => "get_video_upload_result",
            Call::CancelVideoUpload => "cancel_video_upload",
            Call::UploadImage => "upload_image",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Call::GetVideoUploadResult => "GET",
            _ => "POST",
        }
    }

    /// The spec marks these as public-type: either signature shape is accepted.
    fn public_type(self) -> bool {
        matches!(self, Call::UploadVideoPart | Call::CompleteVideoUpload)
    }

    fn body(self) -> BodyKind {
        match self {
            Call::InitVideoUpload | Call::CompleteVideoUpload | Call::CancelVideoUpload => {
                BodyKind::Json
            }
            Call::UploadVideoPart | Call::UploadImage => BodyKind::Multipart,
            Call::GetVideoUploadResult => BodyKind::None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A failure answer: HTTP status, the platform's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ApiError {
    status: StatusCode,
    error: &'static str,
    message: String,
}

impl ApiError {
    /// An error with the HTTP status Shopee's gateway uses for its code.
    fn new(error: &'static str, message: impl Into<String>) -> Self {
        let status = match error {
            "error_param" => StatusCode::BAD_REQUEST,
            "error_sign" | "error_auth" | "invalid_acceess_token" => StatusCode::FORBIDDEN,
            "error_not_found" => StatusCode::NOT_FOUND,
            "error_server" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::OK,
        };
        Self {
            status,
            error,
            message: message.into(),
        }
    }

    /// `error_param` with an exact message (the gateway's own ones).
    fn param_exact(message: impl Into<String>) -> Self {
        Self::new("error_param", message)
    }

    /// `error_param` "Wrong parameters, detail: {detail}."
    fn param(detail: impl std::fmt::Display) -> Self {
        Self::new(
            "error_param",
            format!("Wrong parameters, detail: {detail}."),
        )
    }

    fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    fn invalid_upload_id(message: impl Into<String>) -> Self {
        Self::new("error_invalid_upload_id", message)
    }

    fn already_completed() -> Self {
        Self::new(
            "error_already_completed",
            "The video upload has already been completed.",
        )
    }

    fn part_seq(message: impl Into<String>) -> Self {
        Self::new("error_invalid_part_seq", message)
    }
}

/// A success answer: the `response` object and the `warning` text.
struct Answer {
    response: Value,
    warning: String,
}

impl Answer {
    fn of(response: Value) -> Self {
        Self {
            response,
            warning: String::new(),
        }
    }

    fn empty() -> Self {
        Self::of(json!({}))
    }
}

type Outcome = Result<Answer, ApiError>;

// ---------------------------------------------------------------------------------------------
// State

#[derive(Debug)]
struct Token {
    shop_id: u64,
    issued_ms: i64,
}

#[derive(Debug)]
struct StoredPart {
    info: PartInfo,
    bytes: Bytes,
}

#[derive(Debug)]
enum Verdict {
    Ready { duration_secs: f64 },
    Failed { message: String },
}

#[derive(Debug)]
enum Phase {
    Initiated,
    Completed {
        ready_at_ms: i64,
        assembled: Bytes,
        verdict: Verdict,
        probed_duration: Option<f64>,
        part_seq_list: Vec<u32>,
        upload_cost: u64,
        media_key: String,
    },
    Cancelled,
}

#[derive(Debug)]
struct Upload {
    shop_id: u64,
    file_md5: String,
    file_size: u64,
    part_size: u64,
    part_count: u32,
    expires_at_ms: i64,
    parts: BTreeMap<u32, StoredPart>,
    /// MD5 of the parts `0..n` received so far, in order, so that completing does not hash the
    /// whole file again; `None` once a part already hashed was replaced by other bytes.
    prefix_md5: Option<(Md5, u32)>,
    phase: Phase,
}

impl Upload {
    /// Folds the parts that extend the hashed prefix into it. Called after every stored part.
    fn advance_prefix_md5(&mut self) {
        if let Some((hasher, next)) = &mut self.prefix_md5 {
            while let Some(part) = self.parts.get(next) {
                hasher.update(&part.bytes);
                *next += 1;
            }
        }
    }

    /// The MD5 of the assembled file (the parts in order), from the prefix when it covers
    /// every part.
    fn file_md5_of(&self, file: &[u8]) -> String {
        match &self.prefix_md5 {
            Some((hasher, next)) if *next == self.part_count => {
                hex::encode(hasher.clone().finalize())
            }
            _ => md5_hex(file),
        }
    }

    fn status(&self, now_ms: i64) -> UploadStatus {
        match &self.phase {
            Phase::Initiated => UploadStatus::Initiated,
            Phase::Cancelled => UploadStatus::Cancelled,
            Phase::Completed {
                ready_at_ms,
                verdict,
                ..
            } => {
                if now_ms < *ready_at_ms {
                    UploadStatus::Transcoding
                } else {
                    match verdict {
                        Verdict::Ready { .. } => UploadStatus::Succeeded,
                        Verdict::Failed { .. } => UploadStatus::Failed,
                    }
                }
            }
        }
    }

    /// A session that was never completed nor cancelled expires.
    fn expired(&self, now_ms: i64) -> bool {
        matches!(self.phase, Phase::Initiated) && now_ms >= self.expires_at_ms
    }

    /// The exact size part `seq` must have.
    fn expected_part_size(&self, seq: u32) -> u64 {
        if seq + 1 == self.part_count {
            self.file_size - self.part_size * u64::from(self.part_count - 1)
        } else {
            self.part_size
        }
    }
}

/// Everything the simulator remembers.
#[derive(Debug)]
pub(super) struct SimState {
    tokens: HashMap<String, Token>,
    uploads: HashMap<String, Upload>,
    upload_order: Vec<String>,
    images: Vec<StoredImage>,
    inits_per_day: HashMap<i64, u32>,
    pub(super) counters: ShopeeCounters,
}

impl SimState {
    pub(super) fn new(config: &ShopeeSimConfig, now_ms: i64) -> Self {
        let mut tokens = HashMap::new();
        tokens.insert(
            config.access_token.clone(),
            Token {
                shop_id: config.shop_id,
                issued_ms: now_ms,
            },
        );
        Self {
            tokens,
            uploads: HashMap::new(),
            upload_order: Vec::new(),
            images: Vec::new(),
            inits_per_day: HashMap::new(),
            counters: ShopeeCounters::default(),
        }
    }

    pub(super) fn issue_token(&mut self, shop_id: u64, now_ms: i64) -> String {
        let token = random_hex(16);
        self.tokens.insert(
            token.clone(),
            Token {
                shop_id,
                issued_ms: now_ms,
            },
        );
        token
    }

    pub(super) fn assembled(&self, id: &str) -> Option<Bytes> {
        match &self.uploads.get(id)?.phase {
            Phase::Completed { assembled, .. } => Some(assembled.clone()),
            _ => None,
        }
    }

    pub(super) fn parts(&self, id: &str) -> Option<Vec<PartInfo>> {
        let upload = self.uploads.get(id)?;
        Some(upload.parts.values().map(|p| p.info.clone()).collect())
    }

    pub(super) fn snapshot(&self, id: &str, now_ms: i64) -> Option<UploadSnapshot> {
        let u = self.uploads.get(id)?;
        let status = u.status(now_ms);
        let (part_seq_list, upload_cost, duration_secs, failure) = match &u.phase {
            Phase::Completed {
                part_seq_list,
                upload_cost,
                probed_duration,
                verdict,
                ..
            } => (
                Some(part_seq_list.clone()),
                Some(*upload_cost),
                *probed_duration,
                match verdict {
                    Verdict::Failed { message } if status == UploadStatus::Failed => {
                        Some(message.clone())
                    }
                    _ => None,
                },
            ),
            _ => (None, None, None, None),
        };
        Some(UploadSnapshot {
            video_upload_id: id.to_string(),
            status,
            expired: u.expired(now_ms),
            shop_id: u.shop_id,
            file_md5: u.file_md5.clone(),
            file_size: u.file_size,
            part_count: u.part_count,
            part_seq_list,
            upload_cost,
            duration_secs,
            failure,
        })
    }

    pub(super) fn upload_ids(&self) -> Vec<String> {
        self.upload_order.clone()
    }

    pub(super) fn image(&self, id: &str) -> Option<StoredImage> {
        self.images.iter().find(|i| i.image_id == id).cloned()
    }

    pub(super) fn images(&self) -> Vec<StoredImage> {
        self.images.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// The request pipeline

/// Answers one request and records it in the wire log.
pub(super) async fn handle(sim: ShopeeSim, req: Request<Body>) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let config = sim.config();
    let received = request::read(req, config.max_request_bytes).await;
    let call = Call::from_path(&path);
    let now_ms = sim.clock().now_millis();

    let result = {
        let mut state = sim.state();
        let result = dispatch(&mut state, call, &method, &path, &received, &config, now_ms);
        state.counters.requests += 1;
        if result.is_err() {
            state.counters.rejected += 1;
        }
        result
    };

    let request_id = random_hex(16);
    let (status, body, error) = match result {
        Ok(answer) => (
            StatusCode::OK,
            envelope("", "", &answer.warning, &request_id, answer.response),
            None,
        ),
        Err(e) => (
            e.status,
            envelope(e.error, &e.message, "", &request_id, json!({})),
            Some(e.error.to_string()),
        ),
    };

    let call_name = match call {
        Some(c) => c.name().to_string(),
        None => path
            .strip_prefix("/api/v2/")
            .unwrap_or(path.as_str())
            .to_string(),
    };
    sim.wire().push(WireRecord {
        platform: PLATFORM,
        call: call_name,
        method,
        path,
        params: received.wire_params(),
        files: received.wire_files(),
        body_len: received.body_len,
        status: status.as_u16(),
        error,
    });
    (status, Json(body)).into_response()
}

fn envelope(error: &str, message: &str, warning: &str, request_id: &str, response: Value) -> Value {
    json!({
        "error": error,
        "message": message,
        "warning": warning,
        "request_id": request_id,
        "response": response,
    })
}

fn dispatch(
    state: &mut SimState,
    call: Option<Call>,
    method: &str,
    path: &str,
    r: &Received,
    config: &ShopeeSimConfig,
    now_ms: i64,
) -> Outcome {
    let call = call.ok_or_else(|| ApiError::new("error_not_found", "API not found."))?;
    if method != call.method() {
        return Err(ApiError::param(format_args!(
            "{} only accepts {}",
            call.name(),
            call.method()
        ))
        .with_status(StatusCode::METHOD_NOT_ALLOWED));
    }
    if matches!(r.payload, Payload::TooLarge) {
        return Err(ApiError::param(format_args!(
            "the request body exceeds {} bytes",
            config.max_request_bytes
        ))
        .with_status(StatusCode::PAYLOAD_TOO_LARGE));
    }
    let caller = authenticate(state, call, path, r, config, now_ms)?;
    let ctx = Ctx {
        caller,
        config,
        now_ms,
    };
    match call.body() {
        BodyKind::Json => {
            let body = json_body(call, &r.payload)?;
            match call {
                Call::InitVideoUpload => init_video_upload(state, &ctx, body),
                Call::CompleteVideoUpload => complete_video_upload(state, &ctx, body),
                _ => cancel_video_upload(state, &ctx, body),
            }
        }
        BodyKind::Multipart => {
            multipart_body(call, &r.payload)?;
            match call {
                Call::UploadVideoPart => upload_video_part(state, &ctx, &r.payload),
                _ => upload_image(state, &ctx, &r.payload),
            }
        }
        BodyKind::None => get_video_upload_result(state, &ctx, r),
    }
}

/// Who is calling, once the common checks passed.
#[derive(Debug, Clone, Copy)]
struct Caller {
    /// The shop, for shop-shape calls; `None` for public-shape calls.
    shop_id: Option<u64>,
}

struct Ctx<'a> {
    caller: Caller,
    config: &'a ShopeeSimConfig,
    now_ms: i64,
}

/// The common checks: partner, timestamp, signature and, for the shop shape, the token.
fn authenticate(
    state: &SimState,
    call: Call,
    path: &str,
    r: &Received,
    config: &ShopeeSimConfig,
    now_ms: i64,
) -> Result<Caller, ApiError> {
    let partner_id = r
        .query("partner_id")
        .ok_or_else(|| ApiError::param_exact("There is no partner_id in query."))?;
    let timestamp = r
        .query("timestamp")
        .ok_or_else(|| ApiError::param_exact("There is no timestamp in query."))?;
    let sign = r
        .query("sign")
        .ok_or_else(|| ApiError::param_exact("There is no sign in query."))?;
    // Public-type calls take the shop shape when either shop parameter is present.
    let shop_shape =
        !call.public_type() || r.query("access_token").is_some() || r.query("shop_id").is_some();
    let shop = if shop_shape {
        let token = r
            .query("access_token")
            .ok_or_else(|| ApiError::param_exact("There is no access_token in query."))?;
        let shop_id = r
            .query("shop_id")
            .ok_or_else(|| ApiError::param_exact("There is no shop_id in query."))?;
        Some((token, shop_id))
    } else {
        None
    };

    if partner_id.parse::<u64>().ok() != Some(config.partner_id) {
        return Err(ApiError::param_exact("Invalid partner_id."));
    }
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| ApiError::param_exact("Invalid timestamp."))?;
    let tolerance = i64::try_from(config.timestamp_tolerance.as_secs()).unwrap_or(i64::MAX);
    if (now_ms.div_euclid(1000) - ts).abs() > tolerance {
        return Err(ApiError::param_exact("Timestamp is expired."));
    }
    let base = match shop {
        Some((token, shop_id)) => signing::shop_base(partner_id, path, timestamp, token, shop_id),
        None => signing::public_base(partner_id, path, timestamp),
    };
    if sign != signing::sign(&config.partner_key, &base) {
        return Err(ApiError::new("error_sign", "Wrong sign."));
    }

    let Some((token, shop_id)) = shop else {
        return Ok(Caller { shop_id: None });
    };
    let shop_id: u64 = shop_id
        .parse()
        .map_err(|_| ApiError::param("shop_id must be an integer"))?;
    let known = state
        .tokens
        .get(token)
        .filter(|t| t.shop_id == shop_id)
        .ok_or_else(|| ApiError::new("error_auth", "Invalid access_token."))?;
    let ttl = i64::try_from(config.access_token_ttl.as_millis()).unwrap_or(i64::MAX);
    if now_ms >= known.issued_ms.saturating_add(ttl) {
        return Err(ApiError::new(
            "invalid_acceess_token",
            "Invalid access_token.",
        ));
    }
    Ok(Caller {
        shop_id: Some(shop_id),
    })
}

fn json_body(call: Call, payload: &Payload) -> Result<&Map<String, Value>, ApiError> {
    match payload {
        Payload::Json(map) => Ok(map),
        Payload::Unreadable(reason) => Err(ApiError::param(reason)),
        _ => Err(ApiError::param(format_args!(
            "{} takes a JSON body (Content-Type: application/json)",
            call.name()
        ))),
    }
}

fn multipart_body(call: Call, payload: &Payload) -> Result<(), ApiError> {
    match payload {
        Payload::Form {
            multipart: true, ..
        } => Ok(()),
        Payload::Unreadable(reason) if reason.starts_with("malformed multipart") => {
            Err(ApiError::param(reason))
        }
        _ => Err(ApiError::param(format_args!(
            "{} takes a multipart/form-data body",
            call.name()
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter helpers

fn required<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a Value, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Err(ApiError::param(format_args!("{name} is required"))),
        Some(v) => Ok(v),
    }
}

fn required_str<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    required(body, name)?
        .as_str()
        .ok_or_else(|| ApiError::param(format_args!("{name} must be a string")))
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

fn random_hex(bytes: usize) -> String {
    let data: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(data)
}

fn uuid_ish() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Looks a session up for `caller`: unknown, another shop's, or expired → `error_invalid_upload_id`.
fn session<'a>(
    state: &'a mut SimState,
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<&'a mut Upload, ApiError> {
    let upload = state
        .uploads
        .get_mut(id)
        .filter(|u| ctx.caller.shop_id.is_none_or(|s| s == u.shop_id))
        .ok_or_else(|| ApiError::invalid_upload_id("Invalid video_upload_id."))?;
    if upload.expired(ctx.now_ms) {
        return Err(ApiError::invalid_upload_id(
            "The video upload session has expired.",
        ));
    }
    Ok(upload)
}

// ---------------------------------------------------------------------------------------------
// Video calls

fn init_video_upload(state: &mut SimState, ctx: &Ctx<'_>, body: &Map<String, Value>) -> Outcome {
    let config = ctx.config;
    let file_md5 = required_str(body, "file_md5")?;
    if !is_hex32(file_md5) || file_md5.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::param(
            "file_md5 must be the lowercase hex MD5 of the file (32 characters)",
        ));
    }
    let file_size = required(body, "file_size")?
        .as_u64()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::param("file_size must be a positive integer"))?;
    if file_size > config.max_video_bytes {
        return Err(ApiError::new(
            "error_file_size",
            format!(
                "The video file size {file_size} exceeds the limit of {} bytes.",
                config.max_video_bytes
            ),
        ));
    }
    let day = ctx.now_ms.div_euclid(86_400_000);
    let today = state.inits_per_day.entry(day).or_insert(0);
    if config
        .daily_upload_limit
        .is_some_and(|limit| *today >= limit)
    {
        return Err(ApiError::new(
            "error_limit",
            "The daily video upload limit is reached.",
        ));
    }
    *today += 1;

    let part_size = config.part_size.max(1);
    let part_count = u32::try_from(file_size.div_ceil(part_size))
        .map_err(|_| ApiError::param("file_size needs too many parts"))?;
    let id = format!("{}_{}_000000", config.region, uuid_ish());
    let ttl = i64::try_from(config.upload_session_ttl.as_millis()).unwrap_or(i64::MAX);
    state.uploads.insert(
        id.clone(),
        Upload {
            // Shop-type call: authenticate guarantees the shop shape.
            shop_id: ctx.caller.shop_id.unwrap_or(config.shop_id),
            file_md5: file_md5.to_string(),
            file_size,
            part_size,
            part_count,
            expires_at_ms: ctx.now_ms.saturating_add(ttl),
            parts: BTreeMap::new(),
            prefix_md5: Some((Md5::new(), 0)),
            phase: Phase::Initiated,
        },
    );
    state.upload_order.push(id.clone());
    state.counters.sessions_initiated += 1;
    Ok(Answer::of(json!({ "video_upload_id": id })))
}

fn upload_video_part(state: &mut SimState, ctx: &Ctx<'_>, form: &Payload) -> Outcome {
    let id = form
        .text("video_upload_id")
        .ok_or_else(|| ApiError::param("video_upload_id is required"))?;
    let part_seq_raw = form
        .text("part_seq")
        .ok_or_else(|| ApiError::param("part_seq is required"))?;
    let content_md5 = form
        .text("content_md5")
        .ok_or_else(|| ApiError::param("content_md5 is required"))?;
    let files = form.files("part_content");
    let part = match files.as_slice() {
        [one] => *one,
        [] if form.text("part_content").is_some() => {
            return Err(ApiError::param(
                "part_content must be a file field (a multipart part with a filename)",
            ))
        }
        [] => return Err(ApiError::param("part_content is required")),
        _ => return Err(ApiError::param("part_content must be sent once")),
    };

    let upload = session(state, ctx, id)?;
    match upload.phase {
        Phase::Initiated => {}
        Phase::Completed { .. } => return Err(ApiError::already_completed()),
        Phase::Cancelled => {
            return Err(ApiError::invalid_upload_id(
                "The video upload has been cancelled.",
            ))
        }
    }
    let seq: i64 = part_seq_raw
        .trim()
        .parse()
        .map_err(|_| ApiError::param("part_seq must be an integer"))?;
    let seq = u32::try_from(seq)
        .ok()
        .filter(|s| *s < upload.part_count)
        .ok_or_else(|| {
            ApiError::part_seq(format!(
                "part_seq {seq} is out of range: this upload has parts 0 to {}.",
                upload.part_count - 1
            ))
        })?;
    let expected = upload.expected_part_size(seq);
    let size = part.bytes.len();
    if size as u64 != expected {
        return Err(ApiError::new(
            "error_invalid_part_size",
            format!("Part {seq} is {size} bytes; it must be exactly {expected} bytes."),
        ));
    }
    if !is_hex32(content_md5) || !content_md5.eq_ignore_ascii_case(&part.md5_hex) {
        return Err(ApiError::param("content_md5 mismatch"));
    }
    let times_received = upload
        .parts
        .get(&seq)
        .map_or(1, |p| p.info.times_received + 1);
    let replaces_hashed = upload
        .prefix_md5
        .as_ref()
        .is_some_and(|(_, next)| seq < *next)
        && upload
            .parts
            .get(&seq)
            .is_some_and(|p| p.bytes != part.bytes);
    if replaces_hashed {
        upload.prefix_md5 = None;
    }
    upload.parts.insert(
        seq,
        StoredPart {
            info: PartInfo {
                part_seq: seq,
                part_seq_as_sent: part_seq_raw.to_string(),
                size,
                content_md5_as_sent: content_md5.to_string(),
                times_received,
            },
            bytes: part.bytes.clone(),
        },
    );
    upload.advance_prefix_md5();
    state.counters.parts_accepted += 1;
    state.counters.part_bytes_accepted += size as u64;
    Ok(Answer::empty())
}

fn complete_video_upload(
    state: &mut SimState,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Outcome {
    let id = required_str(body, "video_upload_id")?;
    let list = required(body, "part_seq_list")?
        .as_array()
        .ok_or_else(|| ApiError::param("part_seq_list must be a list of integers"))?;
    let report_data = required(body, "report_data")?
        .as_object()
        .ok_or_else(|| ApiError::param("report_data must be an object"))?;
    let upload_cost = required(report_data, "upload_cost")
        .map_err(|_| ApiError::param("report_data.upload_cost is required"))?
        .as_u64()
        .ok_or_else(|| ApiError::param("report_data.upload_cost must be an integer"))?;
    let mut seqs = Vec::with_capacity(list.len());
    for v in list {
        let n = v
            .as_i64()
            .ok_or_else(|| ApiError::param("part_seq_list must be a list of integers"))?;
        seqs.push(n);
    }

    let config = ctx.config;
    let now_ms = ctx.now_ms;
    let upload = session(state, ctx, id)?;
    match upload.phase {
        Phase::Initiated => {}
        Phase::Completed { .. } => return Err(ApiError::already_completed()),
        Phase::Cancelled => {
            return Err(ApiError::invalid_upload_id(
                "The video upload has been cancelled.",
            ))
        }
    }
    let count = upload.part_count;
    let mut seen = BTreeSet::new();
    for &n in &seqs {
        let seq = u32::try_from(n)
            .ok()
            .filter(|s| *s < count)
            .ok_or_else(|| {
                ApiError::part_seq(format!(
                    "part_seq {n} in part_seq_list is out of range: this upload has parts 0 to {}.",
                    count - 1
                ))
            })?;
        if !seen.insert(seq) {
            return Err(ApiError::part_seq(format!(
                "part_seq {seq} is listed twice in part_seq_list."
            )));
        }
    }
    if let Some(missing) = (0..count).find(|s| !seen.contains(s)) {
        return Err(ApiError::part_seq(format!(
            "part_seq_list must list every part 0 to {}: {missing} is missing.",
            count - 1
        )));
    }
    if let Some(missing) = (0..count).find(|s| !upload.parts.contains_key(s)) {
        return Err(ApiError::part_seq(format!(
            "Part {missing} has not been uploaded."
        )));
    }

    let mut file = BytesMut::with_capacity(usize::try_from(upload.file_size).unwrap_or(0));
    for part in upload.parts.values() {
        file.extend_from_slice(&part.bytes);
    }
    let file = file.freeze();
    if upload.file_md5_of(&file) != upload.file_md5 {
        return Err(ApiError::param(
            "the MD5 of the uploaded parts does not match file_md5",
        ));
    }

    let probed = probe::video_duration_secs(&file);
    let verdict = match (&config.force_transcode_failure, &probed) {
        (Some(message), _) => Verdict::Failed {
            message: message.clone(),
        },
        (None, Err(why)) => Verdict::Failed {
            message: format!("Video format is not supported: {why}."),
        },
        (None, Ok(secs)) if *secs < config.min_video_duration.as_secs_f64() => Verdict::Failed {
            message: "Video is too short".to_string(),
        },
        (None, Ok(secs)) if *secs > config.max_video_duration.as_secs_f64() => Verdict::Failed {
            message: "Video is too long".to_string(),
        },
        (None, Ok(secs)) => Verdict::Ready {
            duration_secs: *secs,
        },
    };
    let delay = i64::try_from(config.transcode_delay.as_millis()).unwrap_or(i64::MAX);
    let mut ordered: Vec<u32> = Vec::with_capacity(seqs.len());
    for n in seqs {
        // Every entry was range-checked above.
        if let Ok(s) = u32::try_from(n) {
            ordered.push(s);
        }
    }
    upload.phase = Phase::Completed {
        ready_at_ms: now_ms.saturating_add(delay),
        assembled: file,
        verdict,
        probed_duration: probed.ok(),
        part_seq_list: ordered,
        upload_cost,
        media_key: format!("{}-11110105-{}", config.region, random_hex(8)),
    };
    // The assembled file now holds the bytes; keep only the parts' descriptions.
    for part in upload.parts.values_mut() {
        part.bytes = Bytes::new();
    }
    state.counters.sessions_completed += 1;
    Ok(Answer::empty())
}

fn get_video_upload_result(state: &mut SimState, ctx: &Ctx<'_>, r: &Received) -> Outcome {
    let id = r
        .query("video_upload_id")
        .ok_or_else(|| ApiError::param("video_upload_id is required"))?;
    let config = ctx.config;
    let now_ms = ctx.now_ms;
    let upload = session(state, ctx, id)?;
    let status = upload.status(now_ms);
    let mut response = json!({ "status": status.as_str() });
    if let Phase::Completed {
        verdict, media_key, ..
    } = &upload.phase
    {
        let region = config.region.to_uppercase();
        match (status, verdict) {
            (UploadStatus::Succeeded, Verdict::Ready { duration_secs }) => {
                response["video_info"] = json!({
                    "video_url_list": [{
                        "video_url_region": region,
                        "video_url": format!("{}/{media_key}", config.video_url_base),
                    }],
                    "thumbnail_url_list": [{
                        "image_url_region": region,
                        "image_url": format!("{}/{media_key}_tn", config.image_url_base),
                    }],
                    "duration": duration_secs.round() as u64,
                });
            }
            (UploadStatus::Failed, Verdict::Failed { message }) => {
                response["message"] = json!(message);
            }
            _ => {}
        }
    }
    Ok(Answer::of(response))
}

fn cancel_video_upload(state: &mut SimState, ctx: &Ctx<'_>, body: &Map<String, Value>) -> Outcome {
    let id = required_str(body, "video_upload_id")?;
    let upload = session(state, ctx, id)?;
    match upload.phase {
        Phase::Completed { .. } => Err(ApiError::already_completed()),
        // Cancelling twice is harmless: the session stays CANCELLED.
        Phase::Cancelled => Ok(Answer::empty()),
        Phase::Initiated => {
            upload.phase = Phase::Cancelled;
            upload
                .parts
                .values_mut()
                .for_each(|p| p.bytes = Bytes::new());
            state.counters.sessions_cancelled += 1;
            Ok(Answer::empty())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Images

fn is_jpeg(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xD8, 0xFF])
}

fn is_png(b: &[u8]) -> bool {
    b.starts_with(b"\x89PNG\r\n\x1a\n")
}

fn upload_image(state: &mut SimState, ctx: &Ctx<'_>, form: &Payload) -> Outcome {
    let config = ctx.config;
    let scene = form.text("scene").unwrap_or("normal");
    if !matches!(scene, "normal" | "desc") {
        return Err(ApiError::param("scene must be normal or desc"));
    }
    let ratio = form.text("ratio").unwrap_or("1:1");
    if !matches!(ratio, "1:1" | "3:4") {
        return Err(ApiError::param("ratio must be 1:1 or 3:4"));
    }
    if ratio == "3:4" && !config.ratio_3_4_whitelisted {
        return Err(ApiError::param(
            "ratio 3:4 is only available to whitelisted sellers",
        ));
    }
    let images = form.files("image");
    if images.is_empty() {
        return Err(ApiError::param("image is required"));
    }
    if images.len() > config.max_images_per_call {
        return Err(ApiError::param(format_args!(
            "at most {} images can be uploaded at once, got {}",
            config.max_images_per_call,
            images.len()
        )));
    }

    let region = config.region.to_uppercase();
    let mut list = Vec::with_capacity(images.len());
    let mut first_ok: Option<Value> = None;
    let mut refused = 0u64;
    for (index, image) in images.iter().enumerate() {
        let bytes = &image.bytes;
        let failure = if bytes.len() as u64 > config.max_image_bytes {
            Some((
                "error_file_size",
                format!(
                    "Image size {} exceeds the limit of {} bytes.",
                    bytes.len(),
                    config.max_image_bytes
                ),
            ))
        } else if !is_jpeg(bytes) && !is_png(bytes) {
            Some((
                "error_param",
                "Image format is not supported; only JPG, JPEG and PNG are accepted.".to_string(),
            ))
        } else {
            None
        };
        match failure {
            Some((error, message)) => {
                refused += 1;
                list.push(json!({ "id": index, "error": error, "message": message }));
            }
            None => {
                let image_id = format!("{}-11134201-{}", config.region, random_hex(8));
                let info = json!({
                    "image_id": image_id,
                    "image_url_list": [{
                        "image_url_region": region,
                        "image_url": format!("{}/{image_id}", config.image_url_base),
                    }],
                });
                if first_ok.is_none() {
                    first_ok = Some(info.clone());
                }
                list.push(json!({ "id": index, "error": "", "message": "", "image_info": info }));
                state.images.push(StoredImage {
                    image_id,
                    bytes: bytes.clone(),
                    scene: scene.to_string(),
                    ratio: ratio.to_string(),
                });
            }
        }
    }
    state.counters.images_accepted += images.len() as u64 - refused;
    state.counters.images_refused += refused;

    let mut response = json!({ "image_info_list": list });
    if let Some(info) = first_ok {
        response["image_info"] = info;
    }
    let warning = if refused > 0 {
        format!(
            "{refused} of {} images failed; see image_info_list.",
            images.len()
        )
    } else {
        String::new()
    };
    Ok(Answer { response, warning })
}
