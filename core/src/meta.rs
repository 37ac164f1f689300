//! What describes one upload besides its bytes: its title, description, cover, usage and
//! where it goes. They travel with the upload (object_store's `PutMultipartOpts`, OpenDAL's
//! `OpWrite`), not with the client, so one client serves a whole catalog.
//!
//! An application sets them per upload with [`crate::UploadDriver::with_meta`] (or
//! [`crate::UploadOptions::meta`]); the driver hands them to the provider in
//! [`crate::raw::SourceInfo::meta`] for `preflight` and `init`. A provider declares the ones
//! it cannot do without in [`crate::raw::UploadRules::required_meta`], and the driver refuses an
//! upload missing one before any request (as a batch can, for a whole manifest, before it
//! starts: [`UploadMeta::check`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rules::UploadRules;
use crate::secret::RedactedUrl;

/// One per-upload field, by the name manifests and settings spell it (`title`, `cover_url`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MetaField {
    /// The title the platform shows (Lazada's `title`, eBay's `title`).
    Title,
    /// A longer description (eBay's `description`).
    Description,
    /// A public http(s) URL of the cover image (Lazada's `coverUrl`).
    CoverUrl,
    /// What the video is for, in the platform's words (Lazada's `videoUsage`:
    /// `pro_main_video` or `im`).
    Usage,
    /// The directory the file goes to (SMH: `a/b` in the space), instead of the client's.
    Directory,
    /// The name the platform stores and shows, instead of the source file's.
    FileName,
}

impl MetaField {
    /// Every field.
    pub const ALL: [MetaField; 6] = [
        MetaField::Title,
        MetaField::Description,
        MetaField::CoverUrl,
        MetaField::Usage,
        MetaField::Directory,
        MetaField::FileName,
    ];

    /// The field's name: `title`, `description`, `cover_url`, `usage`, `directory`,
    /// `file_name`.
    pub fn name(self) -> &'static str {
        match self {
            MetaField::Title => "title",
            MetaField::Description => "description",
            MetaField::CoverUrl => "cover_url",
            MetaField::Usage => "usage",
            MetaField::Directory => "directory",
            MetaField::FileName => "file_name",
        }
    }
}

impl fmt::Display for MetaField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MetaField {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let name = s.trim().to_ascii_lowercase().replace('-', "_");
        MetaField::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "{s:?} is not a per-upload field (title, description, cover_url, usage, \
                     directory, file_name)"
                ))
            })
    }
}

/// The per-upload fields of one upload: what the platform shows and where the file goes.
/// Every field is optional; a provider reads those it knows and declares the ones it needs
/// ([`UploadRules::required_meta`]). An empty or blank value counts as absent.
///
/// ```
/// use marketmedia_core::{MetaField, UploadMeta};
/// let meta = UploadMeta::default()
///     .with_title("Blue enamel kettle")
///     .with_cover_url("https://cdn.example/kettle.jpg");
/// assert_eq!(meta.get(MetaField::Title), Some("Blue enamel kettle"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadMeta {
    /// [`MetaField::Title`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// [`MetaField::Description`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// [`MetaField::CoverUrl`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_url: Option<String>,
    /// [`MetaField::Usage`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// [`MetaField::Directory`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// [`MetaField::FileName`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

impl UploadMeta {
    /// Sets the title.
    pub fn with_title(self, title: impl Into<String>) -> Self {
        self.with(MetaField::Title, title)
    }

    /// Sets the description.
    pub fn with_description(self, description: impl Into<String>) -> Self {
        self.with(MetaField::Description, description)
    }

    /// Sets the cover image URL.
    pub fn with_cover_url(self, cover_url: impl Into<String>) -> Self {
        self.with(MetaField::CoverUrl, cover_url)
    }

    /// Sets the usage.
    pub fn with_usage(self, usage: impl Into<String>) -> Self {
        self.with(MetaField::Usage, usage)
    }

    /// Sets the target directory.
    pub fn with_directory(self, directory: impl Into<String>) -> Self {
        self.with(MetaField::Directory, directory)
    }

    /// Sets the name the platform stores.
    pub fn with_file_name(self, file_name: impl Into<String>) -> Self {
        self.with(MetaField::FileName, file_name)
    }

    /// Sets `field`.
    pub fn with(mut self, field: MetaField, value: impl Into<String>) -> Self {
        *self.slot(field) = Some(value.into());
        self
    }

    fn slot(&mut self, field: MetaField) -> &mut Option<String> {
        match field {
            MetaField::Title => &mut self.title,
            MetaField::Description => &mut self.description,
            MetaField::CoverUrl => &mut self.cover_url,
            MetaField::Usage => &mut self.usage,
            MetaField::Directory => &mut self.directory,
            MetaField::FileName => &mut self.file_name,
        }
    }

    /// `field`'s value, trimmed; `None` when absent or blank.
    pub fn get(&self, field: MetaField) -> Option<&str> {
        let value = match field {
            MetaField::Title => &self.title,
            MetaField::Description => &self.description,
            MetaField::CoverUrl => &self.cover_url,
            MetaField::Usage => &self.usage,
            MetaField::Directory => &self.directory,
            MetaField::FileName => &self.file_name,
        };
        value.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    /// These fields, each taken from `defaults` where absent here: a request's fields over a
    /// catalog's or an account's.
    pub fn or(mut self, defaults: &UploadMeta) -> Self {
        for field in MetaField::ALL {
            if self.get(field).is_none() {
                if let Some(value) = defaults.get(field) {
                    *self.slot(field) = Some(value.to_owned());
                }
            }
        }
        self
    }

    /// The fields of `pairs` whose names are per-upload fields ([`MetaField::name`]); other
    /// names are left to the caller (a manifest's columns that are not per-upload fields).
    pub fn from_fields<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut meta = UploadMeta::default();
        for (name, value) in pairs {
            if let Ok(field) = name.parse::<MetaField>() {
                *meta.slot(field) = Some(value.to_owned());
            }
        }
        meta
    }

    /// The fields `rules` require that these lack, in declaration order.
    pub fn missing(&self, rules: &UploadRules) -> Vec<MetaField> {
        rules
            .required_meta
            .iter()
            .copied()
            .filter(|f| self.get(*f).is_none())
            .collect()
    }

    /// Refuses, before any request, an upload lacking a field `rules` require:
    /// [`crate::ErrorKind::InvalidInput`] naming every missing field.
    pub fn check(&self, rules: &UploadRules) -> Result<()> {
        let missing = self.missing(rules);
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = missing.iter().map(|f| f.name()).collect();
        Err(Error::invalid_input(format!(
            "{} needs {} for every video; give {} with the upload",
            rules.platform,
            names.join(" and "),
            if names.len() == 1 { "it" } else { "them" },
        ))
        .with_platform(&rules.platform))
    }
}

impl fmt::Debug for UploadMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A cover URL may be a signed CDN link: shown through the one redaction.
        f.debug_struct("UploadMeta")
            .field("title", &self.title)
            .field("description", &self.description)
            .field(
                "cover_url",
                &self.cover_url.as_deref().map(RedactedUrl::new),
            )
            .field("usage", &self.usage)
            .field("directory", &self.directory)
            .field("file_name", &self.file_name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::PartSizeRule;
    use crate::ErrorKind;

    fn rules(required: &[MetaField]) -> UploadRules {
        UploadRules {
            required_meta: required.to_vec(),
            ..UploadRules::new("lazada", PartSizeRule::Exact(10), 100)
        }
    }

    #[test]
    fn names_round_trip() {
        for f in MetaField::ALL {
            assert_eq!(f.name().parse::<MetaField>().unwrap(), f);
        }
        assert_eq!(
            "Cover-URL".parse::<MetaField>().unwrap(),
            MetaField::CoverUrl
        );
        assert!("product".parse::<MetaField>().is_err());
    }

    #[test]
    fn missing_fields_are_named_and_blank_is_missing() {
        let r = rules(&[MetaField::Title, MetaField::CoverUrl]);
        let err = UploadMeta::default().check(&r).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.platform(), Some("lazada"));
        assert!(err.to_string().contains("title and cover_url"), "{err}");
        let meta = UploadMeta::default()
            .with_title("  ")
            .with_cover_url("https://c/x.jpg");
        assert_eq!(meta.missing(&r), vec![MetaField::Title]);
        assert!(meta.with_title("Kettle").check(&r).is_ok());
        assert!(UploadMeta::default().check(&rules(&[])).is_ok());
    }

    #[test]
    fn defaults_fill_only_what_is_absent() {
        let request = UploadMeta::default().with_title("Request");
        let account = UploadMeta::default()
            .with_title("Account")
            .with_cover_url("https://c/a.jpg");
        let merged = request.or(&account);
        assert_eq!(merged.get(MetaField::Title), Some("Request"));
        assert_eq!(merged.get(MetaField::CoverUrl), Some("https://c/a.jpg"));
    }

    #[test]
    fn fields_by_name_and_debug_redacts_the_cover() {
        let meta = UploadMeta::from_fields([
            ("title", "Kettle"),
            ("cover_url", "https://u:pw@c.example/x.jpg?sig=abc"),
            ("sku", "K-1"),
        ]);
        assert_eq!(meta.get(MetaField::Title), Some("Kettle"));
        let shown = format!("{meta:?}");
        assert!(!shown.contains("abc") && !shown.contains("pw"), "{shown}");
        assert!(shown.contains("c.example/x.jpg"), "{shown}");
        let json = serde_json::to_string(&UploadMeta::default().with_title("T")).unwrap();
        assert_eq!(json, r#"{"title":"T"}"#);
    }
}
