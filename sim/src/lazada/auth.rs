//! Lazada's gateway authentication: the request signature (platforms.md section 2), the
//! timestamp window and the seller access tokens.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use serde_json::{json, Map, Value};

use super::calls::{codes, ApiError, Call, ReceivedRequest};
use super::{seller_id_in, video, LazadaSim, LazadaSimConfig, Store, GATEWAYS, LAZADA_SIGN_METHOD};
use crate::tokens::Issued;
use crate::util::days_from_civil;

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

/// Parses `timestamp`: Unix milliseconds, or `YYYY-MM-DDTHH:MM:SSZ` (UTC), both documented.
pub(super) fn parse_timestamp_ms(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse().ok();
    }
    let b = raw.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { raw.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60 * 1000 + s * 1000)
}

impl LazadaSim {
    /// The gateway's checks, in its order: app key, sign method, timestamp, signature, token.
    pub(super) fn check_gateway(
        &self,
        call: Call,
        r: &ReceivedRequest,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        self.check_credentials(call, r, now_ms, true)
    }

    /// The gateway's checks on every parameter (`complete`), or, before the body is read, on
    /// the query string's parameters only (`r` then holds only them): a parameter absent
    /// from the query is not judged (it may come in the body), nor is the signature (it
    /// covers the body's parameters); one present in the query is judged as the gateway
    /// judges it, since the query's value wins over the body's.
    pub(super) fn check_credentials(
        &self,
        call: Call,
        r: &ReceivedRequest,
        now_ms: i64,
        complete: bool,
    ) -> Result<(), ApiError> {
        let cfg = &self.config();
        let judged = |name: &str| complete || r.params.contains_key(name);
        if judged("app_key") {
            let app_key = video::required(r, "app_key")?;
            if app_key != cfg.app_key {
                return Err(ApiError::gateway(
                    codes::INVALID_APP_KEY,
                    "The specified app key is invalid",
                ));
            }
        }
        let signature_error = || {
            ApiError::gateway(
                codes::INCOMPLETE_SIGNATURE,
                "The request signature does not conform to platform standards",
            )
        };
        if judged("sign_method") && video::required(r, "sign_method")? != LAZADA_SIGN_METHOD {
            return Err(signature_error());
        }
        if judged("timestamp") {
            let timestamp = video::required(r, "timestamp")?;
            let tolerance = i64::try_from(cfg.timestamp_tolerance.as_millis()).unwrap_or(i64::MAX);
            match parse_timestamp_ms(timestamp) {
                Some(ts) if (now_ms - ts).abs() <= tolerance => {}
                _ => {
                    return Err(ApiError::gateway(
                        codes::INVALID_TIMESTAMP,
                        format!(
                            "The timestamp \"{timestamp}\" is invalid or differs from the server time by more than {} seconds",
                            cfg.timestamp_tolerance.as_secs()
                        ),
                    ))
                }
            }
        }
        if complete {
            let sign = video::required(r, "sign")?;
            if !verify(
                &cfg.app_secret,
                call.api_path(),
                &r.params,
                sign,
                cfg.accept_lowercase_sign,
            ) {
                return Err(signature_error());
            }
        }
        if call.needs_token() && judged("access_token") {
            let token = video::required(r, "access_token")?;
            // One seller token serves every country gateway: no country is checked.
            if self
                .store()
                .ledger
                .check_access(token, None, now_ms)
                .is_err()
            {
                return Err(ApiError::gateway(
                    codes::ILLEGAL_ACCESS_TOKEN,
                    "The specified access token is invalid or expired",
                ));
            }
        }
        Ok(())
    }
}

/// The answer fields of a token call: the pair, its lifetimes, the seller and its countries
/// (`country_user_info` for `/auth/token/create`, `country_user_info_list` for
/// `/auth/token/refresh`, as Lazada's reference names them), `code` `"0"`.
fn token_answer(
    issued: &Issued,
    config: &LazadaSimConfig,
    countries_field: &str,
    now_ms: i64,
    request_id: &str,
) -> Value {
    let countries: Vec<Value> = GATEWAYS
        .iter()
        .map(|c| {
            let id = seller_id_in(c).to_string();
            json!({
                "country": c,
                "seller_id": id,
                "user_id": id,
                "short_code": format!("{}SIM{}", c.to_ascii_uppercase(), id.get(id.len().saturating_sub(3)..).unwrap_or_default()),
            })
        })
        .collect();
    let mut m = Map::new();
    m.insert("access_token".into(), json!(issued.access_token));
    m.insert("country".into(), json!("cb"));
    m.insert(
        "refresh_token".into(),
        json!(issued.refresh_token.clone().unwrap_or_default()),
    );
    m.insert("account_platform".into(), json!("seller_center"));
    m.insert(
        "refresh_expires_in".into(),
        json!(issued.refresh_expires_in(now_ms)),
    );
    m.insert(countries_field.into(), Value::Array(countries));
    m.insert("expires_in".into(), json!(issued.access_expires_in(now_ms)));
    m.insert("account".into(), json!(config.seller_account));
    m.insert("code".into(), json!("0"));
    m.insert("request_id".into(), json!(request_id));
    Value::Object(m)
}

/// `/auth/token/create` (GenerateAccessToken): `code` → the seller's first pair.
pub(super) fn token_create(
    store: &mut Store,
    config: &LazadaSimConfig,
    r: &ReceivedRequest,
    now_ms: i64,
    request_id: &str,
) -> Result<Value, ApiError> {
    let code = r
        .param("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::missing("code"))?;
    let issued = store
        .ledger
        .exchange_code(code, now_ms, |_| true)
        .map_err(|_| ApiError::gateway(codes::INVALID_CODE, "Invalid authorization code"))?;
    Ok(token_answer(
        &issued,
        config,
        "country_user_info",
        now_ms,
        request_id,
    ))
}

/// `/auth/token/refresh` (RefreshAccessToken): `refresh_token` → a new pair whose refresh
/// token keeps the old one's expiry.
pub(super) fn token_refresh(
    store: &mut Store,
    config: &LazadaSimConfig,
    r: &ReceivedRequest,
    now_ms: i64,
    request_id: &str,
) -> Result<Value, ApiError> {
    let refresh = r
        .param("refresh_token")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::missing("refresh_token"))?;
    let issued = store.ledger.refresh(refresh, None, now_ms).map_err(|_| {
        ApiError::gateway(
            codes::ILLEGAL_REFRESH_TOKEN,
            "The specified refresh token is invalid or expired",
        )
    })?;
    Ok(token_answer(
        &issued,
        config,
        "country_user_info_list",
        now_ms,
        request_id,
    ))
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

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_ms("1517820392000"), Some(1_517_820_392_000));
        assert_eq!(
            parse_timestamp_ms("2017-11-11T12:00:00Z"),
            Some(1_510_401_600_000)
        );
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp_ms("yesterday"), None);
        assert_eq!(parse_timestamp_ms(""), None);
    }
}
