//! SMH's call table (the call names the simulator writes in the wire log), its errors (SMH's
//! JSON envelope, COS's XML body), ISO-8601 times, and the API request pipeline: parse the
//! route, check the token (`auth`), run the call (`upload`), answer and record.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::auth::{authorize, token, token_renew, Needs};
use super::upload::{begin, cancel, confirm, create_directory, renew, status};
use super::{SmhSim, PLATFORM};
use crate::request::{json_text, parse_json, percent_decode_segment, Payload, Query};
use crate::util::{civil_from_days, random_hex};
use crate::WireRecord;

/// `GET /api/v1/token`.
pub const TOKEN: &str = "token";
/// `GET /api/v1/directory/{LibraryId}/{SpaceId}/{FilePath}?info` (View file details).
pub const FILE_INFO: &str = "file_info";
/// `POST /api/v1/token/{LibraryId}/{AccessToken}`.
pub const TOKEN_RENEW: &str = "token_renew";
/// `PUT /api/v1/directory/{Lib}/{Space}/{DirPath}`.
pub const CREATE_DIRECTORY: &str = "create_directory";
/// `POST /api/v1/file/{Lib}/{Space}/{FilePath}?multipart`.
pub const BEGIN_MULTIPART: &str = "begin_multipart_upload";
/// `PUT /api/v1/file/{Lib}/{Space}/{FilePath}` (simple upload).
pub const BEGIN_SIMPLE: &str = "begin_simple_upload";
/// `GET /api/v1/file/{Lib}/{Space}/{ConfirmKey}?upload`.
pub const UPLOAD_STATUS: &str = "upload_status";
/// `POST /api/v1/file/{Lib}/{Space}/{ConfirmKey}?renew`.
pub const RENEW_UPLOAD: &str = "renew_upload";
/// `POST /api/v1/file/{Lib}/{Space}/{ConfirmKey}?confirm`.
pub const CONFIRM_UPLOAD: &str = "confirm_upload";
/// `DELETE /api/v1/file/{Lib}/{Space}/{ConfirmKey}?upload`.
pub const CANCEL_UPLOAD: &str = "cancel_upload";
/// Any other API request (answered 404 `NotFound`).
pub const UNKNOWN: &str = "unknown";
/// Storage: `PUT {path}?uploadId=&partNumber=`.
pub const PUT_PART: &str = "put_part";
/// Storage: `PUT {path}` (simple upload body).
pub const PUT_OBJECT: &str = "put_object";

/// An SMH API failure: HTTP status, SMH error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SmhError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl SmhError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `InvalidParameter`: the sim's code for a malformed request (see the docs).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    /// The JSON answer `{code, message, requestId}`.
    pub fn into_response(self, request_id: &str) -> Response {
        let mut resp = (
            self.status,
            axum::Json(json!({
                "code": self.code,
                "message": self.message,
                "requestId": request_id,
            })),
        )
            .into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// A COS storage failure, answered in COS's XML error form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CosError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

impl CosError {
    pub const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self {
            status,
            code,
            message,
        }
    }

    /// `<Error><Code>..</Code><Message>..</Message><Resource>..</Resource><RequestId>..</RequestId><TraceId>..</TraceId></Error>`.
    pub fn into_response(self, resource: &str, request_id: &str) -> Response {
        let body = format!(
            "<?xml version='1.0' encoding='utf-8' ?>\n<Error>\n\t<Code>{}</Code>\n\t<Message>{}</Message>\n\t<Resource>{}</Resource>\n\t<RequestId>{}</RequestId>\n\t<TraceId>{}</TraceId>\n</Error>",
            self.code,
            xml_escape(self.message),
            xml_escape(resource),
            request_id,
            request_id,
        );
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            resp.headers_mut().insert("x-cos-request-id", v);
        }
        resp
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// 413 for an API body over [`SmhSimConfig::max_request_bytes`](super::SmhSimConfig), in
/// SMH's JSON form (SMH publishes neither the limit nor the code: `docs/simulators/smh.md`).
pub(super) fn body_too_large(limit: usize) -> SmhError {
    SmhError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("the request body is larger than {limit} bytes"),
    )
}

/// 414 for a query over [`SmhSimConfig::max_query_bytes`](super::SmhSimConfig), in SMH's
/// JSON form (an assumption, as above).
pub(super) fn query_too_long(limit: usize) -> SmhError {
    SmhError::new(
        StatusCode::URI_TOO_LONG,
        "RequestURITooLong",
        format!("the query string is longer than {limit} bytes"),
    )
}

/// A request refused before its body is read is still read, and judged as usual, when it
/// declares at most this many bytes (a JSON call's body), so the wire log shows its members.
const READ_REFUSED_UP_TO: u64 = 64 * 1024;

/// A fresh request id (hex).
pub(crate) fn request_id() -> String {
    random_hex(12)
}

/// `2021-07-24T10:34:32.000Z` from Unix milliseconds (UTC).
pub fn iso8601(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// A successful answer: status and optional JSON body.
pub(super) type Answer = (StatusCode, Option<Value>);

/// The parsed route of a request.
pub(super) enum Route {
    Token,
    TokenRenew {
        lib: String,
        token: String,
    },
    CreateDirectory {
        lib: String,
        space: String,
        path: Vec<String>,
    },
    BeginMultipart {
        lib: String,
        space: String,
        path: Vec<String>,
    },
    BeginSimple {
        lib: String,
        space: String,
        path: Vec<String>,
    },
    Task {
        op: TaskOp,
        lib: String,
        space: String,
        key: String,
    },
    Info {
        lib: String,
        space: String,
        path: Vec<String>,
    },
    Unknown,
}

/// A call on an upload task, addressed by its confirm key.
#[derive(Clone, Copy)]
pub(super) enum TaskOp {
    Status,
    Renew,
    Confirm,
    Cancel,
}

/// Decodes path segments; a trailing slash is ignored.
pub(super) fn decode_segments(segments: &[&str]) -> Result<Vec<String>, SmhError> {
    let mut segments = segments.to_vec();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    segments
        .iter()
        .map(|s| {
            let decoded = percent_decode_segment(s)
                .ok_or_else(|| SmhError::invalid("the path is not valid percent-encoded UTF-8"))?;
            // NUL, and `.`/`..` between backslashes (`..\\`, `\\..`: a traversal on a
            // Windows client), are refused as SMH refuses `.` and `..` themselves.
            let dot_segment =
                decoded.split('\\').any(|p| p == "." || p == "..") && decoded.contains('\\');
            if decoded.is_empty()
                || decoded == "."
                || decoded == ".."
                || decoded.contains('/')
                || decoded.contains('\0')
                || dot_segment
            {
                return Err(SmhError::invalid(format!(
                    "invalid path segment {decoded:?}"
                )));
            }
            Ok(decoded)
        })
        .collect()
}

/// Parses the route: the call name (for the wire log) and the route or why the path is bad.
/// Path parameters are added to `params` as received (percent-decoded).
pub(super) fn route(
    method: &Method,
    path: &str,
    query: &Query,
    params: &mut BTreeMap<String, String>,
) -> (&'static str, Result<Route, SmhError>) {
    let segs: Vec<&str> = path.split('/').collect();
    let Some(rest) = segs.strip_prefix(&["", "api", "v1"]) else {
        return (UNKNOWN, Ok(Route::Unknown));
    };
    let one = |s: &str| percent_decode_segment(s).unwrap_or_else(|| s.to_owned());
    match (method, rest) {
        (&Method::GET, ["token"]) => (TOKEN, Ok(Route::Token)),
        (&Method::POST, ["token", lib, token]) => {
            let (lib, token) = (one(lib), one(token));
            params.insert("LibraryId".into(), lib.clone());
            params.insert("AccessToken".into(), token.clone());
            (TOKEN_RENEW, Ok(Route::TokenRenew { lib, token }))
        }
        (_, [kind @ ("directory" | "file"), lib, space, tail @ ..]) => {
            let (lib, space) = (one(lib), one(space));
            params.insert("LibraryId".into(), lib.clone());
            params.insert("SpaceId".into(), space.clone());
            let mut file_path = |name: &str| {
                params.insert(
                    name.into(),
                    tail.iter().map(|s| one(s)).collect::<Vec<_>>().join("/"),
                );
                decode_segments(tail).and_then(|p| {
                    if p.is_empty() {
                        Err(SmhError::invalid(format!("{name} is empty")))
                    } else {
                        Ok(p)
                    }
                })
            };
            match (method, *kind) {
                (&Method::GET, "directory") if query.has("info") => (
                    FILE_INFO,
                    file_path("FilePath").map(|path| Route::Info { lib, space, path }),
                ),
                (&Method::PUT, "directory") => (
                    CREATE_DIRECTORY,
                    file_path("DirPath").map(|path| Route::CreateDirectory { lib, space, path }),
                ),
                (&Method::POST, "file") if query.has("multipart") => (
                    BEGIN_MULTIPART,
                    file_path("FilePath").map(|path| Route::BeginMultipart { lib, space, path }),
                ),
                (&Method::PUT, "file") => (
                    BEGIN_SIMPLE,
                    file_path("FilePath").map(|path| Route::BeginSimple { lib, space, path }),
                ),
                (_, "file") => {
                    let key = tail.iter().map(|s| one(s)).collect::<Vec<_>>().join("/");
                    let (call, op) = match *method {
                        Method::POST if query.has("renew") => (RENEW_UPLOAD, TaskOp::Renew),
                        Method::POST if query.has("confirm") => (CONFIRM_UPLOAD, TaskOp::Confirm),
                        Method::GET if query.has("upload") => (UPLOAD_STATUS, TaskOp::Status),
                        Method::DELETE if query.has("upload") => (CANCEL_UPLOAD, TaskOp::Cancel),
                        _ => return (UNKNOWN, Ok(Route::Unknown)),
                    };
                    params.insert("ConfirmKey".into(), key.clone());
                    (
                        call,
                        Ok(Route::Task {
                            op,
                            lib,
                            space,
                            key,
                        }),
                    )
                }
                _ => (UNKNOWN, Ok(Route::Unknown)),
            }
        }
        _ => (UNKNOWN, Ok(Route::Unknown)),
    }
}

/// Every API request lands here.
pub(crate) async fn handle(AxState(sim): AxState<SmhSim>, req: Request<Body>) -> Response {
    let (head, raw_body) = req.into_parts();
    let (method, uri) = (head.method, head.uri);
    let rid = request_id();
    let config = sim.config();
    // Too long a query or body: SMH's JSON error, before the body is read.
    let query_len = uri.query().map_or(0, str::len);
    let declared = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let refused = if query_len > config.max_query_bytes {
        Some(query_too_long(config.max_query_bytes))
    } else if declared.is_some_and(|n| n > config.max_request_bytes as u64) {
        Some(body_too_large(config.max_request_bytes))
    } else {
        None
    };
    // A request refused on its route, the rate limit or its access token (all in the path
    // and query) is answered before its body is read when that body is larger than a JSON
    // call's or of unknown length: an unauthenticated request costs no memory. A small one
    // takes the usual path (read, then judged), so the wire log shows its JSON members.
    if refused.is_none() && declared.is_none_or(|n| n > READ_REFUSED_UP_TO) {
        let query = Query::parse(uri.query());
        let mut params: BTreeMap<String, String> = query.0.iter().cloned().collect();
        let (call, parsed) = route(&method, uri.path(), &query, &mut params);
        let early = parsed.and_then(|route| {
            check_rate(&sim)?;
            authorize_route(&sim, &route, &query)
        });
        if let Err(e) = early {
            sim.wire().push(WireRecord {
                platform: PLATFORM,
                call: call.to_owned(),
                method: method.to_string(),
                path: uri.path().to_owned(),
                params,
                files: Vec::new(),
                body_len: 0,
                status: e.status.as_u16(),
                error: Some(e.code.to_owned()),
            });
            return e.into_response(&rid);
        }
    }
    let body = match refused {
        Some(_) => Ok(Bytes::new()),
        None => axum::body::to_bytes(raw_body, config.max_request_bytes)
            .await
            .map_err(|e| {
                if format!("{e:?}").contains("LengthLimit") {
                    body_too_large(config.max_request_bytes)
                } else {
                    SmhError::invalid("the request body could not be read")
                }
            }),
    };
    let (body, refused) = match (body, refused) {
        (_, Some(e)) | (Err(e), None) => (Bytes::new(), Some(e)),
        (Ok(b), None) => (b, None),
    };
    if let Some(e) = refused {
        // Recorded without its query (it may be megabytes) nor any body.
        sim.wire().push(WireRecord {
            platform: PLATFORM,
            call: UNKNOWN.to_owned(),
            method: method.to_string(),
            path: uri.path().chars().take(1024).collect(),
            params: BTreeMap::new(),
            files: Vec::new(),
            body_len: 0,
            status: e.status.as_u16(),
            error: Some(e.code.to_owned()),
        });
        return e.into_response(&rid);
    }
    let query = Query::parse(uri.query());
    // A repeated query parameter: the last value is recorded; JSON members are recorded over
    // query parameters of the same name.
    let mut params: BTreeMap<String, String> = query.0.iter().cloned().collect();
    // SMH reads a non-empty body as JSON whatever its Content-Type.
    let json_body = (!body.is_empty()).then(|| parse_json(&body));
    if let Some(Payload::Json(members)) = &json_body {
        for (k, v) in members {
            params.insert(k.clone(), json_text(v));
        }
    }
    let (call, parsed) = route(&method, uri.path(), &query, &mut params);

    let result = parsed.and_then(|route| {
        check_rate(&sim)?;
        let body = match json_body {
            None => None,
            Some(Payload::Json(m)) => Some(m),
            Some(_) => return Err(SmhError::invalid("the request body is not a JSON object")),
        };
        dispatch(&sim, route, &query, body)
    });

    let (status, error, response) = match result {
        Ok((status, body)) => {
            let resp = match body {
                Some(v) => (status, axum::Json(v)).into_response(),
                None => status.into_response(),
            };
            (status, None, resp)
        }
        Err(e) => (e.status, Some(e.code.to_owned()), e.into_response(&rid)),
    };
    sim.wire().push(WireRecord {
        platform: PLATFORM,
        call: call.to_owned(),
        method: method.to_string(),
        path: uri.path().to_owned(),
        params,
        files: Vec::new(),
        body_len: body.len(),
        status: status.as_u16(),
        error,
    });
    response
}

/// 429 `RateLimitExceeded` while the simulator is told to refuse every call.
fn check_rate(sim: &SmhSim) -> Result<(), SmhError> {
    if sim.state().rate_limited {
        return Err(SmhError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimitExceeded",
            "request rate limit exceeded",
        ));
    }
    Ok(())
}

/// What a route needs before its call runs, none of it in the body: the access token's
/// library, space and grants ([`authorize`]), or, for an unknown API, 404 `NotFound`. The
/// token calls judge their own credentials.
pub(super) fn authorize_route(sim: &SmhSim, route: &Route, query: &Query) -> Result<(), SmhError> {
    match route {
        Route::Token | Route::TokenRenew { .. } => Ok(()),
        Route::CreateDirectory { lib, space, .. } => {
            authorize(sim, query, lib, space, Needs::Directory)
        }
        Route::BeginMultipart { lib, space, .. }
        | Route::BeginSimple { lib, space, .. }
        | Route::Task { lib, space, .. } => authorize(sim, query, lib, space, Needs::Upload),
        Route::Info { lib, space, .. } => authorize(sim, query, lib, space, Needs::Read),
        Route::Unknown => Err(no_such_api()),
    }
}

/// 404 `NotFound`: no API at this path and method.
fn no_such_api() -> SmhError {
    SmhError::new(StatusCode::NOT_FOUND, "NotFound", "no such API")
}

pub(super) fn dispatch(
    sim: &SmhSim,
    route: Route,
    query: &Query,
    body: Option<Map<String, Value>>,
) -> Result<Answer, SmhError> {
    authorize_route(sim, &route, query)?;
    match route {
        Route::Token => token(sim, query),
        Route::TokenRenew { lib, token } => token_renew(sim, &lib, &token),
        Route::CreateDirectory { space, path, .. } => create_directory(sim, query, &space, &path),
        Route::BeginMultipart { space, path, .. } => begin(sim, query, &space, path, body, true),
        Route::BeginSimple { space, path, .. } => begin(sim, query, &space, path, body, false),
        Route::Task { op, space, key, .. } => match op {
            TaskOp::Status => status(sim, &space, &key),
            TaskOp::Renew => renew(sim, &space, &key),
            TaskOp::Confirm => confirm(sim, query, &space, &key, body),
            TaskOp::Cancel => cancel(sim, &space, &key),
        },
        Route::Info { space, path, .. } => super::upload::info(sim, &space, &path),
        Route::Unknown => Err(no_such_api()),
    }
}

/// A JSON member that may be a string or a number, as an unsigned integer.
pub(super) fn json_u64(body: &Map<String, Value>, name: &str) -> Result<Option<u64>, SmhError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| SmhError::invalid(format!("{name} must be a non-negative integer"))),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| SmhError::invalid(format!("{name} must be a non-negative integer"))),
        Some(_) => Err(SmhError::invalid(format!("{name} must be a string"))),
    }
}

pub(super) fn json_str<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, SmhError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SmhError::invalid(format!("{name} must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_627_122_872_000), "2021-07-24T10:34:32.000Z");
        assert_eq!(iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
