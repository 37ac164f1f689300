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
        "error_server" | "error_network" | "error_busi_inner" => ErrorKind::Transient,
        "error_rate_limit" => ErrorKind::RateLimited,
        "error_limit" => ErrorKind::Rejected,
        _ => ErrorKind::Rejected,
    }
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
    }
}
