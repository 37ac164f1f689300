//! Lazada's call table: the API paths served (the path a client signs; the URL adds the
//! `/rest` base, and they are also the `call` names in the [`crate::WireLog`]), the error
//! codes, the answer envelopes, and the request pipeline (read, check in `auth`, run in
//! `video`/`image`, answer and record).

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, MethodRouter};
use axum::Json;
use futures::StreamExt;
use serde_json::{json, Map, Value};

use super::{image, video, LazadaSim, PLATFORM};
use crate::request::{self, Field, FilePart, Payload, ReadOptions};
use crate::WireRecord;

/// InitCreateVideo.
pub const BLOCK_CREATE: &str = "/media/video/block/create";
/// UploadVideoBlock.
pub const BLOCK_UPLOAD: &str = "/media/video/block/upload";
/// CompleteCreateVideo.
pub const BLOCK_COMMIT: &str = "/media/video/block/commit";
/// GetVideo.
pub const VIDEO_GET: &str = "/media/video/get";
/// GetVideoQuota.
pub const QUOTA_GET: &str = "/media/video/quota/get";
/// `/seller/get` (GetSeller): the seller the token belongs to, in the gateway's country.
pub const SELLER_GET: &str = "/seller/get";
/// RemoveVideo.
pub const VIDEO_REMOVE: &str = "/media/video/remove";
/// UploadImage.
pub const IMAGE_UPLOAD: &str = "/image/upload";
/// MigrateImage.
pub const IMAGE_MIGRATE: &str = "/image/migrate";
/// GenerateAccessToken, on the auth gateway.
pub const TOKEN_CREATE: &str = "/auth/token/create";
/// RefreshAccessToken, on the auth gateway.
pub const TOKEN_REFRESH: &str = "/auth/token/refresh";

/// The error codes the simulator answers with.
pub mod codes {
    /// Gateway: a mandatory parameter (system or business) is absent.
    pub const MISSING_PARAMETER: &str = "MissingParameter";
    /// Gateway: `app_key` is not a known application.
    pub const INVALID_APP_KEY: &str = "InvalidAppKey";
    /// Gateway: the signature is wrong, or `sign_method` is not `sha256`.
    pub const INCOMPLETE_SIGNATURE: &str = "IncompleteSignature";
    /// Gateway: `timestamp` unreadable or more than the tolerance away from the server clock.
    pub const INVALID_TIMESTAMP: &str = "InvalidTimestamp";
    /// Gateway: `access_token` unknown or expired.
    pub const ILLEGAL_ACCESS_TOKEN: &str = "IllegalAccessToken";
    /// `/auth/token/create`: the code is unknown, used already or past its 30 minutes.
    pub const INVALID_CODE: &str = "InvalidCode";
    /// `/auth/token/refresh`: the refresh token is unknown, revoked or expired.
    pub const ILLEGAL_REFRESH_TOKEN: &str = "IllegalRefreshToken";
    /// Gateway: no API at this path.
    pub const INVALID_API_PATH: &str = "InvalidApiPath";
    /// Gateway: the call was sent with another HTTP method than the one Lazada's API
    /// reference gives it. Lazada publishes no answer for this case: the code is the
    /// simulator's own (`docs/simulators/lazada.md`).
    pub const INVALID_HTTP_METHOD: &str = "InvalidHttpMethod";
    /// Gateway: the body is not the form or multipart encoding it declares.
    pub const INVALID_PARAMETER: &str = "InvalidParameter";
    /// A request body over the simulator's limit (413; the simulator's own code).
    pub const REQUEST_ENTITY_TOO_LARGE: &str = "RequestEntityTooLarge";
    /// Media / image: a business parameter is malformed or out of range.
    pub const ILLEGAL_PARAMETER: &str = "ILLEGAL_PARAMETER";
    /// Media: block/create refused (file too large).
    pub const FAIL_TO_BLOCK_INIT: &str = "FAIL_TO_BLOCK_INIT";
    /// Media: block/upload refused (unknown / expired / committed upload, block too large).
    pub const FAIL_TO_UPLOAD_BLOCK: &str = "FAIL_TO_UPLOAD_BLOCK";
    /// Media: block/commit refused (unknown upload, missing block, size mismatch).
    pub const FAIL_TO_BLOCK_COMPLETE: &str = "FAIL_TO_BLOCK_COMPLETE";
    /// Media: block/commit refused (the parts list or an eTag does not match).
    pub const FAIL_TO_VALIDATE: &str = "FAIL_TO_VALIDATE";
    /// Media: block/commit refused (video space quota exhausted).
    pub const FAIL_TO_ADD_VIDEO: &str = "FAIL_TO_ADD_VIDEO";
    /// Media: unknown video id.
    pub const FAIL_TO_GET_VIDEO: &str = "FAIL_TO_GET_VIDEO";
}

/// The `type` of an error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Caused by the caller's request (gateway checks and business rules).
    Isv,
    /// A backend service failed.
    Isp,
    /// The API platform itself.
    System,
}

impl ErrorType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Isv => "ISV",
            ErrorType::Isp => "ISP",
            ErrorType::System => "SYSTEM",
        }
    }
}

/// Which envelope an error answer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFamily {
    /// Gateway errors and product (image) API errors: `code`, `type`, `message`, `request_id`.
    Gateway,
    /// Media Center business errors: the gateway fields plus `success:false`, `result_code`,
    /// `result_message` (or, when configured, `code:"0"` with `success:false`).
    Media,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The platform code.
    pub code: &'static str,
    /// The `type` field.
    pub kind: ErrorType,
    /// The envelope family.
    pub family: ErrorFamily,
    /// The human message.
    pub message: String,
}

impl ApiError {
    /// A gateway (or product API) error of type ISV.
    pub fn gateway(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            kind: ErrorType::Isv,
            family: ErrorFamily::Gateway,
            message: message.into(),
        }
    }

    /// A Media Center business error of type ISV.
    pub fn media(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            kind: ErrorType::Isv,
            family: ErrorFamily::Media,
            message: message.into(),
        }
    }

    /// `MissingParameter` for `name`, worded as the gateway words it.
    pub fn missing(name: &str) -> Self {
        Self::gateway(
            codes::MISSING_PARAMETER,
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied"
            ),
        )
    }

    /// Renders the answer. `code_zero_business_failures` selects the `code:"0"`,
    /// `success:false` shape for Media Center business errors.
    pub fn to_json(&self, request_id: &str, code_zero_business_failures: bool) -> Value {
        let mut body = Map::new();
        if self.family == ErrorFamily::Media && code_zero_business_failures {
            body.insert("code".into(), json!("0"));
        } else {
            body.insert("code".into(), json!(self.code));
            body.insert("type".into(), json!(self.kind.as_str()));
            body.insert("message".into(), json!(self.message));
        }
        if self.family == ErrorFamily::Media {
            body.insert("success".into(), json!(false));
            body.insert("result_code".into(), json!(self.code));
            body.insert("result_message".into(), json!(self.message));
        }
        body.insert("request_id".into(), json!(request_id));
        Value::Object(body)
    }
}

/// A Media Center success: `code:"0"`, `success:true`, empty `result_code`/`result_message`,
/// then the call's fields.
pub fn media_success(request_id: &str, data: Map<String, Value>) -> Value {
    let mut body = Map::new();
    body.insert("code".into(), json!("0"));
    body.insert("success".into(), json!(true));
    body.insert("result_code".into(), json!(""));
    body.insert("result_message".into(), json!(""));
    body.extend(data);
    body.insert("request_id".into(), json!(request_id));
    Value::Object(body)
}

/// A product API (image) success: `code:"0"`, `data`, `request_id`.
pub fn data_success(request_id: &str, data: Value) -> Value {
    json!({ "code": "0", "data": data, "request_id": request_id })
}

/// A request the gateway refuses before its body is read is still read, and judged as usual,
/// when it declares at most this many bytes (a JSON or form call): the wire log then shows
/// its parameters.
const READ_REFUSED_UP_TO: u64 = 64 * 1024;

/// A refused request declaring at most this many bytes (a 5 MiB block and its multipart
/// envelope) is drained, read and discarded without being buffered, before it is answered;
/// a larger one, or one of unknown length, is answered at once.
const DRAIN_REFUSED_UP_TO: u64 = 8 << 20;

/// The calls served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    BlockCreate,
    BlockUpload,
    BlockCommit,
    VideoGet,
    QuotaGet,
    VideoRemove,
    ImageUpload,
    ImageMigrate,
    SellerGet,
    TokenCreate,
    TokenRefresh,
}

impl Call {
    /// The token calls, served on the auth gateway (`<server>/auth/rest`) only.
    pub(super) const AUTH: [Call; 2] = [Call::TokenCreate, Call::TokenRefresh];

    pub(super) const ALL: [Call; 9] = [
        Call::BlockCreate,
        Call::BlockUpload,
        Call::BlockCommit,
        Call::VideoGet,
        Call::QuotaGet,
        Call::VideoRemove,
        Call::ImageUpload,
        Call::ImageMigrate,
        Call::SellerGet,
    ];

    pub(super) fn api_path(self) -> &'static str {
        match self {
            Call::BlockCreate => BLOCK_CREATE,
            Call::BlockUpload => BLOCK_UPLOAD,
            Call::BlockCommit => BLOCK_COMMIT,
            Call::VideoGet => VIDEO_GET,
            Call::QuotaGet => QUOTA_GET,
            Call::VideoRemove => VIDEO_REMOVE,
            Call::ImageUpload => IMAGE_UPLOAD,
            Call::ImageMigrate => IMAGE_MIGRATE,
            Call::SellerGet => SELLER_GET,
            Call::TokenCreate => TOKEN_CREATE,
            Call::TokenRefresh => TOKEN_REFRESH,
        }
    }

    /// Whether the call needs the seller's `access_token` (the token calls do not).
    pub(super) fn needs_token(self) -> bool {
        !matches!(self, Call::TokenCreate | Call::TokenRefresh)
    }

    /// The HTTP method Lazada's API reference gives the call: GET for get and quota, POST for
    /// everything else (create, upload, commit, remove, and the image calls); the token calls
    /// take either ("GET/POST").
    pub(super) fn method(self) -> &'static str {
        match self {
            Call::VideoGet | Call::QuotaGet | Call::SellerGet => "GET",
            Call::TokenCreate | Call::TokenRefresh => "GET or POST",
            _ => "POST",
        }
    }

    fn method_ok(self, method: &str) -> bool {
        match self {
            Call::TokenCreate | Call::TokenRefresh => {
                method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("POST")
            }
            _ => method.eq_ignore_ascii_case(self.method()),
        }
    }

    /// The call's declared byte parameters (never signed, even without a `filename`).
    pub(super) fn file_fields(self) -> &'static [&'static str] {
        match self {
            Call::BlockUpload => &["file"],
            Call::ImageUpload => &["image"],
            _ => &[],
        }
    }
}

/// A request's parameters as the Lazada gateway reads them, from the query string, an
/// `application/x-www-form-urlencoded` body or a `multipart/form-data` body, in any mix.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReceivedRequest {
    /// HTTP method.
    pub method: String,
    /// Path as received.
    pub path: String,
    /// Every non-file parameter, decoded. When a name arrives more than once, the first value
    /// wins (query string before body, then body order), as a servlet's `getParameter` does.
    pub params: BTreeMap<String, String>,
    /// File fields, in the order received.
    pub files: Vec<FilePart>,
    /// Body length in bytes.
    pub body_len: usize,
}

impl ReceivedRequest {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The first file field named `field`.
    pub fn file(&self, field: &str) -> Option<&FilePart> {
        self.files.iter().find(|f| f.name == field)
    }

    /// `(field, size)` of every file field, for the wire log.
    pub fn file_sizes(&self) -> Vec<(String, usize)> {
        self.files
            .iter()
            .map(|f| (f.name.clone(), f.bytes.len()))
            .collect()
    }
}

/// Why a request's parameters could not be read. The partially read request is kept so that
/// the wire log still shows what arrived.
#[derive(Debug)]
pub(crate) enum CollectError {
    /// The body is larger than the simulator reads (or could not be read to its end).
    TooLarge(ReceivedRequest),
    /// The body claims a form or multipart encoding it does not follow.
    Malformed(ReceivedRequest, String),
}

/// Reads every parameter of `req` with the one request reader. A multipart field is a file
/// when it has a `filename`, or when its name is one of `file_fields` (the call's declared
/// byte parameters); every other field is a text parameter, which must be UTF-8. Bodies of
/// any other content type (JSON, none) carry no parameters for the gateway.
pub(crate) async fn collect(
    req: Request,
    file_fields: &[&str],
    body_limit: usize,
) -> Result<ReceivedRequest, CollectError> {
    let options = ReadOptions {
        limit: body_limit,
        json: false,
        file_fields,
    };
    let received = request::read(req, options).await;
    let mut out = ReceivedRequest {
        method: received.method.to_string(),
        path: received.path.clone(),
        ..ReceivedRequest::default()
    };
    for (k, v) in &received.query.0 {
        out.params.entry(k.clone()).or_insert_with(|| v.clone());
    }
    match received.payload {
        Payload::TooLarge | Payload::ReadFailed(_) => return Err(CollectError::TooLarge(out)),
        Payload::Malformed(msg) => {
            out.body_len = received.body_len;
            let msg = msg
                .strip_prefix("malformed multipart body: ")
                .unwrap_or(&msg)
                .to_string();
            return Err(CollectError::Malformed(out, msg));
        }
        Payload::Form { fields, .. } => {
            out.body_len = received.body_len;
            for field in fields {
                match field {
                    Field::File(file) => out.files.push(file),
                    Field::Text {
                        name,
                        value,
                        utf8: true,
                    } => {
                        out.params.entry(name).or_insert(value);
                    }
                    Field::Text {
                        name, utf8: false, ..
                    } => {
                        let msg = format!("multipart field \"{name}\" is not UTF-8 text");
                        return Err(CollectError::Malformed(out, msg));
                    }
                }
            }
        }
        Payload::Empty | Payload::Json(_) | Payload::Unsupported(_) => {
            out.body_len = received.body_len;
        }
    }
    Ok(out)
}

impl LazadaSim {
    pub(super) fn next_request_id(&self, now_ms: i64) -> String {
        let mut store = self.store();
        store.request_seq += 1;
        // The real ids are: the front end's IPv4 in hex, the time in ms, a sequence number.
        format!("7f000001{now_ms}{:04}", store.request_seq % 10_000)
    }

    /// Refuses a call sent with another method than its own (unless the configuration turns
    /// the check off).
    fn check_method(&self, call: Call, r: &ReceivedRequest) -> Result<(), ApiError> {
        if !self.config().enforce_http_method || call.method_ok(&r.method) {
            return Ok(());
        }
        Err(ApiError::gateway(
            codes::INVALID_HTTP_METHOD,
            format!(
                "{} must be called with {}, not {}",
                call.api_path(),
                call.method(),
                r.method
            ),
        ))
    }

    pub(super) fn handle(
        &self,
        call: Call,
        r: &ReceivedRequest,
        now_ms: i64,
        request_id: &str,
    ) -> Result<Value, ApiError> {
        let cfg = &self.config();
        let mut store = self.store();
        let store = &mut *store;
        let media_call = match call {
            Call::BlockCreate => video::block_create,
            Call::BlockUpload => video::block_upload,
            Call::BlockCommit => video::block_commit,
            Call::VideoGet => video::video_get,
            Call::QuotaGet => video::quota_get,
            Call::VideoRemove => video::video_remove,
            Call::ImageUpload => {
                return image::upload(store, cfg, r).map(|d| data_success(request_id, d))
            }
            Call::ImageMigrate => {
                return image::migrate(store, cfg, r).map(|d| data_success(request_id, d))
            }
            Call::TokenCreate => {
                return super::auth::token_create(store, cfg, r, now_ms, request_id)
            }
            Call::TokenRefresh => {
                return super::auth::token_refresh(store, cfg, r, now_ms, request_id)
            }
            Call::SellerGet => {
                let country = super::gateway_of(&r.path);
                return Ok(data_success(
                    request_id,
                    json!({
                        "name": format!("Sim Seller {}", country.to_ascii_uppercase()),
                        "seller_id": super::seller_id_in(country),
                        "location": country.to_ascii_uppercase(),
                        "verified": true,
                    }),
                ));
            }
        };
        media_call(store, cfg, now_ms, r).map(|data| media_success(request_id, data))
    }

    pub(super) fn record(
        &self,
        call: &str,
        r: &ReceivedRequest,
        status: u16,
        error: Option<String>,
    ) {
        {
            let mut store = self.store();
            store.counters.requests += 1;
            if error.is_some() {
                store.counters.errors += 1;
            }
        }
        self.wire().push(WireRecord {
            platform: PLATFORM,
            call: call.to_string(),
            method: r.method.clone(),
            path: r.path.clone(),
            params: r.params.clone(),
            files: r.file_sizes(),
            body_len: r.body_len,
            status,
            error,
        });
    }

    pub(super) fn answer(
        &self,
        call: &str,
        r: &ReceivedRequest,
        result: Result<Value, ApiError>,
        request_id: &str,
    ) -> Response {
        match result {
            Ok(body) => {
                self.record(call, r, 200, None);
                Json(body).into_response()
            }
            Err(err) => {
                self.record(call, r, 200, Some(err.code.to_string()));
                let zero = self.config().business_failures_as_code_zero;
                Json(err.to_json(request_id, zero)).into_response()
            }
        }
    }

    /// The checks that need no body: the method, and the credentials of the query string
    /// (all of them, signature included, when the body cannot carry parameters; see
    /// [`LazadaSim::check_credentials`]). `Some` is the request as known before its body
    /// (method, path, query parameters) and why the gateway refuses it.
    fn refuse_before_body(
        &self,
        call: Call,
        req: &Request,
        now_ms: i64,
    ) -> Option<(ReceivedRequest, ApiError)> {
        let mut head = ReceivedRequest {
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            ..ReceivedRequest::default()
        };
        for (k, v) in request::Query::parse(req.uri().query()).0 {
            head.params.entry(k).or_insert(v);
        }
        let mime = request::mime(req.headers());
        let body_has_params = matches!(
            mime.as_str(),
            "application/x-www-form-urlencoded" | "multipart/form-data"
        );
        self.check_method(call, &head)
            .and_then(|()| self.check_credentials(call, &head, now_ms, !body_has_params))
            .err()
            .map(|e| (head, e))
    }

    async fn dispatch(&self, call: Call, req: Request) -> Response {
        // Counted in flight per gateway (country) for as long as the request is handled.
        let _in_flight = super::InFlight::enter(self, super::gateway_of(req.uri().path()));
        let limit = self.config().max_request_bytes;
        // A request the gateway refuses on its method or the credentials in its query is
        // answered before its body is read when that body is large or of unknown length
        // (an unauthenticated upload costs no memory); one of a block's size is drained
        // (read and discarded) first so that the client reads the answer rather than a reset
        // connection; a small one, and one declaring more than the limit (413), take the
        // usual path.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let early = match declared {
            Some(n) if n <= READ_REFUSED_UP_TO || n > limit as u64 => None,
            _ => self.refuse_before_body(call, &req, self.clock().now_millis()),
        };
        if let Some((mut head, err)) = early {
            if declared.is_some_and(|n| n <= DRAIN_REFUSED_UP_TO) {
                let mut stream = req.into_body().into_data_stream();
                while let Some(Ok(chunk)) = stream.next().await {
                    head.body_len += chunk.len();
                }
            }
            let request_id = self.next_request_id(self.clock().now_millis());
            return self.answer(call.api_path(), &head, Err(err), &request_id);
        }
        let collected = collect(req, call.file_fields(), limit).await;
        let now_ms = self.clock().now_millis();
        let request_id = self.next_request_id(now_ms);
        let received = match collected {
            Ok(r) => r,
            Err(CollectError::TooLarge(r)) => {
                self.record(
                    call.api_path(),
                    &r,
                    413,
                    Some(codes::REQUEST_ENTITY_TOO_LARGE.into()),
                );
                // The gateway's JSON envelope, not a bare text (Lazada documents neither the
                // limit nor a code for it: docs/simulators/lazada.md).
                let err = ApiError::gateway(
                    codes::REQUEST_ENTITY_TOO_LARGE,
                    format!("The request body is larger than {limit} bytes"),
                );
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Json(err.to_json(&request_id, false)),
                )
                    .into_response();
            }
            Err(CollectError::Malformed(r, msg)) => {
                let err = ApiError::gateway(
                    codes::INVALID_PARAMETER,
                    format!("The request body could not be parsed: {msg}"),
                );
                return self.answer(call.api_path(), &r, Err(err), &request_id);
            }
        };
        let result = self
            .check_method(call, &received)
            .and_then(|()| self.check_gateway(call, &received, now_ms))
            .and_then(|()| self.handle(call, &received, now_ms, &request_id));
        self.answer(call.api_path(), &received, result, &request_id)
    }
}
pub(super) fn route(call: Call) -> MethodRouter<LazadaSim> {
    let handler = move |State(sim): State<LazadaSim>, req: Request| async move {
        sim.dispatch(call, req).await
    };
    // Every method reaches the handler, so that a wrong one is answered in Lazada's envelope
    // and written in the wire log.
    any(handler)
}

pub(super) async fn fallback(State(sim): State<LazadaSim>, uri: Uri, req: Request) -> Response {
    let Some(api_path) = uri.path().strip_prefix("/rest") else {
        return (StatusCode::NOT_FOUND, "404 Not Found").into_response();
    };
    let api_path = api_path.to_string();
    let received = ReceivedRequest {
        method: req.method().to_string(),
        path: uri.path().to_string(),
        ..ReceivedRequest::default()
    };
    let now_ms = sim.clock().now_millis();
    let request_id = sim.next_request_id(now_ms);
    let err = ApiError {
        code: codes::INVALID_API_PATH,
        kind: ErrorType::System,
        family: ErrorFamily::Gateway,
        message: format!("The specified API path \"{api_path}\" is invalid"),
    };
    sim.answer(&api_path, &received, Err(err), &request_id)
}
