//! SMH's error codes and HTTP statuses → [`ErrorKind`], as one table.
//!
//! Precedence: a 5xx is always [`ErrorKind::Transient`] and a 429 always
//! [`ErrorKind::RateLimited`] (both retried by the driver); otherwise the code decides when the
//! table knows it, and the status when it does not. On the storage host a 403 whose message
//! says "Request has expired" is [`ErrorKind::Expired`] (the driver renews the session and
//! sends the part again); any other storage 403 is [`ErrorKind::Auth`].

use marketmedia_core::raw::http::{kind_for_status, CallMeta, RawResponse};
use marketmedia_core::raw::{Error, ErrorKind};

use crate::wire::ErrorBody;

/// Every SMH error code we give a meaning to.
pub const CODES: &[(&str, ErrorKind)] = &[
    ("MultipartUploadIncomplete", ErrorKind::Rejected),
    ("MultipartUploadPartTooSmall", ErrorKind::Rejected),
    ("BadCrc64", ErrorKind::Rejected),
    ("QuotaLimitReached", ErrorKind::Rejected),
    ("InvalidAccessToken", ErrorKind::Auth),
    ("AuthorizationExpired", ErrorKind::Auth),
    ("NoPermission", ErrorKind::Auth),
    ("InvalidLibraryIdOrSecret", ErrorKind::Auth),
    ("AccessDenied", ErrorKind::Auth),
    ("ConfirmKeyNotFound", ErrorKind::NotFound),
    ("UploadNotFound", ErrorKind::NotFound),
    ("DirectoryNotFound", ErrorKind::NotFound),
    ("FileNotFound", ErrorKind::NotFound),
    ("UploadComplete", ErrorKind::Conflict),
    ("SameNameDirectoryOrFileExists", ErrorKind::Conflict),
    ("RateLimitExceeded", ErrorKind::RateLimited),
];

/// Codes after which a fresh access token may help (refreshed once, then [`ErrorKind::Auth`]).
pub const TOKEN_CODES: &[&str] = &["InvalidAccessToken", "AuthorizationExpired"];

/// The storage message that means the presigned headers expired.
const EXPIRED_MESSAGE: &str = "request has expired";

/// The kind for a status and code from the API host.
pub fn kind_for(status: u16, code: Option<&str>) -> ErrorKind {
    if (500..=599).contains(&status) {
        return ErrorKind::Transient;
    }
    if status == 429 {
        return ErrorKind::RateLimited;
    }
    if let Some(code) = code {
        if let Some((_, kind)) = CODES.iter().find(|(c, _)| *c == code) {
            return *kind;
        }
    }
    kind_for_status(status).unwrap_or(ErrorKind::Protocol)
}

/// The kind for a status and message from the storage host.
pub fn storage_kind_for(status: u16, code: Option<&str>, message: Option<&str>) -> ErrorKind {
    let expired = message.is_some_and(|m| m.to_ascii_lowercase().contains(EXPIRED_MESSAGE));
    if status == 403 && expired {
        return ErrorKind::Expired;
    }
    if status == 403 {
        return ErrorKind::Auth;
    }
    kind_for(status, code)
}

/// Whether an API answer says the access token is no longer good.
pub fn is_token_error(raw: &RawResponse) -> bool {
    if raw.status != 401 && raw.status != 403 {
        return false;
    }
    let body = ErrorBody::parse(&raw.body);
    body.code
        .as_deref()
        .is_some_and(|c| TOKEN_CODES.contains(&c))
}

/// A failed API answer as an [`Error`]: kind, code, message, request id, status, Retry-After.
pub fn api_error(raw: &RawResponse, meta: &CallMeta<'_>) -> Error {
    let body = ErrorBody::parse(&raw.body);
    let kind = kind_for(raw.status, body.code.as_deref());
    build(raw, meta, kind, body)
}

/// The permission a call needs from the token (SMH's multipart-upload page: `upload_file`
/// among others; directories: `create_directory`).
fn grant_for(call: &str) -> &'static str {
    match call {
        "create_directory" => "create_directory",
        _ => "upload_file",
    }
}

/// A failed API answer as an [`Error`], like [`api_error`]; a 403 `NoPermission` also says
/// which grant the token lacks and where to ask for it (the library-secret tokens are
/// requested with [`crate::SmhConfig::grants`]; a ready token must have been issued with it).
pub fn api_error_for(raw: &RawResponse, meta: &CallMeta<'_>, config: &crate::SmhConfig) -> Error {
    let mut body = ErrorBody::parse(&raw.body);
    let kind = kind_for(raw.status, body.code.as_deref());
    if body.code.as_deref() == Some("NoPermission") {
        let grant = grant_for(meta.call);
        let hint = match &config.credentials {
            crate::Credentials::LibrarySecret(_) if !config.grants.iter().any(|g| g == grant) => {
                format!("add {grant:?} to the SMH grants, now {:?}", config.grants)
            }
            crate::Credentials::LibrarySecret(_) => {
                format!(
                    "the token was requested with grant={}",
                    config.grants.join(",")
                )
            }
            crate::Credentials::AccessToken(_) => {
                format!("use an access token issued with grant={grant}")
            }
        };
        let said = body.message.take().unwrap_or_default();
        body.message = Some(format!(
            "{said}{}the access token has no permission for {} ({hint})",
            if said.is_empty() { "" } else { ": " },
            meta.call
        ));
    }
    build(raw, meta, kind, body)
}

/// A failed storage answer as an [`Error`].
pub fn storage_error(raw: &RawResponse, meta: &CallMeta<'_>) -> Error {
    let body = ErrorBody::parse(&raw.body);
    let kind = storage_kind_for(raw.status, body.code.as_deref(), body.message.as_deref());
    build(raw, meta, kind, body)
}

fn build(raw: &RawResponse, meta: &CallMeta<'_>, kind: ErrorKind, body: ErrorBody) -> Error {
    let message = match (&body.message, &body.code) {
        (Some(m), _) if !m.is_empty() => m.clone(),
        (_, Some(c)) => format!("the platform answered {c}"),
        _ => format!("the platform answered HTTP {}", raw.status),
    };
    let request_id = body.request_id.clone().or_else(|| {
        ["x-smh-request-id", "x-cos-request-id", "x-request-id"]
            .iter()
            .find_map(|h| raw.headers.get(*h)?.to_str().ok().map(str::to_owned))
    });
    let mut err = Error::new(kind, message)
        .with_platform(meta.platform)
        .with_call(meta.call)
        .with_http_status(raw.status);
    if let Some(code) = body.code {
        err = err.with_code(code);
    }
    if let Some(id) = request_id {
        err = err.with_request_id(id);
    }
    if let Some(after) = raw.retry_after() {
        err = err.with_retry_after(after);
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use reqwest::header::HeaderMap;

    #[test]
    fn table() {
        let cases: &[(u16, Option<&str>, ErrorKind)] = &[
            (
                409,
                Some("SameNameDirectoryOrFileExists"),
                ErrorKind::Conflict,
            ),
            (409, Some("UploadComplete"), ErrorKind::Conflict),
            (404, Some("DirectoryNotFound"), ErrorKind::NotFound),
            (404, Some("ConfirmKeyNotFound"), ErrorKind::NotFound),
            (404, Some("UploadNotFound"), ErrorKind::NotFound),
            (400, Some("MultipartUploadIncomplete"), ErrorKind::Rejected),
            (
                400,
                Some("MultipartUploadPartTooSmall"),
                ErrorKind::Rejected,
            ),
            (400, Some("BadCrc64"), ErrorKind::Rejected),
            (400, Some("QuotaLimitReached"), ErrorKind::Rejected),
            (403, Some("InvalidAccessToken"), ErrorKind::Auth),
            (403, Some("AuthorizationExpired"), ErrorKind::Auth),
            (403, Some("NoPermission"), ErrorKind::Auth),
            (401, None, ErrorKind::Auth),
            (429, Some("RateLimitExceeded"), ErrorKind::RateLimited),
            (429, None, ErrorKind::RateLimited),
            (413, None, ErrorKind::InvalidInput),
            (500, Some("InternalError"), ErrorKind::Transient),
            (503, Some("QuotaLimitReached"), ErrorKind::Transient),
            (400, Some("SomethingNew"), ErrorKind::Rejected),
            (404, None, ErrorKind::NotFound),
        ];
        for (status, code, kind) in cases {
            assert_eq!(kind_for(*status, *code), *kind, "{status} {code:?}");
        }
        for (_, kind) in CODES {
            assert_ne!(*kind, ErrorKind::Protocol);
        }
    }

    #[test]
    fn storage_expiry_is_expired_other_403_is_auth() {
        assert_eq!(
            storage_kind_for(403, Some("AccessDenied"), Some("Request has expired")),
            ErrorKind::Expired
        );
        assert_eq!(
            storage_kind_for(403, Some("AccessDenied"), Some("Access Denied.")),
            ErrorKind::Auth
        );
        assert_eq!(storage_kind_for(503, None, None), ErrorKind::Transient);
        assert_eq!(storage_kind_for(404, None, None), ErrorKind::NotFound);
    }

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn errors_carry_context() {
        let meta = CallMeta {
            platform: "smh",
            call: "confirm",
            part: None,
        };
        let err = api_error(
            &raw(
                409,
                r#"{"code":"SameNameDirectoryOrFileExists","message":"exists","requestId":"r-1"}"#,
            ),
            &meta,
        );
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(err.code(), Some("SameNameDirectoryOrFileExists"));
        assert_eq!(err.request_id(), Some("r-1"));
        assert_eq!(err.http_status(), Some(409));
        assert_eq!(err.message(), "exists");
        assert!(!err.is_retryable());
        let err = api_error(&raw(502, "<html>bad gateway</html>"), &meta);
        assert_eq!(err.kind(), ErrorKind::Transient);
        assert!(err.is_retryable());
        assert!(is_token_error(&raw(
            403,
            r#"{"code":"InvalidAccessToken"}"#
        )));
        assert!(!is_token_error(&raw(403, r#"{"code":"NoPermission"}"#)));
        let err = storage_error(
            &raw(
                403,
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            ),
            &meta,
        );
        assert_eq!(err.kind(), ErrorKind::Expired);
    }
}
