//! The SQLite credential store: private file, tokens round-tripped, and one refresh for two
//! processes (two stores on one file) that find a token due at the same moment.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use marketmedia_batch::credentials::SqliteCredentialStore;
use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::{
    CredentialKey, CredentialStore, Error, ErrorKind, Refresher, Result, TokenSource, Tokens,
};

/// A platform that spends each refresh token on use (Shopee's rule): a second refresh with
/// the same token is refused, so a double refresh cannot go unnoticed.
#[derive(Debug, Default)]
struct Platform {
    refreshes: AtomicU32,
    spent: Mutex<HashSet<String>>,
}

#[async_trait]
impl Refresher for Platform {
    async fn refresh(&self, _: &CredentialKey, current: Option<&Tokens>) -> Result<Tokens> {
        let sent_at = unix_millis();
        let n = self.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
        // Long enough for the other process to reach the lock meanwhile.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let refresh = current
            .and_then(|c| c.refresh_token.as_ref())
            .map(|r| r.expose().to_owned())
            .unwrap_or_default();
        if !self.spent.lock().unwrap().insert(refresh) {
            return Err(Error::new(ErrorKind::Reauthorize, "refresh token spent"));
        }
        Ok(Tokens::new(format!("access-{n}"), sent_at)
            .expiring_in(14_400)
            .with_refresh_token(format!("refresh-{n}"), Some(2_592_000))
            .with_details(serde_json::json!({ "shop_id": 600001 })))
    }
}

fn key() -> CredentialKey {
    CredentialKey::new("shopee", "2001887", "shop-600001").unwrap()
}

/// Tokens of a 4-hour lifetime with a minute left: due.
fn due() -> Tokens {
    let now = unix_millis();
    Tokens::new("access-0", now - (4 * 3600 - 60) * 1000)
        .expiring_in(14_400)
        .with_refresh_token("refresh-0", Some(2_592_000))
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("credentials.sqlite");
    let store = SqliteCredentialStore::open(&path).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        mode(path.parent().unwrap()),
        0o700,
        "a new directory is private"
    );
    store.save(&key(), &due()).await.unwrap();
    // SQLite gives its WAL and shared-memory files the database file's permissions.
    for suffix in ["-wal", "-shm"] {
        let side = path.with_file_name(format!("credentials.sqlite{suffix}"));
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "{}", side.display());
        }
    }
    drop(store);

    // A file made readable by others is made private again on open.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = SqliteCredentialStore::open(&path).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert!(
        store.load(&key()).await.unwrap().is_some(),
        "kept its tokens"
    );
}

#[tokio::test]
async fn tokens_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteCredentialStore::open(&dir.path().join("c.sqlite"))
        .await
        .unwrap();
    assert!(store.load(&key()).await.unwrap().is_none());
    let full = due().with_details(serde_json::json!({ "country_user_info": [{"country": "sg"}] }));
    store.save(&key(), &full).await.unwrap();
    assert_eq!(store.load(&key()).await.unwrap(), Some(full.clone()));
    // No expiry, no refresh token (WeChat's stable token, an imported token).
    let other = CredentialKey::new("wechat", "wx123", "app").unwrap();
    let bare = Tokens::new("t", 5);
    store.save(&other, &bare).await.unwrap();
    assert_eq!(store.load(&other).await.unwrap(), Some(bare.clone()));
    let listed = store.list().await.unwrap();
    assert_eq!(listed, vec![(key(), full), (other.clone(), bare)]);
    assert!(store.remove(&other).await.unwrap());
    assert!(store.load(&other).await.unwrap().is_none());
    // What the store prints names its file, never a token.
    let debug = format!("{store:?} {:?}", store.list().await.unwrap());
    assert!(
        !debug.contains("access-0") && !debug.contains("refresh-0"),
        "{debug}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_refreshing_at_once_make_one_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.sqlite");
    let platform = Arc::new(Platform::default());
    // Two stores on one file, each with its own pool and its own source: two processes.
    let first = Arc::new(SqliteCredentialStore::open(&path).await.unwrap());
    let second = Arc::new(SqliteCredentialStore::open(&path).await.unwrap());
    first.save(&key(), &due()).await.unwrap();
    let sources = [first.clone(), second.clone()].map(|store| {
        TokenSource::builder(key(), store, platform.clone())
            .account("shopee-sg")
            .build()
    });
    let tasks: Vec<_> = sources
        .iter()
        .flat_map(|s| (0..5).map(move |_| s.clone()))
        .map(|s| tokio::spawn(async move { s.access_token().await }))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().expose(), "access-1");
    }
    assert_eq!(platform.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(first.refresh_count(&key()).await.unwrap(), 1);
    let stored = second.load(&key()).await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().expose(), "refresh-1");
    assert_eq!(stored.details["shop_id"], 600001);

    // After a refusal of the token by the platform, the process that comes second finds
    // the token replaced already and refreshes nothing.
    let refused = sources[0]
        .call(|t| async move {
            if t.expose() == "access-1" {
                Err(Error::new(ErrorKind::Auth, "Invalid access_token.").with_token_refused())
            } else {
                Ok(t.expose().to_owned())
            }
        })
        .await
        .unwrap();
    assert_eq!(refused, "access-2");
    // The second process still holds `access-1` in memory and sends it.
    let sent = Mutex::new(Vec::new());
    let again = sources[1]
        .call(|t| {
            sent.lock().unwrap().push(t.expose().to_owned());
            async move {
                if t.expose() == "access-1" {
                    Err(Error::new(ErrorKind::Auth, "Invalid access_token.").with_token_refused())
                } else {
                    Ok(t.expose().to_owned())
                }
            }
        })
        .await
        .unwrap();
    assert_eq!(again, "access-2");
    assert_eq!(*sent.lock().unwrap(), ["access-1", "access-2"]);
    assert_eq!(platform.refreshes.load(Ordering::SeqCst), 2);
    // A save (a new authorization) starts the count again.
    first.save(&key(), &due()).await.unwrap();
    assert_eq!(first.refresh_count(&key()).await.unwrap(), 0);
}
