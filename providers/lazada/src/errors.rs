//! Lazada's error codes → core [`ErrorKind`]s, as one table, and the envelope → [`Error`].

use marketmedia_core::raw::http::kind_for_status;
use marketmedia_core::raw::{Error, ErrorKind};

use crate::wire::Envelope;
use crate::PLATFORM;

/// Known codes, matched exactly (Media Center `code`/`result_code`, and the gateway's codes).
pub const CODE_TABLE: &[(&str, ErrorKind)] = &[
    // Media Center (platforms.md §2).
    ("ILLEGAL_PARAMETER", ErrorKind::InvalidInput),
    ("FAIL_TO_BLOCK_INIT", ErrorKind::Rejected),
    ("FAIL_TO_UPLOAD_BLOCK", ErrorKind::Rejected),
    ("FAIL_TO_BLOCK_COMPLETE", ErrorKind::Rejected),
    ("FAIL_TO_VALIDATE", ErrorKind::Rejected),
    ("FAIL_TO_ADD_VIDEO", ErrorKind::Rejected),
    ("FAIL_TO_GET_VIDEO", ErrorKind::NotFound),
    // Open Platform gateway.
    ("IncompleteSignature", ErrorKind::Auth),
    ("InvalidSignature", ErrorKind::Auth),
    ("IllegalAccessToken", ErrorKind::Auth),
    ("InvalidAccessToken", ErrorKind::Auth),
    ("MissingAccessToken", ErrorKind::Auth),
    ("InvalidAppKey", ErrorKind::Auth),
    ("InvalidApiKey", ErrorKind::Auth),
    ("AppKeyNotExist", ErrorKind::Auth),
    ("AccessDenied", ErrorKind::Auth),
    ("InsufficientPermission", ErrorKind::Auth),
    ("InvalidTimestamp", ErrorKind::Auth),
    ("MissingParameter", ErrorKind::InvalidInput),
    ("InvalidParameter", ErrorKind::InvalidInput),
    ("InvalidApiPath", ErrorKind::Unsupported),
    ("ApiCallLimit", ErrorKind::RateLimited),
    ("AppCallLimit", ErrorKind::RateLimited),
    ("SellerCallLimit", ErrorKind::RateLimited),
    ("ServiceTimeout", ErrorKind::Transient),
    ("ServiceUnavailable", ErrorKind::Transient),
    ("InternalError", ErrorKind::Transient),
];

/// The codes that say the request's access token is expired or invalid ("The specified access
/// token is invalid or expired"): a refreshable token is refreshed once and the call sent
/// again (core's `TokenSource::call`).
pub const TOKEN_REFUSED: &[&str] = &["IllegalAccessToken", "InvalidAccessToken"];

/// When a code is not in [`CODE_TABLE`]: words in it that tell its kind (case-insensitive).
const CODE_HINTS: &[(&str, ErrorKind)] = &[
    ("signature", ErrorKind::Auth),
    ("accesstoken", ErrorKind::Auth),
    ("access_token", ErrorKind::Auth),
    ("appkey", ErrorKind::Auth),
    ("app_key", ErrorKind::Auth),
    ("timestamp", ErrorKind::Auth),
    ("calllimit", ErrorKind::RateLimited),
    ("ratelimit", ErrorKind::RateLimited),
    ("throttl", ErrorKind::RateLimited),
    ("timeout", ErrorKind::Transient),
    ("unavailable", ErrorKind::Transient),
    ("quota", ErrorKind::Rejected),
    ("not_found", ErrorKind::NotFound),
    ("notfound", ErrorKind::NotFound),
];

/// The kind of one code: exact table first, then the hints.
pub fn kind_for_code(code: &str) -> Option<ErrorKind> {
    if let Some((_, kind)) = CODE_TABLE.iter().find(|(c, _)| *c == code) {
        return Some(*kind);
    }
    let lower = code.to_ascii_lowercase();
    CODE_HINTS
        .iter()
        .find(|(hint, _)| lower.contains(hint))
        .map(|(_, kind)| *kind)
}

/// The kind of a failed answer. In order: a 429 or 5xx status (the server said it is busy or
/// broken, whatever the body says); the `code` (unless `"0"`); the `result_code`; any other
/// error status; otherwise [`ErrorKind::Rejected`].
pub fn classify(status: u16, code: Option<&str>, result_code: Option<&str>) -> ErrorKind {
    if status == 429 || (500..=599).contains(&status) {
        return kind_for_status(status).unwrap_or(ErrorKind::Transient);
    }
    let code = code.filter(|c| c.trim() != "0");
    [code, result_code]
        .into_iter()
        .flatten()
        .find_map(kind_for_code)
        .or_else(|| kind_for_status(status))
        .unwrap_or(ErrorKind::Rejected)
}

/// The error for a failed envelope: its kind, the platform's code (`code`, or `result_code`
/// when `code` is `"0"`), the message (`result_message`, else `message`), with `type` and a
/// distinct `result_code` named in the message, the request id and the HTTP status.
pub fn envelope_error<T>(call: &str, status: u16, env: &Envelope<T>) -> Error {
    let code = env.code.as_deref().filter(|c| c.trim() != "0");
    let result_code = env.result_code.as_deref();
    let text = env
        .result_message
        .as_deref()
        .or(env.message.as_deref())
        .map(str::to_owned)
        .unwrap_or_else(|| "the platform refused the request".to_owned());
    let mut kind = classify(status, code, result_code);
    // A completion refused because the upload is already complete is a conflict (the video
    // exists), not a failure of the upload: the caller must not treat it as lost.
    let lower = text.to_ascii_lowercase();
    if kind == ErrorKind::Rejected && lower.contains("already") && lower.contains("commit") {
        kind = ErrorKind::Conflict;
    } else if kind == ErrorKind::Rejected
        && lower.contains("upload")
        && (lower.contains("expired") || lower.contains("not exist") || lower.contains("unknown"))
    {
        // The platform forgot the block upload: a lost session, which the driver restarts
        // (before commit) rather than a refusal of the bytes.
        kind = ErrorKind::NotFound;
    }
    let mut extra = Vec::new();
    if let Some(t) = env.kind.as_deref() {
        extra.push(format!("type {t}"));
    }
    if let (Some(rc), Some(c)) = (result_code, code) {
        if rc != c {
            extra.push(format!("result code {rc}"));
        }
    }
    if let (Some(m), Some(rm)) = (env.message.as_deref(), env.result_message.as_deref()) {
        if m != rm {
            extra.push(format!("message {m:?}"));
        }
    }
    let message = if extra.is_empty() {
        text
    } else {
        format!("{text} [{}]", extra.join(", "))
    };
    let mut err = Error::new(kind, message)
        .with_platform(PLATFORM)
        .with_call(call)
        .with_http_status(status);
    if let Some(c) = code.or(result_code) {
        err = err.with_code(c);
    }
    if let Some(id) = env.request_id.as_deref() {
        err = err.with_request_id(id);
    }
    if code.is_some_and(|c| TOKEN_REFUSED.contains(&c)) {
        err = err.with_token_refused();
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Empty;

    /// The whole table, as documented in `docs/platforms/lazada.md`.
    #[test]
    fn table() {
        let cases: &[(u16, Option<&str>, Option<&str>, ErrorKind)] = &[
            (
                200,
                Some("ILLEGAL_PARAMETER"),
                None,
                ErrorKind::InvalidInput,
            ),
            (
                200,
                Some("0"),
                Some("ILLEGAL_PARAMETER"),
                ErrorKind::InvalidInput,
            ),
            (
                200,
                Some("0"),
                Some("FAIL_TO_BLOCK_INIT"),
                ErrorKind::Rejected,
            ),
            (
                200,
                Some("0"),
                Some("FAIL_TO_UPLOAD_BLOCK"),
                ErrorKind::Rejected,
            ),
            (
                200,
                Some("0"),
                Some("FAIL_TO_BLOCK_COMPLETE"),
                ErrorKind::Rejected,
            ),
            (
                200,
                Some("0"),
                Some("FAIL_TO_VALIDATE"),
                ErrorKind::Rejected,
            ),
            (
                200,
                Some("0"),
                Some("FAIL_TO_ADD_VIDEO"),
                ErrorKind::Rejected,
            ),
            (
                200,
                Some("0"),
                Some("FAIL_TO_GET_VIDEO"),
                ErrorKind::NotFound,
            ),
            (200, Some("IncompleteSignature"), None, ErrorKind::Auth),
            (200, Some("InvalidSignature"), None, ErrorKind::Auth),
            (200, Some("IllegalAccessToken"), None, ErrorKind::Auth),
            (200, Some("InvalidAppKey"), None, ErrorKind::Auth),
            (200, Some("InvalidTimestamp"), None, ErrorKind::Auth),
            (200, Some("MissingParameter"), None, ErrorKind::InvalidInput),
            (200, Some("ApiCallLimit"), None, ErrorKind::RateLimited),
            (200, Some("AppCallLimit"), None, ErrorKind::RateLimited),
            (200, Some("ServiceTimeout"), None, ErrorKind::Transient),
            (200, Some("InternalError"), None, ErrorKind::Transient),
            (200, Some("InvalidApiPath"), None, ErrorKind::Unsupported),
            // Hints for codes not in the table.
            (200, Some("SignatureMismatch"), None, ErrorKind::Auth),
            (200, Some("ExpiredAccessToken"), None, ErrorKind::Auth),
            (200, Some("VIDEO_QUOTA_EXCEEDED"), None, ErrorKind::Rejected),
            // Status wins when the server says it is busy or broken.
            (
                503,
                Some("FAIL_TO_UPLOAD_BLOCK"),
                None,
                ErrorKind::Transient,
            ),
            (429, Some("SomethingElse"), None, ErrorKind::RateLimited),
            // Unknown codes: other statuses, then Rejected.
            (403, Some("Mystery"), None, ErrorKind::Auth),
            (404, None, None, ErrorKind::NotFound),
            (200, Some("Mystery"), None, ErrorKind::Rejected),
            (200, Some("0"), None, ErrorKind::Rejected),
        ];
        for (status, code, rc, kind) in cases {
            assert_eq!(
                classify(*status, *code, *rc),
                *kind,
                "{status} {code:?} {rc:?}"
            );
        }
        for (code, kind) in CODE_TABLE {
            assert_eq!(kind_for_code(code), Some(*kind));
        }
    }

    /// Which refusals are read as "already committed" (Conflict) or "the upload is gone"
    /// (NotFound): both words are needed for the first, any one of the gone words for the
    /// second (two cargo-mutants survivors swapped `&&` and `||` here).
    #[test]
    fn refusals_read_as_conflict_or_gone_only_on_their_words() {
        let kind_of = |message: &str| {
            let env: Envelope<Empty> = serde_json::from_str(&format!(
                r#"{{"code":"0","success":false,"result_code":"FAIL_TO_BLOCK_COMPLETE","result_message":"{message}"}}"#
            ))
            .unwrap();
            envelope_error("CompleteCreateVideo", 200, &env).kind()
        };
        assert_eq!(
            kind_of("The upload has already been committed"),
            ErrorKind::Conflict
        );
        assert_eq!(
            kind_of("commit refused: the eTag list does not match"),
            ErrorKind::Rejected
        );
        assert_eq!(kind_of("already seen this block"), ErrorKind::Rejected);
        assert_eq!(kind_of("The upload has expired"), ErrorKind::NotFound);
        assert_eq!(kind_of("The upload does not exist"), ErrorKind::NotFound);
        assert_eq!(kind_of("upload id not exist"), ErrorKind::NotFound);
        assert_eq!(kind_of("unknown upload"), ErrorKind::NotFound);
        assert_eq!(kind_of("the block expired"), ErrorKind::Rejected);
    }

    /// Both messages of an envelope reach the error when they differ, once when they agree
    /// (a cargo-mutants survivor turned `!=` into `==`).
    #[test]
    fn a_second_message_is_kept_only_when_it_differs() {
        let env: Envelope<Empty> = serde_json::from_str(
            r#"{"code":"0","success":false,"result_code":"FAIL","message":"gateway says","result_message":"media says"}"#,
        )
        .unwrap();
        let err = envelope_error("GetVideo", 200, &env);
        assert_eq!(err.message(), r#"media says [message "gateway says"]"#);
        let env: Envelope<Empty> = serde_json::from_str(
            r#"{"code":"0","success":false,"result_code":"FAIL","message":"same","result_message":"same"}"#,
        )
        .unwrap();
        assert_eq!(envelope_error("GetVideo", 200, &env).message(), "same");
    }

    #[test]
    fn envelope_errors_carry_the_context() {
        let env: Envelope<Empty> = serde_json::from_str(
            r#"{"code":"0","success":false,"result_code":"FAIL_TO_VALIDATE","result_message":"etag mismatch","request_id":"21411"}"#,
        )
        .unwrap();
        let err = envelope_error("CompleteCreateVideo", 200, &env);
        assert_eq!(err.kind(), ErrorKind::Rejected);
        assert_eq!(err.code(), Some("FAIL_TO_VALIDATE"));
        assert_eq!(err.message(), "etag mismatch");
        assert_eq!(err.request_id(), Some("21411"));
        assert_eq!(err.http_status(), Some(200));
        assert_eq!(err.call(), Some("CompleteCreateVideo"));
        assert!(!err.is_retryable());

        let env: Envelope<Empty> = serde_json::from_str(
            r#"{"code":"IncompleteSignature","type":"ISV","message":"The request signature does not conform to platform standards","request_id":"r9"}"#,
        )
        .unwrap();
        let err = envelope_error("GetVideo", 200, &env);
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert_eq!(err.code(), Some("IncompleteSignature"));
        assert!(err.message().contains("type ISV"), "{}", err.message());

        let env: Envelope<Empty> = serde_json::from_str(
            r#"{"code":"ApiCallLimit","type":"ISP","message":"slow down","result_code":"X"}"#,
        )
        .unwrap();
        let err = envelope_error("GetVideo", 200, &env);
        assert!(err.is_retryable());
        assert!(err.message().contains("result code X"));
    }

    /// `IllegalAccessToken` is the expired-token answer the gateway gives: marked refused, so
    /// a refreshable token is refreshed and the call sent again; a bad signature is not.
    #[test]
    fn an_expired_token_is_marked_refused() {
        let env = |code: &str| Envelope::<Empty> {
            code: Some(code.to_owned()),
            kind: Some("ISV".into()),
            message: Some("The specified access token is invalid or expired".into()),
            ..Envelope::default()
        };
        let err = envelope_error("GetVideoQuota", 200, &env("IllegalAccessToken"));
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert!(err.is_token_refused());
        assert!(
            !envelope_error("GetVideoQuota", 200, &env("IncompleteSignature")).is_token_refused()
        );
    }
}
