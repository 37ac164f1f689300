//! The product image calls: `/image/upload` and `/image/migrate`.

use md5::{Digest, Md5};
use serde_json::{json, Value};

use super::calls::ReceivedRequest;
use super::calls::{codes, ApiError};
use super::video::required;
use super::LazadaSimConfig;
use super::{ImageInfo, ImageSource, Store};

/// An image format the platform accepts, recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// `FF D8 FF`.
    Jpeg,
    /// `89 50 4E 47 0D 0A 1A 0A`.
    Png,
}

impl ImageFormat {
    /// Recognises JPEG or PNG by magic bytes.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else {
            None
        }
    }

    fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
        }
    }
}

/// (width, height) from the PNG IHDR or the first JPEG SOFn marker; `None` when the header
/// cannot be read (the simulator then does not enforce the pixel limit).
pub fn dimensions(format: ImageFormat, bytes: &[u8]) -> Option<(u32, u32)> {
    let be16 = |at: usize| -> Option<u32> {
        Some(u32::from(u16::from_be_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
            *bytes.get(at + 2)?,
            *bytes.get(at + 3)?,
        ]))
    };
    match format {
        ImageFormat::Png => {
            if bytes.get(12..16)? != b"IHDR" {
                return None;
            }
            Some((be32(16)?, be32(20)?))
        }
        ImageFormat::Jpeg => {
            let mut at = 2;
            loop {
                if *bytes.get(at)? != 0xFF {
                    return None;
                }
                let marker = *bytes.get(at + 1)?;
                if marker == 0xFF {
                    at += 1;
                    continue;
                }
                let is_sof =
                    (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
                if is_sof {
                    return Some((be16(at + 7)?, be16(at + 5)?));
                }
                if matches!(marker, 0xD8 | 0x01 | 0xD0..=0xD7) {
                    at += 2;
                    continue;
                }
                at += 2 + usize::try_from(be16(at + 2)?).ok()?;
            }
        }
    }
}

fn image_url(cfg: &LazadaSimConfig, hash: &str, ext: &str) -> String {
    format!("{}/p/{hash}.{ext}", cfg.cdn_base_url.trim_end_matches('/'))
}

fn answer(store: &mut Store, info: ImageInfo) -> Value {
    let data = json!({ "image": { "url": info.url, "hash_code": info.hash_code } });
    store.images.push(info);
    store.counters.images_accepted += 1;
    data
}

/// `/image/upload`.
pub(crate) fn upload(
    store: &mut Store,
    cfg: &LazadaSimConfig,
    r: &ReceivedRequest,
) -> Result<Value, ApiError> {
    let file = r.file("image").ok_or_else(|| ApiError::missing("image"))?;
    let bytes = &file.bytes;
    let format = ImageFormat::sniff(bytes).ok_or_else(|| {
        ApiError::gateway(
            codes::ILLEGAL_PARAMETER,
            "The image must be a JPG or PNG file",
        )
    })?;
    if bytes.len() > cfg.max_image_bytes {
        return Err(ApiError::gateway(
            codes::ILLEGAL_PARAMETER,
            format!(
                "The image is {} bytes; the maximum is {} bytes",
                bytes.len(),
                cfg.max_image_bytes
            ),
        ));
    }
    if let Some((w, h)) = dimensions(format, bytes) {
        let max = cfg.max_image_dimension;
        if w > max || h > max {
            return Err(ApiError::gateway(
                codes::ILLEGAL_PARAMETER,
                format!("The image is {w}x{h} pixels; the maximum is {max}x{max}"),
            ));
        }
    }
    let hash_code = hex::encode(Md5::digest(bytes));
    let url = image_url(cfg, &hash_code, format.extension());
    Ok(answer(
        store,
        ImageInfo {
            url,
            hash_code,
            source: ImageSource::Upload { size: bytes.len() },
        },
    ))
}

fn xml_url(payload: &str) -> Option<String> {
    let start = payload.find("<Url>")? + "<Url>".len();
    let end = start + payload[start..].find("</Url>")?;
    let raw = payload[start..end].trim();
    let raw = raw
        .strip_prefix("<![CDATA[")
        .and_then(|s| s.strip_suffix("]]>"))
        .unwrap_or(raw)
        .trim();
    Some(raw.replace("&amp;", "&"))
}

/// `/image/migrate`.
pub(crate) fn migrate(
    store: &mut Store,
    cfg: &LazadaSimConfig,
    r: &ReceivedRequest,
) -> Result<Value, ApiError> {
    let payload = required(r, "payload")?;
    let url = xml_url(payload).filter(|u| !u.is_empty()).ok_or_else(|| {
        ApiError::gateway(
            codes::ILLEGAL_PARAMETER,
            "payload must be <Request><Image><Url>...</Url></Image></Request>",
        )
    })?;
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(ApiError::gateway(
            codes::ILLEGAL_PARAMETER,
            format!("The image URL must be http(s), got \"{url}\""),
        ));
    }
    let ext = if lower.split('?').next().unwrap_or("").ends_with(".png") {
        "png"
    } else {
        "jpg"
    };
    let hash_code = hex::encode(Md5::digest(url.as_bytes()));
    let image_url = image_url(cfg, &hash_code, ext);
    Ok(answer(
        store,
        ImageInfo {
            url: image_url,
            hash_code,
            source: ImageSource::Migrate { url },
        },
    ))
}
