//! Tokens sealed at rest: the store's file holds no token in any encoding, every write has
//! its own nonce, a wrong key or a moved row is a clear error naming the credential, the key
//! file is private and created once, and a rekey moves every credential to the new key.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use base64::Engine;
use marketmedia_batch::credentials::seal::{Rekey, Sealer, SecretKey};
use marketmedia_batch::credentials::SqliteCredentialStore;
use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::{
    CredentialKey, CredentialStore, ErrorKind, RefreshDue, RefreshMargin, Refresher, Result, Tokens,
};
use sqlx::Connection;

const ACCESS: &str = "acc-7Hq2xZ9pL4mN8vR1-secret";
const REFRESH: &str = "ref-Kw3sY6tB0cJ5dF2g-secret";

fn key(shop: u32) -> CredentialKey {
    CredentialKey::new("shopee", "2001887", &format!("shop-{shop}")).unwrap()
}

fn tokens() -> Tokens {
    Tokens::new(ACCESS, 1_796_620_000_000)
        .expiring_in(14_400)
        .with_refresh_token(REFRESH, Some(2_592_000))
        .with_details(serde_json::json!({ "shop_id": 600001 }))
}

/// Every way a token could show in the file: as is, base64 (standard, URL-safe, unpadded),
/// hex (both cases).
fn encodings(secret: &str) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let bytes = secret.as_bytes();
    [
        secret.to_owned(),
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
        hex::encode(bytes),
        hex::encode_upper(bytes),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

/// Panics when a file of the store (database, WAL, shared memory) holds `secrets` in any
/// encoding.
fn assert_not_in_files(dir: &Path, secrets: &[&str]) {
    let mut read = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("credentials.sqlite") {
            continue;
        }
        // The last connection of a dropped store may delete the WAL meanwhile.
        let bytes = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            other => other.unwrap(),
        };
        read += bytes.len();
        for secret in secrets {
            for needle in encodings(secret) {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "{name} holds {secret} as {}",
                    String::from_utf8_lossy(&needle)
                );
            }
        }
    }
    assert!(read > 0, "no store file in {}", dir.display());
}

/// A connection of its own to the store's file (what a copied database shows).
async fn raw(path: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

async fn sealed_value(path: &Path, key: &CredentialKey) -> Vec<u8> {
    let mut conn = raw(path).await;
    let v: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM credentials WHERE key = $1")
        .bind(key.as_str())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    v
}

async fn checkpoint(path: &Path) {
    let mut conn = raw(path).await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn the_file_holds_no_token_in_any_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.sqlite");
    let store = SqliteCredentialStore::open(&path).await.unwrap();
    store.save(&key(1), &tokens()).await.unwrap();
    store.save(&key(2), &tokens()).await.unwrap();
    assert_eq!(store.load(&key(1)).await.unwrap(), Some(tokens()));
    // Before and after a checkpoint: the WAL, then the database file.
    assert_not_in_files(dir.path(), &[ACCESS, REFRESH]);
    drop(store);
    checkpoint(&path).await;
    assert_not_in_files(dir.path(), &[ACCESS, REFRESH]);
    // The expiries are readable without the key; the key is not in the file.
    let stored = SqliteCredentialStore::open_with(&path, Sealer::new(SecretKey::generate()))
        .await
        .unwrap()
        .expiries()
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].key, key(1));
    assert_eq!(
        stored[0].refresh_expires_at_ms,
        tokens().refresh_expires_at_ms
    );
    let file_key = SecretKey::from_file(dir.path(), false).unwrap();
    let key_text = file_key.to_text();
    assert_not_in_files(dir.path(), &[key_text.expose()]);
}

#[tokio::test]
async fn two_writes_of_the_same_tokens_differ() {
    let sealer = Sealer::new(SecretKey::generate());
    let (a, b) = (
        sealer.seal(&key(1), &tokens()).unwrap(),
        sealer.seal(&key(1), &tokens()).unwrap(),
    );
    assert_ne!(a, b);
    assert_eq!(a[0], 1, "version byte");
    assert_eq!(sealer.open(&key(1), &b).unwrap(), tokens());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.sqlite");
    let store = SqliteCredentialStore::open(&path).await.unwrap();
    store.save(&key(1), &tokens()).await.unwrap();
    let first = sealed_value(&path, &key(1)).await;
    store.save(&key(1), &tokens()).await.unwrap();
    assert_ne!(first, sealed_value(&path, &key(1)).await);
}

/// Counts refreshes: none may happen with tokens the key cannot open.
#[derive(Debug, Default)]
struct Counting(AtomicU32);

#[async_trait]
impl Refresher for Counting {
    async fn refresh(&self, _: &CredentialKey, _: Option<&Tokens>) -> Result<Tokens> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(tokens())
    }
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_error_naming_the_credential() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.sqlite");
    SqliteCredentialStore::open(&path)
        .await
        .unwrap()
        .save(&key(1), &tokens())
        .await
        .unwrap();
    let wrong = SecretKey::generate();
    let fingerprint = wrong.fingerprint();
    let store = SqliteCredentialStore::open_with(&path, Sealer::new(wrong))
        .await
        .unwrap();
    let err = store.load(&key(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let text = err.to_string();
    for part in [
        key(1).as_str(),
        fingerprint.as_str(),
        "cannot be decrypted",
        "MARKETMEDIA_SECRET_KEY",
        "marketmedia accounts authorize",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
    assert!(store.list().await.is_err());
    // A refresh reads the tokens first: the platform is never called.
    let platform = Counting::default();
    let due = RefreshDue {
        margin: RefreshMargin::default(),
        now_ms: u64::MAX / 2,
        refused: None,
    };
    let err = store.refresh(&key(1), &due, &platform).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(platform.0.load(Ordering::SeqCst), 0);
    assert!(!format!("{err} {err:?}").contains(ACCESS));
}

#[tokio::test]
async fn a_row_copied_onto_another_credential_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.sqlite");
    let store = SqliteCredentialStore::open(&path).await.unwrap();
    store.save(&key(1), &tokens()).await.unwrap();
    store
        .save(&key(2), &Tokens::new("other", unix_millis()))
        .await
        .unwrap();
    let one = sealed_value(&path, &key(1)).await;
    let mut conn = raw(&path).await;
    sqlx::query("UPDATE credentials SET sealed = $1 WHERE key = $2")
        .bind(&one)
        .bind(key(2).as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let err = store.load(&key(2)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains(key(2).as_str()), "{err}");
    // A damaged value, an unknown version: the same kind of error, never tokens.
    let sealer = store.sealer();
    let mut damaged = one.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert!(sealer.open(&key(1), &damaged).is_err());
    let mut newer = one.clone();
    newer[0] = 9;
    let err = sealer.open(&key(1), &newer).unwrap_err();
    assert!(err.to_string().contains("format 9"), "{err}");
    assert!(sealer.open(&key(1), &one[..20]).is_err());
    assert!(sealer.open(&key(1), &[]).is_err());
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn the_key_file_is_private_and_made_once_by_processes_starting_together() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("data");
    // Eight "processes" creating the key at the same moment: one key for all.
    let barrier = std::sync::Barrier::new(8);
    let prints: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    SecretKey::from_file(&keys, true).unwrap().fingerprint()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(prints.iter().all(|p| p == &prints[0]), "{prints:?}");
    let file = SecretKey::file_path(&keys);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&keys), 0o700);
    let entries: Vec<_> = std::fs::read_dir(&keys).unwrap().collect();
    assert_eq!(entries.len(), 1, "no temporary file left: {entries:?}");
    assert_eq!(
        SecretKey::from_file(&keys, false).unwrap().fingerprint(),
        prints[0]
    );

    // A key file others may read is refused, without its contents in the message.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let err = SecretKey::from_file(&keys, true).unwrap_err();
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(!format!("{err} {err:?}").contains(text.trim()));
    // No file and no creation: an error that says where the key was looked for.
    let err = SecretKey::from_file(&dir.path().join("none"), false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("secret.key"), "{err}");
}

#[test]
fn keys_read_as_base64_or_hex_and_bad_text_is_not_repeated() {
    let key = SecretKey::generate();
    let text = key.to_text();
    let b64 = text.expose();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let fp = key.fingerprint();
    for form in [
        b64.to_owned(),
        format!("  {b64}\n"),
        b64.trim_end_matches('=').to_owned(),
        base64::engine::general_purpose::URL_SAFE.encode(&bytes),
        hex::encode(&bytes),
        hex::encode_upper(&bytes),
    ] {
        assert_eq!(SecretKey::from_text(&form).unwrap().fingerprint(), fp);
    }
    for bad in [
        "",
        "not-a-key-but-quite-secret-looking",
        &hex::encode(&bytes[..31]),
        &base64::engine::general_purpose::STANDARD.encode([7u8; 33]),
    ] {
        let err = SecretKey::from_text(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        if !bad.is_empty() {
            assert!(!format!("{err} {err:?}").contains(bad), "{err}");
        }
    }
    // Debug shows fingerprints only.
    let sealer = Sealer::new(key.clone());
    let debug = format!("{key:?} {sealer:?}");
    assert!(debug.contains(&fp), "{debug}");
    assert!(!debug.contains(b64) && !debug.contains(&hex::encode(&bytes)));
    assert_ne!(SecretKey::generate().fingerprint(), fp);
}

#[tokio::test]
async fn rekey_moves_every_credential_to_the_new_key_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.sqlite");
    let old = Sealer::new(SecretKey::generate());
    let new = Sealer::new(SecretKey::generate());
    let store = SqliteCredentialStore::open_with(&path, old.clone())
        .await
        .unwrap();
    let bare = Tokens::new("t-bare-token", 5);
    store.save(&key(1), &tokens()).await.unwrap();
    store.save(&key(2), &bare).await.unwrap();

    // With a wrong "old" key nothing changes.
    let stranger = Sealer::new(SecretKey::generate());
    let err = store.rekey(&stranger, &new).await.unwrap_err();
    assert!(err.to_string().contains(key(1).as_str()), "{err}");
    assert_eq!(store.load(&key(2)).await.unwrap(), Some(bare.clone()));

    assert_eq!(store.rekey(&old, &new).await.unwrap(), 2);
    let moved = SqliteCredentialStore::open_with(&path, new.clone())
        .await
        .unwrap();
    assert_eq!(moved.load(&key(1)).await.unwrap(), Some(tokens()));
    assert_eq!(moved.load(&key(2)).await.unwrap(), Some(bare));
    assert!(
        store.load(&key(1)).await.is_err(),
        "the old key opens nothing"
    );
    assert_not_in_files(dir.path(), &[ACCESS, REFRESH]);
}

#[tokio::test]
async fn rows_stored_in_plaintext_are_sealed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.sqlite");
    const OLD_ACCESS: &str = "old-plain-access-Zq81";
    const OLD_REFRESH: &str = "old-plain-refresh-Vm42";
    // A row as the store wrote it before sealing (the migration adds `sealed`, empty).
    let store = SqliteCredentialStore::open(&path).await.unwrap();
    store.save(&key(1), &tokens()).await.unwrap();
    drop(store);
    let mut conn = raw(&path).await;
    sqlx::query(
        "UPDATE credentials SET sealed = NULL, access_token = $1, refresh_token = $2, \
         details = '{\"shop_id\":1}' WHERE key = $3",
    )
    .bind(OLD_ACCESS)
    .bind(OLD_REFRESH)
    .bind(key(1).as_str())
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let file = std::fs::read(&path).unwrap();
    assert!(
        file.windows(OLD_ACCESS.len())
            .any(|w| w == OLD_ACCESS.as_bytes()),
        "the test wrote plaintext"
    );

    let store = SqliteCredentialStore::open(&path).await.unwrap();
    let loaded = store.load(&key(1)).await.unwrap().unwrap();
    assert_eq!(loaded.access_token.expose(), OLD_ACCESS);
    assert_eq!(loaded.refresh_token.unwrap().expose(), OLD_REFRESH);
    assert_eq!(loaded.details["shop_id"], 1);
    drop(store);
    checkpoint(&path).await;
    assert_not_in_files(dir.path(), &[OLD_ACCESS, OLD_REFRESH]);
}

/// The secret-leak harness over the sealed store: everything logged at TRACE (sqlx's
/// statements included), every error's chain and every `Debug` of opening a plaintext file,
/// saving, loading, a wrong key, a moved row and a rekey hold neither a token nor a key.
#[test]
fn no_token_or_key_in_logs_errors_or_debug() {
    use marketmedia_conformance::leaks::{assert_clean, captured, describe};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.sqlite");
    let old = SecretKey::generate();
    let new = SecretKey::generate();
    let wrong = SecretKey::generate();
    let keys: Vec<String> = [&old, &new, &wrong]
        .iter()
        .flat_map(|k| {
            let text = k.to_text().expose().to_owned();
            let hex = hex::encode(
                base64::engine::general_purpose::STANDARD
                    .decode(&text)
                    .unwrap(),
            );
            [text, hex]
        })
        .collect();
    let (evidence, log) = captured(async {
        let mut evidence = String::new();
        let store = SqliteCredentialStore::open_with(&path, Sealer::new(old.clone()))
            .await
            .unwrap();
        store.save(&key(1), &tokens()).await.unwrap();
        store.save(&key(2), &tokens()).await.unwrap();
        // A row in plaintext, sealed by the next open.
        let mut conn = raw(&path).await;
        sqlx::query("UPDATE credentials SET sealed = NULL, access_token = $1 WHERE key = $2")
            .bind(ACCESS)
            .bind(key(2).as_str())
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let store = SqliteCredentialStore::open_with(&path, Sealer::new(old.clone()))
            .await
            .unwrap();
        evidence.push_str(&format!(
            "{store:?} {:?} {:?} {:?}\n",
            store.load(&key(1)).await.unwrap(),
            store.list().await.unwrap(),
            store.expiries().await.unwrap()
        ));
        let wrong_store = SqliteCredentialStore::open_with(&path, Sealer::new(wrong.clone()))
            .await
            .unwrap();
        evidence.push_str(&describe(&wrong_store.load(&key(1)).await.unwrap_err()));
        evidence.push_str(&describe(
            &wrong_store
                .rekey(&Sealer::new(wrong.clone()), &Sealer::new(new.clone()))
                .await
                .unwrap_err(),
        ));
        store
            .rekey(&Sealer::new(old.clone()), &Sealer::new(new.clone()))
            .await
            .unwrap();
        evidence.push_str(&describe(&store.load(&key(1)).await.unwrap_err()));
        evidence.push_str(&format!("{old:?} {new:?} {:?}\n", Sealer::new(new.clone())));
        evidence.push_str(&describe(
            &SecretKey::from_text(&format!("{}x", keys[0])).unwrap_err(),
        ));
        evidence
    });
    assert!(
        evidence.contains("cannot be decrypted") && log.contains("sealed the tokens"),
        "the scenarios ran: {evidence}\n{log}"
    );
    let mut secrets = keys;
    secrets.extend([ACCESS.to_owned(), REFRESH.to_owned()]);
    assert_clean(&secrets, "the log", &log);
    assert_clean(&secrets, "errors and Debug", &evidence);
}
