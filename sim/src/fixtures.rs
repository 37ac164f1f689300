//! Test media that every test, example and provider suite uses: MP4 videos of a chosen duration
//! and exact size, and JPEG / PNG / GIF images of an exact size.
//!
//! The videos are real ISO-BMFF containers: `ftyp`, a `moov` holding an `mvhd` that carries the
//! duration, and an `mdat` padded with seeded pseudo-random bytes to reach the requested size
//! exactly, so the MD5 of every part differs and a misplaced part is detected. They are
//! deterministic: the same duration and size always give the same bytes.
//!
//! The images have the right magic numbers and headers — valid enough for magic-byte sniffing,
//! not for decoding.
//!
//! ```
//! use std::time::Duration;
//! use marketmedia_sim::fixtures::{sample_mp4, sample_jpeg};
//!
//! let video = sample_mp4(Duration::from_secs(15), 5 * 1024 * 1024).unwrap();
//! assert_eq!(video.len(), 5 * 1024 * 1024);
//! assert_eq!(&video[4..8], b"ftyp");
//! assert_eq!(&sample_jpeg(1000)[..3], &[0xFF, 0xD8, 0xFF]);
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use mp4_atom::{Encode, Ftyp, Mvhd};

/// The mvhd timescale of the sample videos: milliseconds.
const TIMESCALE: u32 = 1000;

/// How many filler bytes are generated and written at a time.
const CHUNK: usize = 64 * 1024;

/// The smallest MP4 [`write_sample_mp4`] can produce: `ftyp` + `moov`/`mvhd` + an empty `mdat`
/// header. A smaller `total_size` is an error.
pub fn min_mp4_size() -> u64 {
    mp4_head(Duration::from_secs(1))
        .map(|h| h.len() as u64 + 8)
        .unwrap_or(0)
}

/// Writes a valid MP4 of `duration` and exactly `total_size` bytes to `path`, streaming the
/// `mdat` filler to disk in 64 KiB chunks (the file is never held in memory).
///
/// Fails with `InvalidInput` when `total_size` is below [`min_mp4_size`].
pub fn write_sample_mp4(path: &Path, duration: Duration, total_size: u64) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    write_mp4_to(&mut out, duration, total_size)?;
    out.flush()
}

/// The bytes of a valid MP4 of `duration` and exactly `total_size` bytes (the same bytes
/// [`write_sample_mp4`] writes).
pub fn sample_mp4(duration: Duration, total_size: u64) -> io::Result<Vec<u8>> {
    let capacity = usize::try_from(total_size).map_err(|_| invalid("total_size too large"))?;
    let mut out = Vec::with_capacity(capacity);
    write_mp4_to(&mut out, duration, total_size)?;
    Ok(out)
}

/// `ftyp` + `moov(mvhd)`, encoded with mp4-atom.
fn mp4_head(duration: Duration) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    Ftyp {
        major_brand: b"isom".into(),
        minor_version: 512,
        compatible_brands: vec![b"isom".into(), b"iso2".into(), b"mp41".into()],
    }
    .encode(&mut head)
    .map_err(to_io)?;

    let mvhd = Mvhd {
        creation_time: 0,
        modification_time: 0,
        timescale: TIMESCALE,
        duration: u64::try_from(duration.as_millis()).map_err(|_| invalid("duration too long"))?,
        rate: 1.into(),
        volume: 1.into(),
        next_track_id: 2,
        ..Default::default()
    };
    let mut mvhd_bytes = Vec::new();
    mvhd.encode(&mut mvhd_bytes).map_err(to_io)?;

    // moov is written by hand around the encoded mvhd (mp4-atom's `Moov` requires tracks).
    let moov_size = u32::try_from(8 + mvhd_bytes.len()).map_err(|_| invalid("moov too large"))?;
    head.extend_from_slice(&moov_size.to_be_bytes());
    head.extend_from_slice(b"moov");
    head.extend_from_slice(&mvhd_bytes);
    Ok(head)
}

fn write_mp4_to<W: Write>(out: &mut W, duration: Duration, total_size: u64) -> io::Result<()> {
    let head = mp4_head(duration)?;
    let head_len = head.len() as u64;
    // mdat header: 8 bytes, or 16 with a 64-bit size when the box exceeds u32::MAX.
    let small = total_size.saturating_sub(head_len);
    let (mdat_header, payload) = if small <= u64::from(u32::MAX) {
        if small < 8 {
            return Err(invalid(&format!(
                "total_size {total_size} is below the minimum MP4 size {}",
                head_len + 8
            )));
        }
        let mut h = Vec::with_capacity(8);
        h.extend_from_slice(&(small as u32).to_be_bytes());
        h.extend_from_slice(b"mdat");
        (h, small - 8)
    } else {
        let mut h = Vec::with_capacity(16);
        h.extend_from_slice(&1u32.to_be_bytes());
        h.extend_from_slice(b"mdat");
        h.extend_from_slice(&small.to_be_bytes());
        (h, small - 16)
    };
    out.write_all(&head)?;
    out.write_all(&mdat_header)?;

    let seed = 0x6d6d_7369_6d00_0000 ^ (duration.as_millis() as u64) ^ total_size.rotate_left(32);
    let mut rng = SplitMix64(seed);
    let mut buf = vec![0u8; CHUNK];
    let mut left = payload;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        rng.fill(&mut buf[..n]);
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// A JPEG of exactly `len` bytes (at least 22): SOI, a JFIF APP0 segment, seeded filler, EOI.
pub fn sample_jpeg(len: usize) -> Vec<u8> {
    const HEAD: [u8; 20] = [
        0xFF, 0xD8, // SOI
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x01, 0x00, 0x00,
    ];
    framed(&HEAD, &[0xFF, 0xD9], len, 0x4a50_4547)
}

/// A PNG of exactly `len` bytes (at least 45): the 8-byte signature, an IHDR chunk, seeded
/// filler, an IEND chunk.
pub fn sample_png(len: usize) -> Vec<u8> {
    const HEAD: [u8; 33] = [
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, // signature
        0x00, 0x00, 0x00, 0x0D, b'I', b'H', b'D', b'R', // IHDR, 13 bytes
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, // 256 x 256
        0x08, 0x02, 0x00, 0x00, 0x00, // 8-bit RGB
        0xD3, 0x10, 0x3F, 0x31, // CRC
    ];
    const TAIL: [u8; 12] = [
        0x00, 0x00, 0x00, 0x00, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82,
    ];
    framed(&HEAD, &TAIL, len, 0x504e_4700)
}

/// A GIF of exactly `len` bytes (at least 14): `GIF89a`, a logical screen descriptor, seeded
/// filler, the trailer. Useful to check that a platform rejects formats it does not take.
pub fn sample_gif(len: usize) -> Vec<u8> {
    const HEAD: [u8; 13] = [
        b'G', b'I', b'F', b'8', b'9', b'a', 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
    ];
    framed(&HEAD, &[0x3B], len, 0x4749_4600)
}

/// `head` + filler + `tail`, exactly `len` bytes, or `head` + `tail` when `len` is smaller.
fn framed(head: &[u8], tail: &[u8], len: usize, seed: u64) -> Vec<u8> {
    let fill = len.saturating_sub(head.len() + tail.len());
    let mut out = Vec::with_capacity(head.len() + fill + tail.len());
    out.extend_from_slice(head);
    let start = out.len();
    out.resize(start + fill, 0);
    SplitMix64(seed ^ len as u64).fill(&mut out[start..]);
    out.extend_from_slice(tail);
    out
}

/// A tiny, fast, seeded pseudo-random generator (SplitMix64): stable across versions, unlike
/// `rand`'s `StdRng`, so fixture bytes never change.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&last[..n]);
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

fn to_io(err: mp4_atom::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp4_has_exact_size_and_boxes() {
        let v = sample_mp4(Duration::from_millis(12_345), 10_000).unwrap();
        assert_eq!(v.len(), 10_000);
        assert_eq!(&v[4..8], b"ftyp");
        assert!(v.windows(4).any(|w| w == b"mvhd"));
    }

    #[test]
    fn too_small_is_an_error() {
        let min = min_mp4_size();
        assert!(sample_mp4(Duration::from_secs(1), min - 1).is_err());
        assert_eq!(
            sample_mp4(Duration::from_secs(1), min).unwrap().len() as u64,
            min
        );
    }

    #[test]
    fn images_have_exact_len_and_magic() {
        for len in [0usize, 10, 50, 1000] {
            let j = sample_jpeg(len);
            assert_eq!(j.len(), len.max(22));
            assert_eq!(&j[..3], &[0xFF, 0xD8, 0xFF]);
            let p = sample_png(len);
            assert_eq!(p.len(), len.max(45));
            assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
            let g = sample_gif(len);
            assert_eq!(g.len(), len.max(14));
            assert_eq!(&g[..6], b"GIF89a");
        }
    }
}
