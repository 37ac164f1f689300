//! No secret in logs: the whole TRACE output of uploads (a POST form and a PUT), images, the
//! staged host's signed parameters, every error path, and the OAuth calls (the code exchange
//! for an expiring token, a refused token refreshed, a refused refresh), and the `Debug`,
//! `Display` and JSON of everything handed back, hold neither the store's tokens nor a wrong
//! one, the client secret, the code or the refresh tokens.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::leaks::{
    self, captured, leak_driver as driver, open_session, Evidence, LeakCheck,
};
use marketmedia_conformance::recorder::WireRecorder;
use marketmedia_core::{
    ChunkedVideoUploader, CredentialStore, ImageSource, ImageUploader, MemoryStore,
    ProcessingHandle, TokenSource,
};
use marketmedia_shopify::auth::ShopifyAuth;
use marketmedia_shopify::{ShopifyConfig, ShopifyUploader, StagedMethod};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};
use marketmedia_sim::shopify::{ShopifySim, ShopifySimConfig};

const TOKEN: &str = "shpat_leak-shopify-store-token-4a1e";
const WRONG_TOKEN: &str = "shpat_leak-shopify-wrong-token-93b0";
const CLIENT_SECRET: &str = "shpss_leak-shopify-client-secret-77c2";
const CODE: &str = "leak-shopify-code-1f9d";
const REFRESH_TOKEN: &str = "shprt_leak-shopify-refresh-token-0c55";
const NEW_ACCESS: &str = "shpat_leak-shopify-new-access-5d20";
const NEW_REFRESH: &str = "shprt_leak-shopify-new-refresh-8e61";
const SECRETS: &[&str] = &[
    TOKEN,
    WRONG_TOKEN,
    CLIENT_SECRET,
    CODE,
    REFRESH_TOKEN,
    NEW_ACCESS,
    NEW_REFRESH,
];

async fn token_scenarios(ev: &mut Evidence) {
    let api = WireRecorder::start().await.unwrap();
    let auth = ShopifyAuth::new("client-1", CLIENT_SECRET, "leaky.myshopify.com")
        .unwrap()
        .with_base_url(&api.base_url());
    ev.add(format!("{auth:?}"));
    api.always(JunkAnswer::json(
        200,
        serde_json::json!({"access_token": TOKEN, "scope": "write_files", "expires_in": 3600,
            "refresh_token": REFRESH_TOKEN, "refresh_token_expires_in": 7_776_000}),
    ));
    let tokens = auth.exchange_code(CODE).await.unwrap();
    ev.add(format!("{tokens:?}"));
    let key = auth.credential_key().unwrap();
    let store = MemoryStore::shared();
    store.save(&key, &tokens).await.unwrap();
    let source = TokenSource::builder(key, store.clone(), Arc::new(auth.refresher()))
        .account("shopify")
        .build();
    let shopify = ShopifyUploader::new(
        ShopifyConfig::builder()
            .shop("leaky.myshopify.com")
            .token_source(source.clone())
            .base_url(api.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    // The store's token refused once: one refresh (a new pair), the call again.
    api.script(
        vec![
            JunkAnswer::json(
                401,
                serde_json::json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
            ),
            JunkAnswer::json(
                200,
                serde_json::json!({"access_token": NEW_ACCESS, "expires_in": 3600,
                    "refresh_token": NEW_REFRESH, "refresh_token_expires_in": 7_776_000}),
            ),
        ],
        JunkAnswer::json(
            200,
            serde_json::json!({"data": {"node": {"id": "gid://shopify/Video/1", "status": "READY"}}}),
        ),
    );
    let handle = ProcessingHandle {
        platform: "shopify".into(),
        id: "gid://shopify/Video/1".into(),
        data: serde_json::json!({"destination": "product"}),
    };
    ev.add(format!("{:?}", shopify.poll(&handle).await.unwrap()));
    leaks::token_evidence(ev, &source, store.as_ref()).await;
    api.always(JunkAnswer::json(
        400,
        serde_json::json!({"error": "invalid_grant", "error_description": "refresh token retired"}),
    ));
    ev.err(
        "a refused refresh",
        auth.refresh(&REFRESH_TOKEN.into()).await,
    );
}

fn uploader(base: &str, token: &str, read_idle: Duration, method: StagedMethod) -> ShopifyUploader {
    let mut c = ShopifyConfig::builder()
        .shop("sim-kettles.myshopify.com")
        .access_token(token)
        .base_url(base)
        .staged_method(method)
        .build()
        .unwrap();
    c.options.timeouts.read_idle = read_idle;
    ShopifyUploader::new(c).unwrap()
}

async fn scenarios(video: &Path, ev: &mut Evidence) {
    token_scenarios(ev).await;
    let long = Duration::from_secs(5);
    let running = ShopifySim::new(ShopifySimConfig {
        access_token: TOKEN.into(),
        processing_delay: Duration::from_millis(10),
        ..ShopifySimConfig::default()
    })
    .launch(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = running.base_url();
    for method in [StagedMethod::Post, StagedMethod::Put] {
        let shopify = uploader(&base, TOKEN, long, method);
        ev.add(format!("{:?}\n{:?}", shopify, shopify.config()));
        let outcome = driver().upload_file(&shopify, video).await.unwrap();
        ev.value(&outcome);
        let images = shopify
            .upload_images(&[ImageSource::from_bytes("a.jpg", sample_jpeg(2048))])
            .await
            .unwrap();
        ev.add(format!("{images:?}"));
    }
    let shopify = uploader(&base, TOKEN, long, StagedMethod::Post);
    let (session, _plan) = open_session(&shopify, video).await;
    ev.value(&session);
    ev.err(
        "a commit without parts",
        shopify.commit(&session, &[]).await,
    );
    ev.add(format!("{:?}", shopify.cancel(&session).await));

    let wrong = uploader(&base, WRONG_TOKEN, long, StagedMethod::Post);
    ev.add(format!("{wrong:?}"));
    ev.err("a wrong token", driver().upload_file(&wrong, video).await);
    ev.err("a wrong token (check)", wrong.check_account().await);

    leaks::error_paths(
        ev,
        video,
        r#"{"errors":[{"message":"Internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#,
        "http://127.0.0.1:1",
        |base, read_idle| uploader(base, TOKEN, read_idle, StagedMethod::Post),
    )
    .await;
}

#[test]
fn no_token_in_logs_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("kettle.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 2 * 1024 * 1024 + 17).unwrap();
    let mut ev = Evidence::default();
    let ((), log) = captured(scenarios(&video, &mut ev));
    LeakCheck {
        platform: "shopify",
        calls: &[
            "stagedUploadsCreate",
            "stagedUpload",
            "fileCreate",
            "mediaStatus",
            "authorization_code",
            "refresh_token",
        ],
        secrets: SECRETS,
    }
    .assert(&log, &ev);
}
