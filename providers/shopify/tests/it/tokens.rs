//! Tokens against the simulator's ledger (`marketmedia_conformance::tokens`): an expiring
//! offline token from the code exchange, replaced ahead of its expiry with no expired-token
//! answer on the wire (each refresh rotating the refresh token), a revoked access token
//! refreshed once and the call sent again, a revoked refresh token stopping with the command
//! to run; a refresh answer lost before it was stored, recovered with the retained previous
//! refresh token (and that token retired once its replacement is used); and a non-expiring
//! offline token used as given.

use std::sync::Arc;
use std::time::Duration;

use marketmedia_conformance::tokens::TokenRig;
use marketmedia_core::{CredentialStore, ErrorKind, MemoryStore, TokenSource};
use marketmedia_shopify::auth::ShopifyAuth;
use marketmedia_shopify::{ShopifyConfig, ShopifyUploader};
use marketmedia_sim::shopify::{ShopifyRunning, ShopifySim, ShopifySimConfig};
use marketmedia_sim::tokens::Revoke;

async fn start() -> ShopifyRunning {
    ShopifySim::new(ShopifySimConfig::default())
        .launch(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap()
}

fn auth(running: &ShopifyRunning) -> ShopifyAuth {
    let app = running.sim.credentials();
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    ShopifyAuth::new(
        text(&app["client_id"]),
        text(&app["client_secret"]),
        running.sim.config().shop,
    )
    .unwrap()
    .with_base_url(&running.base_url())
}

fn code(running: &ShopifyRunning) -> String {
    running.sim.accounts()[0]["authorization_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn uploader(running: &ShopifyRunning, source: TokenSource) -> ShopifyUploader {
    ShopifyUploader::new(
        ShopifyConfig::builder()
            .shop(running.sim.config().shop)
            .token_source(source)
            .base_url(running.base_url())
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_tokens_refresh_ahead_after_a_refusal_and_stop_when_refused() {
    let running = start().await;
    let auth = auth(&running);
    let key = auth.credential_key().unwrap();
    let store = MemoryStore::shared();
    let source = TokenSource::builder(key.clone(), store.clone(), Arc::new(auth.refresher()))
        .account("shopify")
        .build();
    let shopify = uploader(&running, source.clone());
    let rig = TokenRig::new(
        running.base_url(),
        format!("shop:{}", running.sim.config().shop),
        source,
        Box::new(|| Box::pin(async { shopify.check_account().await.map(|_| ()) })),
    );
    rig.set_access_lifetime(Duration::from_secs(1)).await;
    let tokens = auth.exchange_code(&code(&running)).await.unwrap();
    assert!(tokens.refresh_token.is_some() && tokens.lifetime().is_some());
    store.save(&key, &tokens).await.unwrap();

    assert!(rig.proactive(Duration::from_secs(1), 3).await >= 3);
    rig.set_access_lifetime(Duration::from_secs(3600)).await;
    rig.reactive().await;
    rig.revoked_refresh().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_refresh_answer_is_recovered_with_the_retained_refresh_token() {
    let running = start().await;
    let auth = auth(&running);
    let key = auth.credential_key().unwrap();
    let store = MemoryStore::shared();
    let first = auth.exchange_code(&code(&running)).await.unwrap();
    store.save(&key, &first).await.unwrap();
    let stored_refresh = first.refresh_token.clone().unwrap();
    // A refresh whose answer never reached the store: Shopify issued a pair, and the store
    // still holds the first refresh token.
    let lost = auth.refresh(&stored_refresh).await.unwrap();
    assert_ne!(
        lost.refresh_token.as_ref().unwrap().expose(),
        stored_refresh.expose()
    );

    let source = TokenSource::builder(key.clone(), store.clone(), Arc::new(auth.refresher()))
        .account("shopify")
        .build();
    let shopify = uploader(&running, source.clone());
    // The stored access token is refused from now on: the next call refreshes with the
    // stored (previous) refresh token, which Shopify retained.
    running
        .sim
        .revoke_tokens(&Revoke {
            access_token: Some(first.access_token.expose().to_owned()),
            ..Revoke::default()
        })
        .unwrap();
    shopify.check_account().await.unwrap();
    let now = store.load(&key).await.unwrap().unwrap();
    let second_refresh = now.refresh_token.clone().unwrap();
    assert_ne!(second_refresh.expose(), stored_refresh.expose());
    let report = running.sim.tokens();
    let shop = report
        .credential(&format!("shop:{}", running.sim.config().shop))
        .unwrap();
    assert_eq!(shop.refreshes, 2, "{shop:?}");
    assert_eq!(shop.refused_refreshes, 0, "{shop:?}");

    // Using the replacement retires the previous token: it is refused from then on.
    let third = auth.refresh(&second_refresh).await.unwrap();
    assert!(third.refresh_token.is_some());
    let refused = auth.refresh(&stored_refresh).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Reauthorize, "{refused}");
    assert_eq!(refused.code(), Some("invalid_grant"));
}

#[tokio::test]
async fn a_non_expiring_offline_token_is_used_as_given() {
    let running = start().await;
    let tokens = auth(&running)
        .expiring(false)
        .exchange_code(&code(&running))
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_none());
    assert!(tokens.lifetime().is_none());
    let shopify = ShopifyUploader::new(
        ShopifyConfig::builder()
            .shop(running.sim.config().shop)
            .access_token(tokens.access_token.clone())
            .base_url(running.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let shop = shopify.check_account().await.unwrap();
    assert_eq!(shop.id.as_deref(), Some(running.sim.config().shop.as_str()));
}
