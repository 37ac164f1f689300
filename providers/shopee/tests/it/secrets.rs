//! Secrets never appear in logs: the whole TRACE output (ours and every third-party crate's,
//! `log` records included, as a user with `RUST_LOG=trace` gets it) of a full upload against
//! the simulator and of every error path, and the `Debug`, `Display` and JSON of everything
//! the provider hands back, hold neither the partner key nor the access token; nor, through the
//! token calls (the code exchange, refreshes, a refused token, a refused refresh), the code,
//! the refresh tokens or the access tokens they issue.

use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::leaks::{
    self, captured, describe, leak_driver as driver, open_session, Evidence, LeakCheck,
};
use marketmedia_conformance::recorder::WireRecorder;
use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::raw::Part;
use marketmedia_core::{
    ChunkedVideoUploader, CredentialStore, ImageSource, ImageUploader, MemoryStore, TokenSource,
    Tokens,
};
use marketmedia_shopee::auth::{Grantee, ShopeeAuth, Subject};
use marketmedia_shopee::{PublicCallSigning, ShopeeConfig, ShopeeRegion, ShopeeUploader};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};
use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};

const PARTNER_ID: u64 = 2_001_887;
const SHOP_ID: u64 = 600_001;
const PARTNER_KEY: &str = "PKleak-shopee-partner-key-7f3a9c1e5b";
const ACCESS_TOKEN: &str = "ATleak-shopee-access-token-2d8e6f4a0c";
const WRONG_KEY: &str = "PKleak-shopee-wrong-key-91b7c3";
const WRONG_TOKEN: &str = "ATleak-shopee-wrong-token-5e0d2a";
const CODE: &str = "CDleak-shopee-code-0e7b3c";
const REFRESH_TOKEN: &str = "RTleak-shopee-refresh-token-5a1f9d";
const NEW_ACCESS: &str = "ATleak-shopee-new-access-b83e27";
const NEW_REFRESH: &str = "RTleak-shopee-new-refresh-c61d04";
const SECRETS: &[&str] = &[
    PARTNER_KEY,
    ACCESS_TOKEN,
    WRONG_KEY,
    WRONG_TOKEN,
    CODE,
    REFRESH_TOKEN,
    NEW_ACCESS,
    NEW_REFRESH,
];

// ---- scenarios ----------------------------------------------------------------------------

fn sim_config() -> ShopeeSimConfig {
    ShopeeSimConfig {
        partner_id: PARTNER_ID,
        partner_key: PARTNER_KEY.into(),
        shop_id: SHOP_ID,
        access_token: ACCESS_TOKEN.into(),
        transcode_delay: Duration::from_millis(30),
        ..ShopeeSimConfig::default()
    }
}

fn config(base_url: &str, key: &str, token: &str) -> ShopeeConfig {
    let mut c = ShopeeConfig::builder()
        .partner_id(PARTNER_ID)
        .partner_key(key)
        .shop_id(SHOP_ID)
        .access_token(token)
        .base_url(base_url)
        .build()
        .unwrap();
    // Shop-level signing puts the token in every call's query string.
    c.public_call_signing = PublicCallSigning::Shop;
    c
}

/// The token calls: the code exchange, a shop call whose token is refused (one refresh, a new
/// pair, the call again), a refresh refused, and the source and store seen from outside.
async fn token_scenarios(ev: &mut Evidence) {
    use crate::auth::{shop_info, token_answer};
    let server = WireRecorder::start().await.unwrap();
    let auth = ShopeeAuth::new(PARTNER_ID, PARTNER_KEY, ShopeeRegion::Production)
        .unwrap()
        .with_base_url(server.base_url());
    ev.add(format!("{auth:?}"));
    server.always(token_answer(ACCESS_TOKEN, REFRESH_TOKEN));
    let tokens = auth
        .exchange_code(CODE, Grantee::Shop(SHOP_ID))
        .await
        .unwrap();
    ev.add(format!("{tokens:?}"));

    let subject = Subject::Shop(SHOP_ID);
    let key = auth.credential_key(subject).unwrap();
    let store = MemoryStore::shared();
    store.save(&key, &tokens).await.unwrap();
    let source = TokenSource::builder(
        key.clone(),
        store.clone(),
        Arc::new(auth.refresher(subject)),
    )
    .account("shopee-sg")
    .build();
    let shopee = ShopeeUploader::new(
        ShopeeConfig::builder()
            .partner_id(PARTNER_ID)
            .partner_key(PARTNER_KEY)
            .shop_id(SHOP_ID)
            .token_source(source.clone())
            .base_url(server.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    server.script(
        vec![
            JunkAnswer::json(
                200,
                serde_json::json!({"error": "invalid_acceess_token", "message": "Invalid access_token."}),
            ),
            token_answer(NEW_ACCESS, NEW_REFRESH),
        ],
        shop_info(),
    );
    ev.add(format!("{:?}", shopee.check_account().await.unwrap()));
    leaks::token_evidence(ev, &source, store.as_ref()).await;

    // A refused refresh, directly and through a source whose token is due.
    server.always(JunkAnswer::json(
        200,
        serde_json::json!({"error": "error_auth", "message": "Invalid refresh_token.", "request_id": "r"}),
    ));
    ev.err(
        "a refused refresh",
        auth.refresh(&REFRESH_TOKEN.into(), subject).await,
    );
    let due = Tokens::new(NEW_ACCESS, unix_millis() - 14_000_000)
        .expiring_in(14_400)
        .with_refresh_token(NEW_REFRESH, None);
    store.save(&key, &due).await.unwrap();
    let refused = TokenSource::builder(key, store.clone(), Arc::new(auth.refresher(subject)))
        .account("shopee-sg")
        .build();
    ev.err("a source refused", refused.access_token().await);
    leaks::token_evidence(ev, &refused, store.as_ref()).await;
}

async fn scenarios(video: &Path, ev: &mut Evidence) {
    token_scenarios(ev).await;

    let sim = ShopeeSim::new(sim_config());
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    let shopee = ShopeeUploader::new(config(&base, PARTNER_KEY, ACCESS_TOKEN)).unwrap();
    ev.add(format!("{:?}\n{:?}", shopee, shopee.config()));

    // A full upload and an image upload.
    let outcome = driver().upload_file(&shopee, video).await.unwrap();
    ev.value(&outcome);
    let images = shopee
        .upload_images(&[ImageSource::from_bytes("a.jpg", sample_jpeg(2048))])
        .await
        .unwrap();
    ev.add(format!("{images:?}"));
    assert!(
        sim.wire()
            .records()
            .iter()
            .any(|r| r.param("access_token") == Some(ACCESS_TOKEN)),
        "the token travelled, so a leak would show"
    );

    // Session, receipts and handle by hand; then cancel, and use the cancelled session.
    let (session, _) = open_session(&shopee, video).await;
    ev.value(&session);
    let part = Part::new(0, 0, bytes::Bytes::from(vec![0u8; 1024]), None);
    ev.err("a short first part", shopee.put_part(&session, &part).await);
    shopee.cancel(&session).await.unwrap();
    ev.err(
        "a part of a cancelled session",
        shopee.put_part(&session, &part).await,
    );
    if let Err(e) = shopee.cancel(&session).await {
        ev.add(describe(&e));
    }

    // Wrong key, wrong token.
    let wrong_key = ShopeeUploader::new(config(&base, WRONG_KEY, ACCESS_TOKEN)).unwrap();
    ev.add(format!("{wrong_key:?}"));
    ev.err("a wrong key", driver().upload_file(&wrong_key, video).await);
    let wrong_token = ShopeeUploader::new(config(&base, PARTNER_KEY, WRONG_TOKEN)).unwrap();
    ev.err(
        "a wrong token",
        driver().upload_file(&wrong_token, video).await,
    );

    // Rejected: quota spent, transcoding failed (the driver then cancels).
    sim.update_config(|c| c.daily_upload_limit = Some(0));
    ev.err("a spent quota", driver().upload_file(&shopee, video).await);
    sim.update_config(|c| {
        c.daily_upload_limit = None;
        c.force_transcode_failure = Some("bad video".into());
    });
    ev.err(
        "a failed transcode",
        driver().upload_file(&shopee, video).await,
    );

    // A server error, junk, a stall and no server at all.
    leaks::error_paths(
        ev,
        video,
        "<html>upstream broke</html>",
        "http://127.0.0.1:1",
        |base, read_idle| {
            let mut c = config(base, PARTNER_KEY, ACCESS_TOKEN);
            c.options.timeouts.read_idle = read_idle;
            ShopeeUploader::new(c).unwrap()
        },
    )
    .await;
}

#[test]
fn no_secret_in_logs_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("product.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 5 * 1024 * 1024).unwrap();
    let mut ev = Evidence::default();
    let ((), log) = captured(scenarios(&video, &mut ev));

    LeakCheck {
        platform: "shopee",
        calls: &[
            "init_video_upload",
            "upload_video_part",
            "complete_video_upload",
            "get_video_upload_result",
            "cancel_video_upload",
            "upload_image",
            "token_get",
            "access_token_get",
            "get_shop_info",
        ],
        secrets: SECRETS,
    }
    .assert(&log, &ev);
}
