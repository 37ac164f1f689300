//! Shopify Admin GraphQL shapes: the operations sent (each a GraphQL document and its
//! variables), the payloads answered, the GraphQL envelope (`data`, `errors`,
//! `extensions.cost`), the OAuth token call and the staged host's XML error.

use serde::{Deserialize, Serialize};

/// The OAuth token call: `POST https://{shop}/admin/oauth/access_token`.
pub const TOKEN_PATH: &str = "/admin/oauth/access_token";
/// The consent page: `https://{shop}/admin/oauth/authorize`.
pub const AUTHORIZE_PATH: &str = "/admin/oauth/authorize";
/// The access token header.
pub const ACCESS_TOKEN_HEADER: &str = "X-Shopify-Access-Token";

/// `stagedUploadsCreate(input: [StagedUploadInput!]!)`: one target per input.
pub const STAGED_UPLOADS_CREATE: &str = "mutation stagedUploadsCreate($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) { stagedTargets { url resourceUrl parameters { name value } } userErrors { field message } } }";

/// `productCreateMedia(productId: ID!, media: [CreateMediaInput!]!)`.
pub const PRODUCT_CREATE_MEDIA: &str = "mutation productCreateMedia($productId: ID!, $media: [CreateMediaInput!]!) { productCreateMedia(productId: $productId, media: $media) { media { id alt mediaContentType status mediaErrors { code details message } } mediaUserErrors { field message code } } }";

/// `fileCreate(files: [FileCreateInput!]!)`.
pub const FILE_CREATE: &str = "mutation fileCreate($files: [FileCreateInput!]!) { fileCreate(files: $files) { files { id alt fileStatus fileErrors { code details message } } userErrors { field message code } } }";

/// The status of one media or file, by its global id (`node`), as `Video` or `MediaImage`.
pub const NODE_STATUS: &str = "query mediaStatus($id: ID!) { node(id: $id) { id ... on Video { status fileStatus mediaErrors { code details message } fileErrors { code details message } duration sources { url mimeType } preview { image { url } } } ... on MediaImage { status fileStatus mediaErrors { code details message } fileErrors { code details message } image { url } } } }";

/// The cheapest call that proves a token: the shop's name and domain.
pub const SHOP: &str = "query shop { shop { name myshopifyDomain } }";

/// A GraphQL request.
#[derive(Debug, Serialize)]
pub struct GraphqlRequest<'a, V: Serialize> {
    /// The document.
    pub query: &'a str,
    /// Its variables.
    pub variables: V,
}

/// `StagedUploadInput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedUploadInput<'a> {
    /// `VIDEO`, `IMAGE`, `FILE` (`StagedUploadTargetGenerateUploadResource`).
    pub resource: &'a str,
    /// The file's name and extension.
    pub filename: &'a str,
    /// The file's MIME type.
    pub mime_type: &'a str,
    /// Bytes, as the `UnsignedInt64` scalar (a string); required for `VIDEO`.
    pub file_size: String,
    /// `POST` or `PUT`.
    pub http_method: &'a str,
}

/// `CreateMediaInput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMediaInput<'a> {
    /// The staged target's `resourceUrl`.
    pub original_source: &'a str,
    /// `VIDEO` or `IMAGE` (`MediaContentType`).
    pub media_content_type: &'a str,
    /// Alt text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt: Option<&'a str>,
}

/// `FileCreateInput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileCreateInput<'a> {
    /// The staged target's `resourceUrl`.
    pub original_source: &'a str,
    /// `VIDEO` or `IMAGE` (`FileContentType`).
    pub content_type: &'a str,
    /// Alt text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt: Option<&'a str>,
    /// The file name shown in the file library.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<&'a str>,
}

/// The GraphQL envelope.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    /// The payload (absent or null on a request-level error).
    #[serde(default = "none")]
    pub data: Option<T>,
    /// Request-level errors (a throttle, a bad document, an access refusal).
    #[serde(default)]
    pub errors: Option<Errors>,
    /// The cost of the request.
    #[serde(default)]
    pub extensions: Option<Extensions>,
}

fn none<T>() -> Option<T> {
    None
}

/// `errors`: a list of GraphQL errors, or (on a 401, 402, 403, 404, 423) a plain string or
/// object, as Shopify's status answers carry.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Errors {
    /// GraphQL errors.
    List(Vec<GraphqlError>),
    /// `{"errors": "[API] Invalid API key or access token …"}`.
    Text(String),
    /// Anything else.
    Other(serde_json::Value),
}

impl Errors {
    /// The first error's message and code.
    pub fn first(&self) -> (String, Option<String>) {
        match self {
            Errors::List(list) => list
                .first()
                .map(|e| {
                    (
                        e.message.clone(),
                        e.extensions.as_ref().and_then(|x| x.code.clone()),
                    )
                })
                .unwrap_or_default(),
            Errors::Text(t) => (t.clone(), None),
            Errors::Other(v) => (v.to_string(), None),
        }
    }

    /// Whether it holds anything.
    pub fn is_empty(&self) -> bool {
        match self {
            Errors::List(list) => list.is_empty(),
            Errors::Text(t) => t.is_empty(),
            Errors::Other(v) => v.is_null(),
        }
    }
}

/// One GraphQL error.
#[derive(Debug, Deserialize)]
pub struct GraphqlError {
    /// The message (`Throttled`).
    #[serde(default)]
    pub message: String,
    /// `{"code": "THROTTLED", …}`.
    #[serde(default)]
    pub extensions: Option<ErrorExtensions>,
}

/// A GraphQL error's extensions.
#[derive(Debug, Deserialize)]
pub struct ErrorExtensions {
    /// `THROTTLED`, `ACCESS_DENIED`, `INTERNAL_SERVER_ERROR`, `MAX_COST_EXCEEDED`…
    #[serde(default)]
    pub code: Option<String>,
}

/// `extensions`.
#[derive(Debug, Deserialize)]
pub struct Extensions {
    /// `extensions.cost`.
    #[serde(default)]
    pub cost: Option<Cost>,
}

/// `extensions.cost`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// What the request would cost at most.
    #[serde(default)]
    pub requested_query_cost: Option<f64>,
    /// What it cost (null when throttled).
    #[serde(default)]
    pub actual_query_cost: Option<f64>,
    /// The bucket.
    #[serde(default)]
    pub throttle_status: Option<ThrottleStatus>,
}

/// `extensions.cost.throttleStatus`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    /// The bucket's size.
    #[serde(default)]
    pub maximum_available: f64,
    /// Points available now.
    #[serde(default)]
    pub currently_available: f64,
    /// Points restored per second.
    #[serde(default)]
    pub restore_rate: f64,
}

/// A user error (`UserError`, `MediaUserError`, `FilesUserError`).
#[derive(Debug, Deserialize)]
pub struct UserError {
    /// The input path.
    #[serde(default)]
    pub field: Option<Vec<String>>,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// The code, where the type has one.
    #[serde(default)]
    pub code: Option<String>,
}

/// `data` of `stagedUploadsCreate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedUploadsData {
    /// The payload.
    pub staged_uploads_create: Option<StagedUploadsPayload>,
}

/// `StagedUploadsCreatePayload`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedUploadsPayload {
    /// One target per input.
    #[serde(default)]
    pub staged_targets: Option<Vec<StagedTarget>>,
    /// Why not.
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

/// `StagedMediaUploadTarget`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StagedTarget {
    /// Where the file goes.
    #[serde(default)]
    pub url: Option<String>,
    /// What `originalSource` is given.
    #[serde(default)]
    pub resource_url: Option<String>,
    /// The parameters to send, in order.
    #[serde(default)]
    pub parameters: Vec<StagedParameter>,
}

/// `StagedUploadParameter`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StagedParameter {
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
}

/// `data` of `productCreateMedia`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductCreateMediaData {
    /// The payload.
    pub product_create_media: Option<ProductCreateMediaPayload>,
}

/// `ProductCreateMediaPayload`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductCreateMediaPayload {
    /// The media created.
    #[serde(default)]
    pub media: Option<Vec<MediaNode>>,
    /// Why not.
    #[serde(default)]
    pub media_user_errors: Vec<UserError>,
}

/// `data` of `fileCreate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileCreateData {
    /// The payload.
    pub file_create: Option<FileCreatePayload>,
}

/// `FileCreatePayload`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileCreatePayload {
    /// The files created.
    #[serde(default)]
    pub files: Option<Vec<MediaNode>>,
    /// Why not.
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

/// `data` of the status query.
#[derive(Debug, Deserialize)]
pub struct NodeData {
    /// The node (null when unknown).
    pub node: Option<MediaNode>,
}

/// A `Video` or `MediaImage`, as the operations above select it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaNode {
    /// The global id (`gid://shopify/Video/1`).
    #[serde(default)]
    pub id: String,
    /// `MediaStatus`.
    #[serde(default)]
    pub status: Option<String>,
    /// `FileStatus`.
    #[serde(default)]
    pub file_status: Option<String>,
    /// Why processing failed (media).
    #[serde(default)]
    pub media_errors: Vec<MediaError>,
    /// Why processing failed (file).
    #[serde(default)]
    pub file_errors: Vec<MediaError>,
    /// Seconds × 1000 (`Video.duration`, milliseconds).
    #[serde(default)]
    pub duration: Option<u64>,
    /// The renditions, once ready.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// The preview image.
    #[serde(default)]
    pub preview: Option<Preview>,
    /// The image (`MediaImage`).
    #[serde(default)]
    pub image: Option<ImageRef>,
}

/// `MediaError` / `FileError`.
#[derive(Debug, Deserialize)]
pub struct MediaError {
    /// The code.
    #[serde(default)]
    pub code: String,
    /// Details.
    #[serde(default)]
    pub details: Option<String>,
    /// The message.
    #[serde(default)]
    pub message: String,
}

/// `VideoSource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// The URL.
    #[serde(default)]
    pub url: String,
    /// Its MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
}

/// `MediaPreviewImage`.
#[derive(Debug, Deserialize)]
pub struct Preview {
    /// The image.
    #[serde(default)]
    pub image: Option<ImageRef>,
}

/// `Image`.
#[derive(Debug, Deserialize)]
pub struct ImageRef {
    /// Its URL.
    #[serde(default)]
    pub url: String,
}

/// `data` of the shop query.
#[derive(Debug, Deserialize)]
pub struct ShopData {
    /// The shop.
    pub shop: Option<Shop>,
}

/// `Shop`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shop {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// `NAME.myshopify.com`.
    #[serde(default)]
    pub myshopify_domain: String,
}

/// The token call's answer (both grants): `expires_in`, `refresh_token` and
/// `refresh_token_expires_in` only for expiring offline tokens.
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    /// The access token.
    #[serde(default)]
    pub access_token: String,
    /// The scopes granted.
    #[serde(default)]
    pub scope: Option<String>,
    /// Seconds (3600).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// The new refresh token.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Its lifetime in seconds.
    #[serde(default)]
    pub refresh_token_expires_in: Option<u64>,
}

/// An OAuth error answer (`{"error": "invalid_grant", "error_description": …}`).
#[derive(Debug, Deserialize)]
pub struct OAuthError {
    /// The code.
    #[serde(default)]
    pub error: Option<String>,
    /// The text.
    #[serde(default)]
    pub error_description: Option<String>,
}

/// The code inside the staged host's XML error (`<Error><Code>EntityTooLarge</Code>…`).
pub fn xml_error_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let end = body[start..].find("</Code>")? + start;
    Some(body[start..end].trim()).filter(|c| !c.is_empty())
}

/// The message inside the staged host's XML error.
pub fn xml_error_message(body: &str) -> Option<&str> {
    let start = body.find("<Message>")? + "<Message>".len();
    let end = body[start..].find("</Message>")? + start;
    Some(body[start..end].trim()).filter(|c| !c.is_empty())
}
