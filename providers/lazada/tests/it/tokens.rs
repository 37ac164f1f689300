//! Tokens against the simulator's ledger (`marketmedia_conformance::tokens`), one seller on two
//! country gateways sharing one credential: the code exchanged for the first pair, access
//! tokens of one second replaced ahead of expiry with no expired-token answer on the wire, a
//! revoked access token refreshed once and the call sent again, a revoked refresh token
//! stopping with the command to run.

use std::sync::Arc;
use std::time::Duration;

use marketmedia_conformance::tokens::TokenRig;
use marketmedia_core::{CredentialStore, MemoryStore, TokenSource};
use marketmedia_lazada::auth::{sellers, LazadaAuth};
use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region};
use marketmedia_sim::lazada::{LazadaSim, LazadaSimConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_tokens_refreshed_ahead_after_a_refusal_and_stop_when_refused() {
    let config = LazadaSimConfig::default();
    let seller = format!("seller:{}", config.seller_account);
    let sim = LazadaSim::new(config);
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let creds = sim.credentials();
    let auth = LazadaAuth::new(creds.app_key.clone(), creds.app_secret.clone())
        .unwrap()
        .with_base_url(LazadaSim::auth_base_url(&server));
    let key = auth.credential_key(&seller).unwrap();
    let store = MemoryStore::shared();
    let source = TokenSource::builder(key.clone(), store.clone(), Arc::new(auth.refresher()))
        .account("lazada-sg")
        .build();
    let gateway = |region: Region| {
        LazadaUploader::new(
            LazadaConfig::builder()
                .app_key(creds.app_key.clone())
                .app_secret(creds.app_secret.clone())
                .region(region)
                .token_source(source.clone())
                .base_url(LazadaSim::gateway_base_url(&server, region.code()))
                .build()
                .unwrap(),
        )
        .unwrap()
    };
    let (sg, my) = (gateway(Region::Sg), gateway(Region::My));
    let rig = TokenRig::new(
        server.base_url(),
        seller,
        source.clone(),
        Box::new(|| {
            Box::pin(async {
                sg.quota().await?;
                my.quota().await.map(|_| ())
            })
        }),
    );

    rig.set_access_lifetime(Duration::from_secs(1)).await;
    let tokens = auth.exchange_code(&creds.authorization_code).await.unwrap();
    assert!(!sellers(&tokens).is_empty(), "the seller per country");
    store.save(&key, &tokens).await.unwrap();

    assert!(rig.proactive(Duration::from_secs(1), 3).await >= 3);
    rig.set_access_lifetime(Duration::from_secs(3600)).await;
    rig.reactive().await;
    rig.revoked_refresh().await;
}
