//! The call table, the error codes and the `errcode`/`errmsg` envelope, the access-token
//! call and check, and the request pipeline: read, check the token, run the call, answer and
//! record it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};

use super::image::img_upload;
use super::video::{finishupload, getplayinfo, initupload, uploadpart};
use super::{
    legacy_grant, stable_grant, WechatSim, WechatSimConfig, WechatState, IMG_UPLOAD_PATH, PLATFORM,
    STABLE_TOKEN_PATH, TOKEN_PATH, VIDEO_PREFIX,
};
use crate::request::{self, Payload, ReadOptions, Received};
use crate::tokens::{secs_until, AccessRefusal};
use crate::util::{millis, random_hex};
use crate::WireRecord;

/// The `errcode`s the simulator answers. Those the pages name are Tencent's; the two the
/// pages leave open (an unknown or expired key, a call out of order) are the simulator's own,
/// outside Tencent's ranges, and documented as such.
pub mod code {
    /// 系统繁忙 (the fault layer's 5xx answers carry it too).
    pub const SYSTEM_BUSY: i64 = -1;
    /// AppSecret wrong (token call), or an access token that is invalid or not the latest.
    pub const INVALID_CREDENTIAL: i64 = 40001;
    /// `grant_type` is not `client_credential`.
    pub const INVALID_GRANT_TYPE: i64 = 40002;
    /// Unknown AppID.
    pub const INVALID_APPID: i64 = 40013;
    /// AppSecret wrong (the stable token call's answer).
    pub const INVALID_APPSECRET: i64 = 40125;
    /// A daily limit is reached (the stable token's 20 force refreshes a day).
    pub const DAILY_QUOTA: i64 = 45009;
    /// An unknown path.
    pub const INVALID_URL: i64 = 40066;
    /// No `access_token`.
    pub const ACCESS_TOKEN_MISSING: i64 = 41001;
    /// The access token's lifetime is over.
    pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
    /// The call needs GET.
    pub const REQUIRE_GET: i64 = 43001;
    /// The call needs POST.
    pub const REQUIRE_POST: i64 = 43002;
    /// The body is not the JSON the call takes.
    pub const DATA_FORMAT: i64 = 47001;
    /// The minute quota is used up.
    pub const MINUTE_QUOTA: i64 = 45011;
    /// 参数有误: a missing or malformed parameter, a part out of range or too big.
    pub const INVALID_PARAMETER: i64 = 10_020_055;
    /// 图片为空.
    pub const IMAGE_EMPTY: i64 = 10_020_059;
    /// 图片大小超出限制.
    pub const IMAGE_TOO_LARGE: i64 = 10_020_060;
    /// 上传分块有误,除最后一个分块,其他分块大小不得小于1M (`EntityTooSmall`).
    pub const ENTITY_TOO_SMALL: i64 = 10_020_342;
    /// The simulator's own: the `video_upload_key` is unknown or expired.
    pub const NO_SUCH_UPLOAD: i64 = 9_100_404;
    /// The simulator's own: the call does not fit the upload's state (a part after the
    /// finish, a play URL before it, a second finish with other parts).
    pub const UPLOAD_STATE: i64 = 9_100_409;
}

/// The calls the simulator answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    Token,
    StableToken,
    InitUpload,
    UploadPart,
    FinishUpload,
    GetPlayInfo,
    ImgUpload,
}

impl Call {
    fn from_path(path: &str) -> Option<Call> {
        if path == TOKEN_PATH {
            return Some(Call::Token);
        }
        if path == STABLE_TOKEN_PATH {
            return Some(Call::StableToken);
        }
        if path == IMG_UPLOAD_PATH {
            return Some(Call::ImgUpload);
        }
        match path.strip_prefix(VIDEO_PREFIX)? {
            "initupload" => Some(Call::InitUpload),
            "uploadpart" => Some(Call::UploadPart),
            "finishupload" => Some(Call::FinishUpload),
            "getplayinfo" => Some(Call::GetPlayInfo),
            _ => None,
        }
    }

    /// The name in the wire log (the pages' English names).
    pub(super) fn name(self) -> &'static str {
        match self {
            Call::Token => "token",
            Call::StableToken => "stable_token",
            Call::InitUpload => "video_initupload",
            Call::UploadPart => "video_uploadpart",
            Call::FinishUpload => "video_finishupload",
            Call::GetPlayInfo => "video_getplayinfo",
            Call::ImgUpload => "img_upload",
        }
    }

    fn get(self) -> bool {
        matches!(self, Call::Token | Call::GetPlayInfo)
    }
}

/// A refusal: the `errcode` and the `errmsg` (the request id is appended when answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) errcode: i64,
    pub(super) errmsg: String,
}

impl ApiError {
    pub(super) fn new(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self {
            errcode,
            errmsg: errmsg.into(),
        }
    }

    /// 参数有误, with what is wrong.
    pub(super) fn param(detail: impl std::fmt::Display) -> Self {
        Self::new(code::INVALID_PARAMETER, format!("参数有误: {detail}"))
    }
}

/// A success: the members beside `errcode`/`errmsg` (the token call has neither).
pub(super) enum Answer {
    Envelope { errmsg: &'static str, extra: Value },
    Bare(Value),
}

pub(super) type Outcome = Result<Answer, ApiError>;

/// What a call sees besides the state.
pub(super) struct Ctx<'a> {
    pub(super) config: &'a WechatSimConfig,
    pub(super) now_ms: i64,
    pub(super) received: &'a Received,
    /// SHA-1 (lowercase hex) of each file field, in order, computed before the state is locked.
    pub(super) file_shas: &'a [String],
}

/// Answers one request and records it in the wire log.
pub(super) async fn handle(sim: WechatSim, req: Request<Body>) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let config = sim.config();
    let options = ReadOptions {
        limit: config.max_request_bytes,
        json: true,
        file_fields: &["media"],
    };
    let received = request::read(req, options).await;
    let file_shas: Vec<String> = received
        .payload
        .all_files()
        .map(|f| hex::encode(Sha1::digest(&f.bytes)))
        .collect();
    let call = Call::from_path(&path);
    let ctx = Ctx {
        config: &config,
        now_ms: sim.clock().now_millis(),
        received: &received,
        file_shas: &file_shas,
    };
    let result = {
        let mut state = sim.state();
        dispatch(&mut state, call, &method, &ctx)
    };
    let (status, body, error) = match result {
        Ok(Answer::Bare(v)) => (StatusCode::OK, v, None),
        Ok(Answer::Envelope { errmsg, extra }) => {
            let mut body = json!({ "errcode": 0, "errmsg": errmsg });
            if let (Value::Object(b), Value::Object(extra)) = (&mut body, extra) {
                b.extend(extra);
            }
            (StatusCode::OK, body, None)
        }
        Err(e) => {
            // Tencent answers refusals with HTTP 200 and the code in the body; an unknown
            // path is the one 404.
            let status = if e.errcode == code::INVALID_URL {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            let rid = format!("{}-{}-{}", random_hex(4), random_hex(4), random_hex(4));
            let body =
                json!({ "errcode": e.errcode, "errmsg": format!("{} rid: {rid}", e.errmsg) });
            (status, body, Some(e.errcode.to_string()))
        }
    };
    sim.wire().push(WireRecord {
        platform: PLATFORM,
        call: call.map_or_else(|| path.clone(), |c| c.name().to_string()),
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

fn dispatch(state: &mut WechatState, call: Option<Call>, method: &str, ctx: &Ctx<'_>) -> Outcome {
    let call = call.ok_or_else(|| ApiError::new(code::INVALID_URL, "invalid url"))?;
    match (call.get(), method) {
        (true, "GET") | (false, "POST") => {}
        (true, _) => return Err(ApiError::new(code::REQUIRE_GET, "require GET method")),
        (false, _) => return Err(ApiError::new(code::REQUIRE_POST, "require POST method")),
    }
    if matches!(ctx.received.payload, Payload::TooLarge) {
        return Err(ApiError::param(format_args!(
            "the request body exceeds {} bytes",
            ctx.config.max_request_bytes
        )));
    }
    if call == Call::Token {
        return token(state, ctx);
    }
    if call == Call::StableToken {
        return stable_token(state, ctx);
    }
    check_token(state, ctx)?;
    if ctx.config.rate_limited {
        return Err(ApiError::new(
            code::MINUTE_QUOTA,
            "api minute-quota reach limit  mustslower  retry next minute",
        ));
    }
    match call {
        Call::InitUpload => initupload(state, ctx, json_body(&ctx.received.payload)?),
        Call::UploadPart => uploadpart(state, ctx),
        Call::FinishUpload => finishupload(state, ctx, json_body(&ctx.received.payload)?),
        Call::GetPlayInfo => getplayinfo(state, ctx),
        Call::ImgUpload => img_upload(state, ctx),
        Call::Token => token(state, ctx),
        Call::StableToken => stable_token(state, ctx),
    }
}

/// `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`: a new token; every
/// older one lives [`WechatSimConfig::token_overlap`] more at most.
fn token(state: &mut WechatState, ctx: &Ctx<'_>) -> Outcome {
    let q = |name| ctx.received.query(name).unwrap_or_default();
    let config = ctx.config;
    if q("grant_type") != "client_credential" {
        return Err(ApiError::new(
            code::INVALID_GRANT_TYPE,
            "invalid grant_type",
        ));
    }
    if q("appid") != config.appid {
        return Err(ApiError::new(code::INVALID_APPID, "invalid appid"));
    }
    if q("secret") != config.appsecret {
        return Err(ApiError::new(
            code::INVALID_CREDENTIAL,
            "invalid credential, access_token is invalid or not latest",
        ));
    }
    // Every older token of this call lives the overlap more at most; the stable tokens are
    // untouched ("与 getAccessToken 获取的调用凭证完全隔离").
    let grant = legacy_grant(&config.appid);
    let overlap = i64::try_from(state.ledger.lifetimes().overlap_ms).unwrap_or(i64::MAX);
    state
        .ledger
        .supersede(&grant.credential, ctx.now_ms.saturating_add(overlap));
    let issued = state.ledger.issue_access(grant.clone(), ctx.now_ms);
    state.ledger.count_refresh(&grant.credential);
    state.tokens_issued += 1;
    Ok(Answer::Bare(json!({
        "access_token": issued.access_token,
        "expires_in": issued.access_expires_in(ctx.now_ms),
    })))
}

/// `POST /cgi-bin/stable_token` JSON `{grant_type, appid, secret, force_refresh}`
/// (getStableAccessToken). Normal mode answers the current token with its remaining
/// `expires_in`, and a new one from the last `overlap` (5 minutes) of its life on, the old one
/// staying valid until it expires; force-refresh mode revokes the current token and answers a
/// new one, at most 20 times a day (`errcode` 45009 after) and 30 s apart (a closer call does
/// not refresh).
fn stable_token(state: &mut WechatState, ctx: &Ctx<'_>) -> Outcome {
    let body = json_body(&ctx.received.payload)?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    let config = ctx.config;
    if text("grant_type") != "client_credential" {
        return Err(ApiError::new(
            code::INVALID_GRANT_TYPE,
            "invalid grant_type",
        ));
    }
    if text("appid") != config.appid {
        return Err(ApiError::new(code::INVALID_APPID, "invalid appid"));
    }
    if text("secret") != config.appsecret {
        return Err(ApiError::new(code::INVALID_APPSECRET, "invalid appsecret"));
    }
    let force = match body.get("force_refresh") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::new(
                code::DATA_FORMAT,
                "data format error: force_refresh must be a boolean",
            ))
        }
    };
    let now = ctx.now_ms;
    let grant = stable_grant(&config.appid);
    let current = state.ledger.newest_valid(&grant.credential, now);
    let answer = |token: String, expires_ms: i64| {
        Ok(Answer::Bare(json!({
            "access_token": token,
            "expires_in": secs_until(expires_ms, now),
        })))
    };
    if force {
        // China's day (UTC+8) on the sim clock.
        let day = |ms: i64| (ms.div_euclid(1000) + 8 * 3600).div_euclid(86_400);
        state.force_refreshes.retain(|t| day(*t) == day(now));
        let last = state.force_refreshes.last().copied();
        let interval = millis(config.stable_force_refresh_interval);
        if let (Some(last), Some((token, expires))) = (last, current.clone()) {
            if now.saturating_sub(last) < interval {
                return answer(token, expires);
            }
        }
        if state.force_refreshes.len() >= config.stable_force_refresh_daily_limit as usize {
            return Err(ApiError::new(
                code::DAILY_QUOTA,
                "reach max api daily quota limit",
            ));
        }
        state.force_refreshes.push(now);
        state.ledger.supersede(&grant.credential, now);
    } else if let Some((token, expires)) = current {
        let overlap = i64::try_from(state.ledger.lifetimes().overlap_ms).unwrap_or(i64::MAX);
        if expires.saturating_sub(now) > overlap {
            return answer(token, expires);
        }
    }
    let issued = state.ledger.issue_access(grant.clone(), now);
    state.ledger.count_refresh(&grant.credential);
    answer(issued.access_token, issued.access_expires_ms)
}

/// The `access_token` query parameter of every store call: a token of either call, valid now
/// (revoked or replaced past its overlap: 40001; past its lifetime: 42001).
fn check_token(state: &mut WechatState, ctx: &Ctx<'_>) -> Result<(), ApiError> {
    let Some(token) = ctx.received.query("access_token").filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            code::ACCESS_TOKEN_MISSING,
            "access_token missing",
        ));
    };
    let invalid = || {
        ApiError::new(
            code::INVALID_CREDENTIAL,
            "invalid credential, access_token is invalid or not latest",
        )
    };
    match state.ledger.check_access(token, None, ctx.now_ms) {
        Ok(_) => Ok(()),
        Err(AccessRefusal::Expired) => Err(ApiError::new(
            code::ACCESS_TOKEN_EXPIRED,
            "access_token expired",
        )),
        Err(_) => Err(invalid()),
    }
}

fn json_body(payload: &Payload) -> Result<&Map<String, Value>, ApiError> {
    match payload {
        Payload::Json(map) => Ok(map),
        Payload::Unsupported(reason) | Payload::Malformed(reason) | Payload::ReadFailed(reason) => {
            Err(ApiError::new(
                code::DATA_FORMAT,
                format!("data format error: {reason}"),
            ))
        }
        _ => Err(ApiError::new(
            code::DATA_FORMAT,
            "data format error: the body must be a JSON object",
        )),
    }
}

/// A JSON member that must be a non-negative integer.
pub(super) fn required_u64(body: &Map<String, Value>, name: &str) -> Result<u64, ApiError> {
    body.get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::param(format_args!("{name} must be a non-negative integer")))
}

/// A query parameter that must be an integer.
pub(super) fn query_u64(ctx: &Ctx<'_>, name: &str) -> Result<u64, ApiError> {
    ctx.received
        .query(name)
        .ok_or_else(|| ApiError::param(format_args!("{name} is required")))?
        .trim()
        .parse()
        .map_err(|_| ApiError::param(format_args!("{name} must be a non-negative integer")))
}
