//! Tokens against the simulator's ledger (`marketmedia_conformance::tokens`): the code
//! exchanged for the first pair, access tokens of one second replaced ahead of expiry with no
//! expired-token answer on the wire and every rotated refresh token used once, a revoked access
//! token refreshed once and the call sent again, a revoked refresh token stopping with the
//! command to run.

use std::sync::Arc;
use std::time::Duration;

use marketmedia_conformance::tokens::TokenRig;
use marketmedia_core::{CredentialStore, MemoryStore, TokenSource};
use marketmedia_shopee::auth::{Grantee, ShopeeAuth, Subject};
use marketmedia_shopee::{ShopeeConfig, ShopeeRegion, ShopeeUploader};
use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};
use marketmedia_sim::tokens::LifetimesPatch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_refresh_ahead_of_expiry_after_a_refusal_and_stop_when_refused() {
    let sim = ShopeeSim::new(ShopeeSimConfig::default());
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let creds = sim.credentials();
    let auth = ShopeeAuth::new(
        creds.partner_id,
        creds.partner_key.clone(),
        ShopeeRegion::Production,
    )
    .unwrap()
    .with_base_url(server.base_url());
    let subject = Subject::Shop(creds.shop_id);
    let key = auth.credential_key(subject).unwrap();
    let store = MemoryStore::shared();
    let source = TokenSource::builder(
        key.clone(),
        store.clone(),
        Arc::new(auth.refresher(subject)),
    )
    .account("shopee-sg")
    .build();
    let shopee = ShopeeUploader::new(
        ShopeeConfig::builder()
            .partner_id(creds.partner_id)
            .partner_key(creds.partner_key.clone())
            .shop_id(creds.shop_id)
            .token_source(source.clone())
            .base_url(server.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let rig = TokenRig::new(
        server.base_url(),
        format!("shop:{}", creds.shop_id),
        source,
        Box::new(|| Box::pin(async { shopee.check_account().await.map(|_| ()) })),
    );

    // Authorize once: the simulator's code for the shop, tokens of one second from then on.
    rig.set_access_lifetime(Duration::from_secs(1)).await;
    let tokens = auth
        .exchange_code(&creds.authorization_code, Grantee::Shop(creds.shop_id))
        .await
        .unwrap();
    assert_eq!(Subject::listed_in(&tokens), vec![subject]);
    store.save(&key, &tokens).await.unwrap();
    assert_eq!(rig.report().await.code_exchanges, 1);

    let refreshes = rig.proactive(Duration::from_secs(1), 3).await;
    assert!(refreshes >= 3);
    let report = rig.report().await;
    assert!(
        report.refresh_tokens.iter().all(|t| t.uses <= 1),
        "every rotated refresh token used once: {:?}",
        report.refresh_tokens
    );
    rig.set_access_lifetime(Duration::from_secs(3600)).await;
    rig.reactive().await;
    rig.revoked_refresh().await;
}

/// A main account's authorization serves each of its shops: the exchange answers one pair
/// and `shop_id_list`; the pair is stored under every shop's credential, and each shop's
/// first refresh presents the shared refresh token with its own `shop_id` (Shopee's
/// "after the first refresh, tokens are per shop"; the simulator takes the main account's
/// refresh token once per shop) and gets a pair of its own. Both shops then keep
/// refreshing on their own: no refused call or refresh, no spent token presented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_main_account_pair_splits_into_one_pair_per_shop() {
    let sim = ShopeeSim::new(ShopeeSimConfig::default());
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let shops = sim.shops();
    assert_eq!(shops.len(), 2, "the simulator's partner has two shops");
    let creds = sim.credentials();
    let auth = ShopeeAuth::new(
        creds.partner_id,
        creds.partner_key.clone(),
        ShopeeRegion::Production,
    )
    .unwrap()
    .with_base_url(server.base_url());
    sim.set_token_lifetimes(LifetimesPatch {
        access_ms: Some(1000),
        ..LifetimesPatch::default()
    })
    .unwrap();
    let code = sim
        .authorization_code(&serde_json::json!({ "main_account_id": creds.main_account_id }))
        .unwrap();
    let issued = auth
        .exchange_code(&code.code, Grantee::MainAccount(creds.main_account_id))
        .await
        .unwrap();
    let subjects = Subject::listed_in(&issued);
    let store = MemoryStore::shared();
    let mut uploaders = Vec::new();
    for shop in &shops {
        let subject = Subject::Shop(shop.shop_id);
        assert!(subjects.contains(&subject), "{subjects:?}");
        let key = auth.credential_key(subject).unwrap();
        // What `accounts authorize --main-account-id` stores: the pair under each shop.
        store.save(&key, &issued).await.unwrap();
        let source = TokenSource::builder(
            key.clone(),
            store.clone(),
            Arc::new(auth.refresher(subject)),
        )
        .account(format!("shop-{}", shop.shop_id))
        .build();
        let uploader = ShopeeUploader::new(
            ShopeeConfig::builder()
                .partner_id(shop.partner_id)
                .partner_key(shop.partner_key.clone())
                .shop_id(shop.shop_id)
                .token_source(source)
                .base_url(server.base_url())
                .build()
                .unwrap(),
        )
        .unwrap();
        uploaders.push((shop.shop_id, key, uploader));
    }

    // Calls on both shops at once until each has refreshed twice on its own (one-second
    // tokens: about 1.5 s), within a bound that only a stall reaches.
    let report = |id: u64| {
        sim.tokens()
            .credential(&format!("shop:{id}"))
            .map_or(0, |c| c.refreshes)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while uploaders.iter().any(|(id, _, _)| report(*id) < 2) {
        assert!(std::time::Instant::now() < deadline, "{:?}", sim.tokens());
        let (a, b) = tokio::join!(
            uploaders[0].2.check_account(),
            uploaders[1].2.check_account()
        );
        a.unwrap();
        b.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let tokens = sim.tokens();
    println!("main account split: {tokens:?}");
    for c in &tokens.credentials {
        assert_eq!(
            (
                c.spent_refresh_token_uses,
                c.refused_refreshes,
                c.refused_expired,
                c.refused_invalid
            ),
            (0, 0, 0, 0),
            "{}: {c:?}",
            c.credential
        );
    }
    let main = tokens
        .credential(&format!("main_account:{}", creds.main_account_id))
        .unwrap();
    assert_eq!(main.code_exchanges, 1);
    // The shared refresh token presented once per shop, never twice for one.
    let shared = issued.refresh_token.as_ref().unwrap().expose();
    let uses = main
        .refresh_tokens
        .iter()
        .find(|t| t.refresh_token == shared)
        .map(|t| t.uses);
    assert_eq!(uses, Some(shops.len() as u64), "{main:?}");
    // Each shop ends with a pair of its own, neither the main account's nor the other's.
    let mut pairs = Vec::new();
    for (_, key, _) in &uploaders {
        let t = store.load(key).await.unwrap().unwrap();
        let access = t.access_token.expose().to_owned();
        let refresh = t.refresh_token.unwrap().expose().to_owned();
        assert_ne!(access, issued.access_token.expose());
        assert_ne!(refresh, shared);
        pairs.push((access, refresh));
    }
    assert_ne!(pairs[0].0, pairs[1].0);
    assert_ne!(pairs[0].1, pairs[1].1);
}
