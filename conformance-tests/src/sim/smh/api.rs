//! The SMH API server: tokens, directories, and the upload task calls (begin, status, renew,
//! confirm, cancel).

use std::collections::BTreeMap;

use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::digest::{crc64, md5_raw, multipart_etag};
use super::library::{
    content_type, join, Conflict, IndexEntry, State, StoredFile, TaskState, Token, Upload,
};
use super::presign::{self, Grant};
use super::wire::{parse_query, percent_decode, random_hex, request_id, Query, SmhError};
use super::{calls, SmhSim, PLATFORM};
use crate::sim::WireRecord;

/// A successful answer: status and optional JSON body.
type Answer = (StatusCode, Option<Value>);

/// The parsed route of a request.
enum Route {
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
    Unknown,
}

/// A call on an upload task, addressed by its confirm key.
#[derive(Clone, Copy)]
enum TaskOp {
    Status,
    Renew,
    Confirm,
    Cancel,
}

/// Decodes path segments; a trailing slash is ignored.
fn decode_segments(segments: &[&str]) -> Result<Vec<String>, SmhError> {
    let mut segments = segments.to_vec();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    segments
        .iter()
        .map(|s| {
            let decoded = percent_decode(s)
                .ok_or_else(|| SmhError::invalid("the path is not valid percent-encoded UTF-8"))?;
            if decoded.is_empty() || decoded == "." || decoded == ".." || decoded.contains('/') {
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
fn route(
    method: &Method,
    path: &str,
    query: &Query,
    params: &mut BTreeMap<String, String>,
) -> (&'static str, Result<Route, SmhError>) {
    let segs: Vec<&str> = path.split('/').collect();
    let Some(rest) = segs.strip_prefix(&["", "api", "v1"]) else {
        return (calls::UNKNOWN, Ok(Route::Unknown));
    };
    let one = |s: &str| percent_decode(s).unwrap_or_else(|| s.to_owned());
    match (method, rest) {
        (&Method::GET, ["token"]) => (calls::TOKEN, Ok(Route::Token)),
        (&Method::POST, ["token", lib, token]) => {
            let (lib, token) = (one(lib), one(token));
            params.insert("LibraryId".into(), lib.clone());
            params.insert("AccessToken".into(), token.clone());
            (calls::TOKEN_RENEW, Ok(Route::TokenRenew { lib, token }))
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
                (&Method::PUT, "directory") => (
                    calls::CREATE_DIRECTORY,
                    file_path("DirPath").map(|path| Route::CreateDirectory { lib, space, path }),
                ),
                (&Method::POST, "file") if query.has("multipart") => (
                    calls::BEGIN_MULTIPART,
                    file_path("FilePath").map(|path| Route::BeginMultipart { lib, space, path }),
                ),
                (&Method::PUT, "file") => (
                    calls::BEGIN_SIMPLE,
                    file_path("FilePath").map(|path| Route::BeginSimple { lib, space, path }),
                ),
                (_, "file") => {
                    let key = tail.iter().map(|s| one(s)).collect::<Vec<_>>().join("/");
                    let (call, op) = match *method {
                        Method::POST if query.has("renew") => (calls::RENEW_UPLOAD, TaskOp::Renew),
                        Method::POST if query.has("confirm") => {
                            (calls::CONFIRM_UPLOAD, TaskOp::Confirm)
                        }
                        Method::GET if query.has("upload") => {
                            (calls::UPLOAD_STATUS, TaskOp::Status)
                        }
                        Method::DELETE if query.has("upload") => {
                            (calls::CANCEL_UPLOAD, TaskOp::Cancel)
                        }
                        _ => return (calls::UNKNOWN, Ok(Route::Unknown)),
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
                _ => (calls::UNKNOWN, Ok(Route::Unknown)),
            }
        }
        _ => (calls::UNKNOWN, Ok(Route::Unknown)),
    }
}

/// Every API request lands here.
pub(crate) async fn handle(
    AxState(sim): AxState<SmhSim>,
    method: Method,
    uri: Uri,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rid = request_id();
    let query = Query(parse_query(uri.query()));
    let mut params: BTreeMap<String, String> = query.0.iter().cloned().collect();
    let json_body = if body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice::<Value>(&body))
    };
    if let Some(Ok(Value::Object(members))) = &json_body {
        for (k, v) in members {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            params.insert(k.clone(), text);
        }
    }
    let (call, parsed) = route(&method, uri.path(), &query, &mut params);

    let result = parsed.and_then(|route| {
        if sim.state().rate_limited {
            return Err(SmhError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimitExceeded",
                "request rate limit exceeded",
            ));
        }
        let body = match json_body {
            None => None,
            Some(Ok(Value::Object(m))) => Some(m),
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

fn dispatch(
    sim: &SmhSim,
    route: Route,
    query: &Query,
    body: Option<Map<String, Value>>,
) -> Result<Answer, SmhError> {
    match route {
        Route::Token => token(sim, query),
        Route::TokenRenew { lib, token } => token_renew(sim, &lib, &token),
        Route::CreateDirectory { lib, space, path } => {
            authorize(sim, query, &lib, &space)?;
            create_directory(sim, query, &space, &path)
        }
        Route::BeginMultipart { lib, space, path } => {
            authorize(sim, query, &lib, &space)?;
            begin(sim, query, &space, path, body, true)
        }
        Route::BeginSimple { lib, space, path } => {
            authorize(sim, query, &lib, &space)?;
            begin(sim, query, &space, path, body, false)
        }
        Route::Task {
            op,
            lib,
            space,
            key,
        } => {
            authorize(sim, query, &lib, &space)?;
            match op {
                TaskOp::Status => status(sim, &space, &key),
                TaskOp::Renew => renew(sim, &space, &key),
                TaskOp::Confirm => confirm(sim, query, &space, &key, body),
                TaskOp::Cancel => cancel(sim, &space, &key),
            }
        }
        Route::Unknown => Err(SmhError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "no such API",
        )),
    }
}

fn invalid_token() -> SmhError {
    SmhError::new(
        StatusCode::FORBIDDEN,
        "InvalidAccessToken",
        "the access token is invalid",
    )
}

fn expired_token(sim: &SmhSim) -> SmhError {
    SmhError::new(
        StatusCode::FORBIDDEN,
        sim.config().expired_token_code.code(),
        "the access token has expired",
    )
}

fn no_permission(message: &str) -> SmhError {
    SmhError::new(StatusCode::FORBIDDEN, "NoPermission", message)
}

/// Checks `access_token` against the library and space of the request.
fn authorize(sim: &SmhSim, query: &Query, lib: &str, space: &str) -> Result<(), SmhError> {
    let token = query.non_empty("access_token").ok_or_else(invalid_token)?;
    let st = sim.state();
    let token = st.tokens.get(token).ok_or_else(invalid_token)?;
    if sim.clock().now_millis() >= token.expires_ms {
        return Err(expired_token(sim));
    }
    if token.library_id != lib {
        return Err(no_permission(
            "the access token is not valid for this library",
        ));
    }
    if !sim.config().space_ids.iter().any(|s| s == space) {
        return Err(SmhError::new(
            StatusCode::NOT_FOUND,
            "SpaceNotFound",
            format!("space {space:?} does not exist"),
        ));
    }
    if token.space_id != space {
        return Err(no_permission(
            "the access token is not valid for this space",
        ));
    }
    Ok(())
}

fn token(sim: &SmhSim, query: &Query) -> Result<Answer, SmhError> {
    let config = sim.config();
    let lib = query
        .non_empty("library_id")
        .ok_or_else(|| SmhError::invalid("library_id is required"))?;
    let secret = query
        .non_empty("library_secret")
        .ok_or_else(|| SmhError::invalid("library_secret is required"))?;
    if lib != config.library_id || secret != config.library_secret {
        return Err(no_permission(
            "the library does not exist or the library secret is incorrect",
        ));
    }
    let space_id = match query.non_empty("space_id") {
        Some(space) if !config.space_ids.iter().any(|s| s == space) => {
            return Err(SmhError::new(
                StatusCode::NOT_FOUND,
                "SpaceNotFound",
                format!("space {space:?} does not exist"),
            ))
        }
        Some(space) => space.to_owned(),
        None => sim.credentials().space_id,
    };
    let period = match query.non_empty("period") {
        None => config.token_lifetime.as_secs() as i64,
        Some(p) => match p.parse::<i64>() {
            Ok(p) if p > 0 => p,
            _ => {
                return Err(SmhError::invalid(
                    "period must be a positive number of seconds",
                ))
            }
        },
    };
    let access_token = format!("acctk{}", random_hex(32));
    let now = sim.clock().now_millis();
    sim.state().tokens.insert(
        access_token.clone(),
        Token {
            library_id: lib.to_owned(),
            space_id,
            period_secs: period,
            expires_ms: now + period * 1000,
        },
    );
    Ok((
        StatusCode::OK,
        Some(json!({ "accessToken": access_token, "expiresIn": period })),
    ))
}

fn token_renew(sim: &SmhSim, lib: &str, token: &str) -> Result<Answer, SmhError> {
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let t = st.tokens.get_mut(token).ok_or_else(invalid_token)?;
    if t.library_id != lib {
        return Err(no_permission(
            "the access token is not valid for this library",
        ));
    }
    if now >= t.expires_ms {
        return Err(expired_token(sim));
    }
    t.expires_ms = now + t.period_secs * 1000;
    Ok((
        StatusCode::OK,
        Some(json!({ "accessToken": token, "expiresIn": t.period_secs })),
    ))
}

fn create_directory(
    sim: &SmhSim,
    query: &Query,
    space: &str,
    path: &[String],
) -> Result<Answer, SmhError> {
    let conflict = Conflict::parse(query.get("conflict_resolution_strategy"), Conflict::Ask)?;
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    if sim.config().create_parent_directories {
        for i in 1..path.len() {
            let ancestor = &path[..i];
            if !st.dir_exists(space, ancestor) {
                st.check_parent(space, ancestor)?;
                if st.file(space, ancestor).is_some() {
                    return Err(SmhError::new(
                        StatusCode::CONFLICT,
                        "SameNameDirectoryOrFileExists",
                        format!("/{} is a file", join(ancestor)),
                    ));
                }
                st.insert_dir(space, ancestor);
            }
        }
    }
    let placed = st.place(space, path, conflict, true)?;
    st.insert_dir(space, &placed.path);
    Ok((
        StatusCode::CREATED,
        Some(json!({ "path": placed.path, "creationTime": super::iso8601(now) })),
    ))
}

/// A JSON member that may be a string or a number, as an unsigned integer.
fn json_u64(body: &Map<String, Value>, name: &str) -> Result<Option<u64>, SmhError> {
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

fn json_str<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, SmhError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SmhError::invalid(format!("{name} must be a string"))),
    }
}

fn quota_exceeded() -> SmhError {
    SmhError::new(
        StatusCode::BAD_REQUEST,
        "QuotaLimitReached",
        "the library's storage quota has been reached",
    )
}

fn begin(
    sim: &SmhSim,
    query: &Query,
    space: &str,
    path: Vec<String>,
    body: Option<Map<String, Value>>,
    multipart: bool,
) -> Result<Answer, SmhError> {
    let config = sim.config();
    let conflict = Conflict::parse(query.get("conflict_resolution_strategy"), Conflict::Rename)?;
    let filesize = match query.non_empty("filesize") {
        None => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| SmhError::invalid("filesize must be a non-negative integer"))?,
        ),
    };
    let body = body.unwrap_or_default();
    let (size, beginning, full) = if multipart {
        (
            json_u64(&body, "size")?,
            json_str(&body, "beginningHash")?.map(str::to_ascii_lowercase),
            json_str(&body, "fullHash")?.map(str::to_ascii_lowercase),
        )
    } else {
        (None, None, None)
    };
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    // Parent must exist; `ask` fails now if the name is taken.
    st.place(space, &path, conflict, false)?;
    let declared = filesize.or(size).unwrap_or(0);
    if st.used_bytes().saturating_add(declared) > config.capacity_bytes {
        return Err(quota_exceeded());
    }

    if let Some(size) =
        size.filter(|s| config.instant_upload && *s >= config.instant_upload_min_size)
    {
        if let Some(full) = &full {
            let hit = st
                .index
                .iter()
                .find(|e| {
                    e.size == size
                        && e.hashes().full_hash == *full
                        && beginning
                            .as_ref()
                            .is_none_or(|b| *b == e.hashes().beginning_hash)
                })
                .map(|e| (e.bytes.clone(), e.etag.clone(), e.crc64));
            if let Some((bytes, etag, crc)) = hit {
                let known = Some(Known {
                    crc64: crc,
                    indexed: true,
                });
                let info = store_file(
                    sim, &mut st, space, &path, conflict, bytes, etag, known, now,
                )?;
                return Ok((StatusCode::OK, Some(info)));
            }
        } else if let Some(beginning) = &beginning {
            if st
                .index
                .iter()
                .any(|e| e.size == size && e.hashes().beginning_hash == *beginning)
            {
                return Ok((StatusCode::ACCEPTED, None));
            }
        }
    }

    let confirm_key = random_hex(32);
    let upload_id = multipart.then(|| format!("{}{}", now / 1000, random_hex(24)));
    let storage_path = format!("/smhsim-{}/{}", config.library_id, random_hex(16));
    let upload = Upload {
        space_id: space.to_owned(),
        target: path,
        conflict,
        upload_id: upload_id.clone(),
        storage_path: storage_path.clone(),
        security_token: random_hex(24),
        parts: BTreeMap::new(),
        body: None,
        created_ms: now,
        task_expires_ms: now + config.upload_task_lifetime.as_millis() as i64,
        state: TaskState::Active,
    };
    let info = upload_info(sim, &st, &confirm_key, &upload, now);
    match &upload_id {
        Some(id) => st.by_upload_id.insert(id.clone(), confirm_key.clone()),
        None => st.by_simple_path.insert(storage_path, confirm_key.clone()),
    };
    st.uploads.insert(confirm_key, upload);
    Ok((StatusCode::CREATED, Some(info)))
}

/// `{domain, path, uploadId?, headers, confirmKey, expiration, availableDomainNum}` with fresh
/// presigned headers.
fn upload_info(sim: &SmhSim, st: &State, confirm_key: &str, upload: &Upload, now: i64) -> Value {
    let expires_ms = now + sim.config().upload_info_lifetime.as_millis() as i64;
    let headers = presign::headers(
        sim.secret(),
        &Grant {
            storage_path: &upload.storage_path,
            upload_id: upload.upload_id.as_deref(),
            parts: upload
                .upload_id
                .as_ref()
                .map(|_| (1, sim.config().max_part_number)),
            issued_secs: now.div_euclid(1000),
            expires_secs: expires_ms.div_euclid(1000),
            security_token: &upload.security_token,
        },
    );
    let mut info = json!({
        "domain": st.storage_domain,
        "path": upload.storage_path,
        "headers": headers,
        "confirmKey": confirm_key,
        // Whole seconds, like the presigned expiry itself.
        "expiration": super::iso8601(expires_ms.div_euclid(1000) * 1000),
        "availableDomainNum": 1,
    });
    if let (Some(id), Some(obj)) = (&upload.upload_id, info.as_object_mut()) {
        obj.insert("uploadId".into(), Value::String(id.clone()));
    }
    info
}

/// What is already known of a file about to be stored.
struct Known {
    /// Its CRC-64.
    crc64: u64,
    /// Whether it came from the instant-upload index (then it is not indexed again).
    indexed: bool,
}

/// Places and stores a file; returns the file info answer. Digests already `known` are not
/// computed again.
#[allow(clippy::too_many_arguments)]
fn store_file(
    sim: &SmhSim,
    st: &mut State,
    space: &str,
    target: &[String],
    conflict: Conflict,
    bytes: Bytes,
    etag: String,
    known: Option<Known>,
    now: i64,
) -> Result<Value, SmhError> {
    let placed = st.place(space, target, conflict, false)?;
    let size = bytes.len() as u64;
    let used = st.used_bytes() - placed.overwrites.unwrap_or(0);
    if used.saturating_add(size) > sim.config().capacity_bytes {
        return Err(quota_exceeded());
    }
    let name = placed.path.last().cloned().unwrap_or_default();
    let created_ms = match (placed.overwrites, st.file(space, &placed.path)) {
        (Some(_), Some(old)) => old.created_ms,
        _ => now,
    };
    let crc = known.as_ref().map_or_else(|| crc64(&bytes), |k| k.crc64);
    let indexed = known.is_some_and(|k| k.indexed);
    let file = StoredFile {
        bytes: bytes.clone(),
        etag: etag.clone(),
        crc64: crc,
        content_type: content_type(&name),
        created_ms,
        modified_ms: now,
    };
    let info = file_info(&placed.path, &file, placed.overwrites.is_some());
    st.insert_file(space, &placed.path, file);
    if !indexed
        && size >= sim.config().instant_upload_min_size
        && !st.index.iter().any(|e| e.size == size && e.bytes == bytes)
    {
        st.index.push(IndexEntry::new(bytes, etag, crc));
    }
    Ok(info)
}

fn file_info(path: &[String], file: &StoredFile, overwritten: bool) -> Value {
    let kind = file.content_type.split('/').next().unwrap_or("");
    let file_type = match kind {
        "video" | "image" => kind,
        _ => "other",
    };
    json!({
        "path": path,
        "name": path.last(),
        "type": "file",
        "creationTime": super::iso8601(file.created_ms),
        "modificationTime": super::iso8601(file.modified_ms),
        "contentType": file.content_type,
        "size": file.bytes.len().to_string(),
        "eTag": file.etag,
        "crc64": file.crc64.to_string(),
        "metaData": {},
        "isOverwritten": overwritten,
        "previewByDoc": false,
        "previewByCI": file_type != "other",
        "previewAsIcon": false,
        "fileType": file_type,
    })
}

/// The active upload task with `key`, or the platform's answer for why there is none.
fn active<'a>(
    st: &'a mut State,
    space: &str,
    key: &str,
    now: i64,
) -> Result<&'a mut Upload, SmhError> {
    let not_found = || {
        SmhError::new(
            StatusCode::NOT_FOUND,
            "ConfirmKeyNotFound",
            "the confirm key does not exist",
        )
    };
    let upload = st.uploads.get_mut(key).ok_or_else(not_found)?;
    if upload.space_id != space {
        return Err(not_found());
    }
    match upload.state {
        TaskState::Confirmed { .. } => Err(SmhError::new(
            StatusCode::CONFLICT,
            "UploadComplete",
            "the upload has already been confirmed",
        )),
        TaskState::Cancelled => Err(SmhError::new(
            StatusCode::NOT_FOUND,
            "UploadNotFound",
            "the upload has been cancelled",
        )),
        TaskState::Active if now > upload.task_expires_ms => {
            upload.state = TaskState::Cancelled;
            upload.parts.clear();
            upload.body = None;
            Err(SmhError::new(
                StatusCode::NOT_FOUND,
                "UploadNotFound",
                "the upload has expired",
            ))
        }
        TaskState::Active => Ok(upload),
    }
}

fn status(sim: &SmhSim, space: &str, key: &str) -> Result<Answer, SmhError> {
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let upload = active(&mut st, space, key, now)?.clone();
    let parts: Vec<Value> = upload
        .parts
        .iter()
        .map(|(n, p)| {
            json!({
                "PartNumber": n.to_string(),
                "LastModified": super::iso8601(p.received_ms),
                "ETag": format!("\"{}\"", hex::encode(p.md5)),
                "Size": p.bytes.len().to_string(),
            })
        })
        .collect();
    let mut info = upload_info(sim, &st, key, &upload, now);
    if let Some(obj) = info.as_object_mut() {
        obj.remove("confirmKey");
        obj.remove("availableDomainNum");
    }
    Ok((
        StatusCode::OK,
        Some(json!({
            "confirmKey": key,
            "path": upload.target,
            "type": "file",
            "creationTime": super::iso8601(upload.created_ms),
            "parts": parts,
            "uploadPartInfo": info,
        })),
    ))
}

fn renew(sim: &SmhSim, space: &str, key: &str) -> Result<Answer, SmhError> {
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let upload = active(&mut st, space, key, now)?.clone();
    let info = upload_info(sim, &st, key, &upload, now);
    Ok((StatusCode::OK, Some(info)))
}

fn incomplete(message: String) -> SmhError {
    SmhError::new(
        StatusCode::BAD_REQUEST,
        "MultipartUploadIncomplete",
        message,
    )
}

fn confirm(
    sim: &SmhSim,
    query: &Query,
    space: &str,
    key: &str,
    body: Option<Map<String, Value>>,
) -> Result<Answer, SmhError> {
    let config = sim.config();
    let body = body.unwrap_or_default();
    let expected_crc = match body.get("crc64") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            s.parse::<u64>()
                .map_err(|_| SmhError::invalid("crc64 must be a decimal unsigned integer"))?,
        ),
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| SmhError::invalid("crc64 must be a decimal unsigned integer"))?,
        ),
        Some(_) => return Err(SmhError::invalid("crc64 must be a string")),
    };
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let upload = active(&mut st, space, key, now)?;
    let conflict = Conflict::parse(query.get("conflict_resolution_strategy"), upload.conflict)?;

    let (bytes, etag) = if upload.upload_id.is_some() {
        let n = upload.parts.len();
        if n == 0 {
            return Err(incomplete("no part has been uploaded".into()));
        }
        if let Some(missing) = (1..=n as u32).find(|i| !upload.parts.contains_key(i)) {
            return Err(incomplete(format!(
                "part {missing} is missing: parts must be numbered 1..N without gaps"
            )));
        }
        let last = n as u32;
        if let Some((num, p)) = upload
            .parts
            .iter()
            .find(|(num, p)| **num != last && (p.bytes.len() as u64) < config.min_part_size)
        {
            return Err(SmhError::new(
                StatusCode::BAD_REQUEST,
                "MultipartUploadPartTooSmall",
                format!(
                    "part {num} is {} bytes; every part but the last must be at least {} bytes",
                    p.bytes.len(),
                    config.min_part_size
                ),
            ));
        }
        let mut all = Vec::with_capacity(upload.parts.values().map(|p| p.bytes.len()).sum());
        for p in upload.parts.values() {
            all.extend_from_slice(&p.bytes);
        }
        let etag = format!(
            "\"{}\"",
            multipart_etag(upload.parts.values().map(|p| &p.md5))
        );
        (Bytes::from(all), etag)
    } else {
        let Some(body) = &upload.body else {
            return Err(incomplete("the file content has not been uploaded".into()));
        };
        (
            body.bytes.clone(),
            format!("\"{}\"", hex::encode(md5_raw(&body.bytes))),
        )
    };
    let actual = crc64(&bytes);
    if let Some(expected) = expected_crc {
        if actual != expected {
            return Err(SmhError::new(
                StatusCode::BAD_REQUEST,
                "BadCrc64",
                format!("crc64 {expected} does not match the uploaded data's {actual}"),
            ));
        }
    }
    let target = upload.target.clone();
    let info = store_file(
        sim,
        &mut st,
        space,
        &target,
        conflict,
        bytes,
        etag,
        Some(Known {
            crc64: actual,
            indexed: false,
        }),
        now,
    )?;
    let final_path: Vec<String> = info
        .get("path")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(upload) = st.uploads.get_mut(key) {
        upload.state = TaskState::Confirmed { path: final_path };
    }
    Ok((StatusCode::OK, Some(info)))
}

fn cancel(sim: &SmhSim, space: &str, key: &str) -> Result<Answer, SmhError> {
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let upload = active(&mut st, space, key, now)?;
    upload.state = TaskState::Cancelled;
    upload.parts.clear();
    upload.body = None;
    Ok((StatusCode::NO_CONTENT, None))
}
