//! What the client proves about its bytes. SMH signs no request on the client side: the
//! library secret buys an access token, and storage requests carry headers presigned by the
//! API. What a client computes is the instant-upload pair (`beginningHash`, `fullHash`) and the
//! CRC-64 checked at confirm — both from the digests core computes in its one pass over the
//! source; this module turns them into the strings the wire carries.

use marketmedia_core::raw::Digests;
use marketmedia_core::raw::INSTANT_HASH_CHUNK;

/// The instant-upload hashes as lowercase hex `(beginningHash, fullHash)`, for a file of
/// `size` bytes: `None` under 1 MiB (SMH's instant upload needs ≥ 1 MiB) or when the digest
/// pass did not compute them.
pub fn instant_hashes(size: u64, digests: &Digests) -> Option<(String, String)> {
    if size < INSTANT_HASH_CHUNK || digests.size != size {
        return None;
    }
    digests.instant.map(|h| (h.beginning_hex(), h.full_hex()))
}

/// The CRC-64 as SMH's `crc64` field: a decimal string.
pub fn crc64_decimal(digests: &Digests) -> Option<String> {
    digests.crc64.map(|c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketmedia_core::raw::Digester;
    use marketmedia_core::DigestRequest;

    fn digests(data: &[u8]) -> Digests {
        let mut d = Digester::new(&DigestRequest {
            instant_upload_hashes: true,
            crc64: true,
            ..DigestRequest::default()
        });
        d.update(data);
        d.finish()
    }

    #[test]
    fn vectors_from_platforms_md() {
        let zeros = vec![0u8; 2 << 20];
        let (b, f) = instant_hashes(zeros.len() as u64, &digests(&zeros)).unwrap();
        assert_eq!(
            b,
            "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58"
        );
        assert_eq!(
            f,
            "b0f7e82d16e99dc466cd1aeec8df5ed780b08f2f2ff3fac6ce90ccfe042d4cae"
        );
        let ramp: Vec<u8> = (0..(5 << 19)).map(|i: usize| (i % 256) as u8).collect();
        let (b, f) = instant_hashes(ramp.len() as u64, &digests(&ramp)).unwrap();
        assert_eq!(
            b,
            "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83"
        );
        assert_eq!(
            f,
            "92389183bfa175b31cffad45018aa7e19b8bae611a76b2f59ee31c0e08f08139"
        );
    }

    #[test]
    fn small_files_have_no_hashes() {
        let small = vec![7u8; (1 << 20) - 1];
        assert_eq!(instant_hashes(small.len() as u64, &digests(&small)), None);
        let exactly = vec![7u8; 1 << 20];
        assert!(instant_hashes(exactly.len() as u64, &digests(&exactly)).is_some());
        assert_eq!(instant_hashes(1 << 20, &Digests::default()), None);
    }

    #[test]
    fn crc64_is_decimal_crc64_xz() {
        // CRC-64/XZ check value of "123456789".
        let d = digests(b"123456789");
        assert_eq!(
            crc64_decimal(&d).unwrap(),
            0x995d_c9bb_df19_39fa_u64.to_string()
        );
    }
}
