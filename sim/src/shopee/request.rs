//! Reading one HTTP request into what a platform handler needs: the query parameters, and the
//! body as JSON, as form fields and files, or nothing — with every non-file parameter kept
//! exactly as received for the wire log.
//!
//! Nothing here is Shopee-specific; it could move to `sim/common.rs` for every simulator.

use md5::Digest;
use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{header, request::Parts, Request};
use bytes::Bytes;
use serde_json::{Map, Value};

/// One file field of a multipart body.
#[derive(Debug, Clone)]
pub(crate) struct FilePart {
    /// The field name.
    pub name: String,
    /// The bytes.
    pub bytes: Bytes,
    /// Their MD5 as lowercase hex, computed when the body is read, before the simulator's
    /// state is locked (so parts arriving together are hashed in parallel).
    pub md5_hex: String,
}

/// A request body, parsed according to its `Content-Type`.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// No body.
    Empty,
    /// A JSON object.
    Json(Map<String, Value>),
    /// `multipart/form-data` or `application/x-www-form-urlencoded`: text fields in order
    /// received, and file fields (the parts that carry a `filename`).
    Form {
        /// Text fields, in the order received.
        texts: Vec<(String, String)>,
        /// File fields, in the order received.
        files: Vec<FilePart>,
        /// Whether the body was multipart (rather than url-encoded).
        multipart: bool,
    },
    /// A body of another content type, or one that could not be parsed as its content type
    /// says: the reason.
    Unreadable(String),
    /// The body exceeded the simulator's request size limit and was not read.
    TooLarge,
}

impl Payload {
    /// The first text field called `name`, for forms.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self {
            Payload::Form { texts, .. } => texts
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }

    /// The file fields called `name`, for forms.
    pub fn files(&self, name: &str) -> Vec<&FilePart> {
        match self {
            Payload::Form { files, .. } => files.iter().filter(|f| f.name == name).collect(),
            _ => Vec::new(),
        }
    }
}

/// A request as received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// Query parameters, in order (first occurrence wins in [`Received::query`]).
    pub query: Vec<(String, String)>,
    /// The body.
    pub payload: Payload,
    /// Body length in bytes.
    pub body_len: usize,
}

impl Received {
    /// The first query parameter called `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every non-file parameter exactly as received, for the wire log: query parameters, then
    /// body fields (JSON members that are not strings are rendered as JSON text). A body field
    /// with the same name as a query parameter is recorded as `body.NAME`.
    pub fn wire_params(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.query {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut add = |k: &str, v: String| {
            let key = if out.contains_key(k) {
                format!("body.{k}")
            } else {
                k.to_string()
            };
            out.entry(key).or_insert(v);
        };
        match &self.payload {
            Payload::Json(map) => {
                for (k, v) in map {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    add(k, text);
                }
            }
            Payload::Form { texts, .. } => {
                for (k, v) in texts {
                    add(k, v.clone());
                }
            }
            Payload::Empty | Payload::Unreadable(_) | Payload::TooLarge => {}
        }
        out
    }

    /// File fields as `(name, length)`, in order, for the wire log.
    pub fn wire_files(&self) -> Vec<(String, usize)> {
        match &self.payload {
            Payload::Form { files, .. } => files
                .iter()
                .map(|f| (f.name.clone(), f.bytes.len()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Reads the whole request (body at most `limit` bytes) and parses it by `Content-Type`. A body
/// over the limit, or one that fails mid-way, gives [`Payload::TooLarge`] or
/// [`Payload::Unreadable`]; the query is kept either way.
pub(crate) async fn read(req: Request<Body>, limit: usize) -> Received {
    let (parts, body) = req.into_parts();
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Received {
            query,
            payload: Payload::TooLarge,
            body_len: declared.map_or(0, |n| n as usize),
        };
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            let body_len = bytes.len();
            let payload = parse_payload(parts, bytes).await;
            Received {
                query,
                payload,
                body_len,
            }
        }
        Err(e) => {
            // axum reports an over-limit body through a `LengthLimitError` source.
            let payload = if format!("{e:?}").contains("LengthLimit") {
                Payload::TooLarge
            } else {
                Payload::Unreadable(format!("the body could not be read: {e}"))
            };
            Received {
                query,
                payload,
                body_len: 0,
            }
        }
    }
}

async fn parse_payload(parts: Parts, bytes: Bytes) -> Payload {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if bytes.is_empty() && mime.is_empty() {
        return Payload::Empty;
    }
    match mime.as_str() {
        "application/json" => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Payload::Json(map),
            Ok(_) => Payload::Unreadable("the JSON body is not an object".into()),
            Err(e) => Payload::Unreadable(format!("the body is not valid JSON: {e}")),
        },
        "application/x-www-form-urlencoded" => Payload::Form {
            texts: url::form_urlencoded::parse(&bytes).into_owned().collect(),
            files: Vec::new(),
            multipart: false,
        },
        "multipart/form-data" => {
            let req = Request::from_parts(parts, Body::from(bytes));
            match read_multipart(req).await {
                Ok(p) => p,
                Err(e) => Payload::Unreadable(format!("malformed multipart body: {e}")),
            }
        }
        "" => Payload::Unreadable("the request has a body but no Content-Type".into()),
        other => Payload::Unreadable(format!("unsupported Content-Type {other}")),
    }
}

async fn read_multipart(req: Request<Body>) -> Result<Payload, String> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| e.body_text())?;
    let mut texts = Vec::new();
    let mut files = Vec::new();
    while let Some(field) = mp.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or("").to_string();
        let is_file = field.file_name().is_some();
        let data = field.bytes().await.map_err(|e| e.body_text())?;
        if is_file {
            let md5_hex = hex::encode(md5::Md5::digest(&data));
            files.push(FilePart {
                name,
                bytes: data,
                md5_hex,
            });
        } else {
            texts.push((name, String::from_utf8_lossy(&data).into_owned()));
        }
    }
    Ok(Payload::Form {
        texts,
        files,
        multipart: true,
    })
}
