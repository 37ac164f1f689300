//! Image uploads: a second, simpler trait, with each platform's image rules as data and the
//! checks that run before any request.

use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::media::{sniff, MediaFormat};
use crate::units::human_sizes;
use crate::uploader::AssetUrl;

/// A platform's image rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRules {
    /// Platform name.
    pub platform: String,
    /// Most images in one upload request, when the platform limits it.
    pub max_images: Option<u32>,
    /// Largest image in bytes.
    pub max_bytes: u64,
    /// Accepted formats, by magic bytes.
    pub formats: Vec<MediaFormat>,
}

/// An image to upload, held in memory (images are small and bounded by the rules).
#[derive(Clone, PartialEq, Eq)]
pub struct ImageSource {
    /// File name to present to the platform.
    pub file_name: String,
    /// Format by magic bytes.
    pub format: MediaFormat,
    /// The bytes.
    pub data: Bytes,
}

impl std::fmt::Debug for ImageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageSource")
            .field("file_name", &self.file_name)
            .field("format", &self.format)
            .field("len", &self.data.len())
            .finish()
    }
}

impl ImageSource {
    /// An image from bytes; the format is sniffed.
    pub fn from_bytes(file_name: impl Into<String>, data: impl Into<Bytes>) -> Self {
        let data = data.into();
        ImageSource {
            file_name: file_name.into(),
            format: sniff(&data),
            data,
        }
    }

    /// Reads an image file, refusing anything larger than `max_bytes` without reading it.
    /// Every error names the path.
    pub async fn read(path: &Path, max_bytes: u64) -> Result<Self> {
        let meta = tokio::fs::metadata(path).await.map_err(|e| {
            Error::invalid_input(format!("cannot open {}: {e}", path.display())).with_source(e)
        })?;
        if meta.is_dir() {
            return Err(Error::invalid_input(format!(
                "{} is a directory, not an image file",
                path.display()
            )));
        }
        if meta.len() > max_bytes {
            let (is, max) = human_sizes(meta.len(), max_bytes);
            return Err(Error::invalid_input(format!(
                "{} is {is}; no marketplace accepts images over {max}",
                path.display()
            )));
        }
        let data = tokio::fs::read(path).await.map_err(|e| {
            Error::invalid_input(format!("cannot read {}: {e}", path.display())).with_source(e)
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        Ok(ImageSource::from_bytes(name, data))
    }
}

/// An uploaded image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadedImage {
    /// Platform name.
    pub platform: String,
    /// The platform's image id (or URL/hash when it has no id).
    pub id: String,
    /// Where the image is served.
    pub urls: Vec<AssetUrl>,
    /// Other platform facts.
    pub details: serde_json::Value,
}

/// Checks images against a platform's rules: count, then each image's size and format
/// ([`check_image`]). No network.
pub fn check_images(rules: &ImageRules, images: &[ImageSource]) -> Result<()> {
    let platform = rules.platform.as_str();
    if images.is_empty() {
        return Err(Error::invalid_input("no image given").with_platform(platform));
    }
    if let Some(max) = rules.max_images {
        if images.len() > max as usize {
            return Err(Error::invalid_input(format!(
                "{} images given; {platform} accepts at most {max} per upload",
                images.len()
            ))
            .with_platform(platform));
        }
    }
    images.iter().try_for_each(|img| check_image(rules, img))
}

/// How a format reads in a sentence: `a GIF`, `in an unknown format`.
fn described(format: MediaFormat) -> String {
    match format {
        MediaFormat::Unknown => "in an unknown format".to_owned(),
        other => format!("a {}", other.name()),
    }
}

/// Checks one image against a platform's rules: not empty, size, format. Every limit it
/// breaks is named in the one error (`big.gif is 12.0 MiB and a GIF; shopee accepts images
/// up to 10.0 MiB and JPEG, PNG`). No network.
pub fn check_image(rules: &ImageRules, img: &ImageSource) -> Result<()> {
    let platform = rules.platform.as_str();
    if img.data.is_empty() {
        return Err(
            Error::invalid_input(format!("{} is empty", img.file_name)).with_platform(platform)
        );
    }
    let mut what = Vec::new();
    let mut limits = Vec::new();
    let len = img.data.len() as u64;
    if len > rules.max_bytes {
        let (is, max) = human_sizes(len, rules.max_bytes);
        what.push(format!("is {is}"));
        limits.push(format!("images up to {max}"));
    }
    if !rules.formats.contains(&img.format) {
        let accepted: Vec<&str> = rules.formats.iter().map(|f| f.name()).collect();
        what.push(format!("is {}", described(img.format)));
        limits.push(accepted.join(", "));
    }
    if what.is_empty() {
        return Ok(());
    }
    let what = what.join(" and ").replacen(" and is ", " and ", 1);
    Err(Error::invalid_input(format!(
        "{} {what}; {platform} accepts {}",
        img.file_name,
        limits.join(" and ")
    ))
    .with_platform(platform))
}

/// The most memory decoding one image may take (a 5000 × 5000 RGBA image needs 100 MB).
const DECODE_ALLOC_LIMIT: u64 = 512 * 1024 * 1024;

/// Decodes a JPEG or PNG completely (header, dimensions and pixels) and returns its width
/// and height in pixels, so an image with a valid signature but broken contents is refused
/// before it is sent. `Ok(None)` for a format this crate does not decode (GIF, WebP, …):
/// only the platform can judge those. CPU-bound: call it off the async runtime for big
/// images.
pub fn decode_image(img: &ImageSource) -> Result<Option<(u32, u32)>> {
    let format = match img.format {
        MediaFormat::Jpeg => image::ImageFormat::Jpeg,
        MediaFormat::Png => image::ImageFormat::Png,
        _ => return Ok(None),
    };
    let broken = |why: String| {
        Error::invalid_input(format!(
            "{} is not a readable {} image: {why}",
            img.file_name,
            img.format.name()
        ))
    };
    let mut reader =
        image::io::Reader::with_format(std::io::Cursor::new(img.data.as_ref()), format);
    let mut limits = image::io::Limits::default();
    limits.max_alloc = Some(DECODE_ALLOC_LIMIT);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| broken(e.to_string()))?;
    Ok(Some((decoded.width(), decoded.height())))
}

/// Checks decoded dimensions against a platform's documented maximum width and height.
pub fn check_dimensions(
    platform: &str,
    file_name: &str,
    (width, height): (u32, u32),
    (max_width, max_height): (u32, u32),
) -> Result<()> {
    if width <= max_width && height <= max_height {
        return Ok(());
    }
    Err(Error::invalid_input(format!(
        "{file_name} is {width} × {height} px; {platform} accepts images up to \
         {max_width} × {max_height} px"
    ))
    .with_platform(platform))
}

/// A marketplace's image upload.
#[async_trait]
pub trait ImageUploader: Send + Sync {
    /// The platform's image rules.
    fn image_rules(&self) -> &ImageRules;

    /// Uploads images after the caller checked them with [`check_images`]. The outer error is
    /// for the call as a whole; each image has its own result, since platforms accept some
    /// images of a batch and refuse others.
    async fn upload_images(&self, images: &[ImageSource]) -> Result<Vec<Result<UploadedImage>>>;
}

/// Checks the images up front, then uploads them: no request is sent for a batch that breaks
/// the rules.
pub async fn upload_images(
    uploader: &dyn ImageUploader,
    images: &[ImageSource],
) -> Result<Vec<Result<UploadedImage>>> {
    check_images(uploader.image_rules(), images)?;
    uploader.upload_images(images).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn rules() -> ImageRules {
        ImageRules {
            platform: "t".into(),
            max_images: Some(2),
            max_bytes: 10,
            formats: vec![MediaFormat::Jpeg, MediaFormat::Png],
        }
    }

    #[test]
    fn checks_count_size_and_format() {
        let jpg = ImageSource::from_bytes("a.jpg", vec![0xFF, 0xD8, 0xFF, 0xE0]);
        let gif = ImageSource::from_bytes("a.gif", b"GIF89a".to_vec());
        let big = ImageSource::from_bytes("b.jpg", vec![0xFF, 0xD8, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(check_images(&rules(), std::slice::from_ref(&jpg)).is_ok());
        for bad in [
            vec![],
            vec![jpg.clone(), jpg.clone(), jpg.clone()],
            vec![gif],
            vec![big],
        ] {
            let err = check_images(&rules(), &bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        }
    }
}
