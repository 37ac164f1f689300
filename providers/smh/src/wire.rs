//! Everything SMH sends and receives, in one file: paths, query parameters, JSON bodies and
//! the error envelope. Answers decode into `Option` fields so that a malformed answer becomes
//! an [`marketmedia_core::ErrorKind::Protocol`] error, never a panic.
//!
//! | call | request | answer |
//! |---|---|---|
//! | token | `GET /api/v1/token?library_id&library_secret[&space_id&user_id&period]` | [`TokenResponse`] |
//! | begin | `POST /api/v1/file/{Lib}/{Space}/{FilePath}?multipart&conflict_resolution_strategy&filesize&access_token`, [`BeginRequest`] | 202 empty · 200 [`FileInfo`] · 201 [`UploadInfo`] |
//! | part | `PUT {scheme}://{domain}{path}?uploadId&partNumber` (1-based) with [`UploadInfo::headers`] | 200, `ETag` header |
//! | status | `GET /api/v1/file/{Lib}/{Space}/{ConfirmKey}?upload&access_token` | [`UploadStatus`] |
//! | renew | `POST /api/v1/file/{Lib}/{Space}/{ConfirmKey}?renew&access_token` | [`UploadInfo`] |
//! | confirm | `POST /api/v1/file/{Lib}/{Space}/{ConfirmKey}?confirm&conflict_resolution_strategy&access_token`, [`ConfirmRequest`] | [`FileInfo`] |
//! | cancel | `DELETE /api/v1/file/{Lib}/{Space}/{ConfirmKey}?upload&access_token` | 204 |
//! | simple upload | `PUT /api/v1/file/{Lib}/{Space}/{FilePath}?conflict_resolution_strategy&filesize&access_token` | [`UploadInfo`] (no `uploadId`) |
//! | body | `PUT {scheme}://{domain}{path}` with the headers | 200 |
//! | mkdir | `PUT /api/v1/directory/{Lib}/{Space}/{DirPath}?access_token` | 200/201 |

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Query parameter names.
pub mod query {
    /// Token request: the library id.
    pub const LIBRARY_ID: &str = "library_id";
    /// Token request: the library secret.
    pub const LIBRARY_SECRET: &str = "library_secret";
    /// Token request: the tenant space.
    pub const SPACE_ID: &str = "space_id";
    /// Token request: the user identity.
    pub const USER_ID: &str = "user_id";
    /// Token request: the token lifetime in seconds.
    pub const PERIOD: &str = "period";
    /// Token request: the permissions, comma-separated (empty = read only).
    pub const GRANT: &str = "grant";
    /// Every file call: the access token.
    pub const ACCESS_TOKEN: &str = "access_token";
    /// Begin (multipart): key-only flag.
    pub const MULTIPART: &str = "multipart";
    /// Begin and confirm: `rename`, `ask` or `overwrite`.
    pub const CONFLICT: &str = "conflict_resolution_strategy";
    /// Begin: the file size, for the quota check.
    pub const FILESIZE: &str = "filesize";
    /// Status and cancel: key-only flag.
    pub const UPLOAD: &str = "upload";
    /// Renew: key-only flag.
    pub const RENEW: &str = "renew";
    /// Confirm: key-only flag.
    pub const CONFIRM: &str = "confirm";
    /// Key-only flag of "View file details" (`GET /api/v1/directory/…?info`).
    pub const INFO: &str = "info";
    /// Storage part upload: the upload id.
    pub const UPLOAD_ID: &str = "uploadId";
    /// Storage part upload: the 1-based part number.
    pub const PART_NUMBER: &str = "partNumber";
}

/// The API path prefix of file calls.
pub const FILE_PATH: [&str; 3] = ["api", "v1", "file"];
/// The API path prefix of directory calls.
pub const DIRECTORY_PATH: [&str; 3] = ["api", "v1", "directory"];
/// The token call's path.
pub const TOKEN_PATH: [&str; 3] = ["api", "v1", "token"];

/// Answer of `GET /api/v1/token`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Option<String>,
    /// Lifetime in seconds.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub expires_in: Option<u64>,
}

/// Body of the begin call. `size` is a decimal string, as in SMH's reference; the hashes are
/// lowercase hex and are left out for files under 1 MiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeginRequest {
    /// File size in bytes, as a decimal string.
    pub size: String,
    /// SHA-256 of the first 1 MiB, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beginning_hash: Option<String>,
    /// The SMH hash chain over 1 MiB chunks, lowercase hex; sent after a 202.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_hash: Option<String>,
}

/// Presigned upload information (begin 201, renew, status `uploadPartInfo`, simple upload).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadInfo {
    /// Storage host (`bucket.cos.region.myqcloud.com`, or `host:port`).
    pub domain: Option<String>,
    /// Storage path, starting with `/`.
    pub path: Option<String>,
    /// Multipart upload id (absent for a simple upload).
    pub upload_id: Option<String>,
    /// Headers every storage request must carry (values may be numbers).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, serde_json::Value>>,
    /// The key of the status, renew, confirm and cancel calls.
    pub confirm_key: Option<String>,
    /// When the upload information expires (RFC 3339).
    pub expiration: Option<String>,
}

impl UploadInfo {
    /// The headers as strings (numbers and booleans rendered, nulls dropped).
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .flatten()
            .filter_map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => return None,
                    other => other.to_string(),
                };
                Some((k.clone(), v))
            })
            .collect()
    }
}

/// One part listed by the status call.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListedPart {
    /// 1-based part number.
    #[serde(
        rename = "PartNumber",
        alias = "partNumber",
        default,
        deserialize_with = "lenient_u64"
    )]
    pub part_number: Option<u64>,
    /// COS ETag of the part.
    #[serde(rename = "ETag", alias = "eTag", alias = "etag")]
    pub etag: Option<String>,
    /// Bytes in the part.
    #[serde(
        rename = "Size",
        alias = "size",
        default,
        deserialize_with = "lenient_u64"
    )]
    pub size: Option<u64>,
}

/// Answer of `GET …/{ConfirmKey}?upload`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadStatus {
    /// Parts the storage holds.
    #[serde(default)]
    pub parts: Option<Vec<ListedPart>>,
    /// Fresh upload information.
    pub upload_part_info: Option<UploadInfo>,
}

/// Body of the confirm call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfirmRequest {
    /// CRC-64/ECMA-182 (as COS computes it) of the whole file, decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crc64: Option<String>,
}

/// A stored file (confirm, and begin 200 for an instant upload).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// The final path, one element per level, the file name last (a `/`-joined string is
    /// accepted too).
    #[serde(default, deserialize_with = "lenient_path")]
    pub path: Option<Vec<String>>,
    /// Final file name.
    pub name: Option<String>,
    /// `file`, `video`, …
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Size in bytes (a string in SMH's answers).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub size: Option<u64>,
    /// The file's eTag.
    pub e_tag: Option<String>,
    /// CRC-64/ECMA-182, decimal.
    #[serde(default, deserialize_with = "lenient_string")]
    pub crc64: Option<String>,
    /// Whether an existing file was replaced.
    pub is_overwritten: Option<bool>,
}

/// SMH's error body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Error code (`SameNameDirectoryOrFileExists`…).
    #[serde(alias = "Code", default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    /// Message.
    #[serde(alias = "Message")]
    pub message: Option<String>,
    /// Request id.
    #[serde(alias = "RequestId", alias = "request_id")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    /// Decodes a JSON error body, or a COS XML one (`<Error><Code>…`), or nothing.
    pub fn parse(body: &[u8]) -> ErrorBody {
        if let Ok(b) = serde_json::from_slice::<ErrorBody>(body) {
            return b;
        }
        let text = String::from_utf8_lossy(body);
        ErrorBody {
            code: xml_tag(&text, "Code"),
            message: xml_tag(&text, "Message"),
            request_id: xml_tag(&text, "RequestId"),
        }
    }
}

fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(text[start..end].trim().to_owned())
}

/// Unix seconds of an RFC 3339 time as SMH writes `expiration` (`2021-07-24T10:34:32.000Z`,
/// or with a `+08:00` offset). `None` when it cannot be read.
pub fn parse_expiration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut ymd = date.split('-');
    let year: i64 = ymd.next()?.parse().ok()?;
    let month: i64 = ymd.next()?.parse().ok()?;
    let day: i64 = ymd.next()?.parse().ok()?;
    // A year or offset out of range is no time: the text comes from the server and must
    // never overflow the arithmetic below.
    if ymd.next().is_some()
        || !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        let h: i64 = h.parse().ok()?;
        let m: i64 = m.parse().ok()?;
        if !(0..=23).contains(&h) || !(0..=59).contains(&m) {
            return None;
        }
        (c, sign * (h * 3600 + m * 60))
    };
    let clock = clock.split('.').next()?;
    let mut hms = clock.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let mi: i64 = hms.next()?.parse().ok()?;
    let se: i64 = hms.next()?.parse().ok()?;
    if hms.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se - offset).ok()
}

/// A number given as a JSON number or a decimal string.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A path given as an array of names or as one `/`-separated string.
fn lenient_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        Some(serde_json::Value::String(s)) => Some(
            s.split('/')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    })
}

/// A string given as a JSON string or a number.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_body_shape() {
        let b = BeginRequest {
            size: "2097152".into(),
            beginning_hash: Some("ab".into()),
            full_hash: None,
        };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"size":"2097152","beginningHash":"ab"}"#
        );
        let small = BeginRequest {
            size: "10".into(),
            beginning_hash: None,
            full_hash: None,
        };
        assert_eq!(serde_json::to_string(&small).unwrap(), r#"{"size":"10"}"#);
    }

    #[test]
    fn upload_info_from_the_reference() {
        let body = r#"{"domain":"examplebucket-1250000000.cos.ap-beijing.myqcloud.com","path":"/smhxxx/xxx.mp4","uploadId":"xxx","headers":{"Content-Type":"application/octet-stream","Authorization":"q-sign-algorithm=sha1&x","x-cos-traffic-limit":204800},"confirmKey":"7e84","expiration":"2021-07-24T10:34:32.000Z","availableDomainNum":1}"#;
        let info: UploadInfo = serde_json::from_str(body).unwrap();
        assert_eq!(info.upload_id.as_deref(), Some("xxx"));
        let headers = info.header_pairs();
        assert!(headers.contains(&("x-cos-traffic-limit".into(), "204800".into())));
        assert_eq!(headers.len(), 3);
    }

    #[test]
    fn file_info_and_status_are_lenient() {
        let f: FileInfo = serde_json::from_str(
            r#"{"path":["a","b.mp4"],"name":"b.mp4","type":"file","size":"2811086","eTag":"\"e\"","crc64":16293198345556339838}"#,
        )
        .unwrap();
        assert_eq!(f.size, Some(2_811_086));
        assert_eq!(f.crc64.as_deref(), Some("16293198345556339838"));
        let s: UploadStatus = serde_json::from_str(
            r#"{"parts":[{"PartNumber":1,"ETag":"x","Size":"1048576"},{"PartNumber":"2"}]}"#,
        )
        .unwrap();
        let parts = s.parts.unwrap();
        assert_eq!(parts[0].size, Some(1_048_576));
        assert_eq!(parts[1].part_number, Some(2));
        assert!(serde_json::from_str::<FileInfo>(r#"{"size":{"odd":1}}"#).is_ok());
    }

    #[test]
    fn expiration_times() {
        assert_eq!(
            parse_expiration("2021-07-24T10:34:32.000Z"),
            Some(1_627_122_872)
        );
        assert_eq!(
            parse_expiration("2021-07-24T10:34:32Z"),
            Some(1_627_122_872)
        );
        assert_eq!(
            parse_expiration("2021-07-24T18:34:32+08:00"),
            Some(1_627_122_872)
        );
        assert_eq!(parse_expiration("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "9223372036854775807-01-01T00:00:00Z",
            "2021-07-24T10:34:32+9223372036854775807:00",
            "",
            "soon",
            "2021-13-01T00:00:00Z",
            "2021-07-24",
            "2021-07-24T10:34Z",
        ] {
            assert_eq!(parse_expiration(bad), None, "{bad}");
        }
    }

    #[test]
    fn error_bodies_json_and_xml() {
        let e = ErrorBody::parse(br#"{"code":"BadCrc64","message":"m","requestId":"r1"}"#);
        assert_eq!(e.code.as_deref(), Some("BadCrc64"));
        assert_eq!(e.request_id.as_deref(), Some("r1"));
        let x = ErrorBody::parse(
            b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>abc</RequestId></Error>",
        );
        assert_eq!(x.code.as_deref(), Some("AccessDenied"));
        assert_eq!(x.message.as_deref(), Some("Request has expired"));
        let none = ErrorBody::parse(b"\xff garbage");
        assert!(none.code.is_none());
    }
}
