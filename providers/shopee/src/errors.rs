//! Shopee's error codes, mapped to core kinds in one table.

use marketmedia_core::raw::ErrorKind;

/// The kind a Shopee `error` code means.
pub fn kind_for_code(code: &str, message: &str) -> ErrorKind {
    match code {
        // A timestamp outside the 5-minute window is a clock problem; every attempt is signed
        // afresh with a new timestamp, so it is worth one more try.
        "error_param" if message.to_ascii_lowercase().contains("timestamp") => ErrorKind::Transient,
        "error_param" | "error_invalid_part_seq" | "error_invalid_part_size" => {
            ErrorKind::InvalidInput
        }
        "error_file_size" => ErrorKind::InvalidInput,
        "error_invalid_upload_id" => ErrorKind::NotFound,
        "error_already_completed" => ErrorKind::Conflict,
        "error_auth" | "error_sign" | "error_permission" => ErrorKind::Auth,
        // The expired-token answers the community SDKs meet (Shopee's own misspelling too).
        "invalid_access_token" | "invalid_acceess_token" => ErrorKind::Auth,
        "error_server" | "error_network" | "error_busi_inner" => ErrorKind::Transient,
        "error_rate_limit" => ErrorKind::RateLimited,
        "error_limit" => ErrorKind::Rejected,
        _ => ErrorKind::Rejected,
    }
}

/// Whether a code says the request's access token is expired or invalid: `error_auth`
/// ("Invalid access_token."), and `invalid_access_token` / `invalid_acceess_token` (Shopee's
/// spelling), which the community SDKs refresh on. A refreshable token is then refreshed
/// once and the call sent again (core's `TokenSource::call`).
pub fn is_token_refused(code: &str) -> bool {
    matches!(
        code,
        "error_auth" | "invalid_access_token" | "invalid_acceess_token"
    )
}

/// Whether an answer refuses the request's timestamp (`error_param`, "Timestamp is
/// expired."): the machine's clock is off by more than Shopee's 5 minutes, which no token
/// refresh mends.
pub fn is_clock_skew(code: &str, message: &str) -> bool {
    code == "error_param" && message.to_ascii_lowercase().contains("timestamp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_codes_map_to_kinds() {
        let table = [
            ("error_file_size", ErrorKind::InvalidInput),
            ("error_param", ErrorKind::InvalidInput),
            ("error_invalid_upload_id", ErrorKind::NotFound),
            ("error_invalid_part_seq", ErrorKind::InvalidInput),
            ("error_invalid_part_size", ErrorKind::InvalidInput),
            ("error_already_completed", ErrorKind::Conflict),
            ("error_auth", ErrorKind::Auth),
            ("error_sign", ErrorKind::Auth),
            ("error_server", ErrorKind::Transient),
            ("error_network", ErrorKind::Transient),
            ("error_rate_limit", ErrorKind::RateLimited),
            ("error_limit", ErrorKind::Rejected),
            ("something_new", ErrorKind::Rejected),
        ];
        for (code, kind) in table {
            assert_eq!(kind_for_code(code, ""), kind, "{code}");
        }
        assert_eq!(
            kind_for_code("error_param", "Timestamp is expired."),
            ErrorKind::Transient
        );
        assert!(is_clock_skew("error_param", "Timestamp is expired."));
        assert!(!is_clock_skew("error_param", "Invalid partner_id."));
        for code in [
            "error_auth",
            "invalid_access_token",
            "invalid_acceess_token",
        ] {
            assert!(is_token_refused(code), "{code}");
            assert_eq!(kind_for_code(code, ""), ErrorKind::Auth, "{code}");
        }
        assert!(!is_token_refused("error_sign"));
        assert!(!is_token_refused("error_permission"));
    }
}
