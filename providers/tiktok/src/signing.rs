//! TikTok Shop's request signature (Partner Center, "Sign your API request"; the same steps
//! in the official Node SDK's `generateSign` as ported in public code, in EcomPHP
//! `tiktokshop-php` `Client::prepareSignature` and in the .NET SDK's
//! `TikTokShopRequestSigningInterceptor`; `docs/platforms/tiktok.md`, "Signing"):
//!
//! 1. every query parameter but `sign` and `access_token`, sorted by name, concatenated as
//!    `{name}{value}`;
//! 2. the request path in front;
//! 3. the body after, **unless the request is `multipart/form-data`** (the three sources
//!    agree: a multipart body is not signed) or has no body;
//! 4. wrapped in the app secret on both sides;
//! 5. `sign = lowercase_hex(HMAC-SHA256(key = app_secret, that string))`.

use marketmedia_core::raw::signing::hmac_sha256;

/// The signature parameter, never signed itself.
pub const SIGN_PARAM: &str = "sign";
/// The legacy token parameter, never signed (the token travels in `x-tts-access-token`).
pub const ACCESS_TOKEN_PARAM: &str = "access_token";

/// The string HMAC'd for `path` with `query` and `body` (`None` for a multipart or empty
/// body): `secret + path + k1v1k2v2… + body + secret`.
pub fn string_to_sign<K: AsRef<str>, V: AsRef<str>>(
    app_secret: &str,
    path: &str,
    query: &[(K, V)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| *k != SIGN_PARAM && *k != ACCESS_TOKEN_PARAM)
        .collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = Vec::with_capacity(2 * app_secret.len() + path.len() + 64);
    out.extend_from_slice(app_secret.as_bytes());
    out.extend_from_slice(path.as_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    if let Some(body) = body {
        out.extend_from_slice(body);
    }
    out.extend_from_slice(app_secret.as_bytes());
    out
}

/// The `sign` query parameter of a request to `path` with `query` (system and call
/// parameters) and `body` (`None` for `multipart/form-data` and for no body).
pub fn sign<K: AsRef<str>, V: AsRef<str>>(
    app_secret: &str,
    path: &str,
    query: &[(K, V)],
    body: Option<&[u8]>,
) -> String {
    let message = string_to_sign(app_secret, path, query, body);
    hex::encode(hmac_sha256(app_secret.as_bytes(), &message))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the "Sign your API request" page (as quoted with its inputs in a
    /// public question about a 106001 answer): the string that is signed.
    #[test]
    fn the_documented_example_string() {
        let query = [
            ("app_key", "68xu9ks5p4i8"),
            ("shop_cipher", "ROW_xkMbgAAAeVAQra0eZWebFQq5aIK"),
            ("timestamp", "1696909648"),
        ];
        let body =
            br#"{"address":"https://partner.tiktokshop.com","event_type": "PACKAGE_UPDATE"}"#;
        let s = string_to_sign("e59af819cc", "/event/202309/webhooks", &query, Some(body));
        assert_eq!(
            String::from_utf8(s).unwrap(),
            "e59af819cc/event/202309/webhooksapp_key68xu9ks5p4i8shop_cipherROW_xkMbgAAAeVAQra0eZWebFQq5aIKtimestamp1696909648{\"address\":\"https://partner.tiktokshop.com\",\"event_type\": \"PACKAGE_UPDATE\"}e59af819cc"
        );
    }

    /// HMAC-SHA256 keyed by the secret, lowercase hex: recomputed here from the definition
    /// (RFC 2104 over SHA-256 is core's `hmac_sha256`, tested against RFC 4231).
    #[test]
    fn sign_is_lowercase_hex_hmac_of_the_string() {
        let query = [("timestamp", "1"), ("app_key", "k")];
        let s = sign("sec", "/p", &query, None);
        assert_eq!(s.len(), 64);
        assert!(s
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        let expected = hex::encode(hmac_sha256(b"sec", b"sec/papp_keyktimestamp1sec"));
        assert_eq!(s, expected);
    }

    #[test]
    fn sign_and_access_token_are_not_signed_and_order_does_not_matter() {
        let a = [("timestamp", "1"), ("app_key", "k")];
        let b = [
            ("app_key", "k"),
            ("sign", "whatever"),
            ("access_token", "tok"),
            ("timestamp", "1"),
        ];
        assert_eq!(sign("s", "/x", &a, None), sign("s", "/x", &b, None));
        assert_ne!(sign("s", "/x", &a, None), sign("s", "/y", &a, None));
        assert_ne!(sign("s", "/x", &a, Some(b"{}")), sign("s", "/x", &a, None));
    }
}
