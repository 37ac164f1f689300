//! Shopee's authentication (platforms.md §1 "Signing"): the request signature, the
//! timestamp window and the shop's access tokens (checked on the token ledger,
//! [`crate::tokens`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::calls::ApiError;
use super::{shop_subject, ShopeeSimConfig, ShopeeState};
use crate::request::Received;
use crate::tokens::AccessRefusal;

/// Who is calling, once the common checks passed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caller {
    /// The shop, for shop-shape calls; `None` for public-shape calls.
    pub(super) shop_id: Option<u64>,
}

/// The checks of a public call that takes no shop shape (the `auth/` calls): partner,
/// timestamp and the public signature `partner_id + path + timestamp`.
pub(super) fn authenticate_public(
    path: &str,
    r: &Received,
    config: &ShopeeSimConfig,
    now_ms: i64,
) -> Result<(), ApiError> {
    let (partner_id, timestamp, sign) = partner_params(r)?;
    check_partner_and_time(partner_id, timestamp, config, now_ms)?;
    if sign
        != self::sign(
            &config.partner_key,
            &public_base(partner_id, path, timestamp),
        )
    {
        return Err(ApiError::new("error_sign", "Wrong sign."));
    }
    Ok(())
}

/// `partner_id`, `timestamp` and `sign` from the query.
fn partner_params(r: &Received) -> Result<(&str, &str, &str), ApiError> {
    let partner_id = r
        .query("partner_id")
        .ok_or_else(|| ApiError::param_exact("There is no partner_id in query."))?;
    let timestamp = r
        .query("timestamp")
        .ok_or_else(|| ApiError::param_exact("There is no timestamp in query."))?;
    let sign = r
        .query("sign")
        .ok_or_else(|| ApiError::param_exact("There is no sign in query."))?;
    Ok((partner_id, timestamp, sign))
}

/// The partner is the simulator's, and the timestamp within the tolerance.
fn check_partner_and_time(
    partner_id: &str,
    timestamp: &str,
    config: &ShopeeSimConfig,
    now_ms: i64,
) -> Result<(), ApiError> {
    if partner_id.parse::<u64>().ok() != Some(config.partner_id) {
        return Err(ApiError::param_exact("Invalid partner_id."));
    }
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| ApiError::param_exact("Invalid timestamp."))?;
    let tolerance = i64::try_from(config.timestamp_tolerance.as_secs()).unwrap_or(i64::MAX);
    if (now_ms.div_euclid(1000) - ts).abs() > tolerance {
        return Err(ApiError::param_exact("Timestamp is expired."));
    }
    Ok(())
}

/// The common checks: partner, timestamp, signature and, for the shop shape, the token. A
/// `public_type` call takes either shape.
pub(super) fn authenticate(
    state: &mut ShopeeState,
    public_type: bool,
    path: &str,
    r: &Received,
    config: &ShopeeSimConfig,
    now_ms: i64,
) -> Result<Caller, ApiError> {
    let (partner_id, timestamp, sign) = partner_params(r)?;
    // Public-type calls take the shop shape when either shop parameter is present.
    let shop_shape =
        !public_type || r.query("access_token").is_some() || r.query("shop_id").is_some();
    let shop = if shop_shape {
        let token = r
            .query("access_token")
            .ok_or_else(|| ApiError::param_exact("There is no access_token in query."))?;
        let shop_id = r
            .query("shop_id")
            .ok_or_else(|| ApiError::param_exact("There is no shop_id in query."))?;
        Some((token, shop_id))
    } else {
        None
    };

    check_partner_and_time(partner_id, timestamp, config, now_ms)?;
    let base = match shop {
        Some((token, shop_id)) => shop_base(partner_id, path, timestamp, token, shop_id),
        None => public_base(partner_id, path, timestamp),
    };
    if sign != self::sign(&config.partner_key, &base) {
        return Err(ApiError::new("error_sign", "Wrong sign."));
    }

    let Some((token, shop_id)) = shop else {
        return Ok(Caller { shop_id: None });
    };
    let shop_id: u64 = shop_id
        .parse()
        .map_err(|_| ApiError::param("shop_id must be an integer"))?;
    // Unknown, revoked or another shop's: `error_auth`; past its lifetime: Shopee's own
    // `invalid_acceess_token`.
    match state
        .ledger
        .check_access(token, Some(&shop_subject(shop_id)), now_ms)
    {
        Ok(_) => {}
        Err(AccessRefusal::Expired) => {
            return Err(ApiError::new(
                "invalid_acceess_token",
                "Invalid access_token.",
            ))
        }
        Err(_) => return Err(ApiError::new("error_auth", "Invalid access_token.")),
    }
    Ok(Caller {
        shop_id: Some(shop_id),
    })
}

/// `lowercase_hex(HMAC-SHA256(key = partner_key, msg = base))`.
pub(super) fn sign(partner_key: &str, base: &str) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(partner_key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(base.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The public-API base string: `partner_id + api_path + timestamp`.
pub(super) fn public_base(partner_id: &str, path: &str, timestamp: &str) -> String {
    format!("{partner_id}{path}{timestamp}")
}

/// The shop-API base string: `partner_id + api_path + timestamp + access_token + shop_id`.
pub(super) fn shop_base(
    partner_id: &str,
    path: &str,
    timestamp: &str,
    access_token: &str,
    shop_id: &str,
) -> String {
    format!("{partner_id}{path}{timestamp}{access_token}{shop_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/api/v2/media_space/init_video_upload";

    #[test]
    fn published_vectors() {
        assert_eq!(
            sign(
                "testkey",
                &shop_base("2001887", PATH, "1700000000", "tok", "12345")
            ),
            "105884c1ef397bef09ef8cd4233b95eb9b6a7201444c03b5867bfa1532214300"
        );
        assert_eq!(
            sign("testkey", &public_base("2001887", PATH, "1700000000")),
            "243ae0114cc968ba7f9484bf7cee3c391bbe7febe009d4b4d54378ce19e199f1"
        );
    }
}
