//! Media sniffing and probing: the format by magic bytes, and an MP4/MOV container's duration
//! from its `moov/mvhd` box (decoded with `mp4-atom`), without reading the media data.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use mp4_atom::{DecodeAtom, FourCC, Header, Mvhd, ReadFrom};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A media format recognised by its magic bytes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MediaFormat {
    /// ISO base media (MP4, M4V).
    Mp4,
    /// Apple QuickTime (MOV).
    QuickTime,
    /// JPEG image.
    Jpeg,
    /// PNG image.
    Png,
    /// GIF image.
    Gif,
    /// WebP image.
    Webp,
    /// Anything else.
    Unknown,
}

impl MediaFormat {
    /// Whether this is a video container.
    pub fn is_video(self) -> bool {
        matches!(self, MediaFormat::Mp4 | MediaFormat::QuickTime)
    }

    /// The MIME type to send.
    pub fn mime(self) -> &'static str {
        match self {
            MediaFormat::Mp4 => "video/mp4",
            MediaFormat::QuickTime => "video/quicktime",
            MediaFormat::Jpeg => "image/jpeg",
            MediaFormat::Png => "image/png",
            MediaFormat::Gif => "image/gif",
            MediaFormat::Webp => "image/webp",
            MediaFormat::Unknown => "application/octet-stream",
        }
    }

    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            MediaFormat::Mp4 => "MP4",
            MediaFormat::QuickTime => "MOV",
            MediaFormat::Jpeg => "JPEG",
            MediaFormat::Png => "PNG",
            MediaFormat::Gif => "GIF",
            MediaFormat::Webp => "WebP",
            MediaFormat::Unknown => "unknown format",
        }
    }
}

/// Recognises a format from the first bytes of a file (16 are enough).
pub fn sniff(head: &[u8]) -> MediaFormat {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return MediaFormat::Jpeg;
    }
    if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return MediaFormat::Png;
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return MediaFormat::Gif;
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return MediaFormat::Webp;
    }
    if head.len() >= 12 {
        let kind = &head[4..8];
        if kind == b"ftyp" {
            return if &head[8..12] == b"qt  " {
                MediaFormat::QuickTime
            } else {
                MediaFormat::Mp4
            };
        }
        if matches!(kind, b"moov" | b"mdat" | b"wide" | b"free" | b"skip") {
            return MediaFormat::QuickTime;
        }
    }
    MediaFormat::Unknown
}

/// What the probe learnt about a video file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// Container format.
    pub format: MediaFormat,
    /// Duration from `mvhd`.
    pub duration: Duration,
}

/// The largest `moov` box the probe will read into memory.
const MAX_MOOV: usize = 64 << 20;

/// Sniffs the format of the file at `path`.
pub fn sniff_file(path: &Path) -> Result<MediaFormat> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(sniff(&head[..n]))
}

/// Reads an MP4/MOV file's duration from `moov/mvhd`, skipping media data. Blocking.
pub fn probe_video(path: &Path) -> Result<VideoInfo> {
    let format = sniff_file(path)?;
    if !format.is_video() {
        return Err(Error::invalid_input(format!(
            "{} is not a video (found {})",
            path.display(),
            format.name()
        )));
    }
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let bad = |why: String| {
        Error::invalid_input(format!(
            "{} is not a readable {} file: {why}",
            path.display(),
            format.name()
        ))
    };
    let mut pos = 0u64;
    while pos < len {
        file.seek(SeekFrom::Start(pos))?;
        let header = Header::read_from(&mut file).map_err(|e| bad(format!("box header: {e}")))?;
        let header_len = file.stream_position()? - pos;
        let body_len = match header.size {
            Some(n) => n as u64,
            None => len - pos - header_len,
        };
        if header.kind == FourCC::new(b"moov") {
            if body_len as usize > MAX_MOOV {
                return Err(bad("moov box too large".into()));
            }
            let mut body = vec![0u8; body_len as usize];
            file.read_exact(&mut body)
                .map_err(|e| bad(format!("truncated moov: {e}")))?;
            let duration = mvhd_duration(&body).map_err(bad)?;
            return Ok(VideoInfo { format, duration });
        }
        pos = pos
            .checked_add(header_len + body_len)
            .ok_or_else(|| bad("box size overflow".into()))?;
    }
    Err(bad("no moov box".into()))
}

fn mvhd_duration(moov_body: &[u8]) -> std::result::Result<Duration, String> {
    let mut buf = moov_body;
    while buf.len() >= 8 {
        let header = <Header as mp4_atom::Decode>::decode(&mut buf).map_err(|e| e.to_string())?;
        let size = header.size.unwrap_or(buf.len());
        if size > buf.len() {
            return Err("truncated box inside moov".into());
        }
        let (body, rest) = buf.split_at(size);
        if header.kind == FourCC::new(b"mvhd") {
            let mut body = body;
            let mvhd = Mvhd::decode_atom(&header, &mut body).map_err(|e| e.to_string())?;
            if mvhd.timescale == 0 {
                return Err("mvhd timescale is 0".into());
            }
            let ms = u128::from(mvhd.duration) * 1000 / u128::from(mvhd.timescale);
            return Ok(Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)));
        }
        buf = rest;
    }
    Err("no mvhd box in moov".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::io::Write;

    fn mvhd_box(timescale: u32, duration: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&108u32.to_be_bytes());
        b.extend_from_slice(b"mvhd");
        b.extend_from_slice(&[0, 0, 0, 0]); // version 0, flags
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate
        b.extend_from_slice(&0x0100u16.to_be_bytes()); // volume
        b.extend_from_slice(&[0u8; 10]);
        for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&[0u8; 24]);
        b.extend_from_slice(&2u32.to_be_bytes());
        assert_eq!(b.len(), 108);
        b
    }

    fn mp4(timescale: u32, duration: u32, brand: &[u8; 4], mdat: usize) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&20u32.to_be_bytes());
        f.extend_from_slice(b"ftyp");
        f.extend_from_slice(brand);
        f.extend_from_slice(&0u32.to_be_bytes());
        f.extend_from_slice(b"isom");
        f.extend_from_slice(&((mdat + 8) as u32).to_be_bytes());
        f.extend_from_slice(b"mdat");
        f.extend(std::iter::repeat_n(7u8, mdat));
        let mvhd = mvhd_box(timescale, duration);
        f.extend_from_slice(&((mvhd.len() + 8) as u32).to_be_bytes());
        f.extend_from_slice(b"moov");
        f.extend_from_slice(&mvhd);
        f
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn reads_duration_after_mdat() {
        let f = write(&mp4(1000, 25_500, b"isom", 100_000));
        let info = probe_video(f.path()).unwrap();
        assert_eq!(info.format, MediaFormat::Mp4);
        assert_eq!(info.duration, Duration::from_millis(25_500));
    }

    #[test]
    fn recognises_quicktime() {
        let f = write(&mp4(600, 600 * 12, b"qt  ", 10));
        let info = probe_video(f.path()).unwrap();
        assert_eq!(info.format, MediaFormat::QuickTime);
        assert_eq!(info.duration, Duration::from_secs(12));
    }

    #[test]
    fn not_a_video_is_invalid_input() {
        let f = write(b"hello, this is text and not a video at all");
        let err = probe_video(f.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn truncated_video_is_invalid_input() {
        let full = mp4(1000, 20_000, b"isom", 50);
        let f = write(&full[..full.len() - 40]);
        let err = probe_video(f.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn sniffs_images() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), MediaFormat::Jpeg);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), MediaFormat::Png);
        assert_eq!(sniff(b"GIF89a......"), MediaFormat::Gif);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), MediaFormat::Webp);
        assert_eq!(sniff(b""), MediaFormat::Unknown);
    }

    proptest::proptest! {
        #[test]
        fn probe_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut data = b"\0\0\0\x14ftypisom\0\0\0\0isom".to_vec();
            data.extend_from_slice(&bytes);
            let f = write(&data);
            let _ = probe_video(f.path());
        }
    }
}
