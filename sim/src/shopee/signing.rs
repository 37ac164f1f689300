//! Shopee's request signature (platforms.md §1 "Signing").

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `lowercase_hex(HMAC-SHA256(key = partner_key, msg = base))`.
pub(crate) fn sign(partner_key: &str, base: &str) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(partner_key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(base.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The public-API base string: `partner_id + api_path + timestamp`.
pub(crate) fn public_base(partner_id: &str, path: &str, timestamp: &str) -> String {
    format!("{partner_id}{path}{timestamp}")
}

/// The shop-API base string: `partner_id + api_path + timestamp + access_token + shop_id`.
pub(crate) fn shop_base(
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
