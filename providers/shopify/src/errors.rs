//! Shopify's errors, mapped to core kinds in one table each: the GraphQL errors' codes, the
//! HTTP statuses of the Admin API, the user errors' codes, the media errors' codes, and the
//! staged host's XML codes.

use marketmedia_core::raw::http::kind_for_status;
use marketmedia_core::raw::ErrorKind;

/// The kind of a request-level GraphQL error code (`errors[].extensions.code`).
pub fn kind_for_graphql_code(code: Option<&str>, message: &str) -> ErrorKind {
    match code {
        Some("THROTTLED") => ErrorKind::RateLimited,
        Some("ACCESS_DENIED") => ErrorKind::Auth,
        Some("SHOP_INACTIVE") => ErrorKind::Rejected,
        Some("INTERNAL_SERVER_ERROR") => ErrorKind::Transient,
        Some("MAX_COST_EXCEEDED") | Some("BAD_REQUEST") | Some("argumentLiteralsIncompatible") => {
            ErrorKind::InvalidInput
        }
        // "Throttled" without a code (the rate limits page quotes `{errors: [{message:
        // "Throttled"}]}`).
        _ if message == "Throttled" => ErrorKind::RateLimited,
        _ => ErrorKind::Protocol,
    }
}

/// The kind of an Admin API HTTP status (the "Status and error codes" of the GraphQL Admin
/// API page): 401 bad token, 402 shop frozen, 403 forbidden, 404 not found, 423 shop locked,
/// 429 too many requests, 5xx Shopify's side.
pub fn kind_for_http(status: u16) -> ErrorKind {
    match status {
        400 | 413 | 414 => ErrorKind::InvalidInput,
        401 | 403 => ErrorKind::Auth,
        402 | 423 => ErrorKind::Rejected,
        429 | 430 => ErrorKind::RateLimited,
        other => kind_for_status(other).unwrap_or(ErrorKind::Protocol),
    }
}

/// Whether an answer says the access token is not (or no longer) valid: a 401, which
/// Shopify answers `{"errors": "[API] Invalid API key or access token (unrecognized login
/// or wrong password)"}`. A refreshable token is refreshed once and the call sent again.
pub fn is_token_refused(status: u16) -> bool {
    status == 401
}

/// The kind of a user error's code (`MediaUserErrorCode`, `FilesErrorCode`), or of a
/// user error without one.
pub fn kind_for_user_error(code: Option<&str>) -> ErrorKind {
    match code {
        Some("PRODUCT_DOES_NOT_EXIST")
        | Some("MEDIA_DOES_NOT_EXIST")
        | Some("FILE_DOES_NOT_EXIST") => ErrorKind::NotFound,
        Some("PRODUCT_MEDIA_LIMIT_EXCEEDED")
        | Some("SHOP_MEDIA_LIMIT_EXCEEDED")
        | Some("FILE_STORAGE_LIMIT_EXCEEDED")
        | Some("VIDEO_LIMIT_EXCEEDED")
        | Some("MODEL3D_LIMIT_EXCEEDED") => ErrorKind::Rejected,
        Some("NON_READY_MEDIA") | Some("FILE_LOCKED") => ErrorKind::Conflict,
        // BLANK, INVALID, INVALID_MEDIA_TYPE, VIDEO_VALIDATION_ERROR, INVALID_FILENAME,
        // UNSUPPORTED_MEDIA_TYPE_FOR_FILENAME_UPDATE, … and a user error with no code: the
        // input was refused.
        _ => ErrorKind::InvalidInput,
    }
}

/// The kind of a staged host's error (`<Error><Code>…`): a policy past its time means the
/// target is gone (`NotFound`: the driver asks for a new one), a file larger or smaller
/// than the signed `fileSize` or of another type is bad input, a signature refused is a
/// credential problem.
pub fn kind_for_staged(status: u16, code: Option<&str>) -> ErrorKind {
    match code {
        Some("ExpiredToken") | Some("RequestExpired") | Some("PolicyExpired") => {
            ErrorKind::NotFound
        }
        Some("EntityTooLarge")
        | Some("EntityTooSmall")
        | Some("InvalidArgument")
        | Some("InvalidContentType") => ErrorKind::InvalidInput,
        Some("SignatureDoesNotMatch") | Some("AccessDenied") | Some("InvalidPolicyDocument") => {
            ErrorKind::Auth
        }
        _ => kind_for_status(status).unwrap_or(ErrorKind::Protocol),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapping() {
        assert_eq!(
            kind_for_graphql_code(Some("THROTTLED"), "Throttled"),
            ErrorKind::RateLimited
        );
        assert_eq!(
            kind_for_graphql_code(None, "Throttled"),
            ErrorKind::RateLimited
        );
        assert_eq!(
            kind_for_graphql_code(Some("ACCESS_DENIED"), "x"),
            ErrorKind::Auth
        );
        assert_eq!(
            kind_for_graphql_code(Some("SHOP_INACTIVE"), "x"),
            ErrorKind::Rejected
        );
        assert_eq!(
            kind_for_graphql_code(Some("INTERNAL_SERVER_ERROR"), "x"),
            ErrorKind::Transient
        );
        assert_eq!(
            kind_for_graphql_code(Some("MAX_COST_EXCEEDED"), "x"),
            ErrorKind::InvalidInput
        );
        assert_eq!(kind_for_graphql_code(None, "x"), ErrorKind::Protocol);

        assert_eq!(kind_for_http(400), ErrorKind::InvalidInput);
        assert_eq!(kind_for_http(401), ErrorKind::Auth);
        assert_eq!(kind_for_http(402), ErrorKind::Rejected);
        assert_eq!(kind_for_http(403), ErrorKind::Auth);
        assert_eq!(kind_for_http(404), ErrorKind::NotFound);
        assert_eq!(kind_for_http(423), ErrorKind::Rejected);
        assert_eq!(kind_for_http(429), ErrorKind::RateLimited);
        assert_eq!(kind_for_http(500), ErrorKind::Transient);
        assert_eq!(kind_for_http(503), ErrorKind::Transient);
        assert!(is_token_refused(401));
        assert!(!is_token_refused(403));

        assert_eq!(
            kind_for_user_error(Some("PRODUCT_DOES_NOT_EXIST")),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind_for_user_error(Some("FILE_STORAGE_LIMIT_EXCEEDED")),
            ErrorKind::Rejected
        );
        assert_eq!(
            kind_for_user_error(Some("NON_READY_MEDIA")),
            ErrorKind::Conflict
        );
        assert_eq!(kind_for_user_error(Some("BLANK")), ErrorKind::InvalidInput);
        assert_eq!(kind_for_user_error(None), ErrorKind::InvalidInput);

        assert_eq!(
            kind_for_staged(400, Some("ExpiredToken")),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind_for_staged(400, Some("EntityTooLarge")),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            kind_for_staged(403, Some("SignatureDoesNotMatch")),
            ErrorKind::Auth
        );
        assert_eq!(kind_for_staged(503, None), ErrorKind::Transient);
        assert_eq!(kind_for_staged(404, None), ErrorKind::NotFound);
    }
}
