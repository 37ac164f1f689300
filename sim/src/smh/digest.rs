//! The digests SMH and its COS storage compute over file bytes: the instant-upload SHA-256
//! chain, CRC-64 (the ECMA-182 variant COS reports, a.k.a. CRC-64/XZ) and MD5 eTags.

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// The chunk size of the instant-upload hash chain: 1 MiB.
pub const HASH_CHUNK: usize = 1024 * 1024;

/// The instant-upload hashes of a file, as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstantHashes {
    /// `sha256(chunk_0)` where `chunk_0` is the first MiB (or the whole file if shorter).
    pub beginning_hash: String,
    /// `h_0 = sha256(chunk_0)`, `h_i = sha256(h_{i-1} ‖ chunk_i)` (raw 32-byte `h`), hex of the last.
    pub full_hash: String,
}

/// Computes the instant-upload hashes of `bytes` (see [`InstantHashes`]).
pub fn instant_hashes(bytes: &[u8]) -> InstantHashes {
    let mut chunks = bytes.chunks(HASH_CHUNK);
    let first: [u8; 32] = Sha256::digest(chunks.next().unwrap_or(&[])).into();
    let mut h = first;
    for chunk in chunks {
        let mut hasher = Sha256::new();
        hasher.update(h);
        hasher.update(chunk);
        h = hasher.finalize().into();
    }
    InstantHashes {
        beginning_hash: hex::encode(first),
        full_hash: hex::encode(h),
    }
}

/// CRC-64/XZ (ECMA-182 polynomial, reflected, all-ones init and xor-out), the value COS and
/// SMH report as `crc64`. Check value: `crc64(b"123456789") == 0x995dc9bbdf1939fa`.
pub fn crc64(bytes: &[u8]) -> u64 {
    let mut digest = crc64fast::Digest::new();
    digest.write(bytes);
    digest.sum64()
}

pub use crate::util::md5_hex;

/// The eTag COS gives an object assembled from parts: the MD5 of the concatenated raw part
/// MD5s, then `-` and the number of parts (unquoted).
pub fn multipart_etag<'a>(part_md5s: impl IntoIterator<Item = &'a [u8; 16]>) -> String {
    let mut hasher = Md5::new();
    let mut n = 0usize;
    for md5 in part_md5s {
        hasher.update(md5);
        n += 1;
    }
    format!("{}-{n}", hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_check_value() {
        assert_eq!(crc64(b"123456789"), 0x995d_c9bb_df19_39fa);
    }

    #[test]
    fn instant_hash_vectors() {
        let zeros = vec![0u8; 2 * HASH_CHUNK];
        let h = instant_hashes(&zeros);
        assert_eq!(
            h.beginning_hash,
            "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58"
        );
        assert_eq!(
            h.full_hash,
            "b0f7e82d16e99dc466cd1aeec8df5ed780b08f2f2ff3fac6ce90ccfe042d4cae"
        );
        let ramp: Vec<u8> = (0..(5 * HASH_CHUNK / 2)).map(|i| (i % 256) as u8).collect();
        let h = instant_hashes(&ramp);
        assert_eq!(
            h.beginning_hash,
            "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83"
        );
        assert_eq!(
            h.full_hash,
            "92389183bfa175b31cffad45018aa7e19b8bae611a76b2f59ee31c0e08f08139"
        );
    }

    #[test]
    fn single_chunk_file_has_equal_hashes() {
        let h = instant_hashes(b"abc");
        assert_eq!(h.beginning_hash, h.full_hash);
    }
}
