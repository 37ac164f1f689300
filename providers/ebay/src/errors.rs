//! eBay's errors, mapped to core kinds in one table.
//!
//! The Media API's pages publish no per-call error table; eBay's REST errors carry an
//! `errorId`, a `domain` and a `category` (`REQUEST`, `APPLICATION`, `BUSINESS`) with the
//! HTTP status. The ids below are eBay's common ones; anything else maps by status and
//! category.

use marketmedia_core::raw::http::kind_for_status;
use marketmedia_core::raw::ErrorKind;

/// The kind an eBay error answer means.
pub fn kind_for(status: u16, error_id: Option<u64>, category: Option<&str>) -> ErrorKind {
    match (error_id, status) {
        // "Invalid access token" (domain OAuth).
        (Some(1001), _) => ErrorKind::Auth,
        // "Too many requests" (domain ACCESS): the 50 POST per 5 s user limit.
        (Some(2001), _) | (_, 429) => ErrorKind::RateLimited,
        (_, 400 | 413) => ErrorKind::InvalidInput,
        // An APPLICATION error is eBay's side: worth another try.
        (_, 500..=599) => ErrorKind::Transient,
        _ if category == Some("APPLICATION") => ErrorKind::Transient,
        _ => kind_for_status(status).unwrap_or(ErrorKind::Rejected),
    }
}

/// Whether an answer says the request's access token is expired or invalid: HTTP 401 with
/// `errorId` 1001 (domain `OAuth`), or with the message `Invalid access token` (as the
/// answers quoted in the SDKs' issues read; clients match on it). A refreshable token is then
/// refreshed once and the call sent again.
pub fn is_token_refused(status: u16, error_id: Option<u64>, message: Option<&str>) -> bool {
    status == 401 && (error_id == Some(1001) || message == Some("Invalid access token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_token_is_refused_only_on_a_401() {
        assert!(is_token_refused(401, Some(1001), None));
        assert!(is_token_refused(401, None, Some("Invalid access token")));
        assert!(!is_token_refused(401, Some(1100), Some("Access denied")));
        assert!(!is_token_refused(403, Some(1001), None));
    }

    #[test]
    fn every_mapping() {
        assert_eq!(kind_for(401, Some(1001), Some("REQUEST")), ErrorKind::Auth);
        assert_eq!(kind_for(401, None, None), ErrorKind::Auth);
        assert_eq!(kind_for(403, None, None), ErrorKind::Auth);
        assert_eq!(
            kind_for(429, Some(2001), Some("REQUEST")),
            ErrorKind::RateLimited
        );
        assert_eq!(kind_for(429, None, None), ErrorKind::RateLimited);
        assert_eq!(
            kind_for(400, Some(7), Some("REQUEST")),
            ErrorKind::InvalidInput
        );
        assert_eq!(kind_for(413, None, None), ErrorKind::InvalidInput);
        assert_eq!(kind_for(404, Some(7), None), ErrorKind::NotFound);
        assert_eq!(kind_for(409, Some(7), None), ErrorKind::Conflict);
        assert_eq!(
            kind_for(500, None, Some("APPLICATION")),
            ErrorKind::Transient
        );
        assert_eq!(kind_for(503, None, None), ErrorKind::Transient);
        assert_eq!(
            kind_for(422, None, Some("APPLICATION")),
            ErrorKind::Transient
        );
        assert_eq!(kind_for(422, None, Some("BUSINESS")), ErrorKind::Rejected);
    }
}
