//! The stable token against the simulator's ledger (`marketmedia_conformance::tokens`): tokens
//! of one second (renewed by the platform in their last 0.8 s) fetched again in that window,
//! with no expired-token answer on the wire, and a revoked token fetched once more and the
//! call sent again. WeChat has no refresh token to revoke.

use marketmedia_core::raw::http::{ClientOptions, HttpClient};
use std::sync::Arc;
use std::time::Duration;

use marketmedia_conformance::tokens::TokenRig;
use marketmedia_core::{ImageSource, ImageUploader, MemoryStore, TokenSource};
use marketmedia_sim::wechat::{WechatSim, WechatSimConfig};
use marketmedia_wechat::auth::{credential_key, margin, WechatRefresher};
use marketmedia_wechat::{WechatConfig, WechatUploader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stable_token_is_fetched_in_its_renewal_window_and_after_a_refusal() {
    let sim = WechatSim::new(WechatSimConfig::default());
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let creds = sim.credentials();
    sim.set_token_lifetimes(marketmedia_sim::tokens::LifetimesPatch {
        access_ms: Some(1000),
        overlap_ms: Some(800),
        ..Default::default()
    })
    .unwrap();
    let client = HttpClient::new(ClientOptions::default()).unwrap();
    let refresher = WechatRefresher::new(
        client,
        server.base_url(),
        creds.appid.clone(),
        creds.appsecret.clone().into(),
    );
    let source = TokenSource::builder(
        credential_key(&creds.appid).unwrap(),
        MemoryStore::shared(),
        Arc::new(refresher),
    )
    .margin(margin())
    .build();
    let wechat = WechatUploader::new(
        WechatConfig::builder()
            .appid(creds.appid.clone())
            .appsecret(creds.appsecret.clone())
            .base_url(server.base_url())
            .token_source(source.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    let image = ImageSource::from_bytes("a.jpg", crate::secrets::real_jpeg());
    let rig = TokenRig::new(
        server.base_url(),
        format!("app:{}", creds.appid),
        source,
        Box::new(|| {
            Box::pin(async {
                let mut done = wechat.upload_images(std::slice::from_ref(&image)).await?;
                done.remove(0).map(|_| ())
            })
        }),
    );
    assert!(rig.proactive(Duration::from_secs(1), 3).await >= 3);
    sim.set_token_lifetimes(marketmedia_sim::tokens::LifetimesPatch {
        access_ms: Some(7_200_000),
        overlap_ms: Some(300_000),
        ..Default::default()
    })
    .unwrap();
    rig.reactive().await;
}
