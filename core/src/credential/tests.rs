//! The token mechanism with a fake refresher: one refresh for many callers, ahead of expiry,
//! once more after a refusal, transient failures retried, refusals typed, no secret shown.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::http::unix_millis;
use crate::retry::RetryPolicy;

const SECRET_REFRESH: &str = "RT-secret-refresh-0";
const SECRET_ACCESS: &str = "AT-secret-access-0";

/// A platform that rotates refresh tokens as Shopee does: each refresh spends the refresh
/// token it was given; a spent one is refused.
#[derive(Debug, Default)]
struct Fake {
    refreshes: AtomicU32,
    /// Failures to answer before succeeding, in order.
    failures: Mutex<VecDeque<ErrorKind>>,
    spent: Mutex<HashSet<String>>,
    /// How long each refresh takes.
    delay: Duration,
    /// Access token lifetime, seconds.
    lifetime: u64,
    /// Holds every refresh until notified, when set.
    gate: Option<Arc<tokio::sync::Notify>>,
}

impl Fake {
    fn new() -> Arc<Fake> {
        Arc::new(Fake {
            lifetime: 3600,
            ..Fake::default()
        })
    }

    fn failing(kinds: &[ErrorKind]) -> Arc<Fake> {
        Arc::new(Fake {
            lifetime: 3600,
            failures: Mutex::new(kinds.iter().copied().collect()),
            ..Fake::default()
        })
    }

    fn count(&self) -> u32 {
        self.refreshes.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Refresher for Fake {
    async fn refresh(&self, key: &CredentialKey, current: Option<&Tokens>) -> Result<Tokens> {
        let sent_at = unix_millis();
        let n = self.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(gate) = &self.gate {
            gate.notified().await;
        }
        tokio::time::sleep(self.delay).await;
        if let Some(kind) = self.failures.lock().unwrap().pop_front() {
            return Err(Error::new(kind, "the platform said no").with_platform("fake"));
        }
        let Some(refresh) = current.and_then(|c| c.refresh_token.as_ref()) else {
            return Err(no_refresh_token(key));
        };
        if !self
            .spent
            .lock()
            .unwrap()
            .insert(refresh.expose().to_owned())
        {
            return Err(
                Error::new(ErrorKind::Reauthorize, "the refresh token was spent")
                    .with_platform("fake")
                    .with_code("invalid_refresh_token"),
            );
        }
        Ok(Tokens::new(format!("AT-secret-access-{n}"), sent_at)
            .expiring_in(self.lifetime)
            .with_refresh_token(format!("RT-secret-refresh-{n}"), Some(30 * 86_400)))
    }
}

fn key() -> CredentialKey {
    CredentialKey::new("fake", "app-1", "shop-7").unwrap()
}

/// Tokens obtained `age` ago that expire `left` from now.
fn stored(age: Duration, left: Duration) -> Tokens {
    let now = unix_millis();
    let obtained = now - age.as_millis() as u64;
    Tokens {
        access_expires_at_ms: Some(now + left.as_millis() as u64),
        ..Tokens::new(SECRET_ACCESS, obtained)
    }
    .with_refresh_token(SECRET_REFRESH, None)
}

async fn source_with(tokens: Option<Tokens>, fake: &Arc<Fake>) -> (TokenSource, Arc<MemoryStore>) {
    let store = MemoryStore::shared();
    if let Some(t) = tokens {
        store.save(&key(), &t).await.unwrap();
    }
    let source = TokenSource::builder(key(), store.clone(), fake.clone())
        .account("fake-sg")
        .retry(RetryPolicy {
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .build();
    (source, store)
}

/// A token within its margin of expiry: 4 h lifetime, 1 min left (margin 24 min).
fn due() -> Tokens {
    stored(Duration::from_secs(4 * 3600 - 60), Duration::from_secs(60))
}

/// A token far from expiry: 1 min old, 4 h left.
fn fresh() -> Tokens {
    stored(Duration::from_secs(60), Duration::from_secs(4 * 3600))
}

#[test]
fn margin_scales_with_lifetime() {
    let m = RefreshMargin::default();
    let h = |n: u64| Duration::from_secs(n * 3600);
    assert_eq!(m.for_lifetime(h(4)), Duration::from_secs(24 * 60), "Shopee");
    assert_eq!(m.for_lifetime(h(2)), Duration::from_secs(12 * 60), "eBay");
    assert_eq!(
        m.for_lifetime(h(24 * 30)),
        Duration::from_secs(30 * 60),
        "Lazada"
    );
    assert_eq!(
        m.for_lifetime(Duration::from_secs(30)),
        Duration::from_secs(5),
        "floor"
    );
    assert_eq!(
        m.for_lifetime(Duration::from_secs(4)),
        Duration::from_secs(2),
        "half"
    );
    let nan = RefreshMargin {
        fraction: f64::NAN,
        ..m
    };
    assert_eq!(nan.for_lifetime(h(4)), Duration::from_secs(5));
}

#[test]
fn expiries_count_from_when_the_request_was_sent() {
    let t = Tokens::new("a", 1_000_000)
        .expiring_in(14_400)
        .with_refresh_token("r", Some(2_592_000));
    assert_eq!(t.access_expires_at_ms, Some(1_000_000 + 14_400_000));
    assert_eq!(t.refresh_expires_at_ms, Some(1_000_000 + 2_592_000_000));
    assert_eq!(t.lifetime(), Some(Duration::from_secs(14_400)));
    // Due 24 minutes before the end, not a millisecond earlier.
    let at = 1_000_000 + 14_400_000 - 24 * 60_000;
    assert_eq!(t.refresh_at_ms(&RefreshMargin::default()), Some(at));
    assert!(!t.is_due(&RefreshMargin::default(), at - 1));
    assert!(t.is_due(&RefreshMargin::default(), at));
    // A server's huge `expires_in` saturates instead of overflowing.
    let huge = Tokens::new("a", u64::MAX - 5).expiring_in(u64::MAX);
    assert_eq!(huge.access_expires_at_ms, Some(u64::MAX));
    // Unknown expiry: never due ahead of time.
    assert!(!Tokens::new("a", 0).is_due(&RefreshMargin::default(), u64::MAX));
}

#[test]
fn keys_are_checked_and_round_trip() {
    let k = CredentialKey::new("shopee", "2001887", "shop-600001").unwrap();
    assert_eq!(k.as_str(), "shopee/2001887/shop-600001");
    assert_eq!(k.platform(), "shopee");
    assert_eq!(CredentialKey::parse(k.as_str()).unwrap(), k);
    assert_eq!(
        serde_json::to_string(&k).unwrap(),
        "\"shopee/2001887/shop-600001\""
    );
    // The subject may hold slashes; platform and app may not.
    assert!(CredentialKey::new("lazada", "100132", "seller/a").is_ok());
    assert!(CredentialKey::new("la/zada", "1", "s").is_err());
    assert!(CredentialKey::new("lazada", "", "s").is_err());
    assert!(CredentialKey::new("lazada", "1", " ").is_err());
    assert!(CredentialKey::new("lazada", "1", "a\nb").is_err());
    assert!(CredentialKey::parse("no-slashes").is_err());
    assert!(serde_json::from_str::<CredentialKey>("\"x\"").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_callers_share_one_refresh() {
    let fake = Arc::new(Fake {
        lifetime: 3600,
        delay: Duration::from_millis(50),
        ..Fake::default()
    });
    let (source, store) = source_with(Some(due()), &fake).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = source.clone();
            tokio::spawn(async move { s.access_token().await })
        })
        .collect();
    let mut tokens = HashSet::new();
    for t in tasks {
        tokens.insert(t.await.unwrap().unwrap().expose().to_owned());
    }
    assert_eq!(fake.count(), 1, "one refresh for fifty callers");
    assert_eq!(tokens.len(), 1);
    assert!(tokens.contains("AT-secret-access-1"));
    let now = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(now.access_token.expose(), "AT-secret-access-1");
    assert_eq!(now.refresh_token.unwrap().expose(), "RT-secret-refresh-1");
    // The new token is not due: nothing more happens.
    source.access_token().await.unwrap();
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn refreshed_ahead_of_expiry_not_before() {
    let fake = Fake::new();
    let (source, _) = source_with(Some(fresh()), &fake).await;
    assert_eq!(source.access_token().await.unwrap().expose(), SECRET_ACCESS);
    assert_eq!(fake.count(), 0, "four hours left: no refresh");

    // One minute left of four hours is inside the 24-minute margin: replaced before it
    // expires, with the stored (rotated) refresh token.
    let (source, store) = source_with(Some(due()), &fake).await;
    let token = source.access_token().await.unwrap();
    assert_eq!(token.expose(), "AT-secret-access-1");
    assert_eq!(fake.count(), 1);
    let t = store.load(&key()).await.unwrap().unwrap();
    assert!(t.access_expires_at_ms.unwrap() > unix_millis() + 3_000_000);
    assert!(fake.spent.lock().unwrap().contains(SECRET_REFRESH));
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_the_call_sent_again() {
    let fake = Fake::new();
    let (source, _) = source_with(Some(fresh()), &fake).await;
    let sent = Mutex::new(Vec::new());
    let answer = source
        .call(|token| {
            sent.lock().unwrap().push(token.expose().to_owned());
            let refused = token.expose() == SECRET_ACCESS;
            async move {
                if refused {
                    Err(Error::new(ErrorKind::Auth, "Invalid access_token.").with_token_refused())
                } else {
                    Ok(42)
                }
            }
        })
        .await
        .unwrap();
    assert_eq!(answer, 42);
    assert_eq!(fake.count(), 1);
    assert_eq!(
        *sent.lock().unwrap(),
        vec![SECRET_ACCESS.to_owned(), "AT-secret-access-1".to_owned()]
    );

    // Refused again after the refresh: the error comes back, after one more try only.
    let calls = AtomicU32::new(0);
    let err = source
        .call(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(Error::new(ErrorKind::Auth, "no").with_token_refused()) }
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(fake.count(), 2);

    // Another error is not the token's: sent once, nothing refreshed.
    let calls = AtomicU32::new(0);
    let err = source
        .call(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(Error::new(ErrorKind::Auth, "Wrong sign.")) }
        })
        .await
        .unwrap_err();
    assert_eq!(err.message(), "Wrong sign.");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(fake.count(), 2);
}

#[tokio::test]
async fn a_fixed_token_is_sent_once_and_its_refusal_returned() {
    let source = TokenSource::fixed(SECRET_ACCESS);
    assert!(!source.is_refreshable());
    let calls = AtomicU32::new(0);
    let err = source
        .call(|token| {
            calls.fetch_add(1, Ordering::SeqCst);
            assert_eq!(token.expose(), SECRET_ACCESS);
            async { Err::<(), _>(Error::new(ErrorKind::Auth, "expired").with_token_refused()) }
        })
        .await
        .unwrap_err();
    assert!(err.is_token_refused());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(TokenSource::fixed("").is_empty_fixed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refusals_of_one_token_make_one_refresh() {
    let fake = Arc::new(Fake {
        lifetime: 3600,
        delay: Duration::from_millis(20),
        ..Fake::default()
    });
    let (source, _) = source_with(Some(fresh()), &fake).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = source.clone();
            tokio::spawn(async move {
                s.call(|token| async move {
                    if token.expose() == SECRET_ACCESS {
                        Err(Error::new(ErrorKind::Auth, "revoked").with_token_refused())
                    } else {
                        Ok(token.expose().to_owned())
                    }
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "AT-secret-access-1");
    }
    assert_eq!(fake.count(), 1, "every rotated refresh token used once");
}

#[tokio::test]
async fn transient_refresh_failures_are_retried() {
    let fake = Fake::failing(&[ErrorKind::Transient, ErrorKind::RateLimited]);
    let (source, _) = source_with(Some(due()), &fake).await;
    assert_eq!(
        source.access_token().await.unwrap().expose(),
        "AT-secret-access-3"
    );
    assert_eq!(fake.count(), 3);

    // Out of attempts (6, as this source is told): the last failure, saying what failed,
    // and not kept.
    let fake = Fake::failing(&[ErrorKind::Transient; 6]);
    let (source, _) = source_with(Some(due()), &fake).await;
    let err = source.access_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.message().contains("fake/app-1/shop-7"), "{err}");
    assert_eq!(fake.count(), 6);
    assert_eq!(
        source.access_token().await.unwrap().expose(),
        "AT-secret-access-7",
        "a transient failure is not kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refusal_is_reauthorize_naming_the_command_and_kept_until_new_tokens() {
    let fake = Fake::failing(&[ErrorKind::Reauthorize]);
    let (source, store) = source_with(Some(due()), &fake).await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = source.clone();
            tokio::spawn(async move { s.access_token().await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Reauthorize);
        assert!(!err.is_retryable());
        let text = err.to_string();
        assert!(text.contains("credential fake/app-1/shop-7"), "{text}");
        assert!(
            text.contains("`marketmedia accounts authorize fake-sg`"),
            "{text}"
        );
    }
    assert_eq!(fake.count(), 1, "not retried, not repeated");
    // Kept: no request until new tokens are stored.
    assert_eq!(
        source.access_token().await.unwrap_err().kind(),
        ErrorKind::Reauthorize
    );
    assert_eq!(fake.count(), 1);
    // A new authorization (any process) lifts it.
    let authorized = stored(Duration::from_secs(1), Duration::from_secs(4 * 3600));
    store.save(&key(), &authorized).await.unwrap();
    assert_eq!(source.access_token().await.unwrap().expose(), SECRET_ACCESS);
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn nothing_stored_with_an_oauth_refresher_is_reauthorize() {
    let fake = Fake::new();
    let (source, _) = source_with(None, &fake).await;
    let err = source.access_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Reauthorize);
    assert!(
        err.to_string().contains("no refresh token is stored"),
        "{err}"
    );
}

#[tokio::test]
async fn a_spent_refresh_token_is_never_used_twice() {
    // Two sources on one store (two uploaders of one credential): the second reads what
    // the first committed instead of refreshing with the spent token.
    let fake = Fake::new();
    let (first, store) = source_with(Some(due()), &fake).await;
    let second = TokenSource::builder(key(), store.clone(), fake.clone()).build();
    first.access_token().await.unwrap();
    assert_eq!(
        second.access_token().await.unwrap().expose(),
        "AT-secret-access-1"
    );
    assert_eq!(fake.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_giving_up_does_not_cut_the_refresh() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let fake = Arc::new(Fake {
        lifetime: 3600,
        gate: Some(gate.clone()),
        ..Fake::default()
    });
    let (source, store) = source_with(Some(due()), &fake).await;
    let s = source.clone();
    let caller = tokio::spawn(async move { s.access_token().await });
    while fake.count() == 0 {
        tokio::task::yield_now().await;
    }
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    gate.notify_one();
    // The refresh finishes on its own and commits; the next caller uses its result.
    assert_eq!(
        source.access_token().await.unwrap().expose(),
        "AT-secret-access-1"
    );
    assert_eq!(fake.count(), 1);
    let t = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(t.refresh_token.unwrap().expose(), "RT-secret-refresh-1");
}

#[tokio::test]
async fn no_secret_in_debug_or_errors() {
    let fake = Fake::failing(&[ErrorKind::Reauthorize]);
    let (source, store) = source_with(Some(due()), &fake).await;
    let err = source.access_token().await.unwrap_err();
    let tokens = store.load(&key()).await.unwrap().unwrap();
    let text = format!(
        "{err}\n{err:?}\n{source:?}\n{tokens:?}\n{store:?}\n{:?}",
        TokenSource::fixed(SECRET_ACCESS)
    );
    for secret in [SECRET_ACCESS, SECRET_REFRESH] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("***"));
}

#[tokio::test]
async fn an_answer_without_a_refresh_token_keeps_the_old_one() {
    // eBay's refresh answer carries no refresh token: the stored one stays.
    #[derive(Debug)]
    struct Ebayish;
    #[async_trait]
    impl Refresher for Ebayish {
        async fn refresh(&self, _: &CredentialKey, _: Option<&Tokens>) -> Result<Tokens> {
            Ok(Tokens::new("new-access", unix_millis()).expiring_in(7200))
        }
    }
    let store = MemoryStore::shared();
    store.save(&key(), &due()).await.unwrap();
    let source = TokenSource::builder(key(), store.clone(), Arc::new(Ebayish)).build();
    source.access_token().await.unwrap();
    let t = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(t.access_token.expose(), "new-access");
    assert_eq!(t.refresh_token.unwrap().expose(), SECRET_REFRESH);
}

/// Unless told otherwise a source tries a refresh three times, briefly: the call around it
/// has a retry policy of its own.
#[tokio::test]
async fn by_default_a_refresh_is_tried_three_times() {
    let fake = Fake::failing(&[ErrorKind::Transient; 5]);
    let store = MemoryStore::shared();
    store.save(&key(), &due()).await.unwrap();
    let source = TokenSource::builder(key(), store, fake.clone()).build();
    let started = std::time::Instant::now();
    let err = source.access_token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(fake.count(), 3);
    assert!(started.elapsed() < Duration::from_secs(2));
}
