//! Simulator of Tencent Cloud **Smart Media Hosting (SMH)**: the SMH API server and the
//! separate COS-like storage server that receives the bytes through presigned PUTs.
//!
//! Written from `platforms.md` section 3 only. What it enforces, its test credentials and every
//! choice made where the platform text is open are in `docs/simulators/smh.md`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use marketmedia_sim::smh::{SmhSim, SmhSimConfig};
//! let sim = SmhSim::new(SmhSimConfig::default());
//! let servers = sim.start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("API at {}, storage at {}", servers.api_base_url(), servers.storage_base_url());
//! # Ok(()) }
//! ```

mod auth;
pub mod calls;
pub mod digest;
mod storage;
mod upload;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use bytes::Bytes;
use serde::Serialize;

use crate::common::Retention;
use crate::faults::ErrorStyle;
use crate::skeleton::{BodyLimit, SimCore};
use crate::{serve, SimServer};
use calls::SmhError;
use digest::{instant_hashes, InstantHashes};

pub use auth::{
    DIRECTORY_GRANTS, MAX_PERIOD_SECS, MIN_PERIOD_SECS, SIM_ACCESS_KEY_ID, UPLOAD_GRANTS,
};
pub use calls::iso8601;

/// The platform name in [`WireRecord::platform`](super::WireRecord::platform).
pub const PLATFORM: &str = "smh";
/// The test media library id.
pub const TEST_LIBRARY_ID: &str = "smhsimlib0000001";
/// The test media library secret.
pub const TEST_LIBRARY_SECRET: &str = "smhsim-library-secret-0123456789abcdef";
/// The space id of a single-tenant library.
pub const TEST_SPACE_ID: &str = "-";
/// 1 MiB.
pub const MIB: u64 = 1024 * 1024;

/// The 403 code an expired access token gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiredTokenCode {
    /// 403 `AuthorizationExpired` (default).
    #[default]
    AuthorizationExpired,
    /// 403 `InvalidAccessToken`, as the official JS SDK's documentation describes an expired
    /// token.
    InvalidAccessToken,
}

impl ExpiredTokenCode {
    fn code(self) -> &'static str {
        match self {
            ExpiredTokenCode::AuthorizationExpired => "AuthorizationExpired",
            ExpiredTokenCode::InvalidAccessToken => "InvalidAccessToken",
        }
    }
}

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SmhSimConfig {
    /// The media library id. Default [`TEST_LIBRARY_ID`].
    pub library_id: String,
    /// The media library secret. Default [`TEST_LIBRARY_SECRET`].
    pub library_secret: String,
    /// The library's spaces. Default `["-"]` (single-tenant).
    pub space_ids: Vec<String>,
    /// Lifetime of an access token when the token call has no usable `period` (Tencent's
    /// default: 86,400 s). A given `period` is kept within 300 s – 315,360,000 s.
    pub token_lifetime: Duration,
    /// The code an expired access token gets. Default `AuthorizationExpired`.
    pub expired_token_code: ExpiredTokenCode,
    /// How long presigned storage headers stay valid (the `expiration` of begin, status and
    /// renew answers). Default 30 min.
    pub upload_info_lifetime: Duration,
    /// How long an unconfirmed upload task lives before it is forgotten (404
    /// `UploadNotFound`). Default 24 h.
    pub upload_task_lifetime: Duration,
    /// Minimum size of every part but the last, checked at confirm. Default 1 MiB.
    pub min_part_size: u64,
    /// Highest part number the presigned headers allow. Default 10,000.
    pub max_part_number: u32,
    /// Largest body of one storage PUT (part or simple upload). Default 5 GiB. A PUT that
    /// declares more is refused before its body is read.
    pub max_put_size: u64,
    /// How many wire records and bytes of stored files are kept, oldest evicted first.
    /// Default [`Retention::default`].
    pub retention: Retention,
    /// Largest body of an API call (JSON), in bytes; past it 413 `RequestEntityTooLarge` in
    /// SMH's JSON form, before the body is read when declared. Default 2 MiB.
    pub max_request_bytes: usize,
    /// Longest query string of an API call, in bytes; past it 414 `RequestURITooLong` in SMH's
    /// JSON form. Default 8 KiB (a real call's query is under 1 KiB).
    pub max_query_bytes: usize,
    /// Whether instant upload is offered. Default true.
    pub instant_upload: bool,
    /// Smallest file eligible for instant upload. Default 1 MiB.
    pub instant_upload_min_size: u64,
    /// Library capacity in bytes (quota). Default 100 GiB.
    pub capacity_bytes: u64,
    /// Whether creating a directory also creates its missing parents. Default false (404
    /// `DirectoryNotFound`).
    pub create_parent_directories: bool,
    /// Answer every API call with 429 `RateLimitExceeded` (also switchable at run time with
    /// [`SmhSim::set_rate_limited`]). Default false.
    pub rate_limited: bool,
    /// The `domain` handed out for storage PUTs; `None` (default) uses the storage server's
    /// `127.0.0.1:PORT` once started.
    pub storage_domain: Option<String>,
}

impl Default for SmhSimConfig {
    fn default() -> Self {
        Self {
            library_id: TEST_LIBRARY_ID.to_owned(),
            library_secret: TEST_LIBRARY_SECRET.to_owned(),
            space_ids: vec![TEST_SPACE_ID.to_owned()],
            token_lifetime: Duration::from_secs(24 * 3600),
            expired_token_code: ExpiredTokenCode::default(),
            upload_info_lifetime: Duration::from_secs(30 * 60),
            upload_task_lifetime: Duration::from_secs(24 * 3600),
            min_part_size: MIB,
            max_part_number: 10_000,
            max_put_size: 5 * 1024 * MIB,
            retention: Retention::default(),
            max_request_bytes: 2 * MIB as usize,
            max_query_bytes: 8 * 1024,
            instant_upload: true,
            instant_upload_min_size: MIB,
            capacity_bytes: 100 * 1024 * MIB,
            create_parent_directories: false,
            rate_limited: false,
            storage_domain: None,
        }
    }
}

/// The test credentials a client needs (what the `marketmedia-sim` binary prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmhCredentials {
    /// Media library id.
    pub library_id: String,
    /// Media library secret.
    pub library_secret: String,
    /// Space id (`-` for the single-tenant library).
    pub space_id: String,
}

/// Where an upload task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmhUploadState {
    /// Begun, accepting parts.
    Active,
    /// Confirmed; the file is at this path (segments; the last is the name).
    Confirmed {
        /// The final path, after any auto-rename.
        path: Vec<String>,
    },
    /// Cancelled (or expired).
    Cancelled,
}

/// A part the storage server holds for an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmhPart {
    /// The part number as sent (1-based).
    pub number: u32,
    /// Its size in bytes.
    pub size: u64,
    /// Its eTag (quoted lowercase hex MD5).
    pub etag: String,
}

/// A file of the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmhFile {
    /// The space it lives in.
    pub space_id: String,
    /// Its path (`dir/name.mp4`).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its eTag as answered (quoted).
    pub etag: String,
    /// Its CRC-64/XZ.
    pub crc64: u64,
}

/// The SMH simulator (API + storage). Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct SmhSim {
    core: Arc<SimCore<SmhSimConfig, State>>,
}

/// The two running servers of an SMH simulator. Dropping it stops both.
#[derive(Debug)]
pub struct SmhServers {
    /// The SMH API server.
    pub api: SimServer,
    /// The COS-like storage server.
    pub storage: SimServer,
}

impl SmhServers {
    /// `http://127.0.0.1:PORT` of the API server.
    pub fn api_base_url(&self) -> String {
        self.api.base_url()
    }

    /// `http://127.0.0.1:PORT` of the storage server.
    pub fn storage_base_url(&self) -> String {
        self.storage.base_url()
    }

    /// `127.0.0.1:PORT` of the storage server: what the API returns as `domain` (no scheme).
    pub fn storage_domain(&self) -> String {
        self.storage.addr().to_string()
    }
}

/// What a standalone run prints: where to reach the simulator and how to log in.
#[derive(Debug, Clone, Serialize)]
pub struct SmhEndpoints {
    /// Always `smh`.
    pub platform: &'static str,
    /// Base URL of the SMH API (`http://127.0.0.1:PORT`).
    pub api_base_url: String,
    /// Base URL of the storage server.
    pub storage_base_url: String,
    /// The storage `domain` as the API returns it (no scheme).
    pub storage_domain: String,
    /// The scheme to put in front of `domain`: `http` here, `https` on the real platform.
    pub storage_scheme: &'static str,
    /// The test credentials.
    pub credentials: SmhCredentials,
}

/// A simulator running standalone (e.g. from the `marketmedia-sim` binary). Dropping it stops
/// the servers.
#[derive(Debug)]
pub struct SmhStandalone {
    /// The simulator (its wire log, clock and accessors).
    pub sim: SmhSim,
    /// The running servers.
    pub servers: SmhServers,
    /// Base URLs and credentials, serializable for printing.
    pub endpoints: SmhEndpoints,
}

/// Starts an SMH simulator with `config`: the API on `api_addr`, the storage on
/// `storage_addr` (port 0 = a free port), and returns it with its endpoints and credentials.
pub async fn start_standalone(
    config: SmhSimConfig,
    api_addr: SocketAddr,
    storage_addr: SocketAddr,
) -> std::io::Result<SmhStandalone> {
    let sim = SmhSim::new(config);
    let servers = sim.start_on(api_addr, storage_addr).await?;
    let endpoints = sim.endpoints(&servers);
    Ok(SmhStandalone {
        sim,
        servers,
        endpoints,
    })
}

impl SmhSim {
    /// A simulator with `config` and an empty library (root directory only).
    pub fn new(config: SmhSimConfig) -> Self {
        let max_records = config.retention.max_wire_records;
        let core = SimCore::new(config, |config, _| State {
            rate_limited: config.rate_limited,
            storage_domain: config
                .storage_domain
                .clone()
                .unwrap_or_else(|| "127.0.0.1".to_owned()),
            // A new secret with every state, as a restarted service has: presigned headers
            // issued before a reset are refused with 403 AccessDenied, as after a restart.
            secret: rand::random(),
            ..State::default()
        });
        core.wire().set_max_records(max_records);
        Self {
            core: Arc::new(core),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.core.state()
    }

    /// Forgets every token, upload and file and signs with a new secret, as the service does
    /// after a restart: parts sent with earlier presigned headers are refused 403
    /// `AccessDenied`. The storage domain is kept.
    pub fn restart(&self) {
        use crate::control::Control;
        self.control_reset();
    }

    /// The secret the presigned storage headers are signed with (new after every reset).
    pub(crate) fn secret(&self) -> [u8; 32] {
        self.state().secret
    }

    sim_accessors!(SmhSimConfig);

    /// The SMH API application (its JSON bodies are read up to
    /// [`SmhSimConfig::max_request_bytes`]).
    pub fn router(&self) -> Router {
        let routes = Router::new().fallback(calls::handle);
        self.core
            .app(routes, ErrorStyle::Smh, BodyLimit::Own, self.clone())
    }

    /// The storage (COS-like) application. Its fault layer is the API's: one [`faults()`]
    /// handle controls both, and [`faults::scope`](crate::faults::scope) selects either.
    ///
    /// [`faults()`]: SmhSim::faults
    pub fn storage_router(&self) -> Router {
        let routes = Router::new().fallback(storage::handle);
        self.core
            .app(routes, ErrorStyle::Cos, BodyLimit::Own, self.clone())
    }

    /// Starts the API on `addr` and the storage server on the same IP with a free port.
    pub async fn start(&self, addr: SocketAddr) -> std::io::Result<SmhServers> {
        self.start_on(addr, SocketAddr::new(addr.ip(), 0)).await
    }

    /// Starts the API on `api_addr` and the storage server on `storage_addr`.
    pub async fn start_on(
        &self,
        api_addr: SocketAddr,
        storage_addr: SocketAddr,
    ) -> std::io::Result<SmhServers> {
        let storage = serve(self.storage_router(), storage_addr).await?;
        if self.config().storage_domain.is_none() {
            self.set_storage_domain(storage.addr().to_string());
        }
        let api = serve(self.router(), api_addr).await?;
        Ok(SmhServers { api, storage })
    }

    /// The endpoints and credentials of running `servers`.
    pub fn endpoints(&self, servers: &SmhServers) -> SmhEndpoints {
        SmhEndpoints {
            platform: PLATFORM,
            api_base_url: servers.api_base_url(),
            storage_base_url: servers.storage_base_url(),
            storage_domain: self.storage_domain(),
            storage_scheme: "http",
            credentials: self.credentials(),
        }
    }

    /// Sets the `domain` the API hands out (when serving the routers yourself).
    pub fn set_storage_domain(&self, domain: impl Into<String>) {
        self.state().storage_domain = domain.into();
    }

    /// The `domain` the API hands out.
    pub fn storage_domain(&self) -> String {
        self.state().storage_domain.clone()
    }

    /// The test credentials.
    pub fn credentials(&self) -> SmhCredentials {
        let c = self.config();
        SmhCredentials {
            library_id: c.library_id.clone(),
            library_secret: c.library_secret.clone(),
            space_id: c
                .space_ids
                .first()
                .cloned()
                .unwrap_or_else(|| TEST_SPACE_ID.to_owned()),
        }
    }

    /// Turns the forced 429 `RateLimitExceeded` on or off.
    pub fn set_rate_limited(&self, on: bool) {
        self.state().rate_limited = on;
    }

    /// Issues an access token for the first space without going through HTTP (for tests that
    /// exercise something else than the token call), granted `upload_file` and
    /// `create_directory` (the token page's own example).
    pub fn issue_token(&self) -> String {
        self.issue_token_with_grants(&["upload_file", "create_directory"])
    }

    /// Issues an access token for the first space with exactly `grants` (empty: read only),
    /// valid for the configured default period.
    pub fn issue_token_with_grants(&self, grants: &[&str]) -> String {
        let token = format!("acctk{}", crate::util::random_hex(32));
        let period = self.config().token_lifetime.as_secs() as i64;
        let now = self.clock().now_millis();
        let space_id = self.credentials().space_id;
        self.state().tokens.insert(
            token.clone(),
            Token {
                library_id: self.config().library_id,
                space_id,
                period_secs: period,
                expires_ms: now + period * 1000,
                grants: grants.iter().map(|g| (*g).to_owned()).collect(),
            },
        );
        token
    }

    /// The permissions of an access token (`None`: unknown token).
    pub fn token_grants(&self, token: &str) -> Option<Vec<String>> {
        let st = self.state();
        Some(st.tokens.get(token)?.grants.iter().cloned().collect())
    }

    /// When an access token expires, Unix ms on the sim clock (`None`: unknown token). Every
    /// call that uses the token moves it to its full `period` from then.
    pub fn token_expires_ms(&self, token: &str) -> Option<i64> {
        self.state().tokens.get(token).map(|t| t.expires_ms)
    }

    /// Creates directory `path` (`a/b`, parents included) in `space_id` without HTTP. Stops
    /// silently at a segment that is a file.
    pub fn create_directory(&self, space_id: &str, path: &str) {
        let segments: Vec<String> = split(path);
        let mut st = self.state();
        for i in 1..=segments.len() {
            if st.file(space_id, &segments[..i]).is_some() {
                return;
            }
            if !st.dir_exists(space_id, &segments[..i]) {
                st.insert_dir(space_id, &segments[..i]);
            }
        }
    }

    /// The bytes of the file at `path` (`dir/name.mp4`) in the first space.
    pub fn file(&self, path: &str) -> Option<Bytes> {
        self.file_in(&self.credentials().space_id, path)
    }

    /// The bytes of the file at `path` in `space_id`.
    pub fn file_in(&self, space_id: &str, path: &str) -> Option<Bytes> {
        self.state().file(space_id, &split(path))?.bytes.clone()
    }

    /// Every file of the library, by space then path.
    pub fn files(&self) -> Vec<SmhFile> {
        self.state()
            .nodes
            .iter()
            .filter_map(|((space, path), node)| match node {
                Node::File(f) => Some(SmhFile {
                    space_id: space.clone(),
                    path: path.clone(),
                    size: f.size,
                    etag: f.etag.clone(),
                    crc64: f.crc64,
                }),
                Node::Dir => None,
            })
            .collect()
    }

    /// Every directory of the library as (space, path).
    pub fn directories(&self) -> Vec<(String, String)> {
        self.state()
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n, Node::Dir))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Bytes used by the library's files (what the quota counts).
    pub fn used_bytes(&self) -> u64 {
        self.state().used_bytes()
    }

    /// The state of the upload task with `confirm_key`.
    pub fn upload_state(&self, confirm_key: &str) -> Option<SmhUploadState> {
        let st = self.state();
        let upload = st.uploads.get(confirm_key)?;
        let expired = self.clock().now_millis() > upload.task_expires_ms;
        Some(match &upload.state {
            TaskState::Active if expired => SmhUploadState::Cancelled,
            TaskState::Active => SmhUploadState::Active,
            TaskState::Confirmed { path } => SmhUploadState::Confirmed { path: path.clone() },
            TaskState::Cancelled => SmhUploadState::Cancelled,
        })
    }

    /// The parts the storage holds for the upload with `confirm_key`, by part number (a
    /// re-sent part replaces the earlier one; a simple upload's body shows as part 0).
    pub fn parts(&self, confirm_key: &str) -> Option<Vec<SmhPart>> {
        let st = self.state();
        let upload = st.uploads.get(confirm_key)?;
        let part = |number: u32, p: &StoredPart| SmhPart {
            number,
            size: p.size,
            etag: format!("\"{}\"", hex::encode(p.md5)),
        };
        let mut parts: Vec<SmhPart> = upload.parts.iter().map(|(n, p)| part(*n, p)).collect();
        if let Some(body) = &upload.body {
            parts.push(part(0, body));
        }
        Some(parts)
    }

    /// The bytes the storage still holds in the parts (and simple-upload bodies) of the upload
    /// with `confirm_key`: after a confirm they are slices of the stored file, and 0 once the
    /// retention limit evicted that file (`None`: unknown key).
    pub fn held_part_bytes(&self, confirm_key: &str) -> Option<u64> {
        let st = self.state();
        let upload = st.uploads.get(confirm_key)?;
        let parts: usize = upload.parts.values().map(|p| p.bytes.len()).sum();
        let body = upload.body.as_ref().map_or(0, |b| b.bytes.len());
        Some((parts + body) as u64)
    }

    /// The `uploadId` of the upload with `confirm_key` (`None` for a simple upload).
    pub fn upload_id(&self, confirm_key: &str) -> Option<String> {
        self.state().uploads.get(confirm_key)?.upload_id.clone()
    }

    /// Number of upload tasks ever begun (instant uploads create none).
    pub fn upload_count(&self) -> usize {
        self.state().uploads.len()
    }

    /// Total bytes the storage server accepted (parts and simple-upload bodies, re-sends
    /// included). Zero after an instant upload.
    pub fn storage_bytes_received(&self) -> u64 {
        self.state().storage_bytes
    }
}

/// `a/b/c` → `["a","b","c"]`, ignoring empty segments.
fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// State: The simulator's state: tokens, the directory tree of each space, upload tasks, the instant-upload index, and the rules for placing a file (parent checks, conflict strategies, auto-rename).

/// An access token issued by the token call.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub library_id: String,
    pub space_id: String,
    pub period_secs: i64,
    pub expires_ms: i64,
    /// The permissions of `grant`; empty = read only.
    pub grants: BTreeSet<String>,
}

/// A stored file.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    /// The bytes; `None` once evicted by the retention limit.
    pub bytes: Option<Bytes>,
    /// Their size (kept after eviction).
    pub size: u64,
    /// When it was stored, in store order (for the retention limit).
    pub seq: u64,
    /// Quoted, as COS returns it.
    pub etag: String,
    pub crc64: u64,
    pub content_type: &'static str,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// A node of a space's tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Dir,
    File(StoredFile),
}

/// One part held by the storage server.
#[derive(Debug, Clone)]
pub(crate) struct StoredPart {
    /// The part's bytes: after a confirm, a slice of the file's (no second copy); empty once
    /// the retention limit evicted that file.
    pub bytes: Bytes,
    /// Its size as received (kept when the bytes are evicted).
    pub size: u64,
    pub md5: [u8; 16],
    pub received_ms: i64,
}

/// Where an upload task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskState {
    Active,
    Confirmed { path: Vec<String> },
    Cancelled,
}

/// `rename`, `ask` or `overwrite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conflict {
    Rename,
    Ask,
    Overwrite,
}

impl Conflict {
    /// Parses the query value; absent or empty means `default`.
    pub fn parse(value: Option<&str>, default: Conflict) -> Result<Conflict, SmhError> {
        match value {
            None | Some("") => Ok(default),
            Some("rename") => Ok(Conflict::Rename),
            Some("ask") => Ok(Conflict::Ask),
            Some("overwrite") => Ok(Conflict::Overwrite),
            Some(other) => Err(SmhError::invalid(format!(
                "conflict_resolution_strategy must be rename, ask or overwrite, got {other:?}"
            ))),
        }
    }
}

/// An upload task, from begin to confirm or cancel.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub space_id: String,
    pub target: Vec<String>,
    pub conflict: Conflict,
    /// `Some` for a multipart upload, `None` for a simple one.
    pub upload_id: Option<String>,
    pub storage_path: String,
    pub security_token: String,
    pub parts: BTreeMap<u32, StoredPart>,
    /// The whole body of a simple upload.
    pub body: Option<StoredPart>,
    pub created_ms: i64,
    pub task_expires_ms: i64,
    pub state: TaskState,
}

/// An entry of the instant-upload index.
#[derive(Debug, Clone)]
pub(crate) struct IndexEntry {
    pub size: u64,
    pub bytes: Bytes,
    /// The file's eTag and CRC-64, kept so an instant upload stores a copy without hashing it
    /// again.
    pub etag: String,
    pub crc64: u64,
    /// The instant-upload hashes, computed on the blocking pool after the file is stored (so
    /// the confirm answer does not wait for them); a begin that needs them first computes
    /// them itself or waits for that computation.
    hashes: Arc<OnceLock<InstantHashes>>,
}

impl IndexEntry {
    /// An entry whose hashes are computed in the background when a runtime is there.
    pub fn new(bytes: Bytes, etag: String, crc64: u64) -> IndexEntry {
        let hashes: Arc<OnceLock<InstantHashes>> = Arc::default();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (cell, data) = (Arc::clone(&hashes), bytes.clone());
            runtime.spawn_blocking(move || {
                cell.get_or_init(|| instant_hashes(&data));
            });
        }
        IndexEntry {
            size: bytes.len() as u64,
            bytes,
            etag,
            crc64,
            hashes,
        }
    }

    /// The entry's instant-upload hashes.
    pub fn hashes(&self) -> &InstantHashes {
        self.hashes.get_or_init(|| instant_hashes(&self.bytes))
    }
}

/// Everything the simulator remembers.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The per-instance secret the presigned storage headers are signed with.
    pub secret: [u8; 32],
    pub tokens: HashMap<String, Token>,
    /// (space id, "a/b/c") → node. The root of every space exists implicitly.
    pub nodes: BTreeMap<(String, String), Node>,
    /// confirm key → upload.
    pub uploads: HashMap<String, Upload>,
    /// uploadId → confirm key.
    pub by_upload_id: HashMap<String, String>,
    /// storage path of a simple upload → confirm key.
    pub by_simple_path: HashMap<String, String>,
    pub index: Vec<IndexEntry>,
    pub storage_bytes: u64,
    pub storage_domain: String,
    pub rate_limited: bool,
    /// The `seq` of the next file stored.
    pub next_file_seq: u64,
}

/// Joins path segments with `/`.
pub(crate) fn join(path: &[String]) -> String {
    path.join("/")
}

/// Where a file will land, and whether it replaces one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub path: Vec<String>,
    pub overwrites: Option<u64>,
}

impl State {
    fn node(&self, space: &str, path: &[String]) -> Option<&Node> {
        self.nodes.get(&(space.to_owned(), join(path)))
    }

    /// Whether the directory `path` exists (the root always does).
    pub fn dir_exists(&self, space: &str, path: &[String]) -> bool {
        path.is_empty() || matches!(self.node(space, path), Some(Node::Dir))
    }

    /// Bytes held by every file of every space.
    pub fn used_bytes(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| match n {
                Node::File(f) => f.size,
                Node::Dir => 0,
            })
            .sum()
    }

    /// Checks the parent directory exists: 404 `DirectoryNotFound` otherwise.
    pub fn check_parent(&self, space: &str, path: &[String]) -> Result<(), SmhError> {
        let parent = &path[..path.len().saturating_sub(1)];
        if self.dir_exists(space, parent) {
            Ok(())
        } else {
            Err(SmhError::new(
                StatusCode::NOT_FOUND,
                "DirectoryNotFound",
                format!("directory /{} does not exist", join(parent)),
            ))
        }
    }

    /// Decides where a file (`is_dir == false`) or directory lands under `conflict`.
    pub fn place(
        &self,
        space: &str,
        target: &[String],
        conflict: Conflict,
        is_dir: bool,
    ) -> Result<Placement, SmhError> {
        self.check_parent(space, target)?;
        let exists = || {
            SmhError::new(
                StatusCode::CONFLICT,
                "SameNameDirectoryOrFileExists",
                format!("/{} already exists", join(target)),
            )
        };
        match (self.node(space, target), conflict) {
            (None, _) => Ok(Placement {
                path: target.to_vec(),
                overwrites: None,
            }),
            (Some(_), Conflict::Ask) => Err(exists()),
            // A directory is never overwritten, and a directory never overwrites a file.
            (Some(Node::Dir), Conflict::Overwrite) => Err(exists()),
            (Some(Node::File(_)), Conflict::Overwrite) if is_dir => Err(exists()),
            (Some(Node::File(f)), Conflict::Overwrite) => Ok(Placement {
                path: target.to_vec(),
                overwrites: Some(f.size),
            }),
            (Some(_), Conflict::Rename) => Ok(Placement {
                path: self.free_name(space, target, is_dir),
                overwrites: None,
            }),
        }
    }

    /// `name (1).ext`, `name (2).ext`, ...: the first free one. Directories keep no extension.
    fn free_name(&self, space: &str, target: &[String], is_dir: bool) -> Vec<String> {
        let (parent, name) = target.split_at(target.len().saturating_sub(1));
        let name = name.first().map(String::as_str).unwrap_or("");
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 && !is_dir => name.split_at(i),
            _ => (name, ""),
        };
        let mut n = 1u64;
        loop {
            let mut candidate = parent.to_vec();
            candidate.push(format!("{stem} ({n}){ext}"));
            if self.node(space, &candidate).is_none() {
                return candidate;
            }
            n += 1;
        }
    }

    /// Creates a directory node.
    pub fn insert_dir(&mut self, space: &str, path: &[String]) {
        self.nodes.insert((space.to_owned(), join(path)), Node::Dir);
    }

    /// Stores a file at an already decided placement; returns the stored file.
    pub fn insert_file(&mut self, space: &str, path: &[String], mut file: StoredFile) {
        file.seq = self.next_file_seq;
        self.next_file_seq += 1;
        self.nodes
            .insert((space.to_owned(), join(path)), Node::File(file));
    }

    /// Evicts the bytes of the oldest files until at most `max` bytes are held (the newest
    /// is always kept), and forgets them in the instant-upload index: an evicted file can no
    /// longer be copied by an instant upload.
    pub fn enforce_retention(&mut self, max: u64) {
        let held = self.nodes.iter().filter_map(|(key, node)| match node {
            Node::File(f) if f.bytes.is_some() => Some((key.clone(), f.seq, f.size)),
            _ => None,
        });
        let evicted = crate::common::to_evict(held, max);
        for key in &evicted {
            if let Some(Node::File(f)) = self.nodes.get_mut(key) {
                f.bytes = None;
                let (etag, size) = (f.etag.clone(), f.size);
                self.index.retain(|e| !(e.size == size && e.etag == etag));
            }
        }
        if evicted.is_empty() {
            return;
        }
        // The upload that made an evicted file holds its parts as slices of the same bytes:
        // they go too (their numbers, sizes and eTags stay), or nothing would be freed.
        for upload in self.uploads.values_mut() {
            let TaskState::Confirmed { path } = &upload.state else {
                continue;
            };
            let key = (upload.space_id.clone(), join(path));
            if evicted.contains(&key) {
                for p in upload.parts.values_mut() {
                    p.bytes = Bytes::new();
                }
                if let Some(body) = upload.body.as_mut() {
                    body.bytes = Bytes::new();
                }
            }
        }
    }

    /// Whether the file at `path` was evicted.
    pub fn evicted(&self, space: &str, path: &[String]) -> bool {
        self.file(space, path).is_some_and(|f| f.bytes.is_none())
    }

    /// A file by path.
    pub fn file(&self, space: &str, path: &[String]) -> Option<&StoredFile> {
        match self.node(space, path) {
            Some(Node::File(f)) => Some(f),
            _ => None,
        }
    }
}

/// The MIME type SMH would report, from the file extension.
pub(crate) fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

impl crate::control::Control for SmhSim {
    /// SMH's tokens are its own (`auth.rs`): only their default `period` is set here, from
    /// `access_ms` (whole seconds, at least 1 s), for the tokens issued from now on.
    fn control_set_lifetimes(
        &self,
        patch: crate::tokens::LifetimesPatch,
    ) -> Result<crate::tokens::TokenLifetimes, String> {
        if patch.refresh_ms.is_some() || patch.code_ms.is_some() || patch.overlap_ms.is_some() {
            return Err("SMH has no refresh tokens or codes: only access_ms can be set".into());
        }
        if let Some(ms) = patch.access_ms {
            if ms < 1000 {
                return Err("SMH counts token periods in whole seconds: access_ms ≥ 1000".into());
            }
            self.update_config(|c| c.token_lifetime = std::time::Duration::from_secs(ms / 1000));
        }
        Ok(crate::tokens::TokenLifetimes {
            access_ms: u64::try_from(self.config().token_lifetime.as_millis()).unwrap_or(u64::MAX),
            refresh_ms: 0,
            code_ms: 0,
            overlap_ms: 0,
        })
    }

    fn control_wire(&self) -> &crate::WireLog {
        self.wire()
    }

    fn control_clock(&self) -> &crate::SimClock {
        self.clock()
    }

    fn control_faults(&self) -> &crate::FaultHandle {
        self.faults()
    }

    /// Every upload task, by confirm key (the `id` of the other control calls).
    fn control_uploads(&self) -> Vec<serde_json::Value> {
        let mut keys: Vec<String> = self.state().uploads.keys().cloned().collect();
        keys.sort();
        keys.iter()
            .filter_map(|key| {
                let state = self.upload_state(key)?;
                let st = self.state();
                let u = st.uploads.get(key)?;
                let (state, path) = match state {
                    SmhUploadState::Active => ("active", None),
                    SmhUploadState::Confirmed { path } => ("confirmed", Some(join(&path))),
                    SmhUploadState::Cancelled => ("cancelled", None),
                };
                Some(serde_json::json!({
                    "id": key,
                    "upload_id": u.upload_id,
                    "space_id": u.space_id,
                    "target": join(&u.target),
                    "state": state,
                    "path": path,
                    "parts": u.parts.len(),
                }))
            })
            .collect()
    }

    fn control_parts(&self, id: &str) -> Option<serde_json::Value> {
        let parts = self.parts(id)?;
        Some(serde_json::Value::Array(
            parts
                .into_iter()
                .map(|p| serde_json::json!({ "partNumber": p.number, "size": p.size, "eTag": p.etag }))
                .collect(),
        ))
    }

    /// The confirmed file of upload `id`.
    fn control_bytes(&self, id: &str) -> Option<Bytes> {
        let SmhUploadState::Confirmed { path } = self.upload_state(id)? else {
            return None;
        };
        let space = self.state().uploads.get(id)?.space_id.clone();
        self.file_in(&space, &join(&path))
    }

    fn control_evicted(&self, id: &str) -> bool {
        let Some(SmhUploadState::Confirmed { path }) = self.upload_state(id) else {
            return false;
        };
        let st = self.state();
        st.uploads
            .get(id)
            .is_some_and(|u| st.evicted(&u.space_id, &path))
    }

    /// A fresh library; the storage `domain` handed out stays that of the running server.
    fn control_reset(&self) {
        let domain = self.storage_domain();
        self.core.reset_state();
        self.set_storage_domain(domain);
    }

    fn control_sessions(&self) -> Vec<crate::control::SessionStanding> {
        use crate::control::{SessionStanding, Standing};
        let now_ms = self.clock().now_millis();
        let st = self.state();
        let mut sessions: Vec<SessionStanding> = st
            .uploads
            .iter()
            .map(|(key, u)| {
                // `upload_state` reads an expired task as cancelled, as the upload-task call
                // answers; here it is told apart.
                let standing = match u.state {
                    TaskState::Active if now_ms > u.task_expires_ms => Standing::Expired,
                    TaskState::Active => Standing::Open,
                    TaskState::Confirmed { .. } => Standing::Completed,
                    TaskState::Cancelled => Standing::Cancelled,
                };
                SessionStanding {
                    id: key.clone(),
                    standing,
                    parts: u.parts.len() as u64 + u64::from(u.body.is_some()),
                }
            })
            .collect();
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
        sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('/').map(str::to_owned).collect()
    }

    fn file() -> StoredFile {
        StoredFile {
            bytes: Some(Bytes::from_static(b"x")),
            size: 1,
            seq: 0,
            etag: String::new(),
            crc64: 0,
            content_type: "video/mp4",
            created_ms: 0,
            modified_ms: 0,
        }
    }

    #[test]
    fn rename_picks_first_free_name() {
        let mut s = State::default();
        s.insert_dir("-", &p("v"));
        s.insert_file("-", &p("v/a.mp4"), file());
        s.insert_file("-", &p("v/a (1).mp4"), file());
        let placed = s
            .place("-", &p("v/a.mp4"), Conflict::Rename, false)
            .unwrap();
        assert_eq!(placed.path, p("v/a (2).mp4"));
        let placed = s
            .place("-", &p("v/b.mp4"), Conflict::Rename, false)
            .unwrap();
        assert_eq!(placed.path, p("v/b.mp4"));
    }

    #[test]
    fn ask_overwrite_and_missing_parent() {
        let mut s = State::default();
        s.insert_file("-", &p("a.mp4"), file());
        s.insert_dir("-", &p("d"));
        assert_eq!(
            s.place("-", &p("a.mp4"), Conflict::Ask, false)
                .unwrap_err()
                .code,
            "SameNameDirectoryOrFileExists"
        );
        assert_eq!(
            s.place("-", &p("a.mp4"), Conflict::Overwrite, false)
                .unwrap()
                .overwrites,
            Some(1)
        );
        assert_eq!(
            s.place("-", &p("d"), Conflict::Overwrite, false)
                .unwrap_err()
                .code,
            "SameNameDirectoryOrFileExists"
        );
        assert_eq!(
            s.place("-", &p("x/a.mp4"), Conflict::Rename, false)
                .unwrap_err()
                .code,
            "DirectoryNotFound"
        );
        assert_eq!(
            s.place("-", &p("a.mp4/b.mp4"), Conflict::Rename, false)
                .unwrap_err()
                .code,
            "DirectoryNotFound"
        );
    }
}
