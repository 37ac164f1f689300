//! The token cases a provider with refreshing tokens runs against its simulator's token ledger
//! (`/__sim/tokens`, the same routes on every simulator): a managed [`TokenSource`] and one
//! cheap authenticated call of the provider are enough.
//!
//! - [`TokenRig::proactive`]: with access tokens living a second on the simulator, calls that
//!   span several lifetimes meet **no expired-token answer**, each token is replaced once, and
//!   no refresh token is used twice or refused;
//! - [`TokenRig::reactive`]: an access token revoked on the simulator costs one refused call,
//!   one refresh and one more try, and the call succeeds;
//! - [`TokenRig::revoked_refresh`]: a revoked refresh token stops the call with
//!   [`ErrorKind::Reauthorize`] naming the command to run, and the next call fails without
//!   asking the platform again.
//!
//! The assertions read the simulator's own counts for the credential (refreshes, requests
//! refused for an expired or invalid token, spent or refused refresh tokens), not the client's
//! belief.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use marketmedia_core::{ErrorKind, Result, TokenSource};
use marketmedia_sim::tokens::{CredentialReport, TokenReport};
use serde_json::{json, Value};

/// One authenticated call of the provider under test (an account check, a quota, an image).
pub type Call<'a> = Box<dyn Fn() -> BoxFuture<'a, Result<()>> + Send + Sync + 'a>;

/// A provider's token source, one of its calls, and the simulator whose ledger issued the
/// source's tokens.
pub struct TokenRig<'a> {
    sim: String,
    credential: String,
    source: TokenSource,
    call: Call<'a>,
    http: reqwest::Client,
}

/// The counts of one credential that the cases compare before and after.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    refreshes: u64,
    refused_expired: u64,
    refused_invalid: u64,
    spent_uses: u64,
    refused_refreshes: u64,
}

impl Counts {
    fn of(r: &CredentialReport) -> Counts {
        Counts {
            refreshes: r.refreshes,
            refused_expired: r.refused_expired,
            refused_invalid: r.refused_invalid,
            spent_uses: r.spent_refresh_token_uses,
            refused_refreshes: r.refused_refreshes,
        }
    }

    fn since(self, before: Counts) -> Counts {
        Counts {
            refreshes: self.refreshes - before.refreshes,
            refused_expired: self.refused_expired - before.refused_expired,
            refused_invalid: self.refused_invalid - before.refused_invalid,
            spent_uses: self.spent_uses - before.spent_uses,
            refused_refreshes: self.refused_refreshes - before.refused_refreshes,
        }
    }
}

impl<'a> TokenRig<'a> {
    /// A rig for `source` (a managed source whose tokens the simulator at `sim`, its root URL,
    /// issued to `credential`: `shop:600001`, `seller:…`, `user:…`, `app:…`) and `call`.
    pub fn new(
        sim: impl Into<String>,
        credential: impl Into<String>,
        source: TokenSource,
        call: Call<'a>,
    ) -> Self {
        TokenRig {
            sim: sim.into().trim_end_matches('/').to_owned(),
            credential: credential.into(),
            source,
            call,
            http: reqwest::Client::new(),
        }
    }

    /// The ledger's report of the credential.
    ///
    /// # Panics
    /// When the simulator does not answer or does not know the credential.
    pub async fn report(&self) -> CredentialReport {
        let report: TokenReport = self.control(reqwest::Method::GET, "tokens", None).await;
        match report.credential(&self.credential) {
            Some(r) => r.clone(),
            None => panic!("the simulator knows no credential {}", self.credential),
        }
    }

    /// Sets the lifetime of the access tokens the simulator issues from now on.
    ///
    /// # Panics
    /// When the simulator refuses it.
    pub async fn set_access_lifetime(&self, lifetime: Duration) {
        let _: Value = self
            .control(
                reqwest::Method::PUT,
                "tokens/lifetimes",
                Some(json!({ "access_ms": lifetime.as_millis() as u64 })),
            )
            .await;
    }

    /// Revokes what `what` names (`{"access_token": …}`, `{"refresh_token": …}`).
    ///
    /// # Panics
    /// When the simulator revokes nothing.
    pub async fn revoke(&self, what: Value) {
        let _: Value = self
            .control(reqwest::Method::POST, "tokens/revoke", Some(what))
            .await;
    }

    async fn control<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> T {
        let url = format!("{}/__sim/{path}", self.sim);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = match request.send().await {
            Ok(a) => a,
            Err(e) => panic!("{url}: {e}"),
        };
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        if !status.is_success() {
            panic!("{url}: HTTP {status}: {text}");
        }
        if text.is_empty() {
            // 204: nothing to read.
            return match serde_json::from_value(Value::Null) {
                Ok(v) => v,
                Err(e) => panic!("{url}: no answer: {e}"),
            };
        }
        match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => panic!("{url}: {e}: {text}"),
        }
    }

    /// The credential's counts; all zero while the ledger has not met it (WeChat's before
    /// its first token call).
    async fn counts(&self) -> Counts {
        let report: TokenReport = self.control(reqwest::Method::GET, "tokens", None).await;
        report
            .credential(&self.credential)
            .map(Counts::of)
            .unwrap_or_default()
    }

    /// With access tokens living `lifetime` on the simulator and every request taking from 0 to
    /// a quarter of it to reach the simulator (its fault layer's latency, at random: a token
    /// sent just before the client's idea of its expiry may arrive after it), calls go on until `refreshes` refreshes
    /// took place: none meets an expired-token answer (nor any refusal), no refresh token is
    /// spent twice or refused, and there are no more refreshes than one per half lifetime
    /// (each token replaced once, at its margin). Returns the refreshes counted.
    ///
    /// # Panics
    /// On any of these, or when `refreshes` refreshes take more than 30 s.
    pub async fn proactive(&self, lifetime: Duration, refreshes: u64) -> u64 {
        self.set_access_lifetime(lifetime).await;
        // Each request reaches the simulator after 0 to a quarter of the lifetime, at random:
        // a token sent just before the client's idea of its expiry may arrive after it.
        let jitter = (lifetime / 4).as_millis() as u64;
        let _: Value = self
            .control(
                reqwest::Method::PUT,
                "faults",
                Some(json!({ "seed": 26, "latency_jitter_ms": jitter })),
            )
            .await;
        let before = self.counts().await;
        let started = Instant::now();
        let mut calls = 0u64;
        let done = loop {
            if let Err(e) = (self.call)().await {
                panic!("call {calls} failed: {e}");
            }
            calls += 1;
            let now = self.counts().await.since(before);
            if now.refreshes >= refreshes {
                break now;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} refreshes in 30 s",
                now.refreshes
            );
            tokio::time::sleep(lifetime / 20).await;
        };
        let elapsed = started.elapsed();
        let _: Value = self.control(reqwest::Method::DELETE, "faults", None).await;
        assert_eq!(
            done.refused_expired, 0,
            "no expired-token answer on the wire"
        );
        assert_eq!(done.refused_invalid, 0, "no refused token on the wire");
        assert_eq!(done.spent_uses, 0, "no refresh token used twice");
        assert_eq!(done.refused_refreshes, 0, "no refresh refused");
        let most = elapsed.as_millis() as u64 / (lifetime.as_millis() as u64 / 2).max(1) + 2;
        assert!(
            done.refreshes <= most,
            "{} refreshes in {elapsed:?} of {calls} calls: more than one per token",
            done.refreshes
        );
        // The client's view of its token never outlives the simulator's.
        let tokens = match self.source.tokens().await {
            Ok(t) => t,
            Err(e) => panic!("the source has no tokens: {e}"),
        };
        assert!(
            tokens.lifetime().is_some_and(|l| l <= lifetime),
            "{:?} is longer than the simulator's {lifetime:?}",
            tokens.lifetime()
        );
        done.refreshes
    }

    /// The source's access token is revoked on the simulator: the next call is refused once,
    /// the token refreshed once, and the call sent again succeeds with the new token.
    ///
    /// # Panics
    /// Otherwise.
    pub async fn reactive(&self) {
        let revoked = match self.source.access_token().await {
            Ok(t) => t,
            Err(e) => panic!("no access token: {e}"),
        };
        let before = self.counts().await;
        self.revoke(json!({ "access_token": revoked.expose() }))
            .await;
        if let Err(e) = (self.call)().await {
            panic!("the call after the revocation failed: {e}");
        }
        let done = self.counts().await.since(before);
        assert_eq!(done.refused_invalid, 1, "one refused call");
        assert_eq!(done.refreshes, 1, "one refresh");
        assert_eq!(done.refused_expired, 0);
        match self.source.access_token().await {
            Ok(now) => assert!(now != revoked, "the source holds a new token"),
            Err(e) => panic!("no access token after the refresh: {e}"),
        }
    }

    /// The source's refresh token and access token are revoked on the simulator: the call is
    /// refused, the refresh refused once, and the caller gets [`ErrorKind::Reauthorize`]
    /// naming the command to run; a second call fails the same way without a request to the
    /// refresh call.
    ///
    /// # Panics
    /// Otherwise.
    pub async fn revoked_refresh(&self) {
        let tokens = match self.source.tokens().await {
            Ok(t) => t,
            Err(e) => panic!("no tokens: {e}"),
        };
        let Some(refresh) = tokens.refresh_token else {
            panic!("the source's tokens have no refresh token");
        };
        let before = self.counts().await;
        self.revoke(json!({ "refresh_token": refresh.expose() }))
            .await;
        self.revoke(json!({ "access_token": tokens.access_token.expose() }))
            .await;
        for attempt in 0..2 {
            match (self.call)().await {
                Ok(()) => panic!("call {attempt} succeeded with a revoked refresh token"),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Reauthorize, "{e}");
                    assert!(
                        e.to_string().contains("marketmedia accounts authorize"),
                        "{e}"
                    );
                }
            }
        }
        let done = self.counts().await.since(before);
        assert_eq!(done.refused_refreshes, 1, "the refresh asked once");
        assert_eq!(done.refreshes, 0);
        assert_eq!(done.refused_invalid, 1, "the revoked token sent once");
    }
}
