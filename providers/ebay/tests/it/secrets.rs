//! The token never appears in logs: the whole TRACE output of a full upload, images and every
//! error path against the simulator, and the `Debug`, `Display` and JSON of everything the
//! provider hands back, hold neither the user token nor a wrong one (both travel in the
//! `Authorization` header of every call); nor, through the OAuth calls (the code exchange, a
//! refused token refreshed, a refused refresh), the app's client secret, the code, the refresh
//! token or the access tokens they issue.

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
    ChunkedVideoUploader, CredentialStore, ImageSource, ImageUploader, MemoryStore,
    ProcessingHandle, TokenSource,
};
use marketmedia_ebay::auth::EbayAuth;
use marketmedia_ebay::{EbayConfig, EbayEnvironment, EbayUploader};
use marketmedia_sim::ebay::{EbaySim, EbaySimConfig, VideoOutcome};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};

const TOKEN: &str = "v^1.1#leak-ebay-user-token-5e1c9a7b";
const WRONG_TOKEN: &str = "v^1.1#leak-ebay-wrong-token-0d3f8e";
const CLIENT_SECRET: &str = "CSleak-ebay-client-secret-71f0a2";
const CODE: &str = "v^1.1#leak-ebay-code-3d8e55";
const REFRESH_TOKEN: &str = "v^1.1#leak-ebay-refresh-token-9b2c40";
const NEW_ACCESS: &str = "v^1.1#leak-ebay-new-access-e6a713";
const SECRETS: &[&str] = &[
    TOKEN,
    WRONG_TOKEN,
    CLIENT_SECRET,
    CODE,
    REFRESH_TOKEN,
    NEW_ACCESS,
];

/// The OAuth calls: the code exchange, a Media API call whose token is refused (one refresh,
/// the call again), a refused refresh, and the source and store seen from outside.
async fn token_scenarios(ev: &mut Evidence) {
    let api = WireRecorder::start().await.unwrap();
    let identity = WireRecorder::start().await.unwrap();
    let auth = EbayAuth::new(
        "App-PRD-1",
        CLIENT_SECRET,
        "Ru-Name",
        EbayEnvironment::Production,
    )
    .unwrap()
    .with_token_host(&identity.base_url());
    ev.add(format!("{auth:?}"));
    identity.always(JunkAnswer::json(
        200,
        serde_json::json!({"access_token": TOKEN, "expires_in": 7200,
            "refresh_token": REFRESH_TOKEN, "refresh_token_expires_in": 47_304_000,
            "token_type": "User Access Token"}),
    ));
    let tokens = auth.exchange_code(CODE).await.unwrap();
    ev.add(format!("{tokens:?}"));
    let key = auth.credential_key("jane").unwrap();
    let store = MemoryStore::shared();
    store.save(&key, &tokens).await.unwrap();
    let source = TokenSource::builder(key, store.clone(), Arc::new(auth.refresher()))
        .account("ebay-us")
        .build();
    let ebay = EbayUploader::new(
        EbayConfig::builder()
            .token_source(source.clone())
            .base_url(format!("{}/commerce/media/v1_beta", api.base_url()))
            .build()
            .unwrap(),
    )
    .unwrap();
    identity.always(JunkAnswer::json(
        200,
        serde_json::json!({"access_token": NEW_ACCESS, "expires_in": 7200}),
    ));
    api.script(
        vec![JunkAnswer::json(
            401,
            serde_json::json!({"errors": [{"errorId": 1001, "domain": "OAuth",
                "category": "REQUEST", "message": "Invalid access token"}]}),
        )],
        JunkAnswer::json(200, serde_json::json!({"videoId": "v1", "status": "LIVE"})),
    );
    let handle = ProcessingHandle {
        platform: "ebay".into(),
        id: "v1".into(),
        data: serde_json::Value::Null,
    };
    ev.add(format!("{:?}", ebay.poll(&handle).await.unwrap()));
    leaks::token_evidence(ev, &source, store.as_ref()).await;
    identity.always(JunkAnswer::json(
        400,
        serde_json::json!({"error": "invalid_grant", "error_description":
            "the provided authorization refresh token is invalid or was issued to another client"}),
    ));
    ev.err(
        "a refused refresh",
        auth.refresh(&REFRESH_TOKEN.into()).await,
    );
}

fn sim_config(outcome: VideoOutcome) -> EbaySimConfig {
    EbaySimConfig {
        access_token: TOKEN.into(),
        processing_delay: Duration::from_millis(10),
        outcome,
        ..EbaySimConfig::default()
    }
}

fn uploader(base_url: &str, token: &str, read_idle: Duration) -> EbayUploader {
    let mut c = EbayConfig::builder()
        .access_token(token)
        .base_url(base_url)
        .build()
        .unwrap();
    c.part_size = 1 << 20;
    c.options.timeouts.read_idle = read_idle;
    EbayUploader::new(c).unwrap()
}

async fn scenarios(video: &Path, ev: &mut Evidence) {
    token_scenarios(ev).await;
    let long = Duration::from_secs(5);
    let sim = EbaySim::new(sim_config(VideoOutcome::Live));
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = EbaySim::api_base_url(&server);
    let ebay = uploader(&base, TOKEN, long);
    ev.add(format!("{:?}\n{:?}", ebay, ebay.config()));

    let outcome = driver().upload_file(&ebay, video).await.unwrap();
    ev.value(&outcome);
    let images = ebay
        .upload_images(&[ImageSource::from_bytes("a.jpg", sample_jpeg(2048))])
        .await
        .unwrap();
    ev.add(format!("{images:?}"));

    // A session by hand: a part past the end, a commit without parts, a cancel.
    let (session, plan) = open_session(&ebay, video).await;
    ev.value(&session);
    let past = Part::new(plan.count(), 0, bytes::Bytes::from(vec![0u8; 1024]), None);
    ev.err("a part past the end", ebay.put_part(&session, &past).await);
    ev.err("a commit without parts", ebay.commit(&session, &[]).await);
    ev.err("a cancel", ebay.cancel(&session).await);
    // A chunk out of order, refused by the simulator.
    let second = Part::new(
        1,
        plan.part_size(),
        bytes::Bytes::from(vec![0u8; 1 << 20]),
        None,
    );
    ev.err("a gap", ebay.put_part(&session, &second).await);

    let wrong = uploader(&base, WRONG_TOKEN, long);
    ev.add(format!("{wrong:?}"));
    ev.err("a wrong token", driver().upload_file(&wrong, video).await);
    ev.err(
        "a wrong token (images)",
        wrong
            .upload_images(&[ImageSource::from_bytes("a.jpg", sample_jpeg(512))])
            .await
            .and_then(|mut r| r.remove(0).map(|_| ())),
    );

    let failing = EbaySim::new(sim_config(VideoOutcome::Blocked));
    let failing_server = failing.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let to_failing = uploader(&EbaySim::api_base_url(&failing_server), TOKEN, long);
    ev.err(
        "a blocked video",
        driver().upload_file(&to_failing, video).await,
    );

    leaks::error_paths(
        ev,
        video,
        r#"{"errors":[{"errorId":10001,"category":"APPLICATION","message":"boom"}]}"#,
        "http://127.0.0.1:1/commerce/media/v1_beta",
        |base, read_idle| uploader(base, TOKEN, read_idle),
    )
    .await;
}

#[test]
fn no_token_in_logs_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("kettle.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 3 * 1024 * 1024 + 17).unwrap();
    let mut ev = Evidence::default();
    let ((), log) = captured(scenarios(&video, &mut ev));
    LeakCheck {
        platform: "ebay",
        calls: &[
            "createVideo",
            "uploadVideo",
            "getVideo",
            "createImageFromFile",
            "authorization_code",
            "refresh_token",
        ],
        secrets: SECRETS,
    }
    .assert(&log, &ev);
}
