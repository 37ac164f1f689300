//! Secrets never appear in logs: the whole TRACE output (ours and every third-party crate's,
//! `log` records included, as a user with `RUST_LOG=trace` gets it) of a full upload against
//! the simulator and of every error path, and the `Debug`, `Display` and JSON of everything
//! the provider hands back, hold neither the partner key nor the access token.

use std::path::Path;
use std::time::Duration;

use marketmedia_conformance::junk::{JunkAnswer, JunkServer};
use marketmedia_conformance::leaks::{self, captured, describe};
use marketmedia_core::digest_request;
use marketmedia_core::raw::{InitOutcome, Part};
use marketmedia_core::PreparedSource;
use marketmedia_core::{
    ChunkedVideoUploader, Error, ImageSource, ImageUploader, PollPolicy, RetryPolicy, SourceProbe,
    UploadDriver, UploadOptions,
};
use marketmedia_shopee::{PublicCallSigning, ShopeeConfig, ShopeeUploader};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};
use marketmedia_sim::shopee::{ShopeeSim, ShopeeSimConfig};

const PARTNER_ID: u64 = 2_001_887;
const SHOP_ID: u64 = 600_001;
const PARTNER_KEY: &str = "PKleak-shopee-partner-key-7f3a9c1e5b";
const ACCESS_TOKEN: &str = "ATleak-shopee-access-token-2d8e6f4a0c";
const WRONG_KEY: &str = "PKleak-shopee-wrong-key-91b7c3";
const WRONG_TOKEN: &str = "ATleak-shopee-wrong-token-5e0d2a";
const SECRETS: &[&str] = &[PARTNER_KEY, ACCESS_TOKEN, WRONG_KEY, WRONG_TOKEN];

// ---- capture (shared: `marketmedia_conformance::leaks`) --------------------------------

fn assert_clean(what: &str, text: &str) {
    leaks::assert_clean(SECRETS, what, text)
}

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
    let mut c = ShopeeConfig::new(PARTNER_ID, key, SHOP_ID, token).with_base_url(base_url);
    // Shop-level signing puts the token in every call's query string.
    c.public_call_signing = PublicCallSigning::Shop;
    c
}

fn driver() -> UploadDriver {
    UploadDriver::new(UploadOptions {
        retry: RetryPolicy {
            max_attempts: 2,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            deadline: Duration::from_secs(10),
            ..PollPolicy::default()
        },
        ..UploadOptions::default()
    })
}

/// Everything that must stay clean besides the log.
#[derive(Default)]
struct Evidence(String);

impl Evidence {
    fn add(&mut self, text: impl AsRef<str>) {
        self.0.push_str(text.as_ref());
        self.0.push('\n');
    }
    fn err<T>(&mut self, what: &str, result: marketmedia_core::Result<T>) -> Error {
        match result {
            Ok(_) => panic!("{what} should fail"),
            Err(e) => {
                self.add(describe(&e));
                e
            }
        }
    }
    fn value<T: std::fmt::Debug + serde::Serialize>(&mut self, v: &T) {
        self.add(format!("{v:?}"));
        self.add(serde_json::to_string(v).unwrap());
    }
}

async fn scenarios(video: &Path, ev: &mut Evidence) {
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
    let probe = SourceProbe::open(video).await.unwrap();
    let plan = probe.plan(shopee.rules(), None).unwrap();
    let source = PreparedSource::digest(probe, &digest_request(shopee.rules(), &plan))
        .await
        .unwrap();
    let InitOutcome::Session(session) = shopee.init(&source.info(), &plan).await.unwrap() else {
        panic!("Shopee always opens a session");
    };
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
    let junk = JunkServer::start().await.unwrap();
    let at_junk = |read_idle: Duration| {
        let mut c = config(&junk.base_url(), PARTNER_KEY, ACCESS_TOKEN);
        c.timeouts.read_idle = read_idle;
        ShopeeUploader::new(c).unwrap()
    };
    junk.always(JunkAnswer::new(500, "<html>upstream broke</html>"));
    ev.err(
        "a server error",
        driver()
            .upload_file(&at_junk(Duration::from_secs(5)), video)
            .await,
    );
    junk.always(JunkAnswer::new(200, "not json"));
    ev.err(
        "junk",
        driver()
            .upload_file(&at_junk(Duration::from_secs(5)), video)
            .await,
    );
    junk.always(JunkAnswer::new(200, "{}").with_delay(Duration::from_secs(2)));
    ev.err(
        "a stall",
        driver()
            .upload_file(&at_junk(Duration::from_millis(50)), video)
            .await,
    );
    let nowhere =
        ShopeeUploader::new(config("http://127.0.0.1:1", PARTNER_KEY, ACCESS_TOKEN)).unwrap();
    let refused = ev.err("no server", driver().upload_file(&nowhere, video).await);
    assert!(refused.is_retryable(), "{refused}");
}

#[test]
fn no_secret_in_logs_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("product.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 5 * 1024 * 1024).unwrap();
    let mut ev = Evidence::default();
    let ((), log) = captured(scenarios(&video, &mut ev));

    // The log can fail the test: it holds our request spans and third-party records.
    for call in [
        "init_video_upload",
        "upload_video_part",
        "complete_video_upload",
        "get_video_upload_result",
        "cancel_video_upload",
        "upload_image",
    ] {
        assert!(
            log.contains(&format!("request{{platform=\"shopee\" call=\"{call}\"")),
            "no request span of {call} in the log"
        );
    }
    assert!(log.contains("status=200"), "span fields are recorded");
    assert!(
        log.contains("transport failure"),
        "transport failures are logged"
    );
    assert!(
        log.contains("starting new connection"),
        "reqwest's log records are captured"
    );
    assert_clean("the TRACE log", &log);
    assert_clean("Debug, Display and JSON", &ev.0);
}
