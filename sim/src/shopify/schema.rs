//! The GraphQL schema the simulator serves: the part of Shopify's Admin schema the media
//! upload uses, with Shopify's type, field, argument and enum names (`StagedUploadInput`,
//! `StagedMediaUploadTarget`, `CreateMediaInput`, `FileCreateInput`, the `Media`, `File` and
//! `Node` interfaces over `Video` and `MediaImage`, `MediaStatus`, `FileStatus`,
//! `UnsignedInt64`). `async-graphql` parses, validates and executes the documents.

use std::sync::OnceLock;

use async_graphql::{
    Context, EmptySubscription, Enum, InputObject, InputValueError, InputValueResult, Interface,
    Object, Scalar, ScalarType, Schema, SimpleObject, Value, ID,
};

use super::{Media, MediaOutcome, Resource, ShopifySim, ShopifySimConfig, Staged};

/// The schema type.
pub type ShopifySchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema, built once.
pub fn schema() -> &'static ShopifySchema {
    static SCHEMA: OnceLock<ShopifySchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::build(QueryRoot, MutationRoot, EmptySubscription)
            .limit_depth(12)
            .finish()
    })
}

/// `UnsignedInt64`: a 64-bit unsigned integer, sent as a string (Shopify's examples send
/// `"fileSize": "2048000"`); a JSON number is taken too.
#[derive(Debug, Clone, Copy)]
pub struct UnsignedInt64(pub u64);

#[Scalar]
impl ScalarType for UnsignedInt64 {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse::<u64>()
                .map(UnsignedInt64)
                .map_err(|_| InputValueError::custom(format!("invalid UnsignedInt64 {s:?}"))),
            Value::Number(n) => n
                .as_u64()
                .map(UnsignedInt64)
                .ok_or_else(|| InputValueError::custom("invalid UnsignedInt64")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// `StagedUploadTargetGenerateUploadResource` (the values the media upload uses).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum StagedUploadTargetGenerateUploadResource {
    /// A video.
    Video,
    /// An image.
    Image,
    /// A file.
    File,
    /// A 3D model.
    #[graphql(name = "MODEL_3D")]
    Model3d,
    /// A product image.
    ProductImage,
    /// A collection image.
    CollectionImage,
    /// A shop image.
    ShopImage,
}

/// `StagedUploadHttpMethodType`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum StagedUploadHttpMethodType {
    /// A form POST.
    Post,
    /// A PUT.
    Put,
}

/// `MediaContentType`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum MediaContentType {
    /// A video.
    Video,
    /// An image.
    Image,
    /// A video hosted elsewhere.
    ExternalVideo,
    /// A 3D model.
    #[graphql(name = "MODEL_3D")]
    Model3d,
}

/// `FileContentType`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum FileContentType {
    /// A generic file.
    File,
    /// An image.
    Image,
    /// A video.
    Video,
    /// A video hosted elsewhere.
    ExternalVideo,
    /// A 3D model.
    #[graphql(name = "MODEL_3D")]
    Model3d,
}

/// `MediaStatus`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum MediaStatus {
    /// Uploaded, not processed yet.
    Uploaded,
    /// Being processed.
    Processing,
    /// Ready to be displayed.
    Ready,
    /// Processing failed.
    Failed,
}

/// `FileStatus` (the same four values).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum FileStatus {
    /// Uploaded, not processed yet.
    Uploaded,
    /// Being processed.
    Processing,
    /// Ready to be displayed.
    Ready,
    /// Processing failed.
    Failed,
}

/// `StagedUploadInput`.
#[derive(InputObject, Debug)]
pub struct StagedUploadInput {
    /// The file's intended resource type.
    pub resource: StagedUploadTargetGenerateUploadResource,
    /// The file's name and extension.
    pub filename: String,
    /// The file's MIME type.
    pub mime_type: String,
    /// Bytes; required for `VIDEO` and `MODEL_3D`.
    pub file_size: Option<UnsignedInt64>,
    /// Default `PUT`.
    pub http_method: Option<StagedUploadHttpMethodType>,
}

/// `CreateMediaInput`.
#[derive(InputObject, Debug)]
pub struct CreateMediaInput {
    /// A staged upload URL (or, for images, an external URL).
    pub original_source: String,
    /// The media's type.
    pub media_content_type: MediaContentType,
    /// Alt text.
    pub alt: Option<String>,
}

/// `FileCreateInput`.
#[derive(InputObject, Debug)]
pub struct FileCreateInput {
    /// A staged upload URL (or, for images, an external URL).
    pub original_source: String,
    /// The file's type (Shopify guesses when omitted).
    pub content_type: Option<FileContentType>,
    /// Alt text.
    pub alt: Option<String>,
    /// The file name.
    pub filename: Option<String>,
}

/// `StagedUploadParameter`.
#[derive(SimpleObject, Debug, Clone)]
pub struct StagedUploadParameter {
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
}

/// `StagedMediaUploadTarget`.
#[derive(SimpleObject, Debug, Clone)]
pub struct StagedMediaUploadTarget {
    /// Where the file goes.
    pub url: Option<String>,
    /// The `originalSource` of the attach mutations.
    pub resource_url: Option<String>,
    /// The parameters to send.
    pub parameters: Vec<StagedUploadParameter>,
}

/// `UserError`.
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    /// The input path.
    pub field: Option<Vec<String>>,
    /// The message.
    pub message: String,
}

/// `MediaUserError` / `FilesUserError` (the code as Shopify's enum value).
#[derive(SimpleObject, Debug, Clone)]
pub struct CodedUserError {
    /// The input path.
    pub field: Option<Vec<String>>,
    /// The message.
    pub message: String,
    /// The code.
    pub code: Option<String>,
}

/// `StagedUploadsCreatePayload`.
#[derive(SimpleObject, Debug)]
pub struct StagedUploadsCreatePayload {
    /// One target per input.
    pub staged_targets: Option<Vec<StagedMediaUploadTarget>>,
    /// Why not.
    pub user_errors: Vec<UserError>,
}

/// `MediaError` / `FileError`.
#[derive(SimpleObject, Debug, Clone)]
pub struct MediaError {
    /// The code (`MediaErrorCode`).
    pub code: String,
    /// Details.
    pub details: Option<String>,
    /// The message.
    pub message: String,
}

/// `Image`.
#[derive(SimpleObject, Debug, Clone)]
pub struct Image {
    /// Its URL.
    pub url: String,
}

/// `MediaPreviewImage`.
#[derive(SimpleObject, Debug, Clone)]
pub struct MediaPreviewImage {
    /// The image, once ready.
    pub image: Option<Image>,
}

/// `VideoSource`.
#[derive(SimpleObject, Debug, Clone)]
pub struct VideoSource {
    /// The URL.
    pub url: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its format.
    pub format: String,
}

/// `Product` (its id only).
#[derive(SimpleObject, Debug, Clone)]
pub struct Product {
    /// The global id.
    pub id: ID,
}

/// A media as resolved now.
#[derive(Debug, Clone)]
pub struct MediaView {
    id: String,
    alt: Option<String>,
    content_type: MediaContentType,
    status: &'static str,
    errors: Vec<MediaError>,
    url: Option<String>,
}

impl MediaView {
    fn media_status(&self) -> MediaStatus {
        match self.status {
            "READY" => MediaStatus::Ready,
            "FAILED" => MediaStatus::Failed,
            "PROCESSING" => MediaStatus::Processing,
            _ => MediaStatus::Uploaded,
        }
    }

    fn file_status(&self) -> FileStatus {
        match self.media_status() {
            MediaStatus::Ready => FileStatus::Ready,
            MediaStatus::Failed => FileStatus::Failed,
            MediaStatus::Processing => FileStatus::Processing,
            MediaStatus::Uploaded => FileStatus::Uploaded,
        }
    }
}

/// Writes the `#[Object]` of a media type: the fields of `Node`, `Media` and `File`, and
/// its own.
macro_rules! media_object {
    ($ty:ident, $doc:literal, { $($own:tt)* }) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $ty(pub MediaView);

        #[Object]
        impl $ty {
            /// The global id.
            async fn id(&self) -> ID {
                ID(self.0.id.clone())
            }
            /// Alt text.
            async fn alt(&self) -> Option<String> {
                self.0.alt.clone()
            }
            /// The media's type.
            async fn media_content_type(&self) -> MediaContentType {
                self.0.content_type
            }
            /// `MediaStatus`.
            async fn status(&self) -> MediaStatus {
                self.0.media_status()
            }
            /// `FileStatus`.
            async fn file_status(&self) -> FileStatus {
                self.0.file_status()
            }
            /// Why processing failed.
            async fn media_errors(&self) -> Vec<MediaError> {
                self.0.errors.clone()
            }
            /// Why processing failed.
            async fn file_errors(&self) -> Vec<MediaError> {
                self.0.errors.clone()
            }
            /// The preview image, once ready.
            async fn preview(&self) -> Option<MediaPreviewImage> {
                Some(MediaPreviewImage {
                    image: self.0.url.as_ref().map(|u| Image { url: format!("{u}.preview.jpg") }),
                })
            }
            $($own)*
        }
    };
}

media_object!(Video, "`Video`.", {
    /// Milliseconds (fixed: the simulator does not decode videos).
    async fn duration(&self) -> Option<i32> {
        self.0.url.as_ref().map(|_| 10_000)
    }
    /// The renditions, once ready.
    async fn sources(&self) -> Vec<VideoSource> {
        self.0
            .url
            .iter()
            .map(|u| VideoSource {
                url: format!("{u}.mp4"),
                mime_type: "video/mp4".into(),
                format: "mp4".into(),
            })
            .collect()
    }
});

media_object!(MediaImage, "`MediaImage`.", {
    /// The image, once ready.
    async fn image(&self) -> Option<Image> {
        self.0.url.as_ref().map(|u| Image { url: u.clone() })
    }
});

/// `Node`.
#[derive(Interface)]
#[allow(clippy::duplicated_attributes)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    /// A video.
    Video(Video),
    /// An image.
    MediaImage(MediaImage),
}

/// `Media`.
#[derive(Interface)]
#[allow(clippy::duplicated_attributes)]
#[graphql(
    field(name = "id", ty = "ID"),
    field(name = "alt", ty = "Option<String>"),
    field(name = "media_content_type", ty = "MediaContentType"),
    field(name = "status", ty = "MediaStatus"),
    field(name = "media_errors", ty = "Vec<MediaError>"),
    field(name = "preview", ty = "Option<MediaPreviewImage>")
)]
pub enum MediaItem {
    /// A video.
    Video(Video),
    /// An image.
    MediaImage(MediaImage),
}

/// `File`.
#[derive(Interface)]
#[allow(clippy::duplicated_attributes)]
#[graphql(
    name = "File",
    field(name = "id", ty = "ID"),
    field(name = "alt", ty = "Option<String>"),
    field(name = "file_status", ty = "FileStatus"),
    field(name = "file_errors", ty = "Vec<MediaError>"),
    field(name = "preview", ty = "Option<MediaPreviewImage>")
)]
pub enum FileItem {
    /// A video.
    Video(Video),
    /// An image.
    MediaImage(MediaImage),
}

/// `ProductCreateMediaPayload`.
#[derive(SimpleObject)]
pub struct ProductCreateMediaPayload {
    /// The media created.
    pub media: Option<Vec<MediaItem>>,
    /// Why not.
    pub media_user_errors: Vec<CodedUserError>,
    /// The product.
    pub product: Option<Product>,
}

/// `FileCreatePayload`.
#[derive(SimpleObject)]
pub struct FileCreatePayload {
    /// The files created.
    pub files: Option<Vec<FileItem>>,
    /// Why not.
    pub user_errors: Vec<CodedUserError>,
}

/// `Shop`.
#[derive(SimpleObject)]
pub struct Shop {
    /// The name.
    pub name: String,
    /// `NAME.myshopify.com`.
    pub myshopify_domain: String,
}

/// The media's status at `now_ms`: `UPLOADED` for the first half of the processing delay,
/// `PROCESSING` for the second, then `READY` or `FAILED`.
pub(crate) fn status_of(m: &Media, cfg: &ShopifySimConfig, now_ms: i64) -> &'static str {
    let delay = i64::try_from(cfg.processing_delay.as_millis()).unwrap_or(i64::MAX);
    let age = now_ms.saturating_sub(m.created_ms);
    if age < delay / 2 {
        "UPLOADED"
    } else if age < delay {
        "PROCESSING"
    } else if m.source_missing || m.outcome == MediaOutcome::Failed {
        "FAILED"
    } else {
        "READY"
    }
}

fn view(sim: &ShopifySim, id: &str, m: &Media, now_ms: i64) -> MediaView {
    let cfg = sim.config();
    let status = status_of(m, &cfg, now_ms);
    let errors = match status {
        "FAILED" if m.source_missing => vec![MediaError {
            code: "GENERIC_FILE_DOWNLOAD_FAILURE".into(),
            details: None,
            message: "File could not be processed because the source could not be downloaded."
                .into(),
        }],
        "FAILED" => vec![MediaError {
            code: "VIDEO_VALIDATION_ERROR".into(),
            details: Some("the simulator was told to fail this media".into()),
            message: "Video validation failed.".into(),
        }],
        _ => Vec::new(),
    };
    let numeric = id.rsplit('/').next().unwrap_or_default();
    MediaView {
        id: id.to_owned(),
        alt: m.alt.clone(),
        content_type: match m.resource {
            Resource::Video => MediaContentType::Video,
            _ => MediaContentType::Image,
        },
        status,
        errors,
        url: (status == "READY").then(|| format!("https://cdn.shopify.sim/{}/{numeric}", cfg.shop)),
    }
}

fn sim<'a>(ctx: &Context<'a>) -> &'a ShopifySim {
    ctx.data_unchecked::<ShopifySim>()
}

/// The query root.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// A media or file by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Option<Node> {
        let sim = sim(ctx);
        let now = sim.clock().now_millis();
        let st = sim.core().state();
        let m = st.media.get(id.as_str())?;
        let v = view(sim, id.as_str(), m, now);
        Some(match m.resource {
            Resource::Video => Node::Video(Video(v)),
            _ => Node::MediaImage(MediaImage(v)),
        })
    }

    /// The store.
    async fn shop(&self, ctx: &Context<'_>) -> Shop {
        let cfg = sim(ctx).config();
        Shop {
            name: "Simulated Kettles".into(),
            myshopify_domain: cfg.shop,
        }
    }
}

/// The mutation root.
pub struct MutationRoot;

fn user_error(field: &[&str], message: impl Into<String>) -> UserError {
    UserError {
        field: Some(field.iter().map(|s| (*s).to_owned()).collect()),
        message: message.into(),
    }
}

fn coded(field: &[&str], message: impl Into<String>, code: &str) -> CodedUserError {
    CodedUserError {
        field: Some(field.iter().map(|s| (*s).to_owned()).collect()),
        message: message.into(),
        code: Some(code.into()),
    }
}

#[Object]
impl MutationRoot {
    /// One staged target per input: a URL on the staged host, signed form parameters (a
    /// POST) or a signed URL and headers (a PUT), and the resource URL.
    async fn staged_uploads_create(
        &self,
        ctx: &Context<'_>,
        input: Vec<StagedUploadInput>,
    ) -> StagedUploadsCreatePayload {
        let sim = sim(ctx);
        let cfg = sim.config();
        let now = sim.clock().now_millis();
        let mut targets = Vec::new();
        let mut errors = Vec::new();
        for (i, inp) in input.iter().enumerate() {
            let idx = i.to_string();
            use StagedUploadTargetGenerateUploadResource as R;
            let resource = match inp.resource {
                R::Video => Resource::Video,
                R::Image | R::ProductImage | R::CollectionImage | R::ShopImage => Resource::Image,
                R::File | R::Model3d => Resource::File,
            };
            let size = inp.file_size.map(|s| s.0);
            if matches!(inp.resource, R::Video | R::Model3d) && size.is_none() {
                errors.push(user_error(
                    &["input", &idx, "fileSize"],
                    "File size is required for video and 3D model uploads",
                ));
                continue;
            }
            if inp.filename.trim().is_empty() {
                errors.push(user_error(
                    &["input", &idx, "filename"],
                    "Filename can't be blank",
                ));
                continue;
            }
            let max = match resource {
                Resource::Video => cfg.max_video_bytes,
                Resource::Image => cfg.max_image_bytes,
                Resource::File => cfg.max_video_bytes,
            };
            if size.is_some_and(|s| s == 0 || s > max) {
                errors.push(user_error(
                    &["input", &idx, "fileSize"],
                    format!("File size must be between 1 and {max} bytes"),
                ));
                continue;
            }
            let type_ok = match resource {
                Resource::Video => inp.mime_type.starts_with("video/"),
                Resource::Image => inp.mime_type.starts_with("image/"),
                Resource::File => !inp.mime_type.is_empty(),
            };
            if !type_ok {
                errors.push(user_error(
                    &["input", &idx, "mimeType"],
                    format!(
                        "MIME type {:?} is not valid for this resource",
                        inp.mime_type
                    ),
                ));
                continue;
            }
            let method = match inp.http_method.unwrap_or(StagedUploadHttpMethodType::Put) {
                StagedUploadHttpMethodType::Post => "POST",
                StagedUploadHttpMethodType::Put => "PUT",
            };
            let staged = super::staged::issue(
                sim,
                &cfg,
                resource,
                &inp.filename,
                &inp.mime_type,
                size.unwrap_or(max),
                size.is_some(),
                method,
                now,
            );
            targets.push(staged);
        }
        StagedUploadsCreatePayload {
            staged_targets: if errors.is_empty() {
                Some(targets)
            } else {
                None
            },
            user_errors: errors,
        }
    }

    /// Attaches staged files (or image URLs) to a product.
    async fn product_create_media(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        media: Vec<CreateMediaInput>,
    ) -> ProductCreateMediaPayload {
        let sim = sim(ctx);
        let known = product_id
            .as_str()
            .strip_prefix("gid://shopify/Product/")
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| super::TEST_PRODUCTS.contains(&n));
        if !known {
            return ProductCreateMediaPayload {
                media: None,
                media_user_errors: vec![coded(
                    &["productId"],
                    "Product does not exist",
                    "PRODUCT_DOES_NOT_EXIST",
                )],
                product: None,
            };
        }
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (i, inp) in media.iter().enumerate() {
            let resource = match inp.media_content_type {
                MediaContentType::Video => Resource::Video,
                MediaContentType::Image => Resource::Image,
                _ => {
                    errors.push(coded(
                        &["media", &i.to_string(), "mediaContentType"],
                        "Media type is not supported by the simulator",
                        "INVALID_MEDIA_TYPE",
                    ));
                    continue;
                }
            };
            match create(
                sim,
                resource,
                &inp.original_source,
                inp.alt.clone(),
                None,
                Some(product_id.to_string()),
            ) {
                Ok(v) => out.push(match resource {
                    Resource::Video => MediaItem::Video(Video(v)),
                    _ => MediaItem::MediaImage(MediaImage(v)),
                }),
                Err(message) => errors.push(coded(
                    &["media", &i.to_string(), "originalSource"],
                    message,
                    "INVALID",
                )),
            }
        }
        ProductCreateMediaPayload {
            media: Some(out),
            media_user_errors: errors,
            product: Some(Product { id: product_id }),
        }
    }

    /// Puts staged files (or image URLs) in the file library.
    async fn file_create(
        &self,
        ctx: &Context<'_>,
        files: Vec<FileCreateInput>,
    ) -> FileCreatePayload {
        let sim = sim(ctx);
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (i, inp) in files.iter().enumerate() {
            let resource = match inp.content_type {
                Some(FileContentType::Video) => Resource::Video,
                Some(FileContentType::Image) => Resource::Image,
                None => {
                    let looks_video = super::staged::key_of_resource(&inp.original_source)
                        .and_then(|k| sim.core().state().staged.get(&k).map(|s| s.resource))
                        == Some(Resource::Video);
                    if looks_video {
                        Resource::Video
                    } else {
                        Resource::Image
                    }
                }
                Some(_) => {
                    errors.push(coded(
                        &["files", &i.to_string(), "contentType"],
                        "Content type is not supported by the simulator",
                        "INVALID",
                    ));
                    continue;
                }
            };
            match create(
                sim,
                resource,
                &inp.original_source,
                inp.alt.clone(),
                inp.filename.clone(),
                None,
            ) {
                Ok(v) => out.push(match resource {
                    Resource::Video => FileItem::Video(Video(v)),
                    _ => FileItem::MediaImage(MediaImage(v)),
                }),
                Err(message) => errors.push(coded(
                    &["files", &i.to_string(), "originalSource"],
                    message,
                    "INVALID",
                )),
            }
        }
        FileCreatePayload {
            files: if errors.is_empty() { Some(out) } else { None },
            user_errors: errors,
        }
    }
}

/// A new media from `source`: a staged URL of this host (a video must be one: "Videos and
/// 3D models require a staged upload URL"), or an external http(s) URL for an image. A staged
/// file that never arrived makes a media whose processing fails.
fn create(
    sim: &ShopifySim,
    resource: Resource,
    source: &str,
    alt: Option<String>,
    filename: Option<String>,
    product: Option<String>,
) -> Result<MediaView, String> {
    let now = sim.clock().now_millis();
    let mut st = sim.core().state();
    let key = super::staged::key_of_resource(source).filter(|k| st.staged.contains_key(k));
    let staged: Option<&Staged> = key.as_ref().and_then(|k| st.staged.get(k));
    match (resource, staged) {
        (Resource::Video, None) => {
            return Err("Videos require a staged upload URL as originalSource".into())
        }
        (_, Some(s)) if s.resource != resource && !(s.resource == Resource::File) => {
            return Err("The staged upload was made for another resource type".into())
        }
        (_, None) if !(source.starts_with("https://") || source.starts_with("http://")) => {
            return Err("Original source is not a URL".into())
        }
        _ => {}
    }
    let source_missing = staged.is_some_and(|s| s.bytes.is_none() && !s.evicted);
    let fail = std::mem::take(&mut st.fail_next);
    let id = st.next_id;
    st.next_id += 1;
    let gid = match resource {
        Resource::Video => format!("gid://shopify/Video/{id}"),
        _ => format!("gid://shopify/MediaImage/{id}"),
    };
    let m = Media {
        resource,
        staged_key: key,
        product,
        alt,
        filename,
        created_ms: now,
        outcome: if fail {
            MediaOutcome::Failed
        } else {
            MediaOutcome::Ready
        },
        source_missing,
    };
    let v = view(sim, &gid, &m, now);
    st.media.insert(gid, m);
    Ok(v)
}
