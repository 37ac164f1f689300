//! The COS-like storage server: presigned `PUT {path}?uploadId=&partNumber=` for parts and
//! `PUT {path}` for a simple upload's whole body. Errors in COS's XML form.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;

use super::auth::{self, Refusal};
use super::calls::{self, request_id, CosError};
use super::{SmhSim, State, StoredPart, TaskState, PLATFORM};
use crate::request::Query;
use crate::util::md5_raw;
use crate::WireRecord;

const ACCESS_DENIED: CosError =
    CosError::new(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied.");
const EXPIRED: CosError =
    CosError::new(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
const BAD_PART_NUMBER: CosError = CosError::new(
    StatusCode::BAD_REQUEST,
    "InvalidArgument",
    "Part number must be an integer between 1 and 10000, inclusive",
);
const NO_SUCH_UPLOAD: CosError = CosError::new(
    StatusCode::NOT_FOUND,
    "NoSuchUpload",
    "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
);
const TOO_LARGE: CosError = CosError::new(
    StatusCode::BAD_REQUEST,
    "EntityTooLarge",
    "Your proposed upload exceeds the maximum allowed object size.",
);
const BAD_DIGEST: CosError = CosError::new(
    StatusCode::BAD_REQUEST,
    "BadDigest",
    "The Content-MD5 you specified did not match what was received.",
);
const INCOMPLETE_BODY: CosError = CosError::new(
    StatusCode::BAD_REQUEST,
    "IncompleteBody",
    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
);
const METHOD_NOT_ALLOWED: CosError = CosError::new(
    StatusCode::METHOD_NOT_ALLOWED,
    "MethodNotAllowed",
    "The specified method is not allowed against this resource.",
);

/// Headers recorded in the wire log as `header:<name>` parameters.
const LOGGED_HEADERS: [&str; 7] = [
    auth::H_AUTHORIZATION,
    auth::H_TOKEN,
    auth::H_EXPIRES,
    auth::H_RANGE,
    auth::H_SIGNATURE,
    "content-type",
    "content-md5",
];

/// Refused bodies declaring at most this many bytes are read (and discarded) before the
/// refusal is sent.
const DRAIN_REFUSED_UP_TO: u64 = 32 << 20;

/// Every storage request lands here. Everything that can refuse it without its body —
/// method, presigned headers, declared size, the upload task — is checked before a byte of
/// the body is read, so an unauthenticated or oversized PUT costs no memory; an accepted body
/// is read up to `max_put_size`.
pub(crate) async fn handle(AxState(sim): AxState<SmhSim>, req: Request<Body>) -> Response {
    let (head, body) = req.into_parts();
    let (method, uri, headers) = (head.method, head.uri, head.headers);
    let rid = request_id();
    let query = Query::parse(uri.query());
    let mut params: BTreeMap<String, String> = query.0.iter().cloned().collect();
    for name in LOGGED_HEADERS {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            params.insert(format!("header:{name}"), v.to_owned());
        }
    }
    let upload_id = query.get("uploadId");
    let call = if upload_id.is_some() {
        calls::PUT_PART
    } else {
        calls::PUT_OBJECT
    };
    let path = uri.path().to_owned();
    let mut body_len = 0usize;
    let result = match admit(&sim, &method, &path, upload_id, &query, &headers) {
        Err(e) => {
            // A refused body is discarded, never buffered. One of a size a part can have is
            // read to its end first, so the client is not cut off mid-send and reads the
            // refusal (as COS answers it) instead of a reset connection; a larger one is
            // answered at once.
            let declared = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n <= DRAIN_REFUSED_UP_TO) {
                let mut stream = body.into_data_stream();
                while let Some(Ok(_)) = futures::StreamExt::next(&mut stream).await {}
            }
            Err(e)
        }
        Ok(admitted) => match read_body(body, sim.config().max_put_size).await {
            Ok(bytes) => {
                body_len = bytes.len();
                put(&sim, admitted, upload_id, &path, &headers, &bytes)
            }
            Err(e) => Err(e),
        },
    };
    let (status, error, response) = match result {
        Ok(etag) => {
            let mut resp = StatusCode::OK.into_response();
            if let Ok(v) = HeaderValue::from_str(&etag) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            if let Ok(v) = HeaderValue::from_str(&rid) {
                resp.headers_mut().insert("x-cos-request-id", v);
            }
            (StatusCode::OK, None, resp)
        }
        Err(e) => {
            let resource = format!("{}{}", sim.storage_domain(), path);
            (
                e.status,
                Some(e.code.to_owned()),
                e.into_response(&resource, &rid),
            )
        }
    };
    sim.wire().push(WireRecord {
        platform: PLATFORM,
        call: call.to_owned(),
        method: method.to_string(),
        path,
        params,
        files: vec![("body".to_owned(), body_len)],
        body_len,
        status: status.as_u16(),
        error,
    });
    response
}

/// A PUT whose headers were accepted: its part number and presigned token.
struct Admitted {
    part_number: Option<u32>,
    security_token: String,
}

/// The checks of a PUT that need no body: method, presigned headers, declared size against
/// `max_put_size`, and an active upload task for this path and token.
fn admit(
    sim: &SmhSim,
    method: &Method,
    path: &str,
    upload_id: Option<&str>,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Admitted, CosError> {
    if method != Method::PUT {
        return Err(METHOD_NOT_ALLOWED);
    }
    let part_number = match upload_id {
        Some(_) => query.get("partNumber").and_then(|n| n.parse::<u32>().ok()),
        None => None,
    };
    let now_ms = sim.clock().now_millis();
    let secret = sim.secret();
    let verified = auth::verify(
        &secret,
        headers,
        path,
        upload_id,
        part_number,
        now_ms.div_euclid(1000),
    )
    .map_err(|refusal| match refusal {
        Refusal::Denied => ACCESS_DENIED,
        Refusal::Expired => EXPIRED,
        Refusal::OutOfRange => BAD_PART_NUMBER,
    })?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > sim.config().max_put_size) {
        return Err(TOO_LARGE);
    }
    let st = sim.state();
    active_upload(&st, upload_id, path, &verified.security_token, now_ms)?;
    Ok(Admitted {
        part_number,
        security_token: verified.security_token,
    })
}

/// The confirm key of the active upload task `upload_id` (or the simple upload of `path`)
/// presigned with `token`.
fn active_upload(
    st: &State,
    upload_id: Option<&str>,
    path: &str,
    token: &str,
    now_ms: i64,
) -> Result<String, CosError> {
    let key = match upload_id {
        Some(id) => st.by_upload_id.get(id),
        None => st.by_simple_path.get(path),
    }
    .cloned()
    .ok_or(NO_SUCH_UPLOAD)?;
    let upload = st.uploads.get(&key).ok_or(NO_SUCH_UPLOAD)?;
    if upload.state != TaskState::Active
        || now_ms > upload.task_expires_ms
        || upload.storage_path != path
        || upload.security_token != token
    {
        return Err(NO_SUCH_UPLOAD);
    }
    Ok(key)
}

/// Reads an admitted body, at most `max` bytes (a body longer than it declared, or sent
/// chunked past the limit, is refused as too large).
async fn read_body(body: Body, max: u64) -> Result<Bytes, CosError> {
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if format!("{e:?}").contains("LengthLimit") {
            TOO_LARGE
        } else {
            INCOMPLETE_BODY
        }
    })
}

/// Stores an admitted PUT's body; returns the quoted MD5 eTag. The task is looked up again:
/// it may have been confirmed or cancelled while the body was read.
fn put(
    sim: &SmhSim,
    admitted: Admitted,
    upload_id: Option<&str>,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<String, CosError> {
    let md5 = md5_raw(body);
    if let Some(claimed) = headers.get("content-md5") {
        if claimed.as_bytes() != base64(&md5).as_bytes() {
            return Err(BAD_DIGEST);
        }
    }
    let now_ms = sim.clock().now_millis();
    let mut st = sim.state();
    let key = active_upload(&st, upload_id, path, &admitted.security_token, now_ms)?;
    let upload = st.uploads.get_mut(&key).ok_or(NO_SUCH_UPLOAD)?;
    let part = StoredPart {
        size: body.len() as u64,
        bytes: body.clone(),
        md5,
        received_ms: now_ms,
    };
    match admitted.part_number {
        Some(n) => {
            upload.parts.insert(n, part);
        }
        None => upload.body = Some(part),
    }
    st.storage_bytes += body.len() as u64;
    Ok(format!("\"{}\"", hex::encode(md5)))
}

/// Standard base64 with padding (for `Content-MD5`).
fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
