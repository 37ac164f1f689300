//! How to reach a media library and where uploads go. Every secret is a [`Secret`], so the
//! derived `Debug` prints `***` in their place.

use std::time::Duration;

use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::raw::{Error, Result, Secret, TokenSource};

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
/// [`SmhConfig::base_url`] to the library's `AccessDomain`).
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

/// Configuration of an [`crate::SmhUploader`].
#[derive(Debug, Clone)]
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
    /// not create parent directories (see [`crate::SmhUploader::create_directory`]).
    pub directory: String,
    /// Target file name; the source's file name when `None`.
    pub file_name: Option<String>,
    /// What to do when the target exists.
    pub conflict: ConflictStrategy,
    /// Preferred part size (≥ 1 MiB; grown by the planner so a file needs ≤ 10,000 parts).
    /// Default [`DEFAULT_PART_SIZE`].
    pub part_size: u64,
    /// Whether to try instant upload (hash handshake) for files of at least 1 MiB.
    pub instant_upload: bool,
    /// Largest image accepted by [`marketmedia_core::ImageUploader`] (held in memory).
    pub image_max_bytes: u64,
    /// Per-attempt HTTP timeouts.
    pub timeouts: HttpTimeouts,
}

impl SmhConfig {
    /// A configuration with a library secret and every default: space `-`, the library's own
    /// API host (`https://{library_id}.api.tencentsmh.cn`), tokens granted `upload_file`, HTTPS
    /// only, the space's root directory, `rename` on conflicts, 2 MiB parts, instant
    /// upload on.
    pub fn new(library_id: impl Into<String>, library_secret: impl Into<Secret>) -> Self {
        let library_id = library_id.into();
        let base_url = library_base_url(&library_id).unwrap_or_default();
        SmhConfig {
            library_id,
            credentials: Credentials::LibrarySecret(library_secret.into()),
            space_id: "-".into(),
            user_id: None,
            token_period: None,
            token_refresh_margin: Duration::from_secs(60),
            token_source: None,
            grants: DEFAULT_GRANTS.iter().map(|g| (*g).to_owned()).collect(),
            base_url,
            storage_scheme: StorageScheme::Https,
            allow_plain_http: false,
            directory: String::new(),
            file_name: None,
            conflict: ConflictStrategy::Rename,
            part_size: DEFAULT_PART_SIZE,
            instant_upload: true,
            image_max_bytes: 50 * MIB,
            timeouts: HttpTimeouts::default(),
        }
    }

    /// A configuration with a ready access token instead of the library secret.
    pub fn with_access_token(library_id: impl Into<String>, token: impl Into<Secret>) -> Self {
        SmhConfig {
            credentials: Credentials::AccessToken(token.into()),
            ..SmhConfig::new(library_id, "")
        }
    }

    /// Takes each request's access token from `tokens` (shared with the library's other
    /// uploaders, e.g. built with [`crate::auth::SmhRefresher`]) instead of fetching its own.
    pub fn with_token_source(mut self, tokens: TokenSource) -> Self {
        self.token_source = Some(tokens);
        self
    }

    /// Sets the tenant space.
    pub fn space(mut self, space_id: impl Into<String>) -> Self {
        self.space_id = space_id.into();
        self
    }

    /// Sets the user identity for tokens.
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Overrides the API base URL (a simulator, a proxy).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the storage URL scheme ([`StorageScheme::Http`] also needs
    /// [`SmhConfig::allow_plain_http`]).
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

    /// Sets the permissions asked for with each token (`grant`); see [`DEFAULT_GRANTS`].
    pub fn grants<I, S>(mut self, grants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grants = grants.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the target directory (`a/b`, empty for the root).
    pub fn directory(mut self, dir: impl Into<String>) -> Self {
        self.directory = dir.into();
        self
    }

    /// Sets the target file name (default: the source's name).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// Sets the conflict strategy.
    pub fn conflict(mut self, strategy: ConflictStrategy) -> Self {
        self.conflict = strategy;
        self
    }

    /// Sets the preferred part size.
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Turns the instant-upload handshake on or off.
    pub fn instant_upload(mut self, on: bool) -> Self {
        self.instant_upload = on;
        self
    }

    /// Checks the configuration without any request.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid_input(m).with_platform(crate::PLATFORM));
        if self.library_id.trim().is_empty() {
            return bad("the SMH library id is empty".into());
        }
        match &self.credentials {
            Credentials::LibrarySecret(s) if s.is_empty() => {
                return bad("the SMH library secret is empty".into())
            }
            Credentials::AccessToken(t) if t.is_empty() => {
                return bad("the SMH access token is empty".into())
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
        let Ok(base) = url::Url::parse(&self.base_url) else {
            return bad(format!("{:?} is not a URL", self.base_url));
        };
        let plain = base.scheme() == "http" || self.storage_scheme == StorageScheme::Http;
        if base.scheme() != "https" && base.scheme() != "http" {
            return bad(format!("{:?} is not an HTTPS URL", self.base_url));
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
        if let Some(name) = &self.file_name {
            check_file_name(name)?;
        }
        Ok(())
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

    #[test]
    fn debug_never_shows_secrets() {
        let c = SmhConfig::new("lib", "hunter2-secret");
        let text = format!("{c:?}");
        assert!(!text.contains("hunter2"), "{text}");
        let c = SmhConfig::with_access_token("lib", "tok-abcdef");
        let text = format!("{c:?}");
        assert!(!text.contains("tok-abcdef"), "{text}");
    }

    #[test]
    fn defaults() {
        let c = SmhConfig::new("lib", "s");
        assert_eq!(c.space_id, "-");
        assert_eq!(c.conflict, ConflictStrategy::Rename);
        assert_eq!(c.storage_scheme, StorageScheme::Https);
        assert_eq!(c.part_size, 2 * MIB);
        assert_eq!(c.grants, vec!["upload_file".to_string()]);
        assert!(!c.allow_plain_http);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_library_is_served_on_its_own_domain() {
        // DescribeLibraries: LibraryId smh0q8nrvsg7t6y6 → AccessDomain smh0q8nrvsg7t6y6.api.tencentsmh.cn.
        let c = SmhConfig::new("smh0q8nrvsg7t6y6", "s");
        assert_eq!(c.base_url, "https://smh0q8nrvsg7t6y6.api.tencentsmh.cn");
        let c = SmhConfig::with_access_token("smhABC", "t");
        assert_eq!(c.base_url, "https://smhabc.api.tencentsmh.cn");
        // The override is kept.
        let c = SmhConfig::new("smhlib", "s").base_url("https://proxy.example/smh");
        assert_eq!(c.base_url, "https://proxy.example/smh");
        assert!(c.validate().is_ok());
        // A library id that cannot be a host label gives no default: the error says what to set.
        let c = SmhConfig::new("lib_with_underscore", "s");
        let err = c.validate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("AccessDomain"), "{err}");
    }

    #[test]
    fn plain_http_only_with_the_explicit_setting() {
        let c = SmhConfig::new("lib", "s").base_url("http://127.0.0.1:9000");
        let err = c.validate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("plain HTTP"), "{err}");
        let c = SmhConfig::new("lib", "s").storage_scheme(StorageScheme::Http);
        assert_eq!(c.validate().unwrap_err().kind(), ErrorKind::InvalidInput);
        assert!(SmhConfig::new("lib", "s")
            .sandbox("http://127.0.0.1:9000")
            .validate()
            .is_ok());
    }

    #[test]
    fn validation_refuses_bad_values() {
        let cases = [
            SmhConfig::new("", "s"),
            SmhConfig::new("lib", ""),
            SmhConfig::with_access_token("lib", ""),
            SmhConfig::new("lib", "s").part_size(MIB - 1),
            SmhConfig::new("lib", "s").directory("a/../b"),
            SmhConfig::new("lib", "s").directory("a//b"),
            SmhConfig::new("lib", "s").file_name("a/b.mp4"),
            SmhConfig::new("lib", "s").base_url("not a url"),
            SmhConfig::new("lib", "s").space(""),
            SmhConfig::new("lib", "s").grants(["upload_file,admin"]),
            SmhConfig::new("lib", "s").grants([""]),
            SmhConfig::new("lib", "s").base_url("ftp://host/"),
        ];
        for c in cases {
            let err = c.validate().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{c:?}");
        }
        assert_eq!(
            directory_segments("/a/b/").unwrap(),
            vec!["a".to_string(), "b".to_string()]
        );
    }
}
