//! The lazop request signature, as the gateway verifies it.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Which pairs take part in the signed string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignVariant {
    /// Every received pair (the Python SDK's way).
    AllPairs,
    /// Pairs whose key and value are both non-empty (the Java SDK's way).
    SkipEmpty,
}

/// The string the signature covers: `api_path` followed by `key + value` for every parameter
/// sorted by key in byte order, `sign` excluded. File fields never reach `params`.
pub fn string_to_sign(
    api_path: &str,
    params: &BTreeMap<String, String>,
    variant: SignVariant,
) -> String {
    let mut out = String::from(api_path);
    // BTreeMap<String, _> iterates in byte order of the UTF-8 keys.
    for (k, v) in params {
        if k == "sign" {
            continue;
        }
        if variant == SignVariant::SkipEmpty && (k.is_empty() || v.is_empty()) {
            continue;
        }
        out.push_str(k);
        out.push_str(v);
    }
    out
}

/// `UPPERCASE_hex(HMAC-SHA256(secret, message))`.
pub fn hmac_sha256_upper(secret: &str, message: &str) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(message.as_bytes());
    hex::encode_upper(mac.finalize().into_bytes())
}

/// The signature a request with these parameters must carry under `variant`.
pub fn expected_sign(
    secret: &str,
    api_path: &str,
    params: &BTreeMap<String, String>,
    variant: SignVariant,
) -> String {
    hmac_sha256_upper(secret, &string_to_sign(api_path, params, variant))
}

/// Whether `sign` matches the request under either SDK's rule. With `case_insensitive` false the
/// hex digits must be uppercase, as the SDKs send them.
pub fn verify(
    secret: &str,
    api_path: &str,
    params: &BTreeMap<String, String>,
    sign: &str,
    case_insensitive: bool,
) -> bool {
    [SignVariant::AllPairs, SignVariant::SkipEmpty]
        .into_iter()
        .any(|variant| {
            let expected = expected_sign(secret, api_path, params, variant);
            if case_insensitive {
                expected.eq_ignore_ascii_case(sign)
            } else {
                expected == sign
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_vector() {
        let msg = "/order/getaccess_tokentestapp_key123456order_id1234sign_methodsha256timestamp1517820392000";
        assert_eq!(
            hmac_sha256_upper("helloworld", msg),
            "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
        );
        let params: BTreeMap<String, String> = [
            ("access_token", "test"),
            ("app_key", "123456"),
            ("order_id", "1234"),
            ("sign_method", "sha256"),
            ("timestamp", "1517820392000"),
            ("sign", "ignored"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            string_to_sign("/order/get", &params, SignVariant::AllPairs),
            msg
        );
        assert!(verify(
            "helloworld",
            "/order/get",
            &params,
            "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A",
            false
        ));
    }
}
