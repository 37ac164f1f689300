//! The one request reader of every simulator: the query string, and the body as JSON, as
//! `application/x-www-form-urlencoded` or `multipart/form-data` fields and files, or nothing —
//! with every parameter kept exactly as received for the wire log.
//!
//! Percent-decoding is `form_urlencoded`'s (query strings, urlencoded bodies) and
//! `percent_encoding`'s (path segments); multipart bodies are read by axum's [`Multipart`]
//! (`multer`). The platforms differ only in which fields they read and how a repeated name is
//! resolved, which the accessors below make explicit.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{header, request::Parts, HeaderMap, Method, Request};
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::util::md5_raw;

/// The parsed query string: `(name, value)` pairs in order, percent-decoded; a bare flag
/// (`?multipart`) has the value "".
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (`None`: no query).
    pub fn parse(query: Option<&str>) -> Self {
        Query(
            query
                .map(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The first non-empty value of `name`.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

/// Decodes the `%XX` escapes of one path segment; `None` when an escape is malformed (`%zz`,
/// `%4`) or the result is not UTF-8.
pub(crate) fn percent_decode_segment(s: &str) -> Option<String> {
    // `percent_encoding` passes a malformed escape through unchanged; the platforms reject it.
    let bytes = s.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// One file field of a multipart body.
#[derive(Debug, Clone)]
pub(crate) struct FilePart {
    /// The field name.
    pub name: String,
    /// The bytes.
    pub bytes: Bytes,
    /// Their MD5, computed when the body is read, before the simulator's state is locked (so
    /// parts arriving together are hashed in parallel).
    pub md5: [u8; 16],
}

impl FilePart {
    /// The MD5 as lowercase hex.
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }
}

/// One field of a form body, in the order received.
#[derive(Debug, Clone)]
pub(crate) enum Field {
    /// A text field: its name and value (lossily decoded when not UTF-8, see `utf8`).
    Text {
        /// The field name.
        name: String,
        /// The value.
        value: String,
        /// Whether the bytes received were valid UTF-8.
        utf8: bool,
    },
    /// A file field.
    File(FilePart),
}

/// A request body, parsed according to its `Content-Type`.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// No body.
    Empty,
    /// A JSON object (`application/json`, when the call reads JSON).
    Json(Map<String, Value>),
    /// `multipart/form-data` or `application/x-www-form-urlencoded`: the fields in order.
    Form {
        /// Text and file fields, in the order received.
        fields: Vec<Field>,
        /// Whether the body was multipart (rather than url-encoded).
        multipart: bool,
    },
    /// A body of a content type the simulator does not read: the reason.
    Unsupported(String),
    /// A body that does not follow its content type (bad JSON, broken multipart): the reason.
    Malformed(String),
    /// The body could not be read (the connection failed mid-way): the reason.
    ReadFailed(String),
    /// The body exceeded the simulator's request size limit and was not read.
    TooLarge,
}

impl Payload {
    /// The text fields of a form, in order.
    pub fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        let fields: &[Field] = match self {
            Payload::Form { fields, .. } => fields,
            _ => &[],
        };
        fields.iter().filter_map(|f| match f {
            Field::Text { name, value, .. } => Some((name.as_str(), value.as_str())),
            Field::File(_) => None,
        })
    }

    /// The file fields of a form, in order.
    pub fn all_files(&self) -> impl Iterator<Item = &FilePart> {
        let fields: &[Field] = match self {
            Payload::Form { fields, .. } => fields,
            _ => &[],
        };
        fields.iter().filter_map(|f| match f {
            Field::File(file) => Some(file),
            Field::Text { .. } => None,
        })
    }

    /// The first text field called `name`, for forms.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.texts().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The file fields called `name`, for forms.
    pub fn files(&self, name: &str) -> Vec<&FilePart> {
        self.all_files().filter(|f| f.name == name).collect()
    }
}

/// How a simulator reads bodies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadOptions<'a> {
    /// Largest body read; a larger one gives [`Payload::TooLarge`].
    pub limit: usize,
    /// Whether `application/json` bodies are parsed (otherwise they are [`Payload::Unsupported`]).
    pub json: bool,
    /// Multipart fields that are files even without a `filename` (a call's byte parameters).
    pub file_fields: &'a [&'a str],
}

/// A request as received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// HTTP method.
    pub method: Method,
    /// Path as received (not decoded).
    pub path: String,
    /// The query string.
    pub query: Query,
    /// The body, parsed.
    pub payload: Payload,
    /// Body length in bytes (the declared length for a body over the limit).
    pub body_len: usize,
}

impl Received {
    /// The first query parameter called `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name)
    }

    /// Every non-file parameter exactly as received, for the wire log: query parameters
    /// (first value of a repeated name), then body fields (JSON members that are not strings
    /// are rendered as JSON text). A body field with the same name as a query parameter is
    /// recorded as `body.NAME`.
    pub fn params_body_prefixed(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.query.0 {
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
                    add(k, json_text(v));
                }
            }
            Payload::Form { .. } => {
                for (k, v) in self.payload.texts() {
                    add(k, v.to_string());
                }
            }
            _ => {}
        }
        out
    }

    /// File fields as `(name, length)`, in order, for the wire log.
    pub fn file_sizes(&self) -> Vec<(String, usize)> {
        self.payload
            .all_files()
            .map(|f| (f.name.clone(), f.bytes.len()))
            .collect()
    }
}

/// A JSON member as the wire log shows it: strings as they are, anything else as JSON text.
pub(crate) fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads the whole request (body at most `options.limit` bytes) and parses it by
/// `Content-Type`. A body over the limit, or one that fails mid-way, gives
/// [`Payload::TooLarge`] or [`Payload::ReadFailed`]; the query is kept either way.
pub(crate) async fn read(req: Request<Body>, options: ReadOptions<'_>) -> Received {
    let (mut received, parts, body) = head(req);
    read_body(&mut received, parts, body, options).await;
    received
}

/// What is known of a request before its body is read: method, path and query (the payload
/// [`Payload::Empty`], `body_len` 0), so that a simulator can refuse it (credentials in the
/// query) without reading the body; then [`read_body`].
pub(crate) fn head(req: Request<Body>) -> (Received, Parts, Body) {
    let (parts, body) = req.into_parts();
    let received = Received {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        query: Query::parse(parts.uri.query()),
        payload: Payload::Empty,
        body_len: 0,
    };
    (received, parts, body)
}

/// Reads the body of a request split by [`head`] into `received` (see [`read`]).
pub(crate) async fn read_body(
    received: &mut Received,
    parts: Parts,
    body: Body,
    options: ReadOptions<'_>,
) {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > options.limit as u64) {
        received.payload = Payload::TooLarge;
        received.body_len = usize::try_from(n).unwrap_or(usize::MAX);
        return;
    }
    match axum::body::to_bytes(body, options.limit).await {
        Ok(bytes) => {
            received.body_len = bytes.len();
            received.payload = parse_payload(parts, bytes, options).await;
        }
        Err(e) => {
            // axum reports an over-limit body through a `LengthLimitError` source.
            received.payload = if format!("{e:?}").contains("LengthLimit") {
                Payload::TooLarge
            } else {
                Payload::ReadFailed(format!("the body could not be read: {e}"))
            };
        }
    }
}

/// The body's media type, lowercased, without parameters ("" when absent).
pub(crate) fn mime(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

async fn parse_payload(parts: Parts, bytes: Bytes, options: ReadOptions<'_>) -> Payload {
    let mime = mime(&parts.headers);
    if bytes.is_empty() && mime.is_empty() {
        return Payload::Empty;
    }
    match mime.as_str() {
        "application/json" if options.json => parse_json(&bytes),
        "application/x-www-form-urlencoded" => Payload::Form {
            fields: url::form_urlencoded::parse(&bytes)
                .into_owned()
                .map(|(name, value)| Field::Text {
                    name,
                    value,
                    utf8: true,
                })
                .collect(),
            multipart: false,
        },
        "multipart/form-data" => {
            let req = Request::from_parts(parts, Body::from(bytes));
            match read_multipart(req, options.file_fields).await {
                Ok(p) => p,
                Err(e) => Payload::Malformed(format!("malformed multipart body: {e}")),
            }
        }
        "" => Payload::Unsupported("the request has a body but no Content-Type".into()),
        other => Payload::Unsupported(format!("unsupported Content-Type {other}")),
    }
}

/// Parses a JSON object body, whatever its `Content-Type` says.
pub(crate) fn parse_json(bytes: &[u8]) -> Payload {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Payload::Json(map),
        Ok(_) => Payload::Malformed("the JSON body is not an object".into()),
        Err(e) => Payload::Malformed(format!("the body is not valid JSON: {e}")),
    }
}

async fn read_multipart(req: Request<Body>, file_fields: &[&str]) -> Result<Payload, String> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| e.body_text())?;
    let mut fields = Vec::new();
    while let Some(field) = mp.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or("").to_string();
        let is_file = field.file_name().is_some() || file_fields.contains(&name.as_str());
        let data = field.bytes().await.map_err(|e| e.body_text())?;
        if is_file {
            let md5 = md5_raw(&data);
            fields.push(Field::File(FilePart {
                name,
                bytes: data,
                md5,
            }));
        } else {
            let (value, utf8) = match String::from_utf8(data.to_vec()) {
                Ok(text) => (text, true),
                Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), false),
            };
            fields.push(Field::Text { name, value, utf8 });
        }
    }
    Ok(Payload::Form {
        fields,
        multipart: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode_segment("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode_segment("%E4%B8%AD").as_deref(), Some("中"));
        assert_eq!(percent_decode_segment("%zz"), None);
        assert_eq!(percent_decode_segment("%4"), None);
        assert_eq!(percent_decode_segment("%ff"), None);
    }
}
