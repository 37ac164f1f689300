//! The simulator's state: tokens, the directory tree of each space, upload tasks, the
//! instant-upload index, and the rules for placing a file (parent checks, conflict strategies,
//! auto-rename).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use bytes::Bytes;

use super::digest::{instant_hashes, InstantHashes};
use super::wire::SmhError;

/// An access token issued by the token call.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub library_id: String,
    pub space_id: String,
    pub period_secs: i64,
    pub expires_ms: i64,
}

/// A stored file.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub bytes: Bytes,
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
    pub bytes: Bytes,
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
                Node::File(f) => f.bytes.len() as u64,
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
                overwrites: Some(f.bytes.len() as u64),
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
    pub fn insert_file(&mut self, space: &str, path: &[String], file: StoredFile) {
        self.nodes
            .insert((space.to_owned(), join(path)), Node::File(file));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('/').map(str::to_owned).collect()
    }

    fn file() -> StoredFile {
        StoredFile {
            bytes: Bytes::from_static(b"x"),
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
