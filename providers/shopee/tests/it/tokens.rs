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
