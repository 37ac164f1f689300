//! A marketplace as the batch engine sees it: its rules, its account, its uploaders, and how
//! many uploads it takes at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use marketmedia_core::raw::{ImageRules, UploadRules};
use marketmedia_core::{ChunkedVideoUploader, ImageUploader, UploadMeta};

use crate::pace::PaceLimit;

/// A marketplace's own fields of one product (`title`, `cover_url`…), from the manifest.
pub type Fields = BTreeMap<String, String>;

/// Uploads in flight per account an adaptive pace starts with (the default pace,
/// [`PaceLimit::default`], then follows what the account's link takes). Each video upload
/// keeps up to [`marketmedia_core::DEFAULT_CONCURRENCY`] parts in flight, and each account's
/// client caps its requests in flight ([`marketmedia_core::ClientOptions::request_limit`], 16
/// by default).
pub const DEFAULT_UPLOADS_PER_MARKET: usize = crate::pace::ADAPTIVE_START;

/// A marketplace of the batch: one video uploader and one image uploader serve every product
/// (each upload's title, cover… travel with it, [`Market::meta_for`]).
#[derive(Clone)]
pub struct Market {
    /// Its name, as manifests spell it: the account's (`shopee-sg`, or `shopee` for the
    /// account named after its marketplace). Tasks are stored under it.
    pub name: String,
    /// The marketplace it is an account of (`shopee`, `lazada`…): a manifest naming the
    /// marketplace means every account of it. Default: the name.
    pub platform: String,
    /// The account's identity on the platform (`shopee:<partner>:<shop>`…: not a secret, and
    /// not its name, so that renaming it changes nothing). With the content digest, the
    /// idempotence key: the same bytes sent to the same account are uploaded once.
    pub account: String,
    /// The video rules, when it takes videos: among them the per-upload fields every video
    /// needs ([`UploadRules::required_meta`]), checked for every row before any request.
    pub video_rules: Option<UploadRules>,
    /// The image rules, when it takes images.
    pub image_rules: Option<ImageRules>,
    /// The per-upload fields every product's video starts from (an account's configured
    /// title and cover, the sandbox's cover); a row's own fields replace them.
    pub defaults: UploadMeta,
    /// Uploads in flight at once across the batch: a fixed number, or adaptive (the
    /// default: as many as raise the rate the account's link takes, `crate::pace`).
    pub uploads: PaceLimit,
    video: Option<Arc<dyn ChunkedVideoUploader>>,
    images: Option<Arc<dyn ImageUploader>>,
}

impl std::fmt::Debug for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Market")
            .field("name", &self.name)
            .field("platform", &self.platform)
            .field("account", &self.account)
            .field("defaults", &self.defaults)
            .field("uploads", &self.uploads)
            .finish_non_exhaustive()
    }
}

impl Market {
    /// A marketplace with no uploader yet; add them with [`Market::with_video`] and
    /// [`Market::with_images`].
    pub fn new(name: impl Into<String>, account: impl Into<String>) -> Market {
        let name = name.into().to_ascii_lowercase();
        Market {
            platform: name.clone(),
            name,
            account: account.into(),
            video_rules: None,
            image_rules: None,
            defaults: UploadMeta::default(),
            uploads: PaceLimit::default(),
            video: None,
            images: None,
        }
    }

    /// An account of `platform` (when the market's name is the account's, not the
    /// marketplace's).
    pub fn with_platform(mut self, platform: impl Into<String>) -> Market {
        self.platform = platform.into().to_ascii_lowercase();
        self
    }

    /// Whether a manifest's `marketplaces` entry `name` means this market: its own name, or
    /// its marketplace's (every account of it).
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.platform == name
    }

    /// Takes videos with this uploader, for every product.
    pub fn with_video(mut self, uploader: Arc<dyn ChunkedVideoUploader>) -> Market {
        self.video_rules = Some(uploader.rules().clone());
        self.video = Some(uploader);
        self
    }

    /// Takes images with this uploader.
    pub fn with_images(mut self, uploader: Arc<dyn ImageUploader>) -> Market {
        self.image_rules = Some(uploader.image_rules().clone());
        self.images = Some(uploader);
        self
    }

    /// Starts every product's video fields from `defaults` (a row's own replace them).
    pub fn with_defaults(mut self, defaults: UploadMeta) -> Market {
        self.defaults = defaults;
        self
    }

    /// Keeps at most `n` uploads (at least one) in flight at once across the batch, whatever
    /// the link takes.
    pub fn with_max_uploads(mut self, n: usize) -> Market {
        self.uploads = PaceLimit::Fixed(n.max(1));
        self
    }

    /// Limits its uploads in flight as `uploads` says ([`PaceLimit::default`] adapts them
    /// to the link).
    pub fn with_uploads(mut self, uploads: PaceLimit) -> Market {
        self.uploads = uploads;
        self
    }

    /// The video uploader.
    pub fn video(&self) -> Option<&Arc<dyn ChunkedVideoUploader>> {
        self.video.as_ref()
    }

    /// The image uploader.
    pub fn images(&self) -> Option<&Arc<dyn ImageUploader>> {
        self.images.as_ref()
    }

    /// The per-upload fields of a product's video here: the row's fields named like
    /// [`MetaField`](marketmedia_core::MetaField)s (`title`, `cover_url`, `description`,
    /// `usage`, `directory`, `file_name`), the market's [`defaults`](Market::defaults) for
    /// the others.
    pub fn meta_for(&self, fields: &Fields) -> UploadMeta {
        UploadMeta::from_fields(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .or(&self.defaults)
    }
}
