//! The COS-like storage server: presigned `PUT {path}?uploadId=&partNumber=` for parts and
//! `PUT {path}` for a simple upload's whole body. Errors in COS's XML form.

use std::collections::BTreeMap;

use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;

use super::auth::{self, Refusal};
use super::calls::{self, request_id, CosError};
use super::{SmhSim, StoredPart, TaskState, PLATFORM};
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

/// Every storage request lands here.
pub(crate) async fn handle(
    AxState(sim): AxState<SmhSim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    let result = put(&sim, &method, &path, upload_id, &query, &headers, &body);
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
        files: vec![("body".to_owned(), body.len())],
        body_len: body.len(),
        status: status.as_u16(),
        error,
    });
    response
}

/// Accepts one PUT; returns the quoted MD5 eTag.
fn put(
    sim: &SmhSim,
    method: &Method,
    path: &str,
    upload_id: Option<&str>,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<String, CosError> {
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
    if body.len() as u64 > sim.config().max_put_size {
        return Err(TOO_LARGE);
    }
    let md5 = md5_raw(body);
    if let Some(claimed) = headers.get("content-md5") {
        if claimed.as_bytes() != base64(&md5).as_bytes() {
            return Err(BAD_DIGEST);
        }
    }

    let mut st = sim.state();
    let key = match upload_id {
        Some(id) => st.by_upload_id.get(id),
        None => st.by_simple_path.get(path),
    }
    .cloned()
    .ok_or(NO_SUCH_UPLOAD)?;
    let upload = st.uploads.get_mut(&key).ok_or(NO_SUCH_UPLOAD)?;
    if upload.state != TaskState::Active
        || now_ms > upload.task_expires_ms
        || upload.storage_path != path
        || upload.security_token != verified.security_token
    {
        return Err(NO_SUCH_UPLOAD);
    }
    let part = StoredPart {
        bytes: body.clone(),
        md5,
        received_ms: now_ms,
    };
    match part_number {
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
