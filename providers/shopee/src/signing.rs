//! Shopee request signing: `sign = lowercase_hex(HMAC-SHA256(partner_key, base))`.

use marketmedia_core::raw::signing::hmac_sha256;

/// Who a call acts for, which decides the signed base string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer<'a> {
    /// Public-type call: `partner_id + api_path + timestamp`.
    Public,
    /// Shop-type call: `partner_id + api_path + timestamp + access_token + shop_id`.
    Shop {
        /// The shop's access token.
        access_token: &'a str,
        /// The shop id.
        shop_id: u64,
    },
}

/// The `sign` query parameter for a call to `api_path` (full path, `/api/v2/...`).
pub fn sign(
    partner_key: &str,
    partner_id: u64,
    api_path: &str,
    timestamp: u64,
    signer: Signer<'_>,
) -> String {
    let mut base = format!("{partner_id}{api_path}{timestamp}");
    if let Signer::Shop {
        access_token,
        shop_id,
    } = signer
    {
        base.push_str(access_token);
        base.push_str(&shop_id.to_string());
    }
    hex::encode(hmac_sha256(partner_key.as_bytes(), base.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/api/v2/media_space/init_video_upload";

    #[test]
    fn platform_vectors() {
        assert_eq!(
            sign(
                "testkey",
                2_001_887,
                PATH,
                1_700_000_000,
                Signer::Shop {
                    access_token: "tok",
                    shop_id: 12345
                }
            ),
            "105884c1ef397bef09ef8cd4233b95eb9b6a7201444c03b5867bfa1532214300"
        );
        assert_eq!(
            sign("testkey", 2_001_887, PATH, 1_700_000_000, Signer::Public),
            "243ae0114cc968ba7f9484bf7cee3c391bbe7febe009d4b4d54378ce19e199f1"
        );
    }
}
