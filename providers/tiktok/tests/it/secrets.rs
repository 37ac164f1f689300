//! No secret appears in logs: the whole TRACE output of uploads, images and every error path
//! against the simulator, and the `Debug`, `Display` and JSON of everything the provider
//! hands back, hold neither the app secret (the signing key, and a query parameter of the
//! token calls) nor the seller's token (the `x-tts-access-token` header); nor, through the
//! token calls (the code exchange, a refused token refreshed, a refused refresh), the code,
//! the refresh token or the access tokens they issue.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::leaks::{
    self, captured, leak_driver as driver, open_session, Evidence, LeakCheck,
};
use marketmedia_conformance::recorder::WireRecorder;
use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::raw::Part;
use marketmedia_core::{
    ChunkedVideoUploader, CredentialStore, ImageSource, ImageUploader, MemoryStore, TokenSource,
};
use marketmedia_sim::fixtures::{decodable_jpeg, write_sample_mp4};
use marketmedia_sim::tiktok::{TiktokSim, TiktokSimConfig, TEST_APP_KEY};
use marketmedia_tiktok::auth::TiktokAuth;
use marketmedia_tiktok::{TiktokConfig, TiktokSettings, TiktokUploader};

const APP_SECRET: &str = "leak-tiktok-app-secret-5e1c9a";
const WRONG_SECRET: &str = "leak-tiktok-wrong-secret-0d3f8e";
const TOKEN: &str = "ROW_leak-tiktok-access-token-71f0a2";
const CODE: &str = "ROW_leak-tiktok-code-3d8e55";
const REFRESH_TOKEN: &str = "ROW_leak-tiktok-refresh-9b2c40";
const NEW_ACCESS: &str = "ROW_leak-tiktok-new-access-e6a713";
const SECRETS: &[&str] = &[
    APP_SECRET,
    WRONG_SECRET,
    TOKEN,
    CODE,
    REFRESH_TOKEN,
    NEW_ACCESS,
];

fn token_answer(access: &str) -> JunkAnswer {
    let at = (unix_millis() / 1000) as i64 + 604_800;
    JunkAnswer::json(
        200,
        serde_json::json!({"code": 0, "message": "success", "request_id": "r", "data": {
            "access_token": access, "access_token_expire_in": at,
            "refresh_token": REFRESH_TOKEN, "refresh_token_expire_in": at * 2,
            "open_id": "open-1"}}),
    )
}

/// The token calls: the code exchange, an upload whose token is refused (one refresh, the
/// call again), a refused refresh, and the source and store seen from outside.
async fn token_scenarios(ev: &mut Evidence) {
    let api = WireRecorder::start().await.unwrap();
    let host = WireRecorder::start().await.unwrap();
    let auth = TiktokAuth::new(TEST_APP_KEY, APP_SECRET)
        .unwrap()
        .with_auth_host(&host.base_url());
    ev.add(format!("{auth:?}"));
    host.always(token_answer(TOKEN));
    let tokens = auth.exchange_code(CODE).await.unwrap();
    ev.add(format!("{tokens:?}"));
    let key = auth.credential_key("open-1").unwrap();
    let store = MemoryStore::shared();
    store.save(&key, &tokens).await.unwrap();
    let source = TokenSource::builder(key, store.clone(), Arc::new(auth.refresher()))
        .account("tiktok-my")
        .build();
    let tiktok = TiktokUploader::new(
        TiktokConfig::builder()
            .app_key(TEST_APP_KEY)
            .app_secret(APP_SECRET)
            .token_source(source.clone())
            .base_url(api.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    host.always(token_answer(NEW_ACCESS));
    api.script(
        vec![JunkAnswer::json(
            401,
            serde_json::json!({"code": 105_002, "message": "access token is expired, please refresh it"}),
        )],
        JunkAnswer::json(
            200,
            serde_json::json!({"code": 0, "data": {"uri": "tos/1", "url": "https://p/1"}}),
        ),
    );
    let image = ImageSource::from_bytes("a.jpg", decodable_jpeg(8192).unwrap());
    ev.add(format!("{:?}", tiktok.upload_images(&[image]).await));
    leaks::token_evidence(ev, &source, store.as_ref()).await;
    host.always(JunkAnswer::json(
        200,
        serde_json::json!({"code": 36_004_001, "message": "rt has expired"}),
    ));
    ev.err(
        "a refused refresh",
        auth.refresh(&REFRESH_TOKEN.into()).await,
    );
    let settings = TiktokSettings::from_map([
        ("app_key", TEST_APP_KEY),
        ("app_secret", APP_SECRET),
        ("access_token", TOKEN),
        ("refresh_token", REFRESH_TOKEN),
    ])
    .unwrap();
    ev.add(format!("{settings:?}"));
}

fn uploader(base_url: &str, secret: &str, read_idle: Duration) -> TiktokUploader {
    let mut c = TiktokConfig::builder()
        .app_key(TEST_APP_KEY)
        .app_secret(secret)
        .access_token(TOKEN)
        .base_url(base_url)
        .build()
        .unwrap();
    c.options.timeouts.read_idle = read_idle;
    TiktokUploader::new(c).unwrap()
}

async fn scenarios(video: &Path, ev: &mut Evidence) {
    token_scenarios(ev).await;
    let long = Duration::from_secs(5);
    let sim = TiktokSim::new(TiktokSimConfig {
        app_secret: APP_SECRET.into(),
        access_token: TOKEN.into(),
        ..TiktokSimConfig::default()
    });
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    let tiktok = uploader(&base, APP_SECRET, long);
    ev.add(format!("{:?}\n{:?}", tiktok, tiktok.config()));
    let outcome = driver().upload_file(&tiktok, video).await.unwrap();
    ev.value(&outcome);
    let images = tiktok
        .upload_images(&[ImageSource::from_bytes(
            "a.jpg",
            decodable_jpeg(8192).unwrap(),
        )])
        .await
        .unwrap();
    ev.add(format!("{images:?}"));
    ev.add(format!("{:?}", tiktok.check_account().await));

    // A session by hand: a part past the end, a commit without parts, a cancel.
    let (session, plan) = open_session(&tiktok, video).await;
    ev.value(&session);
    let past = Part::new(plan.count(), 0, bytes::Bytes::from(vec![0u8; 1024]), None);
    ev.err(
        "a part past the end",
        tiktok.put_part(&session, &past).await,
    );
    ev.err("a commit without parts", tiktok.commit(&session, &[]).await);
    ev.add(format!("{:?}", tiktok.cancel(&session).await));

    let wrong = uploader(&base, WRONG_SECRET, long);
    ev.add(format!("{wrong:?}"));
    ev.err("a wrong secret", driver().upload_file(&wrong, video).await);
    ev.err(
        "a wrong secret (images)",
        wrong
            .upload_images(&[ImageSource::from_bytes(
                "a.jpg",
                decodable_jpeg(8192).unwrap(),
            )])
            .await
            .and_then(|mut r| r.remove(0).map(|_| ())),
    );
    sim.clock().advance(Duration::from_secs(8 * 86_400));
    ev.err(
        "an expired token",
        driver().upload_file(&tiktok, video).await,
    );

    leaks::error_paths(
        ev,
        video,
        r#"{"code":36009003,"message":"Internal error","request_id":"x"}"#,
        "http://127.0.0.1:1",
        |base, read_idle| uploader(base, APP_SECRET, read_idle),
    )
    .await;
}

#[test]
fn no_secret_in_logs_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("kettle.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 1024 * 1024 + 17).unwrap();
    let mut ev = Evidence::default();
    let ((), log) = captured(scenarios(&video, &mut ev));
    LeakCheck {
        platform: "tiktok",
        calls: &[
            "files/upload",
            "images/upload",
            "authorization/shops",
            "token/get",
            "token/refresh",
        ],
        secrets: SECRETS,
    }
    .assert(&log, &ev);
}
