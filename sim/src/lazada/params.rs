//! Collecting a request's parameters the way the Lazada gateway does: from the query string, an
//! `application/x-www-form-urlencoded` body, or a `multipart/form-data` body, in any mix.
//!
//! Nothing here is Lazada-specific except the rule that decides which multipart fields are files;
//! it is a candidate to move to `common` (see `docs/simulators/lazada.md`).

use std::collections::BTreeMap;

use md5::Digest;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;

/// A file field of a multipart body.
#[derive(Debug, Clone)]
pub struct ReceivedFile {
    /// The form field name, e.g. `file` or `image`.
    pub field: String,
    /// The bytes received.
    pub bytes: Bytes,
    /// Their MD5, computed when the body is read, before the simulator's state is locked (so
    /// blocks arriving together are hashed in parallel).
    pub md5: [u8; 16],
}

/// Everything a request carried, before any platform rule is applied.
#[derive(Debug, Clone, Default)]
pub struct ReceivedRequest {
    /// HTTP method.
    pub method: String,
    /// Path as received.
    pub path: String,
    /// Every non-file parameter, decoded. When a name arrives more than once, the first value
    /// wins (query string before body, then body order), as a servlet's `getParameter` does.
    pub params: BTreeMap<String, String>,
    /// File fields, in the order received.
    pub files: Vec<ReceivedFile>,
    /// Body length in bytes.
    pub body_len: usize,
}

impl ReceivedRequest {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The first file field named `field`.
    pub fn file(&self, field: &str) -> Option<&ReceivedFile> {
        self.files.iter().find(|f| f.field == field)
    }

    /// `(field, size)` of every file field, for the wire log.
    pub fn file_sizes(&self) -> Vec<(String, usize)> {
        self.files
            .iter()
            .map(|f| (f.field.clone(), f.bytes.len()))
            .collect()
    }

    fn add_param(&mut self, name: String, value: String) {
        self.params.entry(name).or_insert(value);
    }
}

/// Why a request's parameters could not be read. The partially read request is kept so that
/// the wire log still shows what arrived.
#[derive(Debug)]
pub enum CollectError {
    /// The body is larger than the simulator reads.
    TooLarge(ReceivedRequest),
    /// The body claims a form or multipart encoding it does not follow.
    Malformed(ReceivedRequest, String),
}

/// Reads every parameter of `req`. A multipart field is a file when it has a `filename`, or when
/// its name is one of `file_fields` (the call's declared byte parameters); every other field is
/// a text parameter.
pub async fn collect(
    req: Request,
    file_fields: &[&str],
    body_limit: usize,
) -> Result<ReceivedRequest, CollectError> {
    let (parts, body) = req.into_parts();
    let mut out = ReceivedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        ..ReceivedRequest::default()
    };
    if let Some(query) = parts.uri.query() {
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            out.add_param(k.into_owned(), v.into_owned());
        }
    }
    let bytes = match to_bytes(body, body_limit).await {
        Ok(b) => b,
        Err(_) => return Err(CollectError::TooLarge(out)),
    };
    out.body_len = bytes.len();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();

    if content_type.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(&bytes) {
            out.add_param(k.into_owned(), v.into_owned());
        }
    } else if content_type.starts_with("multipart/form-data") {
        let rebuilt = Request::from_parts(parts, Body::from(bytes));
        let mut multipart = match Multipart::from_request(rebuilt, &()).await {
            Ok(m) => m,
            Err(e) => return Err(CollectError::Malformed(out, e.body_text())),
        };
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) => return Err(CollectError::Malformed(out, e.body_text())),
            };
            let name = field.name().unwrap_or("").to_string();
            let is_file = field.file_name().is_some() || file_fields.contains(&name.as_str());
            let data = match field.bytes().await {
                Ok(d) => d,
                Err(e) => return Err(CollectError::Malformed(out, e.body_text())),
            };
            if is_file {
                let md5 = md5::Md5::digest(&data).into();
                out.files.push(ReceivedFile {
                    field: name,
                    bytes: data,
                    md5,
                });
            } else {
                match String::from_utf8(data.to_vec()) {
                    Ok(text) => out.add_param(name, text),
                    Err(_) => {
                        let msg = format!("multipart field \"{name}\" is not UTF-8 text");
                        return Err(CollectError::Malformed(out, msg));
                    }
                }
            }
        }
    }
    // Any other content type (JSON, none): the gateway reads no parameters from the body.
    Ok(out)
}
