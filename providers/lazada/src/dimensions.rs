//! Pixel dimensions of JPEG and PNG images from their headers (no decoding), for the
//! 5000 × 5000 px limit of `/image/upload`.

use marketmedia_core::raw::MediaFormat;

/// Width and height in pixels, when the header can be read.
pub fn dimensions(format: MediaFormat, data: &[u8]) -> Option<(u32, u32)> {
    match format {
        MediaFormat::Png => png(data),
        MediaFormat::Jpeg => jpeg(data),
        _ => None,
    }
}

fn be_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be_u16(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(..2)?.try_into().ok()?))
}

/// PNG: the IHDR chunk follows the 8-byte signature; width and height at 16..24.
fn png(data: &[u8]) -> Option<(u32, u32)> {
    if data.get(12..16)? != b"IHDR" {
        return None;
    }
    Some((be_u32(data.get(16..)?)?, be_u32(data.get(20..)?)?))
}

/// JPEG: walk the marker segments to the first start-of-frame (SOF0–SOF15 but DHT, JPG, DAC).
fn jpeg(data: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2; // after SOI
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2; // standalone markers
            continue;
        }
        let len = usize::from(be_u16(data.get(i + 2..)?)?);
        let is_sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let h = be_u16(data.get(i + 5..)?)?;
            let w = be_u16(data.get(i + 7..)?)?;
            return Some((u32::from(w), u32::from(h)));
        }
        if marker == 0xDA || len < 2 {
            return None; // start of scan before any frame header: give up
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        v.extend_from_slice(b"IHDR");
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    pub(crate) fn jpeg_header(w: u16, h: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        v.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    #[test]
    fn reads_png_and_jpeg_headers() {
        assert_eq!(
            dimensions(MediaFormat::Png, &png_header(640, 480)),
            Some((640, 480))
        );
        assert_eq!(
            dimensions(MediaFormat::Jpeg, &jpeg_header(6000, 10)),
            Some((6000, 10))
        );
    }

    #[test]
    fn truncated_or_odd_headers_give_none() {
        let j = jpeg_header(10, 10);
        for n in 0..j.len() - 12 {
            let _ = dimensions(MediaFormat::Jpeg, &j[..n]);
        }
        assert_eq!(dimensions(MediaFormat::Png, &png_header(1, 1)[..14]), None);
        assert_eq!(
            dimensions(MediaFormat::Jpeg, &[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]),
            None
        );
        assert_eq!(dimensions(MediaFormat::Gif, b"GIF89a"), None);
    }
}
