//! Digests of a source in one streaming pass: whole-file MD5, MD5 of every part for any number
//! of part sizes, the SMH instant-upload pair (`beginningHash`, `fullHash`) and CRC-64/XZ
//! (ECMA-182, as COS and SMH use it).
//!
//! [`Digester`] is the streaming accumulator (feed it bytes in any slices). [`digest_file`]
//! reads a file once in 1 MiB chunks and splits the work over two threads: the reading thread
//! computes the MD5s while a second thread computes the SHA-256 chain and the CRC, so the whole
//! set costs about as much as MD5 alone on a machine with two cores.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The chunk size of the SMH instant-upload hash chain: 1 MiB.
pub const INSTANT_HASH_CHUNK: u64 = 1 << 20;

/// Which digests to compute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestRequest {
    /// MD5 of the whole file.
    pub file_md5: bool,
    /// For each size listed, the MD5 of every part of that size (the last part holds the rest).
    pub part_md5_sizes: Vec<u64>,
    /// The SMH instant-upload hashes.
    pub instant_upload_hashes: bool,
    /// CRC-64/XZ of the whole file.
    pub crc64: bool,
}

impl DigestRequest {
    /// Whether nothing is asked (no pass over the file is needed).
    pub fn is_empty(&self) -> bool {
        !self.file_md5
            && self.part_md5_sizes.is_empty()
            && !self.instant_upload_hashes
            && !self.crc64
    }
}

/// MD5s of every part for one part size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartMd5s {
    /// The part size these MD5s are for.
    pub part_size: u64,
    /// The MD5 of each part, in order.
    pub md5s: Vec<[u8; 16]>,
}

/// The SMH instant-upload hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantHashes {
    /// SHA-256 of the first 1 MiB (of the whole file when it is shorter).
    pub beginning: [u8; 32],
    /// The last link of the chain `h_i = sha256(h_{i-1} ‖ chunk_i)` over 1 MiB chunks.
    pub full: [u8; 32],
}

impl InstantHashes {
    /// `beginningHash` as lowercase hex.
    pub fn beginning_hex(&self) -> String {
        hex::encode(self.beginning)
    }

    /// `fullHash` as lowercase hex.
    pub fn full_hex(&self) -> String {
        hex::encode(self.full)
    }
}

/// The digests of one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digests {
    /// Bytes digested.
    pub size: u64,
    /// MD5 of the whole file, when requested.
    pub md5: Option<[u8; 16]>,
    /// Part MD5s, one entry per requested part size.
    pub part_md5: Vec<PartMd5s>,
    /// SMH instant-upload hashes, when requested and the source is not empty.
    pub instant: Option<InstantHashes>,
    /// CRC-64/XZ of the whole file, when requested.
    pub crc64: Option<u64>,
}

impl Digests {
    /// Whole-file MD5 as lowercase hex.
    pub fn md5_hex(&self) -> Option<String> {
        self.md5.map(hex::encode)
    }

    /// The part MD5s computed for `part_size`, when they were requested.
    pub fn part_md5s(&self, part_size: u64) -> Option<&[[u8; 16]]> {
        self.part_md5
            .iter()
            .find(|p| p.part_size == part_size)
            .map(|p| p.md5s.as_slice())
    }
}

#[derive(Clone)]
struct PartMd5Acc {
    part_size: u64,
    filled: u64,
    current: Md5,
    done: Vec<[u8; 16]>,
}

/// A set of running digests. A [`Digester`] holds one with everything requested; the file
/// pass splits the request over two of them, one per thread (the whole-file MD5 alone on the
/// reading thread; part MD5s, the SHA-256 chain and the CRC on the other), which balances
/// the work when SHA-256 has hardware support.
#[derive(Clone, Default)]
struct Side {
    whole: Option<Md5>,
    parts: Vec<PartMd5Acc>,
    chain: Option<ChainAcc>,
    crc: Option<crc64fast::Digest>,
}

impl Side {
    fn new(req: &DigestRequest) -> Self {
        Side {
            whole: req.file_md5.then(Md5::new),
            parts: req
                .part_md5_sizes
                .iter()
                .filter(|s| **s > 0)
                .map(|&part_size| PartMd5Acc {
                    part_size,
                    filled: 0,
                    current: Md5::new(),
                    done: Vec::new(),
                })
                .collect(),
            chain: req.instant_upload_hashes.then(ChainAcc::default),
            crc: req.crc64.then(crc64fast::Digest::new),
        }
    }

    /// Splits into (whole-file MD5, everything else); `None` when one thread is enough.
    fn split(req: &DigestRequest) -> Option<(Side, Side)> {
        let rest = DigestRequest {
            file_md5: false,
            ..req.clone()
        };
        let rest_empty =
            rest.part_md5_sizes.is_empty() && !rest.instant_upload_hashes && !rest.crc64;
        if !req.file_md5 || rest_empty {
            return None;
        }
        let first = DigestRequest {
            file_md5: true,
            ..DigestRequest::default()
        };
        Some((Side::new(&first), Side::new(&rest)))
    }

    fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.whole {
            h.update(data);
        }
        for acc in &mut self.parts {
            let mut rest = data;
            while !rest.is_empty() {
                let room = (acc.part_size - acc.filled) as usize;
                let take = room.min(rest.len());
                acc.current.update(&rest[..take]);
                acc.filled += take as u64;
                rest = &rest[take..];
                if acc.filled == acc.part_size {
                    let md5 = std::mem::take(&mut acc.current).finalize();
                    acc.done.push(md5.into());
                    acc.filled = 0;
                }
            }
        }
        if let Some(c) = &mut self.chain {
            c.update(data);
        }
        if let Some(c) = &mut self.crc {
            c.write(data);
        }
    }

    /// Fills in what this side computed.
    fn finish(self, out: &mut Digests) {
        if let Some(h) = self.whole {
            out.md5 = Some(h.finalize().into());
        }
        for mut acc in self.parts {
            if acc.filled > 0 {
                acc.done.push(acc.current.finalize().into());
            }
            out.part_md5.push(PartMd5s {
                part_size: acc.part_size,
                md5s: acc.done,
            });
        }
        if let Some(c) = self.chain {
            out.instant = c.finish();
        }
        if let Some(c) = self.crc {
            out.crc64 = Some(c.sum64());
        }
    }
}

#[derive(Clone, Default)]
struct ChainAcc {
    hasher: Sha256,
    in_chunk: u64,
    prev: Option<[u8; 32]>,
    beginning: Option<[u8; 32]>,
}

impl ChainAcc {
    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = (INSTANT_HASH_CHUNK - self.in_chunk) as usize;
            let take = room.min(data.len());
            self.hasher.update(&data[..take]);
            self.in_chunk += take as u64;
            data = &data[take..];
            if self.in_chunk == INSTANT_HASH_CHUNK {
                self.close_chunk();
            }
        }
    }

    fn close_chunk(&mut self) {
        let h: [u8; 32] = self.hasher.finalize_reset().into();
        self.beginning.get_or_insert(h);
        self.prev = Some(h);
        // The next link starts with the previous one: h_i = sha256(h_{i-1} ‖ chunk_i).
        self.hasher.update(h);
        self.in_chunk = 0;
    }

    fn finish(mut self) -> Option<InstantHashes> {
        if self.in_chunk > 0 {
            self.close_chunk();
        }
        Some(InstantHashes {
            beginning: self.beginning?,
            full: self.prev?,
        })
    }
}

/// A streaming digester: feed bytes in any slices, then [`Digester::finish`].
#[derive(Clone)]
pub struct Digester {
    size: u64,
    side: Side,
}

impl Digester {
    /// A digester computing what `req` asks for.
    pub fn new(req: &DigestRequest) -> Self {
        Digester {
            size: 0,
            side: Side::new(req),
        }
    }

    /// Feeds the next bytes of the source.
    pub fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        self.side.update(data);
    }

    /// The digests of everything fed so far.
    pub fn finish(self) -> Digests {
        let mut out = Digests {
            size: self.size,
            ..Digests::default()
        };
        self.side.finish(&mut out);
        out
    }
}

impl std::fmt::Debug for Digester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digester")
            .field("size", &self.size)
            .finish()
    }
}

/// Fills `buf` from `file` (short only at end of file); returns the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Buffers in flight between the reading thread and the SHA thread.
const POOL: usize = 8;

/// Digests a file in one read, MD5s on this thread and the SHA-256 chain plus CRC on a second
/// one. Buffers are recycled between the two threads (no allocation or zeroing per chunk).
/// Blocking: call it from a blocking context (see [`digest_file_async`]).
pub fn digest_file(path: &Path, req: &DigestRequest) -> Result<Digests> {
    digest_file_unless(path, req, &AtomicBool::new(false))
}

/// [`digest_file`], ending with [`crate::ErrorKind::Cancelled`] at the next chunk once
/// `stop` is set.
fn digest_file_unless(path: &Path, req: &DigestRequest, stop: &AtomicBool) -> Result<Digests> {
    let stopped = || Error::new(crate::ErrorKind::Cancelled, "the digest pass was stopped");
    let mut file =
        File::open(path).map_err(|e| Error::from(e).with_kind(crate::ErrorKind::InvalidInput))?;
    let chunk = INSTANT_HASH_CHUNK as usize;

    let Some((mut md5, mut sha)) = Side::split(req) else {
        let mut single = Digester::new(req);
        let mut buf = vec![0u8; chunk];
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            let n = fill(&mut file, &mut buf)?;
            if n == 0 {
                break;
            }
            single.update(&buf[..n]);
        }
        return Ok(single.finish());
    };

    let (to_sha, from_reader) = mpsc::sync_channel::<(Vec<u8>, usize)>(POOL);
    let (to_reader, returned) = mpsc::sync_channel::<Vec<u8>>(POOL);
    let worker = std::thread::Builder::new()
        .name("marketmedia-digest".into())
        .spawn(move || {
            for (buf, n) in from_reader {
                sha.update(&buf[..n]);
                // The reader may have stopped; a lost buffer is then simply freed.
                let _ = to_reader.send(buf);
            }
            sha
        })?;
    let mut size = 0u64;
    let mut allocated = 0;
    let read_result: std::io::Result<()> = (|| loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut buf = match returned.try_recv() {
            Ok(buf) => buf,
            Err(_) if allocated < POOL => {
                allocated += 1;
                vec![0u8; chunk]
            }
            Err(_) => match returned.recv() {
                Ok(buf) => buf,
                Err(_) => return Ok(()),
            },
        };
        let n = fill(&mut file, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        size += n as u64;
        md5.update(&buf[..n]);
        if to_sha.send((buf, n)).is_err() {
            return Ok(());
        }
    })();
    drop(to_sha);
    let sha = worker
        .join()
        .map_err(|_| Error::new(crate::ErrorKind::Io, "the digest thread failed"))?;
    read_result?;
    if stop.load(Ordering::Relaxed) {
        return Err(stopped());
    }
    let mut out = Digests {
        size,
        ..Digests::default()
    };
    md5.finish(&mut out);
    sha.finish(&mut out);
    Ok(out)
}

/// [`digest_file`] on tokio's blocking pool. Dropping the future (a stopped upload) stops
/// the reading threads at their next chunk, so they do not read on for nothing.
pub async fn digest_file_async(path: &Path, req: &DigestRequest) -> Result<Digests> {
    /// Sets the flag when the future holding it is dropped, finished or not.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let path = path.to_owned();
    let req = req.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let _guard = StopOnDrop(Arc::clone(&stop));
    tokio::task::spawn_blocking(move || digest_file_unless(&path, &req, &stop))
        .await
        .map_err(|e| Error::new(crate::ErrorKind::Io, format!("the digest task failed: {e}")))?
}

/// MD5 of a byte slice.
pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    const MIB: usize = 1 << 20;

    fn all() -> DigestRequest {
        DigestRequest {
            file_md5: true,
            part_md5_sizes: vec![4 * MIB as u64, 3 * MIB as u64],
            instant_upload_hashes: true,
            crc64: true,
        }
    }

    #[test]
    fn smh_vector_zeros() {
        let data = vec![0u8; 2 * MIB];
        let mut d = Digester::new(&all());
        d.update(&data);
        let out = d.finish();
        let h = out.instant.unwrap();
        assert_eq!(
            h.beginning_hex(),
            "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58"
        );
        assert_eq!(
            h.full_hex(),
            "b0f7e82d16e99dc466cd1aeec8df5ed780b08f2f2ff3fac6ce90ccfe042d4cae"
        );
    }

    #[test]
    fn smh_vector_counting_bytes_in_odd_slices() {
        let data: Vec<u8> = (0..(5 * MIB / 2)).map(|i| (i % 256) as u8).collect();
        let mut d = Digester::new(&all());
        for piece in data.chunks(77_777) {
            d.update(piece);
        }
        let h = d.finish().instant.unwrap();
        assert_eq!(
            h.beginning_hex(),
            "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83"
        );
        assert_eq!(
            h.full_hex(),
            "92389183bfa175b31cffad45018aa7e19b8bae611a76b2f59ee31c0e08f08139"
        );
    }

    #[test]
    fn crc64_is_xz_ecma182() {
        let mut d = Digester::new(&DigestRequest {
            crc64: true,
            ..DigestRequest::default()
        });
        d.update(b"123456789");
        assert_eq!(d.finish().crc64, Some(0x995d_c9bb_df19_39fa));
    }

    #[test]
    fn md5_known_value() {
        let mut d = Digester::new(&all());
        d.update(b"abc");
        let out = d.finish();
        assert_eq!(out.md5_hex().unwrap(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(out.part_md5s(4 * MIB as u64).unwrap().len(), 1);
    }

    #[test]
    fn empty_source_has_no_instant_hashes() {
        let out = Digester::new(&all()).finish();
        assert_eq!(out.instant, None);
        assert_eq!(out.size, 0);
        assert_eq!(out.part_md5s(3 * MIB as u64).unwrap().len(), 0);
    }

    #[test]
    fn file_pass_equals_streaming_pass() {
        let data: Vec<u8> = (0..(9 * MIB + 12345))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        let from_file = digest_file(f.path(), &all()).unwrap();
        let mut d = Digester::new(&all());
        d.update(&data);
        let streamed = d.finish();
        assert_eq!(from_file, streamed);
        let parts = from_file.part_md5s(4 * MIB as u64).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], md5(&data[8 * MIB..]));
        assert_eq!(from_file.md5.unwrap(), md5(&data));
    }

    #[test]
    fn missing_file_is_a_typed_error() {
        let err = digest_file(Path::new("/nonexistent/marketmedia"), &all()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    }

    /// The chain computed directly from its definition, for comparison.
    fn chain_reference(data: &[u8]) -> Option<InstantHashes> {
        let mut prev: Option<[u8; 32]> = None;
        let mut beginning = None;
        for chunk in data.chunks(MIB) {
            let mut h = Sha256::new();
            if let Some(p) = prev {
                h.update(p);
            }
            h.update(chunk);
            let out: [u8; 32] = h.finalize().into();
            beginning.get_or_insert(out);
            prev = Some(out);
        }
        Some(InstantHashes {
            beginning: beginning?,
            full: prev?,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn slicing_never_changes_digests(len in 0usize..(3 * MIB + 10), cut in 1usize..400_000, part in 1u64..(2 * MIB as u64)) {
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let req = DigestRequest { file_md5: true, part_md5_sizes: vec![part], instant_upload_hashes: true, crc64: true };
            let mut whole = Digester::new(&req);
            whole.update(&data);
            let mut sliced = Digester::new(&req);
            for piece in data.chunks(cut) { sliced.update(piece); }
            let a = whole.finish();
            let b = sliced.finish();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(a.instant, chain_reference(&data));
            let expected: Vec<[u8; 16]> = data.chunks(part as usize).map(md5).collect();
            prop_assert_eq!(a.part_md5s(part).unwrap(), expected.as_slice());
        }
    }
}
