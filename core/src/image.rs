//! Image uploads: a second, simpler trait, with each platform's image rules as data and the
//! checks that run before any request.

use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::media::{sniff, MediaFormat};
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
    pub async fn read(path: &Path, max_bytes: u64) -> Result<Self> {
        let meta = tokio::fs::metadata(path).await.map_err(|e| {
            Error::invalid_input(format!("cannot open {}: {e}", path.display())).with_source(e)
        })?;
        if meta.len() > max_bytes {
            return Err(Error::invalid_input(format!(
                "{} is {} bytes; the limit is {max_bytes}",
                path.display(),
                meta.len()
            )));
        }
        let data = tokio::fs::read(path).await?;
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

/// Checks images against a platform's rules: count, size, format. No network.
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
    for img in images {
        if img.data.is_empty() {
            return Err(
                Error::invalid_input(format!("{} is empty", img.file_name)).with_platform(platform)
            );
        }
        if img.data.len() as u64 > rules.max_bytes {
            return Err(Error::invalid_input(format!(
                "{} is {} bytes; {platform} accepts images up to {} bytes",
                img.file_name,
                img.data.len(),
                rules.max_bytes
            ))
            .with_platform(platform));
        }
        if !rules.formats.contains(&img.format) {
            let accepted: Vec<&str> = rules.formats.iter().map(|f| f.name()).collect();
            return Err(Error::invalid_input(format!(
                "{} is {}; {platform} accepts {}",
                img.file_name,
                img.format.name(),
                accepted.join(", ")
            ))
            .with_platform(platform));
        }
    }
    Ok(())
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
