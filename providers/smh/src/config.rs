//! How to reach a media library and where uploads go. Every secret is a [`Secret`] and the
//! base URL a [`RedactedUrl`] in `Debug`, so neither shows there.

use std::fmt;
use std::time::Duration;

use marketmedia_core::raw::http::{ClientOptions, HttpTimeouts};
use marketmedia_core::raw::{Error, RedactedUrl, Result, Secret, TokenSource};

/// One mebibyte.
pub const MIB: u64 = 1 << 20;

/// The default preferred part size: 2 MiB. Parts are streamed from disk, so their size costs
/// no memory; smaller parts keep every connection busy to the end of an upload (a 100 MB file
/// is 50 parts, the last wave short) at one request per 2 MiB. The upload benchmark measured
/// 8 MiB parts leaving the link half idle at the end of a 30 MB upload (`docs/benchmarks.md`).
pub const DEFAULT_PART_SIZE: u64 = 2 * MIB;

/// The domain under which every media library has its own API host:
/// `https://{LibraryId}.api.tencentsmh.cn`. Tencent's `DescribeLibraries` answers each library's
/// `AccessDomain` in this form (`smh0q8nrvsg7t6y6.api.tencentsmh.cn` for library
/// `smh0q8nrvsg7t6y6`), its iOS SDK quick start sets `<libraryId>.api.tencentsmh.cn`, and its Java
/// SDK quick start initialises the client with the library's 专属域名 (dedicated domain).
pub const LIBRARY_DOMAIN_SUFFIX: &str = "api.tencentsmh.cn";

/// The permissions the uploader asks for with each access token (`grant`), by default:
/// `upload_file`. Tencent's token page grants read permission only when `grant` is empty, and
/// its multipart-upload page lists `upload_file` among the permissions that allow a begin
/// (with `admin`, `space_admin`, `upload_file_force`, `begin_upload`, `begin_upload_force`);
/// `upload_file` is the narrowest of them that the token page's own example uses. Status,
/// renew, confirm and cancel act on the task the begin opened. Add `create_directory` to use
/// [`crate::SmhUploader::create_directory`].
pub const DEFAULT_GRANTS: &[&str] = &["upload_file"];

/// The API base URL of a media library on its own domain, `https://{library_id}.api.tencentsmh.cn`,
/// or `None` when the library id cannot be a host name label (then set
/// [`SmhConfigBuilder::base_url`] to the library's `AccessDomain`).
pub fn library_base_url(library_id: &str) -> Option<String> {
    let label = library_id.trim();
    let valid = !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    valid.then(|| {
        format!(
            "https://{}.{LIBRARY_DOMAIN_SUFFIX}",
            label.to_ascii_lowercase()
        )
    })
}

/// How the uploader authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The library secret: the uploader asks `GET /api/v1/token` for access tokens, caches them
    /// and fetches a new one before `expiresIn` runs out (and once when the API says the token
    /// is invalid or expired).
    LibrarySecret(Secret),
    /// A ready access token, used as is (it cannot be renewed without the secret: once the API
    /// refuses it, uploads fail with [`marketmedia_core::ErrorKind::Auth`]).
    AccessToken(Secret),
}

/// What SMH does when the target name already exists (`conflict_resolution_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConflictStrategy {
    /// Rename the new file automatically (SMH's default); the final path is in the asset.
    #[default]
    Rename,
    /// Refuse with 409 `SameNameDirectoryOrFileExists` ([`marketmedia_core::ErrorKind::Conflict`]).
    Ask,
    /// Replace the existing file.
    Overwrite,
}

impl ConflictStrategy {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictStrategy::Rename => "rename",
            ConflictStrategy::Ask => "ask",
            ConflictStrategy::Overwrite => "overwrite",
        }
    }
}

/// The scheme of the storage URLs built from the `domain` the API returns. Real COS buckets
/// are HTTPS; a local simulator may serve plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageScheme {
    /// `https://{domain}{path}` (default).
    #[default]
    Https,
    /// `http://{domain}{path}`, for local simulators.
    Http,
}

impl StorageScheme {
    /// `https` or `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageScheme::Https => "https",
            StorageScheme::Http => "http",
        }
    }
}

/// Configuration of an [`crate::SmhUploader`]. `Debug` shows neither the secret or token nor
/// a URL's credentials.
///
/// Built with [`SmhConfig::builder`], which names each setting and checks the whole:
///
/// ```
/// use marketmedia_smh::{ConflictStrategy, SmhConfig};
/// let config = SmhConfig::builder()
///     .library_id("smhxxxxxxxx")
///     .library_secret("library-secret")
///     .directory("products/2024")
///     .conflict(ConflictStrategy::Rename)
///     .build()?;
/// assert_eq!(config.base_url, "https://smhxxxxxxxx.api.tencentsmh.cn");
/// # Ok::<(), marketmedia_core::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct SmhConfig {
    /// Media library id (`LibraryId`).
    pub library_id: String,
    /// Library secret or ready access token.
    pub credentials: Credentials,
    /// Tenant space (`SpaceId`); `-` for a single-tenant library.
    pub space_id: String,
    /// User identity sent with the token request, when set.
    pub user_id: Option<String>,
    /// Token lifetime to ask for (`period`, seconds), when set. SMH raises a period under
    /// 300 s to 300 s, uses 86,400 s when none is given, and renews a token's lifetime each
    /// time it is used.
    pub token_period: Option<u64>,
    /// The permissions asked for with each token (`grant`, comma-separated on the wire).
    /// Default [`DEFAULT_GRANTS`] (`upload_file`); an empty list would get a read-only token.
    pub grants: Vec<String>,
    /// Fetch a new token this long before the cached one expires (at most a fifth of its
    /// lifetime is used for short-lived tokens). Default 60 s.
    pub token_refresh_margin: Duration,
    /// Where each request's access token comes from instead (a source shared by several
    /// uploaders of the library: [`crate::auth`]); `None`: from `credentials`.
    pub token_source: Option<TokenSource>,
    /// The API base URL; may carry a path prefix. Default: the library's own domain,
    /// `https://{library_id}.api.tencentsmh.cn` ([`library_base_url`]); set it to the
    /// library's `AccessDomain` when that differs, or to a simulator or proxy.
    pub base_url: String,
    /// Scheme of the storage URLs.
    pub storage_scheme: StorageScheme,
    /// Whether plain `http://` is allowed for the API base URL and the storage URLs. SMH
    /// refuses plain HTTP ("For security reasons, SMH does not support HTTP requests"), so
    /// only a local simulator or sandbox sets this. Default false.
    pub allow_plain_http: bool,
    /// Target directory inside the space (`a/b`); empty for the root. It must exist: SMH does
    /// not create parent directories (see [`crate::SmhUploader::create_directory`]). An
    /// upload's own directory ([`MetaField::Directory`](marketmedia_core::MetaField)) replaces
    /// it, and its file name is the upload's ([`MetaField::FileName`](marketmedia_core::MetaField))
    /// or the source's.
    pub directory: String,
    /// What to do when the target exists.
    pub conflict: ConflictStrategy,
    /// Preferred part size (≥ 1 MiB; grown by the planner so a file needs ≤ 10,000 parts).
    /// Default [`DEFAULT_PART_SIZE`].
    pub part_size: u64,
    /// Whether to try instant upload (hash handshake) for files of at least 1 MiB.
    pub instant_upload: bool,
    /// Largest image accepted by [`marketmedia_core::ImageUploader`] (held in memory).
    pub image_max_bytes: u64,
    /// How its client talks HTTP: timeouts, deadlines, answer cap, requests in flight
    /// and request rate ([`ClientOptions`], today's values by default). Two clients keep
    /// their own.
    pub options: ClientOptions,
}

impl SmhConfig {
    /// A builder with every default: space `-`, the library's own API host
    /// (`https://{library_id}.api.tencentsmh.cn`), tokens granted `upload_file`, HTTPS only,
    /// the space's root directory, `rename` on conflicts, 2 MiB parts, instant upload on.
    /// `library_id` and one of `library_secret` or `access_token` are required.
    pub fn builder() -> SmhConfigBuilder {
        SmhConfigBuilder::default()
    }

    /// Checks the configuration without any request.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid_input(m).with_platform(crate::PLATFORM));
        if self.library_id.trim().is_empty() {
            return bad("the SMH library_id is empty".into());
        }
        match &self.credentials {
            Credentials::LibrarySecret(s) if s.is_empty() => {
                return bad("the SMH library_secret is empty".into())
            }
            Credentials::AccessToken(t) if t.is_empty() => {
                return bad("the SMH access_token is empty".into())
            }
            _ => {}
        }
        if self.space_id.is_empty() || self.space_id.contains('/') {
            return bad(format!("{:?} is not a valid SMH space id", self.space_id));
        }
        if self.base_url.is_empty() {
            return bad(format!(
                "no SMH API host for library {:?}: set base_url to the library's AccessDomain",
                self.library_id
            ));
        }
        let shown = RedactedUrl::new(&self.base_url);
        let Ok(base) = url::Url::parse(&self.base_url) else {
            return bad(format!("{shown:?} is not a URL"));
        };
        let plain = base.scheme() == "http" || self.storage_scheme == StorageScheme::Http;
        if base.scheme() != "https" && base.scheme() != "http" {
            return bad(format!("{shown:?} is not an HTTPS URL"));
        }
        if plain && !self.allow_plain_http {
            return bad(
                "SMH refuses plain HTTP: use https, or set allow_plain_http for a local simulator"
                    .into(),
            );
        }
        if let Some(g) = self
            .grants
            .iter()
            .find(|g| g.is_empty() || g.contains(',') || g.trim() != g.as_str())
        {
            return bad(format!("{g:?} is not an SMH permission name"));
        }
        if self.part_size < MIB || self.part_size > 5 * 1024 * MIB {
            return bad(format!(
                "SMH parts must be 1 MiB to 5 GiB, not {} bytes",
                self.part_size
            ));
        }
        directory_segments(&self.directory)?;
        Ok(())
    }
}

impl fmt::Debug for SmhConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmhConfig")
            .field("library_id", &self.library_id)
            .field("credentials", &self.credentials)
            .field("token_source", &self.token_source)
            .field("space_id", &self.space_id)
            .field("user_id", &self.user_id)
            .field("token_period", &self.token_period)
            .field("grants", &self.grants)
            .field("token_refresh_margin", &self.token_refresh_margin)
            .field("base_url", &RedactedUrl::new(&self.base_url))
            .field("storage_scheme", &self.storage_scheme)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("directory", &self.directory)
            .field("conflict", &self.conflict)
            .field("part_size", &self.part_size)
            .field("instant_upload", &self.instant_upload)
            .field("image_max_bytes", &self.image_max_bytes)
            .field("options", &self.options)
            .finish()
    }
}

/// Builds an [`SmhConfig`]: one method per setting, named after it, and
/// [`build`](SmhConfigBuilder::build) checking the whole.
#[derive(Clone)]
pub struct SmhConfigBuilder {
    library_id: Option<String>,
    library_secret: Option<Secret>,
    access_token: Option<Secret>,
    space_id: String,
    user_id: Option<String>,
    token_period: Option<u64>,
    grants: Vec<String>,
    token_refresh_margin: Duration,
    token_source: Option<TokenSource>,
    base_url: Option<String>,
    storage_scheme: StorageScheme,
    allow_plain_http: bool,
    directory: String,
    conflict: ConflictStrategy,
    part_size: u64,
    instant_upload: bool,
    image_max_bytes: u64,
    options: ClientOptions,
}

impl Default for SmhConfigBuilder {
    fn default() -> Self {
        SmhConfigBuilder {
            library_id: None,
            library_secret: None,
            access_token: None,
            space_id: "-".into(),
            user_id: None,
            token_period: None,
            grants: DEFAULT_GRANTS.iter().map(|g| (*g).to_owned()).collect(),
            token_refresh_margin: Duration::from_secs(60),
            token_source: None,
            base_url: None,
            storage_scheme: StorageScheme::Https,
            allow_plain_http: false,
            directory: String::new(),
            conflict: ConflictStrategy::Rename,
            part_size: DEFAULT_PART_SIZE,
            instant_upload: true,
            image_max_bytes: 50 * MIB,
            options: ClientOptions::default(),
        }
    }
}

impl SmhConfigBuilder {
    /// The media library id (`LibraryId`). Required.
    pub fn library_id(mut self, library_id: impl Into<String>) -> Self {
        self.library_id = Some(library_id.into());
        self
    }

    /// The library secret: the uploader fetches and renews access tokens with it. This or
    /// [`access_token`](Self::access_token) is required, not both.
    pub fn library_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.library_secret = Some(secret.into());
        self
    }

    /// A ready access token, used as is (it cannot be renewed). This or
    /// [`library_secret`](Self::library_secret) is required, not both.
    pub fn access_token(mut self, token: impl Into<Secret>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// Takes each request's access token from `tokens` (shared with the library's other
    /// uploaders, e.g. built with [`crate::auth::SmhRefresher`]) instead of fetching its own.
    pub fn token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// The tenant space (default `-`).
    pub fn space(mut self, space_id: impl Into<String>) -> Self {
        self.space_id = space_id.into();
        self
    }

    /// The user identity for tokens.
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// The token lifetime to ask for, in seconds.
    pub fn token_period(mut self, seconds: u64) -> Self {
        self.token_period = Some(seconds);
        self
    }

    /// How long before expiry a cached token is replaced (default 60 s).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.token_refresh_margin = margin;
        self
    }

    /// Another API base URL than the library's own domain (its `AccessDomain`, a
    /// simulator, a proxy).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The storage URL scheme ([`StorageScheme::Http`] also needs
    /// [`allow_plain_http`](Self::allow_plain_http)).
    pub fn storage_scheme(mut self, scheme: StorageScheme) -> Self {
        self.storage_scheme = scheme;
        self
    }

    /// Allows plain `http://` for the API and the storage: for a local simulator or sandbox
    /// only (the real SMH refuses plain HTTP).
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// A local simulator or sandbox at `base_url` (plain HTTP allowed, storage over HTTP).
    pub fn sandbox(self, base_url: impl Into<String>) -> Self {
        self.base_url(base_url)
            .allow_plain_http(true)
            .storage_scheme(StorageScheme::Http)
    }

    /// The permissions asked for with each token (`grant`); see [`DEFAULT_GRANTS`].
    pub fn grants<I, S>(mut self, grants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grants = grants.into_iter().map(Into::into).collect();
        self
    }

    /// The target directory (`a/b`, empty for the root).
    pub fn directory(mut self, dir: impl Into<String>) -> Self {
        self.directory = dir.into();
        self
    }

    /// The conflict strategy (default rename).
    pub fn conflict(mut self, strategy: ConflictStrategy) -> Self {
        self.conflict = strategy;
        self
    }

    /// The preferred part size (default 2 MiB).
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Turns the instant-upload handshake on or off (default on).
    pub fn instant_upload(mut self, on: bool) -> Self {
        self.instant_upload = on;
        self
    }

    /// The largest image (default 50 MiB).
    pub fn image_max_bytes(mut self, bytes: u64) -> Self {
        self.image_max_bytes = bytes;
        self
    }

    /// Timeouts for each attempt (the same as setting `options.timeouts`).
    pub fn timeouts(mut self, timeouts: HttpTimeouts) -> Self {
        self.options.timeouts = timeouts;
        self
    }

    /// How the client talks HTTP ([`ClientOptions`]: timeouts, deadlines, answer cap,
    /// requests in flight, request rate; default today's values).
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The configuration, or [`ErrorKind::InvalidInput`](marketmedia_core::ErrorKind) naming
    /// the missing or wrong setting.
    pub fn build(self) -> Result<SmhConfig> {
        let library_id = self
            .library_id
            .ok_or_else(|| Error::missing_setting(crate::PLATFORM, "library_id"))?;
        let credentials = match (self.library_secret, self.access_token) {
            (Some(secret), None) => Credentials::LibrarySecret(secret),
            (None, Some(token)) => Credentials::AccessToken(token),
            (None, None) => return Err(Error::missing_setting(crate::PLATFORM, "library_secret")),
            (Some(_), Some(_)) => {
                return Err(Error::invalid_input(
                    "the SMH configuration has both a library_secret and an access_token: set one",
                )
                .with_platform(crate::PLATFORM))
            }
        };
        let base_url = self
            .base_url
            .unwrap_or_else(|| library_base_url(&library_id).unwrap_or_default());
        let config = SmhConfig {
            library_id,
            credentials,
            space_id: self.space_id,
            user_id: self.user_id,
            token_period: self.token_period,
            grants: self.grants,
            token_refresh_margin: self.token_refresh_margin,
            token_source: self.token_source,
            base_url,
            storage_scheme: self.storage_scheme,
            allow_plain_http: self.allow_plain_http,
            directory: self.directory,
            conflict: self.conflict,
            part_size: self.part_size,
            instant_upload: self.instant_upload,
            image_max_bytes: self.image_max_bytes,
            options: self.options,
        };
        config.validate()?;
        Ok(config)
    }
}

impl fmt::Debug for SmhConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmhConfigBuilder")
            .field("library_id", &self.library_id)
            .field("library_secret", &self.library_secret)
            .field("access_token", &self.access_token)
            .field("space_id", &self.space_id)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl::new))
            .field("directory", &self.directory)
            .finish_non_exhaustive()
    }
}

/// The directory's segments, refusing empty, `.` and `..` segments.
pub(crate) fn directory_segments(dir: &str) -> Result<Vec<&str>> {
    let trimmed = dir.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<&str> = trimmed.split('/').collect();
    for s in &segments {
        if s.is_empty() || *s == "." || *s == ".." {
            return Err(Error::invalid_input(format!(
                "{dir:?} is not a valid SMH directory (empty, `.` or `..` segment)"
            ))
            .with_platform(crate::PLATFORM));
        }
    }
    Ok(segments)
}

/// Refuses file names SMH cannot store.
pub(crate) fn check_file_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\\') {
        return Err(
            Error::invalid_input(format!("{name:?} is not a valid SMH file name"))
                .with_platform(crate::PLATFORM),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketmedia_core::ErrorKind;

    fn secret(library_id: &str, secret: &str) -> SmhConfigBuilder {
        SmhConfig::builder()
            .library_id(library_id)
            .library_secret(secret)
    }

    fn token(library_id: &str, token: &str) -> SmhConfigBuilder {
        SmhConfig::builder()
            .library_id(library_id)
            .access_token(token)
    }

    #[test]
    fn debug_never_shows_secrets_or_token_bearing_urls() {
        let url = "https://user:pw-xyz@proxy.example/smh?access_token=tok-in-url";
        for b in [
            secret("lib", "hunter2-secret").base_url(url),
            token("lib", "tok-abcdef").base_url(url),
        ] {
            let c = b.clone().build().unwrap();
            for text in [format!("{c:?}"), format!("{b:?}")] {
                for leak in ["hunter2", "tok-abcdef", "pw-xyz", "tok-in-url"] {
                    assert!(!text.contains(leak), "{leak} in {text}");
                }
                assert!(text.contains("proxy.example/smh"), "{text}");
            }
        }
    }

    #[test]
    fn defaults() {
        let c = secret("lib", "s").build().unwrap();
        assert_eq!(c.space_id, "-");
        assert_eq!(c.conflict, ConflictStrategy::Rename);
        assert_eq!(c.storage_scheme, StorageScheme::Https);
        assert_eq!(c.part_size, 2 * MIB);
        assert_eq!(c.grants, vec!["upload_file".to_string()]);
        assert!(!c.allow_plain_http);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn build_names_the_missing_setting() {
        let cases = [
            (SmhConfig::builder().library_secret("s"), "library_id"),
            (SmhConfig::builder().library_id("lib"), "library_secret"),
            (secret("lib", "s").access_token("t"), "access_token"),
            (secret("lib", ""), "library_secret"),
            (token("lib", ""), "access_token"),
        ];
        for (b, name) in cases {
            let err = b.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn the_library_is_served_on_its_own_domain() {
        // DescribeLibraries: LibraryId smh0q8nrvsg7t6y6 → AccessDomain smh0q8nrvsg7t6y6.api.tencentsmh.cn.
        let c = secret("smh0q8nrvsg7t6y6", "s").build().unwrap();
        assert_eq!(c.base_url, "https://smh0q8nrvsg7t6y6.api.tencentsmh.cn");
        let c = token("smhABC", "t").build().unwrap();
        assert_eq!(c.base_url, "https://smhabc.api.tencentsmh.cn");
        // The override is kept.
        let c = secret("smhlib", "s")
            .base_url("https://proxy.example/smh")
            .build()
            .unwrap();
        assert_eq!(c.base_url, "https://proxy.example/smh");
        // A library id that cannot be a host label gives no default: the error says what to set.
        let err = secret("lib_with_underscore", "s").build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("AccessDomain"), "{err}");
    }

    #[test]
    fn plain_http_only_with_the_explicit_setting() {
        let err = secret("lib", "s")
            .base_url("http://127.0.0.1:9000")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("plain HTTP"), "{err}");
        let err = secret("lib", "s")
            .storage_scheme(StorageScheme::Http)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(secret("lib", "s")
            .sandbox("http://127.0.0.1:9000")
            .build()
            .is_ok());
    }

    #[test]
    fn validation_refuses_bad_values() {
        let cases = [
            secret("", "s"),
            secret("lib", "s").part_size(MIB - 1),
            secret("lib", "s").directory("a/../b"),
            secret("lib", "s").directory("a//b"),
            secret("lib", "s").base_url("not a url"),
            secret("lib", "s").space(""),
            secret("lib", "s").grants(["upload_file,admin"]),
            secret("lib", "s").grants([""]),
            secret("lib", "s").base_url("ftp://host/"),
        ];
        for b in cases {
            let shown = format!("{b:?}");
            let err = b.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{shown}");
        }
        assert_eq!(
            directory_segments("/a/b/").unwrap(),
            vec!["a".to_string(), "b".to_string()]
        );
    }
}
