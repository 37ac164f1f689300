//! Tokens against the simulator's ledger (`marketmedia_conformance::tokens`): the code
//! exchanged for the first pair, access tokens of one second replaced ahead of expiry with no
//! expired-token answer on the wire (one long-lived refresh token serving every refresh), a
//! revoked access token refreshed once and the call sent again, a revoked refresh token
//! stopping with the command to run.

use std::sync::Arc;
use std::time::Duration;

use marketmedia_conformance::tokens::TokenRig;
use marketmedia_core::{CredentialStore, ImageSource, ImageUploader, MemoryStore, TokenSource};
use marketmedia_ebay::auth::EbayAuth;
use marketmedia_ebay::{EbayConfig, EbayEnvironment, EbayUploader};
use marketmedia_sim::ebay::{EbaySim, EbaySimConfig};
use marketmedia_sim::fixtures::sample_jpeg;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_refresh_ahead_of_expiry_after_a_refusal_and_stop_when_refused() {
    let sim = EbaySim::new(EbaySimConfig::default());
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let app = sim.credentials();
    let account = sim.accounts()[0].clone();
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let auth = EbayAuth::new(
        text(&app["client_id"]),
        text(&app["client_secret"]),
        text(&app["ru_name"]),
        EbayEnvironment::Sandbox,
    )
    .unwrap()
    .with_token_host(&server.base_url());
    let username = text(&account["username"]);
    let key = auth.credential_key(&username).unwrap();
    let store = MemoryStore::shared();
    let source = TokenSource::builder(key.clone(), store.clone(), Arc::new(auth.refresher()))
        .account("ebay-us")
        .build();
    let ebay = EbayUploader::new(
        EbayConfig::builder()
            .token_source(source.clone())
            .base_url(EbaySim::api_base_url(&server))
            .build()
            .unwrap(),
    )
    .unwrap();
    let image = ImageSource::from_bytes("a.jpg", sample_jpeg(1024));
    let rig = TokenRig::new(
        server.base_url(),
        format!("user:{username}"),
        source,
        Box::new(|| {
            Box::pin(async {
                let mut done = ebay.upload_images(std::slice::from_ref(&image)).await?;
                done.remove(0).map(|_| ())
            })
        }),
    );

    rig.set_access_lifetime(Duration::from_secs(1)).await;
    let tokens = auth
        .exchange_code(&text(&account["authorization_code"]))
        .await
        .unwrap();
    store.save(&key, &tokens).await.unwrap();

    assert!(rig.proactive(Duration::from_secs(1), 3).await >= 3);
    rig.set_access_lifetime(Duration::from_secs(7200)).await;
    rig.reactive().await;
    rig.revoked_refresh().await;
}
