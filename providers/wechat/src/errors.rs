//! WeChat's `errcode`s, mapped to core kinds in one table.

use marketmedia_core::raw::ErrorKind;

/// The codes that say the access token is missing, invalid, not the latest or expired: a
/// token the provider fetched itself is then fetched again.
pub const TOKEN_CODES: [i64; 4] = [40001, 40014, 41001, 42001];

/// The kind an `errcode` means.
pub fn kind_for_code(code: i64) -> ErrorKind {
    match code {
        // 系统繁忙 (busy).
        -1 => ErrorKind::Transient,
        // AppSecret wrong / token invalid or not the latest, invalid appid, invalid token,
        // token missing, token expired, IP not whitelisted, no permission for the API.
        40001 | 40013 | 40014 | 40125 | 41001 | 42001 | 40164 | 48001 => ErrorKind::Auth,
        // grant_type, data format, require GET/POST, invalid URL: the request's shape.
        40002 | 47001 | 43001 | 43002 | 40066 => ErrorKind::InvalidInput,
        // The minute quota; the daily quota will not come back by retrying soon.
        45011 => ErrorKind::RateLimited,
        45009 => ErrorKind::Rejected,
        // 参数有误; 图片为空; 图片大小超出限制; EntityTooSmall (a part but the last under 1M).
        10_020_055 | 10_020_059 | 10_020_060 | 10_020_342 => ErrorKind::InvalidInput,
        // The sandbox's own codes, where the pages name none: an unknown or expired
        // video_upload_key (a fresh upload can start), a call out of the upload's order.
        9_100_404 => ErrorKind::NotFound,
        9_100_409 => ErrorKind::Conflict,
        _ => ErrorKind::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_codes_map_to_kinds() {
        let table = [
            (-1, ErrorKind::Transient),
            (40001, ErrorKind::Auth),
            (40002, ErrorKind::InvalidInput),
            (40013, ErrorKind::Auth),
            (40014, ErrorKind::Auth),
            (41001, ErrorKind::Auth),
            (42001, ErrorKind::Auth),
            (43002, ErrorKind::InvalidInput),
            (45009, ErrorKind::Rejected),
            (45011, ErrorKind::RateLimited),
            (47001, ErrorKind::InvalidInput),
            (10_020_055, ErrorKind::InvalidInput),
            (10_020_059, ErrorKind::InvalidInput),
            (10_020_060, ErrorKind::InvalidInput),
            (10_020_342, ErrorKind::InvalidInput),
            (9_100_404, ErrorKind::NotFound),
            (9_100_409, ErrorKind::Conflict),
            (12_345_678, ErrorKind::Rejected),
        ];
        for (code, kind) in table {
            assert_eq!(kind_for_code(code), kind, "{code}");
        }
    }
}
