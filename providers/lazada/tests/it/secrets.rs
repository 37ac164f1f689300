//! Secrets never appear in logs: the whole TRACE output (ours and every third-party crate's,
//! `log` records included, as a user with `RUST_LOG=trace` gets it) of a full upload against
//! the simulator and of every error path, and the `Debug`, `Display` and JSON of everything
//! the provider hands back, hold neither the app secret nor the access token (which travels
//! in the query string of Lazada's GET calls); nor, through the token calls (the code exchange,
//! a refused token refreshed, a refused refresh), the code, the refresh tokens or the access
//! tokens they issue.

use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::leaks::{
    self, captured, leak_driver as driver, open_session, Evidence, LeakCheck,
};
use marketmedia_conformance::recorder::WireRecorder;
use marketmedia_core::raw::Part;
use marketmedia_core::{
    ChunkedVideoUploader, CredentialStore, ImageSource, ImageUploader, MemoryStore, TokenSource,
};
use marketmedia_lazada::auth::LazadaAuth;
use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};
use marketmedia_sim::lazada::{LazadaSim, LazadaSimConfig, VideoOutcome};

const APP_KEY: &str = "100132";
const APP_SECRET: &str = "ASleak-lazada-app-secret-4c9e1a7f3b";
const ACCESS_TOKEN: &str = "ATleak-lazada-access-token-8b2d6f0e1c";
const WRONG_SECRET: &str = "ASleak-lazada-wrong-secret-73a1d9";
const WRONG_TOKEN: &str = "ATleak-lazada-wrong-token-c4e8f2";
const CODE: &str = "CDleak-lazada-code-2f9a61";
const REFRESH_TOKEN: &str = "RTleak-lazada-refresh-token-e04b7c";
const NEW_ACCESS: &str = "ATleak-lazada-new-access-19c5d8";
const NEW_REFRESH: &str = "RTleak-lazada-new-refresh-a7e302";
const SECRETS: &[&str] = &[
    APP_SECRET,
    ACCESS_TOKEN,
    WRONG_SECRET,
    WRONG_TOKEN,
    CODE,
    REFRESH_TOKEN,
    NEW_ACCESS,
    NEW_REFRESH,
];

// ---- scenarios ----------------------------------------------------------------------------

fn sim_config(outcome: VideoOutcome) -> LazadaSimConfig {
    LazadaSimConfig {
        app_key: APP_KEY.into(),
        app_secret: APP_SECRET.into(),
        access_token: ACCESS_TOKEN.into(),
        transcode_queue_delay: Duration::from_millis(10),
        transcode_delay: Duration::from_millis(10),
        audit_delay: Duration::from_millis(10),
        video_outcome: outcome,
        ..LazadaSimConfig::default()
    }
}

fn uploader(base_url: &str, secret: &str, token: &str, read_idle: Duration) -> LazadaUploader {
    let mut c = LazadaConfig::builder()
        .app_key(APP_KEY)
        .app_secret(secret)
        .access_token(token)
        .region(Region::Sg)
        .base_url(base_url)
        .build()
        .unwrap();
    c.options.timeouts.read_idle = read_idle;
    // Uploads carry the leak driver's title and cover (`sample_meta`).
    LazadaUploader::new(c).unwrap()
}

/// The token calls: the code exchange, a gateway call whose token is refused (one refresh, the
/// call again), a refused refresh, and the source and store seen from outside.
async fn token_scenarios(ev: &mut Evidence) {
    use crate::auth::{quota, token_answer};
    let server = WireRecorder::start().await.unwrap();
    let rest = format!("{}/rest", server.base_url());
    let auth = LazadaAuth::new(APP_KEY, APP_SECRET)
        .unwrap()
        .with_base_url(&rest);
    ev.add(format!("{auth:?}"));
    server.always(token_answer(ACCESS_TOKEN, REFRESH_TOKEN));
    let tokens = auth.exchange_code(CODE).await.unwrap();
    ev.add(format!("{tokens:?}"));
    let key = auth.credential_key("seller@example.com").unwrap();
    let store = MemoryStore::shared();
    store.save(&key, &tokens).await.unwrap();
    let source = TokenSource::builder(key, store.clone(), Arc::new(auth.refresher()))
        .account("lazada-sg")
        .build();
    let lazada = LazadaUploader::new(
        LazadaConfig::builder()
            .app_key(APP_KEY)
            .app_secret(APP_SECRET)
            .region(Region::Sg)
            .token_source(source.clone())
            .base_url(&rest)
            .build()
            .unwrap(),
    )
    .unwrap();
    server.script(
        vec![
            JunkAnswer::json(
                200,
                serde_json::json!({"type": "ISV", "code": "IllegalAccessToken",
                    "message": "The specified access token is invalid or expired"}),
            ),
            token_answer(NEW_ACCESS, NEW_REFRESH),
        ],
        quota(),
    );
    ev.add(format!("{:?}", lazada.quota().await.unwrap()));
    leaks::token_evidence(ev, &source, store.as_ref()).await;
    server.always(JunkAnswer::json(
        200,
        serde_json::json!({"type": "ISV", "code": "IllegalRefreshToken",
            "message": "The specified refresh token is invalid or expired"}),
    ));
    ev.err("a refused refresh", auth.refresh(&NEW_REFRESH.into()).await);
}

async fn scenarios(video: &Path, ev: &mut Evidence) {
    token_scenarios(ev).await;
    let long = Duration::from_secs(5);
    let sim = LazadaSim::new(sim_config(VideoOutcome::AuditSuccess));
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = LazadaSim::rest_base_url(&server);
    let lazada = uploader(&base, APP_SECRET, ACCESS_TOKEN, long);
    ev.add(format!("{:?}\n{:?}", lazada, lazada.config()));

    // A full upload, images, a migration and the quota.
    let outcome = driver().upload_file(&lazada, video).await.unwrap();
    ev.value(&outcome);
    let images = lazada
        .upload_images(&[ImageSource::from_bytes("a.jpg", sample_jpeg(2048))])
        .await
        .unwrap();
    ev.add(format!("{images:?}"));
    ev.add(format!(
        "{:?}",
        lazada.migrate_image("https://example.com/a.jpg").await
    ));
    ev.add(format!("{:?}", lazada.quota().await.unwrap()));
    assert!(
        sim.wire()
            .records()
            .iter()
            .any(|r| r.param("access_token") == Some(ACCESS_TOKEN)),
        "the token travelled, so a leak would show"
    );

    // Session by hand; a bad block; cancel.
    let (session, plan) = open_session(&lazada, video).await;
    ev.value(&session);
    let past_the_end = Part::new(plan.count(), 0, bytes::Bytes::from(vec![0u8; 1024]), None);
    ev.err(
        "a block past the end",
        lazada.put_part(&session, &past_the_end).await,
    );
    lazada.cancel(&session).await.unwrap();
    ev.err(
        "a commit without blocks",
        lazada.commit(&session, &[]).await,
    );

    // Wrong secret, wrong and revoked token.
    let wrong_secret = uploader(&base, WRONG_SECRET, ACCESS_TOKEN, long);
    ev.add(format!("{wrong_secret:?}"));
    ev.err(
        "a wrong secret",
        driver().upload_file(&wrong_secret, video).await,
    );
    let wrong_token = uploader(&base, APP_SECRET, WRONG_TOKEN, long);
    ev.err(
        "a wrong token",
        driver().upload_file(&wrong_token, video).await,
    );
    ev.err("a wrong token (GET)", wrong_token.quota().await);
    sim.revoke_access_token(ACCESS_TOKEN);
    ev.err("a revoked token", lazada.quota().await);

    // Rejected: audit failed; the caller then removes the failed video deliberately.
    let failing = LazadaSim::new(sim_config(VideoOutcome::AuditFailed));
    let failing_server = failing.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let to_failing = uploader(
        &LazadaSim::rest_base_url(&failing_server),
        APP_SECRET,
        ACCESS_TOKEN,
        long,
    );
    ev.err(
        "a failed audit",
        driver().upload_file(&to_failing, video).await,
    );
    for id in failing.video_ids() {
        to_failing.remove_video(&id).await.unwrap();
    }

    // A server error, junk, a stall and no server at all.
    leaks::error_paths(
        ev,
        video,
        "<html>upstream broke</html>",
        "http://127.0.0.1:1/rest",
        |base, read_idle| uploader(base, APP_SECRET, ACCESS_TOKEN, read_idle),
    )
    .await;
}

#[test]
fn no_secret_in_logs_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("kettle.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 4 * 1024 * 1024).unwrap();
    let mut ev = Evidence::default();
    let ((), log) = captured(scenarios(&video, &mut ev));

    LeakCheck {
        platform: "lazada",
        calls: &[
            "GetVideoQuota",
            "InitCreateVideo",
            "UploadVideoBlock",
            "CompleteCreateVideo",
            "GetVideo",
            "RemoveVideo",
            "UploadImage",
            "MigrateImage",
            "GenerateAccessToken",
            "RefreshAccessToken",
        ],
        secrets: SECRETS,
    }
    .assert(&log, &ev);
}
