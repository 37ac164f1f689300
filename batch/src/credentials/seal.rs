//! Tokens sealed at rest (`docs/security.md`): every credential store keeps a credential's
//! [`Tokens`] in one column sealed with XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`),
//! under a 256-bit [`SecretKey`] that is never stored in a database.
//!
//! - The key comes from `MARKETMEDIA_SECRET_KEY` (32 bytes as base64 or hex), else from the
//!   key file `secret.key` beside the local store, created `0600` with a fresh random key on
//!   first use ([`SecretKey::load`]). Workers sharing a PostgreSQL store share the variable.
//! - A sealed value is `version (1 byte) ‖ nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes)`.
//!   The nonce is random for every seal: XChaCha20's 192-bit nonces make random nonces safe
//!   for any number of writes under one key, so two seals of the same tokens differ.
//! - The associated data is the version byte and the credential's key: a sealed value copied
//!   onto another credential's row does not open.
//! - A wrong key or a damaged value is an error naming the credential and the key's
//!   fingerprint ([`Sealer::open`]), never tokens to send to a platform.
//! - [`Rekey`]: a store re-seals every credential under a new key in one transaction
//!   (`marketmedia accounts rekey`).
//!
//! ```
//! use marketmedia_batch::credentials::seal::{SecretKey, Sealer};
//! use marketmedia_core::{CredentialKey, Tokens};
//!
//! let sealer = Sealer::new(SecretKey::generate());
//! let key = CredentialKey::new("shopee", "2001887", "shop-600001").unwrap();
//! let tokens = Tokens::new("access", 0).with_refresh_token("refresh", None);
//! let sealed = sealer.seal(&key, &tokens).unwrap();
//! assert_eq!(sealer.open(&key, &sealed).unwrap(), tokens);
//! ```

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use base64::Engine;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use marketmedia_core::{CredentialKey, Error, ErrorKind, Result, Secret, Tokens};

/// The variable that holds the key (base64 or hex of 32 bytes).
pub const KEY_VARIABLE: &str = "MARKETMEDIA_SECRET_KEY";

/// The variable `marketmedia accounts rekey` reads the new key from.
pub const NEW_KEY_VARIABLE: &str = "MARKETMEDIA_NEW_SECRET_KEY";

/// The key file's name, in the local store's directory.
pub const KEY_FILE_NAME: &str = "secret.key";

/// The format of a sealed value (its first byte).
pub const SEAL_VERSION: u8 = 1;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A 256-bit key for sealing tokens at rest. `Debug` prints a fingerprint only, never the
/// key; the bytes are wiped when it is dropped.
#[derive(Clone)]
pub struct SecretKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.fingerprint())
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("secret key: cannot {what} {}: {e}", path.display()),
    )
    .with_source(e)
}

impl SecretKey {
    /// `MARKETMEDIA_SECRET_KEY` (base64 or hex of 32 bytes) if set and not empty, else the
    /// `0600` key file `secret.key` in `dir` ([`SecretKey::from_file`]; created with a fresh
    /// random key on first use when `create`).
    pub fn load(dir: &Path, create: bool) -> Result<SecretKey> {
        match std::env::var(KEY_VARIABLE) {
            Ok(text) if !text.trim().is_empty() => SecretKey::from_text(&text)
                .map_err(|e| Error::invalid_input(format!("{KEY_VARIABLE}: {}", e.message()))),
            _ => SecretKey::from_file(dir, create),
        }
    }

    /// Whether [`SecretKey::load`] takes the key from `MARKETMEDIA_SECRET_KEY`.
    pub fn from_variable() -> bool {
        std::env::var(KEY_VARIABLE).is_ok_and(|t| !t.trim().is_empty())
    }

    /// Where the key file of a store in `dir` is.
    pub fn file_path(dir: &Path) -> PathBuf {
        dir.join(KEY_FILE_NAME)
    }

    /// The key in the file `secret.key` in `dir`. A missing file is created when `create`
    /// (`0600`, a fresh random key, written atomically: of several processes that start at
    /// once, all end up with the same key), else an error. A file that its group or others
    /// may read is refused: the key may have been copied (`chmod 600` it, and rekey).
    pub fn from_file(dir: &Path, create: bool) -> Result<SecretKey> {
        let path = SecretKey::file_path(dir);
        match SecretKey::read_file(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound && create => {
                SecretKey::try_generate()?.create_file(&path)?;
                SecretKey::read_file(&path)
            }
            other => other,
        }
    }

    /// The key written in the file at `path` (the variable's format), refusing a file its
    /// group or others may read.
    pub fn read_file(path: &Path) -> Result<SecretKey> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "no secret key: {KEY_VARIABLE} is not set and {} does not exist",
                        path.display()
                    ),
                ))
            }
            Err(e) => return Err(io_error("read", path, e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| io_error("read", path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(Error::invalid_input(format!(
                    "the secret key file {} may be read by others (mode {:o}): run `chmod 600 {}`, \
                     and since the key may have been copied, `marketmedia accounts rekey`",
                    path.display(),
                    mode & 0o777,
                    path.display()
                )));
            }
        }
        SecretKey::from_text(&text)
            .map_err(|e| Error::invalid_input(format!("{}: {}", path.display(), e.message())))
    }

    /// Writes this key to a new file at `path`, `0600`, atomically: the key goes to a
    /// temporary file, flushed to disk, which is then linked to `path` only if `path` does not
    /// exist yet. Nobody ever reads a half-written key; when another process created `path`
    /// first, its key stays and this one is dropped (`Ok(false)`).
    pub fn create_file(&self, path: &Path) -> Result<bool> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let tmp = dir.join(format!(
            ".{}.{}.{}.tmp",
            path.file_name()
                .map_or("key".into(), |n| n.to_string_lossy()),
            std::process::id(),
            hex::encode(random_bytes::<8>()?)
        ));
        let written = self
            .write_new(&tmp)
            .and_then(|()| match std::fs::hard_link(&tmp, path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(io_error("create", path, e)),
            });
        let _ = std::fs::remove_file(&tmp);
        let created = written?;
        sync_dir(dir);
        Ok(created)
    }

    /// Writes the key to `path`, which must not exist, `0600`, flushed to disk.
    fn write_new(&self, path: &Path) -> Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .map_err(|e| io_error("create", path, e))?;
        let text = Zeroizing::new(format!("{}\n", self.to_text().expose()));
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("write", path, e))
    }

    /// Replaces the key file at `path` with this key, atomically: [`SecretKey::stage_file`]
    /// then [`SecretKey::install_staged`].
    pub fn replace_file(&self, path: &Path) -> Result<()> {
        let staged = self.stage_file(path)?;
        SecretKey::install_staged(&staged, path)
    }

    /// Writes this key beside `path` as `PATH.new` (`secret.key.new`: `0600`, flushed to
    /// disk), replacing a stale one, and returns where: the first step of replacing the key
    /// file. `marketmedia accounts rekey` stages the new key before it commits the re-sealed
    /// store, so that the key the store is sealed with is on disk whatever happens next.
    pub fn stage_file(&self, path: &Path) -> Result<PathBuf> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let mut staged = path.as_os_str().to_owned();
        staged.push(".new");
        let staged = PathBuf::from(staged);
        match std::fs::remove_file(&staged) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_error("remove", &staged, e))
            }
            _ => {}
        }
        self.write_new(&staged)?;
        Ok(staged)
    }

    /// Renames the key `staged` by [`SecretKey::stage_file`] over `path` (atomic) and
    /// flushes the directory.
    pub fn install_staged(staged: &Path, path: &Path) -> Result<()> {
        std::fs::rename(staged, path).map_err(|e| io_error("replace", path, e))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir);
        }
        Ok(())
    }

    /// Reads a key in the variable's format: 32 bytes as 64 hex digits or as base64 (standard
    /// or URL-safe, padded or not). Surrounding whitespace is ignored. The error never
    /// repeats the text.
    pub fn from_text(text: &str) -> Result<SecretKey> {
        let text = text.trim();
        let decoded: Option<Zeroizing<Vec<u8>>> =
            if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                hex::decode(text).ok().map(Zeroizing::new)
            } else {
                let b64 = text.trim_end_matches('=');
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(b64)
                    .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64))
                    .ok()
                    .map(Zeroizing::new)
            };
        match decoded {
            Some(bytes) if bytes.len() == KEY_LEN => {
                let mut key = Zeroizing::new([0u8; KEY_LEN]);
                key.copy_from_slice(&bytes);
                Ok(SecretKey { bytes: key })
            }
            _ => Err(Error::invalid_input(format!(
                "not a secret key: expected 32 bytes as 64 hex digits or as base64 (44 characters, \
                 e.g. from `openssl rand -base64 32`), got {} characters",
                text.chars().count()
            ))),
        }
    }

    /// The key as the variable takes it (base64), e.g. to move a key file's key into
    /// `MARKETMEDIA_SECRET_KEY`. A secret.
    pub fn to_text(&self) -> Secret {
        Secret::new(base64::engine::general_purpose::STANDARD.encode(*self.bytes))
    }

    /// A fresh random key from the operating system's generator.
    ///
    /// # Panics
    /// When the operating system has no random source ([`SecretKey::try_generate`] returns
    /// the error instead); every supported system has one.
    pub fn generate() -> SecretKey {
        SecretKey {
            bytes: Zeroizing::new(<[u8; KEY_LEN]>::generate()),
        }
    }

    /// A fresh random key, or the error of the operating system's generator.
    pub fn try_generate() -> Result<SecretKey> {
        Ok(SecretKey {
            bytes: Zeroizing::new(random_bytes::<KEY_LEN>()?),
        })
    }

    /// A short, non-secret name of the key for messages (`key:` and 8 hex digits of a SHA-256
    /// of it): tells two keys apart without revealing either.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(b"marketmedia secret key fingerprint\0");
        hash.update(*self.bytes);
        format!("key:{}", hex::encode(&hash.finalize()[..4]))
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    <[u8; N]>::try_generate().map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("the system's random generator failed: {e}"),
        )
    })
}

/// Creates `dir` (and its parents) `0700` when missing.
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| io_error("create the directory", dir, e))
}

/// Flushes a directory's entries (a new or renamed key file) to disk; best effort (not every
/// system can open a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The sealed form's plaintext: the whole [`Tokens`], as JSON (written from borrowed tokens,
/// read into owned ones).
#[derive(serde::Serialize)]
struct PlainRef<'a> {
    access_token: &'a str,
    access_expires_at_ms: Option<u64>,
    refresh_token: Option<&'a str>,
    refresh_expires_at_ms: Option<u64>,
    obtained_at_ms: u64,
    details: &'a serde_json::Value,
}

/// [`PlainRef`], read back.
#[derive(serde::Deserialize)]
struct Plain {
    access_token: String,
    access_expires_at_ms: Option<u64>,
    refresh_token: Option<String>,
    refresh_expires_at_ms: Option<u64>,
    obtained_at_ms: u64,
    details: serde_json::Value,
}

/// Seals and opens credentials' tokens under one [`SecretKey`]; the credential key is the
/// AEAD's associated data, so a sealed value copied onto another credential's row does not
/// open. `Debug` prints the key's fingerprint only.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    fingerprint: String,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealer({})", self.fingerprint)
    }
}

fn associated_data(key: &CredentialKey) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + key.as_str().len());
    aad.push(SEAL_VERSION);
    aad.extend_from_slice(key.as_str().as_bytes());
    aad
}

impl Sealer {
    /// A sealer under `key`.
    pub fn new(key: SecretKey) -> Sealer {
        Sealer {
            cipher: XChaCha20Poly1305::new(<&chacha20poly1305::Key>::from(&*key.bytes)),
            fingerprint: key.fingerprint(),
        }
    }

    /// The key's fingerprint ([`SecretKey::fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Seals `tokens` for the credential `key`, with a fresh random nonce: two seals of the
    /// same tokens differ.
    pub fn seal(&self, key: &CredentialKey, tokens: &Tokens) -> Result<Vec<u8>> {
        let plain = PlainRef {
            access_token: tokens.access_token.expose(),
            access_expires_at_ms: tokens.access_expires_at_ms,
            refresh_token: tokens.refresh_token.as_ref().map(Secret::expose),
            refresh_expires_at_ms: tokens.refresh_expires_at_ms,
            obtained_at_ms: tokens.obtained_at_ms,
            details: &tokens.details,
        };
        let json = Zeroizing::new(serde_json::to_vec(&plain).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot seal the tokens of {key}: {e}"),
            )
        })?);
        let nonce = XNonce::from(random_bytes::<NONCE_LEN>()?);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &json,
                    aad: &associated_data(key),
                },
            )
            .map_err(|_| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot seal the tokens of {key}: encryption failed"),
                )
            })?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens the tokens sealed for the credential `key`. A wrong key, a value sealed for
    /// another credential or a damaged value is an [`ErrorKind::InvalidInput`] error naming
    /// the credential and this key's fingerprint and saying what to do (not
    /// [`ErrorKind::Reauthorize`]: the platform never refused anything, and the right key
    /// brings the credential back); never tokens.
    pub fn open(&self, key: &CredentialKey, sealed: &[u8]) -> Result<Tokens> {
        let cannot = |why: &str| {
            Error::invalid_input(format!(
                "the tokens of credential {key} cannot be decrypted with this key ({}){why}: set \
                 {KEY_VARIABLE} to the key they were sealed with (or put it back in {KEY_FILE_NAME} \
                 beside the store), or authorize again (`{} NAME` for its accounts)",
                self.fingerprint,
                marketmedia_core::AUTHORIZE_COMMAND
            ))
            .with_platform(key.platform())
        };
        match sealed.first() {
            Some(&SEAL_VERSION) => {}
            Some(&v) => {
                return Err(cannot(&format!(
                    ": sealed in format {v}, which this version of marketmedia does not know"
                )))
            }
            None => return Err(cannot(": the stored value is empty")),
        }
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN {
            return Err(cannot(": the stored value is truncated"));
        }
        let nonce = XNonce::try_from(&sealed[1..=NONCE_LEN])
            .map_err(|_| cannot(": the stored value is truncated"))?;
        let json = Zeroizing::new(
            self.cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: &sealed[1 + NONCE_LEN..],
                        aad: &associated_data(key),
                    },
                )
                .map_err(|_| cannot(""))?,
        );
        let plain: Plain = serde_json::from_slice(&json)
            .map_err(|_| cannot(": the decrypted value is not tokens"))?;
        Ok(Tokens {
            access_token: Secret::new(plain.access_token),
            access_expires_at_ms: plain.access_expires_at_ms,
            refresh_token: plain.refresh_token.map(Secret::new),
            refresh_expires_at_ms: plain.refresh_expires_at_ms,
            obtained_at_ms: plain.obtained_at_ms,
            details: plain.details,
        })
    }

    /// Opens `sealed` with `self` and seals the tokens again under `new` (a rekey's step).
    pub fn reseal(&self, new: &Sealer, key: &CredentialKey, sealed: &[u8]) -> Result<Vec<u8>> {
        new.seal(key, &self.open(key, sealed)?)
    }
}

/// A credential store whose tokens are sealed: re-seals every credential under a new key
/// (`marketmedia accounts rekey`). The SQLite store implements it; a PostgreSQL store does the
/// same in one transaction (`SELECT key, sealed … FOR UPDATE`, [`Sealer::reseal`] each row,
/// `UPDATE`, commit).
#[async_trait]
pub trait Rekey: Send + Sync {
    /// Opens every credential with `old` and seals it under `new`, all in one transaction:
    /// either every credential is under `new` afterwards, or (an error, e.g. a credential
    /// that `old` cannot open) none changed. How many credentials were re-sealed.
    async fn rekey(&self, old: &Sealer, new: &Sealer) -> Result<u64>;
}
