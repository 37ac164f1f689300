//! Test media that every test, example and provider suite uses: MP4 videos of a chosen duration
//! and exact size, and JPEG / PNG / GIF images of an exact size.
//!
//! The videos are real ISO-BMFF containers: `ftyp`, a `moov` holding an `mvhd` that carries the
//! duration, and an `mdat` padded with seeded pseudo-random bytes to reach the requested size
//! exactly, so the MD5 of every part differs and a misplaced part is detected. They are
//! deterministic: the same duration and size always give the same bytes.
//!
//! Two kinds of images:
//!
//! - [`decodable_jpeg`] and [`decodable_png`] are real pictures, encoded with the `image` crate
//!   and padded to the exact size asked with a segment (JPEG comments) or a chunk (a PNG
//!   private ancillary chunk) that decoders skip: every decoder reads their width, height and
//!   pixels. Use them wherever an image is uploaded for real (the sandbox, the examples, the
//!   catalog): a provider may decode every image to send its dimensions, and `marketmedia
//!   images` decodes each before sending.
//!   Below a minimum size ([`min_decodable_jpeg_len`], [`min_decodable_png_len`]: the
//!   encoded picture plus one empty padding segment or chunk) they are an error.
//! - [`sample_jpeg`], [`sample_png`] and [`sample_gif`] have the right magic numbers and
//!   headers followed by seeded filler — valid enough for magic-byte sniffing and size
//!   limits, **not** for decoding — at any size, however small. They are for the tests of
//!   refusals (format, size, count) and for simulators that only sniff.
//!
//! ```
//! use std::time::Duration;
//! use marketmedia_sim::fixtures::{decodable_jpeg, sample_jpeg, sample_mp4};
//!
//! let video = sample_mp4(Duration::from_secs(15), 5 * 1024 * 1024).unwrap();
//! assert_eq!(video.len(), 5 * 1024 * 1024);
//! assert_eq!(&video[4..8], b"ftyp");
//! assert_eq!(&sample_jpeg(1000)[..3], &[0xFF, 0xD8, 0xFF]);
//! let photo = decodable_jpeg(40_000).unwrap();
//! assert_eq!(photo.len(), 40_000);
//! let picture = image::load_from_memory(&photo).unwrap();
//! assert_eq!((picture.width(), picture.height()), (96, 64));
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

/// A JPEG-looking file of exactly `len` bytes (at least 22): SOI, a JFIF APP0 segment, seeded
/// filler, EOI. Its header sniffs as JPEG but it does not decode (no frame, no scan): for
/// refusal and size-limit tests at any size. A real picture is [`decodable_jpeg`].
pub fn sample_jpeg(len: usize) -> Vec<u8> {
    const HEAD: [u8; 20] = [
        0xFF, 0xD8, // SOI
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x01, 0x00, 0x00,
    ];
    framed(&HEAD, &[0xFF, 0xD9], len, 0x4a50_4547)
}

/// A PNG-looking file of exactly `len` bytes (at least 45): the 8-byte signature, an IHDR
/// chunk (256 × 256), seeded filler, an IEND chunk. Its header (dimensions included) reads as
/// PNG but it does not decode (the filler is no chunk): for refusal and size-limit tests at
/// any size. A real picture is [`decodable_png`].
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

/// Width and height of the picture in [`decodable_jpeg`] and [`decodable_png`].
pub const DECODABLE_DIMENSIONS: (u32, u32) = (96, 64);

/// The largest payload of one JPEG segment: its 16-bit length counts itself (2 bytes).
const JPEG_SEGMENT_MAX_PAYLOAD: usize = 65_533;

/// The bytes a JPEG segment adds besides its payload: the marker (2) and the length (2).
const JPEG_SEGMENT_OVERHEAD: usize = 4;

/// The bytes a PNG chunk adds besides its data: length (4), type (4) and CRC (4).
const PNG_CHUNK_OVERHEAD: usize = 12;

/// The type of the padding chunk of [`decodable_png`]: ancillary (lowercase 1st letter),
/// private (lowercase 2nd), reserved bit clear (uppercase 3rd), safe to copy (lowercase 4th),
/// so every decoder skips it.
const PNG_PAD_CHUNK: [u8; 4] = *b"mmPd";

/// The picture of the decodable images: a seeded colour gradient with a little noise, so it
/// compresses to a realistic, stable size.
fn picture() -> Vec<u8> {
    let (w, h) = DECODABLE_DIMENSIONS;
    let mut noise = SplitMix64(0x7069_6374_7572_6500);
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        for x in 0..w {
            let n = (noise.next() & 0x1f) as u32;
            rgb.push(((x * 255 / w + n) & 0xff) as u8);
            rgb.push(((y * 255 / h + n) & 0xff) as u8);
            rgb.push((((x + y) * 255 / (w + h)) & 0xff) as u8);
        }
    }
    rgb
}

/// The picture encoded as a baseline JPEG (quality 85), with no padding.
fn encoded_jpeg() -> io::Result<Vec<u8>> {
    let (w, h) = DECODABLE_DIMENSIONS;
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode(&picture(), w, h, image::ColorType::Rgb8)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(out)
}

/// The picture encoded as a PNG, with no padding.
fn encoded_png() -> io::Result<Vec<u8>> {
    use image::ImageEncoder;
    let (w, h) = DECODABLE_DIMENSIONS;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&picture(), w, h, image::ColorType::Rgb8)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(out)
}

/// The smallest [`decodable_jpeg`]: the encoded picture plus one empty comment segment.
pub fn min_decodable_jpeg_len() -> io::Result<usize> {
    Ok(encoded_jpeg()?.len() + JPEG_SEGMENT_OVERHEAD)
}

/// The smallest [`decodable_png`]: the encoded picture plus one empty padding chunk.
pub fn min_decodable_png_len() -> io::Result<usize> {
    Ok(encoded_png()?.len() + PNG_CHUNK_OVERHEAD)
}

/// A real, decodable JPEG of exactly `len` bytes: a [`DECODABLE_DIMENSIONS`] picture (the same
/// at every size), then, right after SOI, as many comment (COM) segments as the size needs,
/// filled with bytes seeded by `len` (so two sizes are two contents). Deterministic: the same
/// `len` always gives the same bytes.
///
/// Fails with `InvalidInput` below [`min_decodable_jpeg_len`] (a few KiB), and with `Other`
/// if the encoder fails (it does not on this fixed picture).
pub fn decodable_jpeg(len: usize) -> io::Result<Vec<u8>> {
    let jpeg = encoded_jpeg()?;
    let min = jpeg.len() + JPEG_SEGMENT_OVERHEAD;
    if len < min {
        return Err(invalid(&format!(
            "a decodable JPEG takes at least {min} bytes, {len} asked"
        )));
    }
    let mut pad = len - jpeg.len();
    let mut rng = SplitMix64(0x4a50_4547_434f_4d00 ^ len as u64);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&jpeg[..2]); // SOI
    while pad > 0 {
        // Leave at least one segment's overhead for the next segment, if one is needed.
        let mut payload = (pad - JPEG_SEGMENT_OVERHEAD).min(JPEG_SEGMENT_MAX_PAYLOAD);
        let rest = pad - JPEG_SEGMENT_OVERHEAD - payload;
        if rest > 0 && rest < JPEG_SEGMENT_OVERHEAD {
            payload -= JPEG_SEGMENT_OVERHEAD - rest;
        }
        let length = u16::try_from(payload + 2).map_err(|_| invalid("segment too long"))?;
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&length.to_be_bytes());
        let start = out.len();
        out.resize(start + payload, 0);
        rng.fill(&mut out[start..]);
        pad -= JPEG_SEGMENT_OVERHEAD + payload;
    }
    out.extend_from_slice(&jpeg[2..]);
    Ok(out)
}

/// A real, decodable PNG of exactly `len` bytes: a [`DECODABLE_DIMENSIONS`] picture (the same
/// at every size), then, right before IEND, one private ancillary chunk (`mmPd`, with its
/// CRC) filled with bytes seeded by `len` (so two sizes are two contents). Deterministic.
///
/// Fails with `InvalidInput` below [`min_decodable_png_len`] (a few KiB) or above 2 GiB (a
/// PNG chunk's limit), and with `Other` if the encoder fails (it does not on this picture).
pub fn decodable_png(len: usize) -> io::Result<Vec<u8>> {
    let png = encoded_png()?;
    let min = png.len() + PNG_CHUNK_OVERHEAD;
    if len < min {
        return Err(invalid(&format!(
            "a decodable PNG takes at least {min} bytes, {len} asked"
        )));
    }
    let data_len = len - min;
    let length = u32::try_from(data_len)
        .ok()
        .filter(|&n| n <= i32::MAX as u32)
        .ok_or_else(|| invalid("a PNG chunk holds at most 2^31 - 1 bytes"))?;
    // The encoder ends with IEND: 4 length bytes, the type, 4 CRC bytes.
    let iend = png.len() - PNG_CHUNK_OVERHEAD;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&png[..iend]);
    out.extend_from_slice(&length.to_be_bytes());
    let typed = out.len();
    out.extend_from_slice(&PNG_PAD_CHUNK);
    let start = out.len();
    out.resize(start + data_len, 0);
    SplitMix64(0x504e_4750_4144_0000 ^ len as u64).fill(&mut out[start..]);
    let crc = crc32(&out[typed..]);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&png[iend..]);
    Ok(out)
}

/// CRC-32 (ISO-HDLC, the one PNG chunks carry), bitwise: the padding chunk is the only user,
/// and a table or a crate is not worth it for a few megabytes in tests.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
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
    fn crc32_matches_png_chunks() {
        // IEND's CRC, as every PNG carries it.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    /// Every size decodes to the picture, with the exact length, sizes around the segment
    /// limits included; below the minimum is an error.
    #[test]
    fn decodable_images_decode_at_every_size() {
        let (w, h) = DECODABLE_DIMENSIONS;
        let jmin = min_decodable_jpeg_len().unwrap();
        let seg = JPEG_SEGMENT_MAX_PAYLOAD + JPEG_SEGMENT_OVERHEAD;
        let base = jmin - JPEG_SEGMENT_OVERHEAD;
        for len in [
            jmin,
            jmin + 1,
            jmin + 3,
            40_000,
            base + seg - 1,
            base + seg,
            base + seg + 1,
            base + seg + 3,
            base + seg + 4,
            base + 2 * seg + 2,
            3 * 1024 * 1024 + 7,
        ] {
            let j = decodable_jpeg(len).unwrap();
            assert_eq!(j.len(), len);
            let img = image::load_from_memory_with_format(&j, image::ImageFormat::Jpeg)
                .unwrap_or_else(|e| panic!("JPEG of {len} bytes: {e}"));
            assert_eq!((img.width(), img.height()), (w, h), "JPEG of {len} bytes");
            assert_eq!(decodable_jpeg(len).unwrap(), j, "deterministic");
        }
        assert!(decodable_jpeg(jmin - 1).is_err());
        assert!(decodable_jpeg(0).is_err());

        let pmin = min_decodable_png_len().unwrap();
        for len in [pmin, pmin + 1, 40_000, 3 * 1024 * 1024 + 7] {
            let p = decodable_png(len).unwrap();
            assert_eq!(p.len(), len);
            let img = image::load_from_memory_with_format(&p, image::ImageFormat::Png)
                .unwrap_or_else(|e| panic!("PNG of {len} bytes: {e}"));
            assert_eq!((img.width(), img.height()), (w, h), "PNG of {len} bytes");
        }
        assert!(decodable_png(pmin - 1).is_err());
        // Two sizes are two contents, beyond the length.
        let (a, b) = (
            decodable_png(40_000).unwrap(),
            decodable_png(40_001).unwrap(),
        );
        assert_ne!(a[a.len() - 100..], b[b.len() - 100..]);
        let (a, b) = (
            decodable_jpeg(40_000).unwrap(),
            decodable_jpeg(40_001).unwrap(),
        );
        assert_ne!(a[..100], b[..100]);
    }

    /// The minimum sizes stay small enough for every caller (the sandbox's 40 KB images).
    #[test]
    fn decodable_minimums_are_a_few_kib() {
        assert!(min_decodable_jpeg_len().unwrap() < 16 * 1024);
        assert!(min_decodable_png_len().unwrap() < 32 * 1024);
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
