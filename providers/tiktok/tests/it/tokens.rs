//! Tokens against the simulator's ledger (`marketmedia_conformance::tokens`): the code
//! exchanged for the first pair, access tokens of two seconds (TikTok answers expiries as
//! whole-second timestamps) replaced ahead of expiry with no expired-token answer on the
//! wire, a revoked access token refreshed once and the call sent again, a revoked refresh
//! token stopping with the command to run.

use std::sync::Arc;
use std::time::Duration;

use marketmedia_conformance::tokens::TokenRig;
use marketmedia_core::{CredentialStore, ImageSource, ImageUploader, MemoryStore, TokenSource};
use marketmedia_sim::fixtures::decodable_jpeg;
use marketmedia_sim::tiktok::{TiktokSim, TiktokSimConfig, TEST_APP_KEY, TEST_APP_SECRET};
use marketmedia_tiktok::auth::TiktokAuth;
use marketmedia_tiktok::{TiktokConfig, TiktokUploader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_refresh_ahead_of_expiry_after_a_refusal_and_stop_when_refused() {
    let sim = TiktokSim::new(TiktokSimConfig::default());
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let account = sim.accounts()[0].clone();
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let auth = TiktokAuth::new(TEST_APP_KEY, TEST_APP_SECRET)
        .unwrap()
        .with_auth_host(&server.base_url());
    let open_id = text(&account["open_id"]);
    let key = auth.credential_key(&open_id).unwrap();
    let store = MemoryStore::shared();
    let source = TokenSource::builder(key.clone(), store.clone(), Arc::new(auth.refresher()))
        .account("tiktok-my")
        .build();
    let tiktok = TiktokUploader::new(
        TiktokConfig::builder()
            .app_key(TEST_APP_KEY)
            .app_secret(TEST_APP_SECRET)
            .token_source(source.clone())
            .base_url(server.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let image = ImageSource::from_bytes("a.jpg", decodable_jpeg(8192).unwrap());
    let rig = TokenRig::new(
        server.base_url(),
        format!("seller:{open_id}"),
        source,
        Box::new(|| {
            Box::pin(async {
                let mut done = tiktok.upload_images(std::slice::from_ref(&image)).await?;
                done.remove(0).map(|_| ())
            })
        }),
    );

    rig.set_access_lifetime(Duration::from_secs(2)).await;
    let tokens = auth
        .exchange_code(&text(&account["authorization_code"]))
        .await
        .unwrap();
    store.save(&key, &tokens).await.unwrap();

    assert!(rig.proactive(Duration::from_secs(2), 3).await >= 3);
    rig.set_access_lifetime(Duration::from_secs(7 * 86_400))
        .await;
    rig.reactive().await;
    rig.revoked_refresh().await;
}
