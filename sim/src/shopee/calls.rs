//! Shopee's call table, its error codes and envelope, and the request pipeline: read the
//! request, check it (`auth`), run the call (`video`, `image`), answer and record it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::auth::{authenticate, Caller};
use super::image::upload_image;
use super::media::{
    media_complete_video_upload, media_get_video_upload_result, media_init_video_upload,
    media_upload_image,
};
use super::video::{
    cancel_video_upload, complete_video_upload, get_video_upload_result, init_video_upload,
    upload_video_part,
};
use super::{Module, ShopeeSim, ShopeeSimConfig, ShopeeState, Upload, PLATFORM};
use crate::request::{self, Payload, ReadOptions, Received};
use crate::util::random_hex;
use crate::WireRecord;

// ---------------------------------------------------------------------------------------------
// Calls

/// The calls the simulator answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    InitVideoUpload,
    UploadVideoPart,
    CompleteVideoUpload,
    GetVideoUploadResult,
    CancelVideoUpload,
    UploadImage,
}

/// How a call's parameters travel in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyKind {
    /// A JSON object (`Content-Type: application/json`).
    Json,
    /// `multipart/form-data`.
    Multipart,
    /// No body: query only.
    None,
}

impl Call {
    pub(super) const ALL: [Call; 6] = [
        Call::InitVideoUpload,
        Call::UploadVideoPart,
        Call::CompleteVideoUpload,
        Call::GetVideoUploadResult,
        Call::CancelVideoUpload,
        Call::UploadImage,
    ];

    /// The module and call of a path: `/api/v2/media_space/{call}` or `/api/v2/media/{call}`
    /// (both modules have the same six call names).
    pub(super) fn from_path(path: &str) -> Option<(Module, Call)> {
        [Module::MediaSpace, Module::Media]
            .into_iter()
            .find_map(|module| {
                let name = path.strip_prefix(module.prefix())?;
                let call = Call::ALL.into_iter().find(|c| c.name() == name)?;
                Some((module, call))
            })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Call::InitVideoUpload => "init_video_upload",
            Call::UploadVideoPart => "upload_video_part",
            Call::CompleteVideoUpload => "complete_video_upload",
            Call::GetVideoUploadResult => "get_video_upload_result",
            Call::CancelVideoUpload => "cancel_video_upload",
            Call::UploadImage => "upload_image",
        }
    }

    pub(super) fn method(self) -> &'static str {
        match self {
            Call::GetVideoUploadResult => "GET",
            _ => "POST",
        }
    }

    /// `media_space`'s spec marks these as public-type: either signature shape is accepted.
    /// Every `media` call is shop-type (the SDKs generated from its reference sign them all
    /// with the shop's token).
    pub(super) fn public_type(self, module: Module) -> bool {
        module == Module::MediaSpace
            && matches!(self, Call::UploadVideoPart | Call::CompleteVideoUpload)
    }

    pub(super) fn body(self) -> BodyKind {
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
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) error: &'static str,
    pub(super) message: String,
}

impl ApiError {
    /// An error with the HTTP status Shopee's gateway uses for its code.
    pub(super) fn new(error: &'static str, message: impl Into<String>) -> Self {
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
    pub(super) fn param_exact(message: impl Into<String>) -> Self {
        Self::new("error_param", message)
    }

    /// `error_param` "Wrong parameters, detail: {detail}."
    pub(super) fn param(detail: impl std::fmt::Display) -> Self {
        Self::new(
            "error_param",
            format!("Wrong parameters, detail: {detail}."),
        )
    }

    pub(super) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub(super) fn invalid_upload_id(message: impl Into<String>) -> Self {
        Self::new("error_invalid_upload_id", message)
    }

    pub(super) fn already_completed() -> Self {
        Self::new(
            "error_already_completed",
            "The video upload has already been completed.",
        )
    }

    pub(super) fn part_seq(message: impl Into<String>) -> Self {
        Self::new("error_invalid_part_seq", message)
    }
}

/// A success answer: the `response` object and the `warning` text.
pub(super) struct Answer {
    pub(super) response: Value,
    pub(super) warning: String,
}

impl Answer {
    pub(super) fn of(response: Value) -> Self {
        Self {
            response,
            warning: String::new(),
        }
    }

    pub(super) fn empty() -> Self {
        Self::of(json!({}))
    }
}

pub(super) type Outcome = Result<Answer, ApiError>;

// ---------------------------------------------------------------------------------------------
// The request pipeline

/// `v2.shop.get_shop_info`: the shop's name, region and status, at the top level of the
/// answer (beside `error` and `message`, not under `response`).
pub(super) const GET_SHOP_INFO: &str = "/api/v2/shop/get_shop_info";
/// `v2.shop.get_profile`: the shop's logo, description and name, under `response`.
pub(super) const GET_PROFILE: &str = "/api/v2/shop/get_profile";

/// The two shop calls an account check makes: shop-type GETs, authenticated like every shop
/// call, answering for the shop the token belongs to.
async fn shop_call(sim: ShopeeSim, req: Request<Body>, path: String) -> Response {
    let method = req.method().as_str().to_string();
    let config = sim.config();
    let now_ms = sim.clock().now_millis();
    let (received, _parts, _body) = request::head(req);
    let result = {
        let mut state = sim.state();
        state.counters.requests += 1;
        let result = if method != "GET" {
            Err(ApiError::param(format_args!("{path} only accepts GET"))
                .with_status(StatusCode::METHOD_NOT_ALLOWED))
        } else {
            authenticate(&mut state, false, &path, &received, &config, now_ms)
        };
        if result.is_err() {
            state.counters.rejected += 1;
        }
        result
    };
    let request_id = random_hex(16);
    let shop = |id: Option<u64>| -> (String, String) {
        match id {
            Some(id) if id == config.shop_id => {
                ("Sim Shop".to_string(), config.region.to_ascii_uppercase())
            }
            Some(id) => config
                .more_shops
                .iter()
                .find(|s| s.shop_id == id)
                .map(|s| (s.shop_name.clone(), s.region.clone()))
                .unwrap_or_default(),
            None => Default::default(),
        }
    };
    let (status, body, error) = match result {
        Ok(caller) => {
            let (name, region) = shop(caller.shop_id);
            let body = if path == GET_SHOP_INFO {
                json!({
                    "error": "", "message": "", "request_id": request_id,
                    "shop_name": name, "region": region, "status": "NORMAL",
                    "is_cb": false, "is_sip": false,
                    "auth_time": now_ms / 1000, "expire_time": now_ms / 1000 + 365 * 86_400,
                })
            } else {
                envelope(
                    "",
                    "",
                    "",
                    &request_id,
                    json!({
                        "shop_logo": "", "description": "", "shop_name": name,
                    }),
                )
            };
            (StatusCode::OK, body, None)
        }
        Err(e) => (
            e.status,
            envelope(e.error, &e.message, "", &request_id, json!({})),
            Some(e.error.to_string()),
        ),
    };
    let call = path.trim_start_matches("/api/v2/").to_string();
    recorded(&sim, call, method, path, &received, (status, body, error))
}

/// Answers one request and records it in the wire log.
pub(super) async fn handle(sim: ShopeeSim, req: Request<Body>) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    if path == GET_SHOP_INFO || path == GET_PROFILE {
        return shop_call(sim, req, path).await;
    }
    if path == super::TOKEN_GET_PATH || path == super::ACCESS_TOKEN_GET_PATH {
        return super::oauth::handle(sim, req, path).await;
    }
    let config = sim.config();
    let options = ReadOptions {
        limit: config.max_request_bytes,
        json: true,
        file_fields: &[],
    };
    let call = Call::from_path(&path);
    let now_ms = sim.clock().now_millis();
    // The call, its method and the credentials (all in the query) are checked before the
    // body is read: an unauthenticated upload costs no memory. A refused body that declares
    // at most `SMALL_BODY` bytes (a JSON call) is still read, for the wire log.
    const SMALL_BODY: u64 = 64 * 1024;
    let (mut received, parts, body) = request::head(req);
    let admitted = admit(
        &mut sim.state(),
        call,
        &method,
        &path,
        &received,
        &config,
        now_ms,
    );
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if admitted.is_ok() || declared.is_some_and(|n| n <= SMALL_BODY) {
        request::read_body(&mut received, parts, body, options).await;
    }

    let result = {
        let mut state = sim.state();
        let result = admitted
            .and_then(|()| dispatch(&mut state, call, &method, &path, &received, &config, now_ms));
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
        Some((Module::MediaSpace, c)) => c.name().to_string(),
        Some((Module::Media, c)) => format!("media/{}", c.name()),
        None => path
            .strip_prefix("/api/v2/")
            .unwrap_or(path.as_str())
            .to_string(),
    };
    recorded(
        &sim,
        call_name,
        method,
        path,
        &received,
        (status, body, error),
    )
}

/// The answer `(status, body, error code)` to a request, recorded in the wire log first.
pub(super) fn recorded(
    sim: &ShopeeSim,
    call: String,
    method: String,
    path: String,
    received: &Received,
    (status, body, error): (StatusCode, Value, Option<String>),
) -> Response {
    sim.wire().push(WireRecord {
        platform: PLATFORM,
        call,
        method,
        path,
        params: received.params_body_prefixed(),
        files: received.file_sizes(),
        body_len: received.body_len,
        status: status.as_u16(),
        error,
    });
    (status, Json(body)).into_response()
}

pub(super) fn envelope(
    error: &str,
    message: &str,
    warning: &str,
    request_id: &str,
    response: Value,
) -> Value {
    json!({
        "error": error,
        "message": message,
        "warning": warning,
        "request_id": request_id,
        "response": response,
    })
}

/// The checks that need no body: a known call, its method, and the caller's credentials.
fn admit(
    state: &mut ShopeeState,
    call: Option<(Module, Call)>,
    method: &str,
    path: &str,
    r: &Received,
    config: &ShopeeSimConfig,
    now_ms: i64,
) -> Result<(), ApiError> {
    let (module, call) = call.ok_or_else(|| ApiError::new("error_not_found", "API not found."))?;
    if method != call.method() {
        return Err(ApiError::param(format_args!(
            "{} only accepts {}",
            call.name(),
            call.method()
        ))
        .with_status(StatusCode::METHOD_NOT_ALLOWED));
    }
    authenticate(state, call.public_type(module), path, r, config, now_ms).map(|_| ())
}

pub(super) fn dispatch(
    state: &mut ShopeeState,
    call: Option<(Module, Call)>,
    method: &str,
    path: &str,
    r: &Received,
    config: &ShopeeSimConfig,
    now_ms: i64,
) -> Outcome {
    let (module, call) = call.ok_or_else(|| ApiError::new("error_not_found", "API not found."))?;
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
    let caller = authenticate(state, call.public_type(module), path, r, config, now_ms)?;
    let ctx = Ctx {
        module,
        caller,
        config,
        now_ms,
    };
    let media = module == Module::Media;
    match call.body() {
        BodyKind::Json => {
            let body = json_body(call, &r.payload)?;
            match call {
                Call::InitVideoUpload if media => media_init_video_upload(state, &ctx, body),
                Call::InitVideoUpload => init_video_upload(state, &ctx, body),
                Call::CompleteVideoUpload if media => {
                    media_complete_video_upload(state, &ctx, body)
                }
                Call::CompleteVideoUpload => complete_video_upload(state, &ctx, body),
                _ => cancel_video_upload(state, &ctx, body),
            }
        }
        BodyKind::Multipart => {
            multipart_body(call, &r.payload)?;
            match call {
                Call::UploadVideoPart => upload_video_part(state, &ctx, r),
                _ if media => media_upload_image(state, &ctx, &r.payload),
                _ => upload_image(state, &ctx, &r.payload),
            }
        }
        BodyKind::None if media => media_get_video_upload_result(state, &ctx, r),
        BodyKind::None => get_video_upload_result(state, &ctx, r),
    }
}

pub(super) struct Ctx<'a> {
    /// The module of the call's path.
    pub(super) module: Module,
    pub(super) caller: Caller,
    pub(super) config: &'a ShopeeSimConfig,
    pub(super) now_ms: i64,
}

pub(super) fn json_body(call: Call, payload: &Payload) -> Result<&Map<String, Value>, ApiError> {
    match payload {
        Payload::Json(map) => Ok(map),
        Payload::Unsupported(reason) | Payload::Malformed(reason) | Payload::ReadFailed(reason) => {
            Err(ApiError::param(reason))
        }
        _ => Err(ApiError::param(format_args!(
            "{} takes a JSON body (Content-Type: application/json)",
            call.name()
        ))),
    }
}

pub(super) fn multipart_body(call: Call, payload: &Payload) -> Result<(), ApiError> {
    match payload {
        Payload::Form {
            multipart: true, ..
        } => Ok(()),
        Payload::Malformed(reason) if reason.starts_with("malformed multipart") => {
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

pub(super) fn required<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a Value, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Err(ApiError::param(format_args!("{name} is required"))),
        Some(v) => Ok(v),
    }
}

pub(super) fn required_str<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, ApiError> {
    required(body, name)?
        .as_str()
        .ok_or_else(|| ApiError::param(format_args!("{name} must be a string")))
}

pub(super) fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(super) fn uuid_ish() -> String {
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

/// Looks a session up for `caller`: unknown, another shop's, the other module's, or expired →
/// `error_invalid_upload_id`.
pub(super) fn session<'a>(
    state: &'a mut ShopeeState,
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<&'a mut Upload, ApiError> {
    let upload = state
        .uploads
        .get_mut(id)
        .filter(|u| u.module == ctx.module)
        .filter(|u| ctx.caller.shop_id.is_none_or(|s| s == u.shop_id))
        .ok_or_else(|| ApiError::invalid_upload_id("Invalid video_upload_id."))?;
    if upload.expired(ctx.now_ms) {
        return Err(ApiError::invalid_upload_id(
            "The video upload session has expired.",
        ));
    }
    Ok(upload)
}
