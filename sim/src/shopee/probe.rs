//! Reads a video's duration from its MP4/MOV container, the way the platform's transcoder
//! rejects videos that are too short or too long: box headers are walked (the `mdat` payload
//! is skipped, never decoded) and only `moov/mvhd` is decoded, with mp4-atom.

use mp4_atom::{Decode, Header, Mvhd};

/// One box: its four-character kind, the whole box (header included) and its body.
struct RawBox<'a> {
    kind: [u8; 4],
    whole: &'a [u8],
    body: &'a [u8],
}

/// Splits `buf` into its sequence of boxes (one nesting level).
fn boxes(buf: &[u8]) -> Result<Vec<RawBox<'_>>, String> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < buf.len() {
        let rest = &buf[offset..];
        if rest.len() < 8 {
            return Err(format!("truncated box header at byte {offset}"));
        }
        let mut cursor: &[u8] = rest;
        let header = Header::decode(&mut cursor)
            .map_err(|e| format!("bad box header at byte {offset}: {e}"))?;
        let header_len = rest.len() - cursor.len();
        let kind = *header.kind.as_ref();
        if !kind.iter().all(|b| (0x20..=0x7E).contains(b)) {
            return Err(format!("not a box type at byte {offset}"));
        }
        let body_len = header.size.unwrap_or(rest.len() - header_len);
        let end = header_len
            .checked_add(body_len)
            .filter(|end| *end <= rest.len())
            .ok_or_else(|| {
                format!(
                    "box '{}' at byte {offset} runs past the end of the file",
                    String::from_utf8_lossy(&kind)
                )
            })?;
        out.push(RawBox {
            kind,
            whole: &rest[..end],
            body: &rest[header_len..end],
        });
        offset += end;
    }
    Ok(out)
}

/// The duration in seconds that `moov/mvhd` declares, or why the file is not a usable MP4/MOV.
pub(crate) fn video_duration_secs(file: &[u8]) -> Result<f64, String> {
    if file.len() < 8 {
        return Err("the file is too small to be a video".into());
    }
    let top = boxes(file)?;
    let moov = top
        .iter()
        .find(|b| &b.kind == b"moov")
        .ok_or("no moov box")?;
    let children = boxes(moov.body)?;
    let mvhd = children
        .iter()
        .find(|b| &b.kind == b"mvhd")
        .ok_or("no mvhd box in moov")?;
    let mut whole = mvhd.whole;
    let mvhd = Mvhd::decode(&mut whole).map_err(|e| format!("bad mvhd box: {e}"))?;
    if mvhd.timescale == 0 {
        return Err("mvhd timescale is 0".into());
    }
    if mvhd.duration == u64::MAX || mvhd.duration == u64::from(u32::MAX) {
        return Err("mvhd duration is unknown".into());
    }
    Ok(mvhd.duration as f64 / f64::from(mvhd.timescale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::sample_mp4;
    use std::time::Duration;

    #[test]
    fn reads_fixture_duration() {
        let v = sample_mp4(Duration::from_millis(15_500), 100_000).unwrap();
        assert_eq!(video_duration_secs(&v).unwrap(), 15.5);
    }

    #[test]
    fn rejects_garbage() {
        assert!(video_duration_secs(b"hello world, not a video").is_err());
        assert!(video_duration_secs(&crate::fixtures::sample_jpeg(1000)).is_err());
        assert!(video_duration_secs(&[]).is_err());
    }

    #[test]
    fn reads_mvhd_v0() {
        // A hand-written QuickTime-style file: moov(mvhd v0) then mdat.
        let mut mvhd = vec![0u8; 108];
        mvhd[..4].copy_from_slice(&108u32.to_be_bytes());
        mvhd[4..8].copy_from_slice(b"mvhd");
        mvhd[20..24].copy_from_slice(&600u32.to_be_bytes()); // timescale
        mvhd[24..28].copy_from_slice(&(600u32 * 20).to_be_bytes()); // 20 s
        let mut file = Vec::new();
        file.extend_from_slice(&(8 + 108u32).to_be_bytes());
        file.extend_from_slice(b"moov");
        file.extend_from_slice(&mvhd);
        file.extend_from_slice(&16u32.to_be_bytes());
        file.extend_from_slice(b"mdat");
        file.extend_from_slice(&[7u8; 8]);
        assert_eq!(video_duration_secs(&file).unwrap(), 20.0);
    }
}
