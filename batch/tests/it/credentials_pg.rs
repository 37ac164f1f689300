//! The PostgreSQL credential store (issue 27), on a database made for each test: the row
//! lock serialises refreshes across workers (several stores, each its own pool), "due" is
//! decided on the database's clock whatever this machine's says, a seed never replaces, a
//! refusal is recorded once for every worker, and a local credential moved to the shared
//! store leaves a tombstone that says where it went.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use marketmedia_batch::credentials::seal::{Rekey, Sealer, SecretKey};
use marketmedia_batch::credentials::{PgCredentialStore, SqliteCredentialStore};
use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::{
    CredentialKey, CredentialStore, Error, ErrorKind, RefreshDue, RefreshMargin, Refresher, Result,
    TokenSource, Tokens,
};

use crate::common;

/// A platform that answers a new pair after a while (so that other workers reach the lock
/// meanwhile), or refuses every refresh.
#[derive(Debug, Default)]
struct Platform {
    refreshes: AtomicU32,
    refuse: bool,
    /// The clock the refresher measures on (this machine's, or a test's).
    clock: Option<fn() -> u64>,
}

#[async_trait]
impl Refresher for Platform {
    async fn refresh(&self, _: &CredentialKey, _: Option<&Tokens>) -> Result<Tokens> {
        let sent_at = self.clock.map_or_else(unix_millis, |c| c());
        let n = self.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
        if self.refuse {
            return Err(Error::new(
                ErrorKind::Reauthorize,
                "the platform refused the refresh token (error_auth)",
            ));
        }
        Ok(Tokens::new(format!("access-{n}"), sent_at)
            .expiring_in(14_400)
            .with_refresh_token(format!("refresh-{n}"), Some(2_592_000)))
    }
}

/// The workers' key (every store of a test shares it, as workers share
/// `MARKETMEDIA_SECRET_KEY`).
fn sealer() -> Sealer {
    Sealer::new(SecretKey::from_text(&"5a".repeat(32)).unwrap())
}

fn key() -> CredentialKey {
    CredentialKey::new("shopee", "2001887", "shop-600001").unwrap()
}

/// Tokens of a 4-hour lifetime obtained at `now` with `left_ms` to live.
fn tokens_at(now: u64, left_ms: u64) -> Tokens {
    Tokens::new("access-0", now + left_ms - 14_400_000)
        .expiring_in(14_400)
        .with_refresh_token("refresh-0", Some(2_592_000))
}

fn due_now(now_ms: u64) -> RefreshDue {
    RefreshDue {
        margin: RefreshMargin::default(),
        now_ms,
        refused: None,
    }
}

fn behind() -> u64 {
    unix_millis() - 3_600_000
}

fn ahead() -> u64 {
    unix_millis() + 3_600_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_that_find_a_token_due_at_once_make_one_refresh() {
    let Some(db) = common::pg().await else { return };
    // Three workers (three pools), four callers each, all finding the token due.
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Arc::new(
            PgCredentialStore::connect(&db.url, sealer()).await.unwrap(),
        ));
    }
    stores[0]
        .save(&key(), &tokens_at(unix_millis(), 60_000))
        .await
        .unwrap();
    let platform = Arc::new(Platform::default());
    let mut calls = Vec::new();
    for i in 0..12 {
        let store = stores[i % 3].clone();
        let platform = platform.clone();
        calls.push(tokio::spawn(async move {
            store
                .refresh(&key(), &due_now(unix_millis()), platform.as_ref())
                .await
                .unwrap()
        }));
    }
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap().access_token.expose().to_owned());
    }
    assert_eq!(platform.refreshes.load(Ordering::SeqCst), 1, "one refresh");
    assert!(tokens.iter().all(|t| t == "access-1"), "{tokens:?}");
    assert_eq!(stores[2].refresh_count(&key()).await.unwrap(), 1);
    assert!(!stores[1].refresh_intent_left(&key()).await.unwrap());
    // Through the token sources of two workers too: one refresh more, not two.
    stores[0]
        .save(&key(), &tokens_at(unix_millis(), 60_000))
        .await
        .unwrap();
    let platform = Arc::new(Platform::default());
    let a = TokenSource::builder(key(), stores[0].clone(), platform.clone()).build();
    let b = TokenSource::builder(key(), stores[1].clone(), platform.clone()).build();
    let (x, y) = tokio::join!(a.access_token(), b.access_token());
    assert_eq!(x.unwrap(), y.unwrap());
    assert_eq!(platform.refreshes.load(Ordering::SeqCst), 1);
    drop(stores);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_is_decided_on_the_database_clock_not_the_machine_clock() {
    let Some(db) = common::pg().await else { return };
    let honest = PgCredentialStore::connect(&db.url, sealer()).await.unwrap();
    // Expired a second ago on the database's clock (this machine's agrees with it here).
    honest
        .save(&key(), &tokens_at(unix_millis(), 0).expiring_in(14_399))
        .await
        .unwrap();
    // A worker whose clock is an hour behind thinks the token has an hour left…
    let slow = PgCredentialStore::connect(&db.url, sealer())
        .await
        .unwrap()
        .with_local_clock(behind)
        .await
        .unwrap();
    assert!(
        (slow.clock_offset_ms() - 3_600_000).abs() < 5_000,
        "offset {}",
        slow.clock_offset_ms()
    );
    let now = slow.now_ms();
    assert!(
        now.abs_diff(unix_millis()) < 5_000,
        "the store's now is the database's"
    );
    let platform = Platform {
        clock: Some(behind),
        ..Platform::default()
    };
    // …and asks with its own now; the store decides on the database's: due, refreshed.
    let fresh = slow
        .refresh(&key(), &due_now(behind()), &platform)
        .await
        .unwrap();
    assert_eq!(platform.refreshes.load(Ordering::SeqCst), 1);
    // What the slow worker's refresher measured is stored on the database's clock.
    let stored = honest.load(&key()).await.unwrap().unwrap();
    assert_eq!(stored, fresh);
    assert!(
        stored.obtained_at_ms.abs_diff(unix_millis()) < 5_000,
        "obtained at {} (rebased), now {}",
        stored.obtained_at_ms,
        unix_millis()
    );
    // A worker whose clock is an hour ahead thinks the fresh token is expired; the store
    // decides it is not, and refreshes nothing.
    let fast = PgCredentialStore::connect(&db.url, sealer())
        .await
        .unwrap()
        .with_local_clock(ahead)
        .await
        .unwrap();
    let platform = Platform::default();
    let same = fast
        .refresh(&key(), &due_now(ahead()), &platform)
        .await
        .unwrap();
    assert_eq!(platform.refreshes.load(Ordering::SeqCst), 0);
    assert_eq!(same.access_token.expose(), "access-1");
    // And its token source, comparing with the store's now, uses the token as it is.
    let platform = Arc::new(Platform::default());
    let source = TokenSource::builder(key(), Arc::new(fast), platform.clone()).build();
    assert_eq!(source.access_token().await.unwrap().expose(), "access-1");
    assert_eq!(platform.refreshes.load(Ordering::SeqCst), 0);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_never_replaces_and_a_refusal_is_recorded_for_every_worker() {
    let Some(db) = common::pg().await else { return };
    let a = PgCredentialStore::connect(&db.url, sealer()).await.unwrap();
    let b = PgCredentialStore::connect(&db.url, sealer()).await.unwrap();
    let now = unix_millis();
    assert!(a.seed(&key(), &tokens_at(now, 60_000)).await.unwrap());
    let other = Tokens::new("access-x", now).with_refresh_token("refresh-x", None);
    assert!(!b.seed(&key(), &other).await.unwrap(), "insert-if-absent");
    assert_eq!(
        b.load(&key()).await.unwrap().unwrap().access_token.expose(),
        "access-0"
    );

    // Worker A's refresh is refused: recorded in the row, with the platform's message.
    let refusing = Platform {
        refuse: true,
        ..Platform::default()
    };
    let e = a
        .refresh(&key(), &due_now(unix_millis()), &refusing)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Reauthorize);
    let state = b.state(&key()).await.unwrap().unwrap();
    assert!(state.needs_authorization(), "{state:?}");
    assert!(
        state.message.as_deref().unwrap().contains("error_auth"),
        "{state:?}"
    );
    // Worker B does not present the token again: the recorded refusal, at once.
    let e = b
        .refresh(&key(), &due_now(unix_millis()), &refusing)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Reauthorize);
    assert!(e.message().contains("error_auth"), "{e}");
    assert_eq!(refusing.refreshes.load(Ordering::SeqCst), 1);

    // An authorization clears it.
    b.save(&key(), &tokens_at(unix_millis(), 3_600_000))
        .await
        .unwrap();
    assert!(!a
        .state(&key())
        .await
        .unwrap()
        .unwrap()
        .needs_authorization());
    let ok = Platform::default();
    a.refresh(&key(), &due_now(unix_millis()), &ok)
        .await
        .unwrap();
    assert_eq!(ok.refreshes.load(Ordering::SeqCst), 0, "not due");

    // A refresh sent and never committed (a worker died after the platform's answer) is
    // named in the refusal that follows.
    b.save(&key(), &tokens_at(unix_millis(), 0)).await.unwrap();
    let client = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO credential_refresh_intents (key, started_at, worker) VALUES ($1, 0, 'gone')",
    )
    .bind(key().as_str())
    .execute(&client)
    .await
    .unwrap();
    let e = a
        .refresh(&key(), &due_now(unix_millis()), &refusing)
        .await
        .unwrap_err();
    assert!(e.message().contains("worker stopped"), "{e}");
    assert!(!a.refresh_intent_left(&key()).await.unwrap());
    client.close().await;

    // Nothing printed names a token or the URL's password.
    let debug = format!("{a:?} {state:?} {e}");
    assert!(
        !debug.contains("access-0") && !debug.contains("refresh-0"),
        "{debug}"
    );
    drop((a, b));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_credential_leaves_a_tombstone_that_says_where_it_went() {
    let dir = tempfile::tempdir().unwrap();
    let local = SqliteCredentialStore::open(&dir.path().join("c.sqlite"))
        .await
        .unwrap();
    local
        .save(&key(), &tokens_at(unix_millis(), 60_000))
        .await
        .unwrap();
    local
        .retire(
            &key(),
            "postgres://worker:hunter2@db.example:5432/jobs?sslmode=require",
        )
        .await
        .unwrap();
    let to = local.moved_to(&key()).await.unwrap().unwrap();
    assert_eq!(to, "postgres://db.example:5432/jobs?sslmode=***");
    for e in [
        local.load(&key()).await.unwrap_err(),
        local
            .seed(&key(), &tokens_at(unix_millis(), 60_000))
            .await
            .unwrap_err(),
        local
            .save(&key(), &tokens_at(unix_millis(), 60_000))
            .await
            .unwrap_err(),
        local
            .refresh(&key(), &due_now(unix_millis()), &Platform::default())
            .await
            .unwrap_err(),
    ] {
        assert!(e.message().contains("was moved to the shared store"), "{e}");
        assert!(e.message().contains(&to), "{e}");
        assert!(!e.message().contains("hunter2"), "{e}");
    }
    assert!(local.list().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_hold_sealed_tokens_only_and_a_wrong_key_is_a_clear_error() {
    let Some(db) = common::pg().await else { return };
    let store = PgCredentialStore::connect(&db.url, sealer()).await.unwrap();
    let access = "access-token-of-shop-600001-abcdef";
    let refresh = "refresh-token-of-shop-600001-uvwxyz";
    let tokens = Tokens::new(access, unix_millis())
        .expiring_in(14_400)
        .with_refresh_token(refresh, Some(2_592_000));
    let raw = sqlx::PgPool::connect(&db.url).await.unwrap();
    let row = |pool: sqlx::PgPool| async move {
        let (text, sealed): (String, Vec<u8>) =
            sqlx::query_as("SELECT CAST(c AS TEXT), sealed FROM credentials c")
                .fetch_one(&pool)
                .await
                .unwrap();
        (text, sealed)
    };
    store.save(&key(), &tokens).await.unwrap();
    let (first_text, first) = row(raw.clone()).await;
    use base64::Engine;
    for secret in [access, refresh] {
        let forms = [
            secret.to_owned(),
            hex::encode(secret),
            base64::engine::general_purpose::STANDARD.encode(secret),
        ];
        for form in &forms {
            assert!(!first_text.contains(form.as_str()), "{form} in the row");
            assert!(
                !first.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the token in the sealed bytes"
            );
        }
    }
    // The same tokens written again: other bytes (a fresh nonce).
    store.save(&key(), &tokens).await.unwrap();
    let (_, second) = row(raw.clone()).await;
    assert_ne!(first, second);
    assert_eq!(
        store
            .load(&key())
            .await
            .unwrap()
            .unwrap()
            .access_token
            .expose(),
        access
    );

    // A worker with another key: an error naming the credential, no tokens.
    let other = Sealer::new(SecretKey::from_text(&"a5".repeat(32)).unwrap());
    let stranger = PgCredentialStore::connect(&db.url, other.clone())
        .await
        .unwrap();
    let e = stranger.load(&key()).await.unwrap_err();
    assert!(e.message().contains(key().as_str()), "{e}");
    assert!(e.message().contains("cannot be decrypted"), "{e}");
    let e = stranger
        .refresh(&key(), &due_now(unix_millis()), &Platform::default())
        .await
        .unwrap_err();
    assert!(e.message().contains("cannot be decrypted"), "{e}");

    // Rekey: every row under the new key in one transaction; the old key no longer opens it.
    assert_eq!(store.rekey(&sealer(), &other).await.unwrap(), 1);
    assert_eq!(
        stranger
            .load(&key())
            .await
            .unwrap()
            .unwrap()
            .access_token
            .expose(),
        access
    );
    assert!(store.load(&key()).await.is_err());
    raw.close().await;
    drop((store, stranger));
    db.drop_db().await;
}
