//! TikTok Shop's error codes as core's kinds, in one table (`docs/platforms/tiktok.md`,
//! "Errors", names the source of each).

use marketmedia_core::raw::http::kind_for_status;
use marketmedia_core::raw::ErrorKind;

/// `code` of a success.
pub const OK: i64 = 0;
/// "access token is expired, please refresh it".
pub const ACCESS_TOKEN_EXPIRED: i64 = 105_002;
/// An invalid access token (the 105 group: credentials of the token).
pub const ACCESS_TOKEN_INVALID: i64 = 105_001;
/// "Invalid credentials. The 'sign' query parameter is invalid."
pub const INVALID_SIGN: i64 = 106_001;
/// "rt has expired": a refused refresh.
pub const REFRESH_TOKEN_EXPIRED: i64 = 36_004_001;
/// "can not find related auth record": a refused refresh or code.
pub const NO_AUTH_RECORD: i64 = 36_004_005;
/// Too many requests.
pub const TOO_MANY_REQUESTS: i64 = 36_009_002;
/// Internal error: retry.
pub const INTERNAL_ERROR: i64 = 36_009_003;
/// A parameter missing, malformed or not accepted (e.g. "The 'shop_cipher' query parameter
/// is not required"; the simulator's answer to a body without the `data` file).
pub const INVALID_PARAMETER: i64 = 36_009_004;
/// The uploaded file is not valid.
pub const INVALID_FILE: i64 = 12_038_002;
/// The image could not be processed (format or content).
pub const IMAGE_NOT_PROCESSED: i64 = 12_038_004;
/// The file is over the size limit.
pub const FILE_TOO_LARGE: i64 = 12_038_005;
/// The image's dimensions are over the limit.
pub const DIMENSIONS_TOO_LARGE: i64 = 12_038_014;
/// The image's format is not supported.
pub const FORMAT_NOT_SUPPORTED: i64 = 12_038_015;

/// The kind of a failure `code` answered with HTTP `status`.
pub fn kind_for(code: i64, status: u16) -> ErrorKind {
    match code {
        ACCESS_TOKEN_EXPIRED | ACCESS_TOKEN_INVALID | INVALID_SIGN => ErrorKind::Auth,
        REFRESH_TOKEN_EXPIRED | NO_AUTH_RECORD => ErrorKind::Reauthorize,
        TOO_MANY_REQUESTS => ErrorKind::RateLimited,
        INTERNAL_ERROR => ErrorKind::Transient,
        INVALID_PARAMETER | INVALID_FILE | IMAGE_NOT_PROCESSED | FILE_TOO_LARGE
        | DIMENSIONS_TOO_LARGE | FORMAT_NOT_SUPPORTED => ErrorKind::InvalidInput,
        // The rest of the token group (105xxx) is the token's.
        c if (105_000..106_000).contains(&c) => ErrorKind::Auth,
        _ => kind_for_status(status).unwrap_or(ErrorKind::Protocol),
    }
}

/// Whether `code` says the access token is expired or invalid: refreshed once and the call
/// sent again (core's `TokenSource::call`).
pub fn is_token_refused(code: i64) -> bool {
    (105_000..106_000).contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_its_kind() {
        let table = [
            (ACCESS_TOKEN_EXPIRED, ErrorKind::Auth),
            (ACCESS_TOKEN_INVALID, ErrorKind::Auth),
            (INVALID_SIGN, ErrorKind::Auth),
            (REFRESH_TOKEN_EXPIRED, ErrorKind::Reauthorize),
            (NO_AUTH_RECORD, ErrorKind::Reauthorize),
            (TOO_MANY_REQUESTS, ErrorKind::RateLimited),
            (INTERNAL_ERROR, ErrorKind::Transient),
            (INVALID_PARAMETER, ErrorKind::InvalidInput),
            (INVALID_FILE, ErrorKind::InvalidInput),
            (IMAGE_NOT_PROCESSED, ErrorKind::InvalidInput),
            (FILE_TOO_LARGE, ErrorKind::InvalidInput),
            (DIMENSIONS_TOO_LARGE, ErrorKind::InvalidInput),
            (FORMAT_NOT_SUPPORTED, ErrorKind::InvalidInput),
        ];
        for (code, kind) in table {
            assert_eq!(kind_for(code, 200), kind, "{code}");
        }
        assert_eq!(kind_for(105_777, 401), ErrorKind::Auth);
        assert_eq!(kind_for(99, 503), ErrorKind::Transient);
        assert_eq!(kind_for(99, 200), ErrorKind::Protocol);
        assert!(is_token_refused(ACCESS_TOKEN_EXPIRED) && is_token_refused(ACCESS_TOKEN_INVALID));
        assert!(!is_token_refused(INVALID_SIGN) && !is_token_refused(INVALID_PARAMETER));
    }
}
