//! A marketplace as the batch engine sees it: its rules, its account, its uploaders, and how
//! many uploads it takes at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use marketmedia_core::raw::{ImageRules, UploadRules};
use marketmedia_core::{ChunkedVideoUploader, ImageUploader, Result};

/// A marketplace's own fields of one product (`title`, `cover_url`…).
pub type Fields = BTreeMap<String, String>;

/// Uploads in flight per marketplace across the batch, by default. Each video upload already
/// keeps up to [`marketmedia_core::DEFAULT_CONCURRENCY`] parts in flight, and core caps the
/// requests per marketplace process-wide (`raw::http::set_request_limit`, 16 by default), so
/// two or three uploads fill a marketplace's link; four keep it full while one commits.
pub const DEFAULT_UPLOADS_PER_MARKET: usize = 4;

/// Builds the video uploader for one product's fields (Lazada takes a title and a cover per
/// video).
pub type VideoFactory = Arc<dyn Fn(&Fields) -> Result<Arc<dyn ChunkedVideoUploader>> + Send + Sync>;

/// A marketplace of the batch.
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
    /// The video rules, when it takes videos.
    pub video_rules: Option<UploadRules>,
    /// The image rules, when it takes images.
    pub image_rules: Option<ImageRules>,
    /// Fields every product needs here (e.g. Lazada's `title` and `cover_url`), checked
    /// before any request.
    pub required_fields: Vec<String>,
    /// Uploads in flight at once across the batch.
    pub max_uploads: usize,
    video: Option<VideoFactory>,
    images: Option<Arc<dyn ImageUploader>>,
}

impl std::fmt::Debug for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Market")
            .field("name", &self.name)
            .field("platform", &self.platform)
            .field("account", &self.account)
            .field("max_uploads", &self.max_uploads)
            .finish_non_exhaustive()
    }
}

impl Market {
    /// A marketplace with no uploader yet; add them with [`Market::with_video`],
    /// [`Market::with_video_factory`] and [`Market::with_images`].
    pub fn new(name: impl Into<String>, account: impl Into<String>) -> Market {
        let name = name.into().to_ascii_lowercase();
        Market {
            platform: name.clone(),
            name,
            account: account.into(),
            video_rules: None,
            image_rules: None,
            required_fields: Vec::new(),
            max_uploads: DEFAULT_UPLOADS_PER_MARKET,
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

    /// Takes videos with this uploader, whatever the product's fields.
    pub fn with_video(self, uploader: Arc<dyn ChunkedVideoUploader>) -> Market {
        let rules = uploader.rules().clone();
        let factory: VideoFactory = Arc::new(move |_| Ok(uploader.clone()));
        self.with_video_factory(rules, factory)
    }

    /// Takes videos with an uploader built per product from its fields.
    pub fn with_video_factory(mut self, rules: UploadRules, factory: VideoFactory) -> Market {
        self.video_rules = Some(rules);
        self.video = Some(factory);
        self
    }

    /// Takes images with this uploader.
    pub fn with_images(mut self, uploader: Arc<dyn ImageUploader>) -> Market {
        self.image_rules = Some(uploader.image_rules().clone());
        self.images = Some(uploader);
        self
    }

    /// Requires these fields of every product.
    pub fn requiring(mut self, fields: &[&str]) -> Market {
        self.required_fields = fields.iter().map(|f| (*f).to_owned()).collect();
        self
    }

    /// Keeps at most `n` uploads (at least one) in flight at once across the batch.
    pub fn with_max_uploads(mut self, n: usize) -> Market {
        self.max_uploads = n.max(1);
        self
    }

    /// The video uploader for a product with these fields.
    pub fn video(&self, fields: &Fields) -> Option<Result<Arc<dyn ChunkedVideoUploader>>> {
        self.video.as_ref().map(|f| f(fields))
    }

    /// The image uploader.
    pub fn images(&self) -> Option<&Arc<dyn ImageUploader>> {
        self.images.as_ref()
    }
}
