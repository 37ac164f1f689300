//! The token never appears in logs: the whole TRACE output of a full upload, images and every
//! error path against the simulator, and the `Debug`, `Display` and JSON of everything the
//! provider hands back, hold neither the user token nor a wrong one (both travel in the
//! `Authorization` header of every call).

use std::path::Path;
use std::time::Duration;

use marketmedia_conformance::leaks::{
    self, captured, leak_driver as driver, open_session, Evidence, LeakCheck,
};
use marketmedia_core::raw::Part;
use marketmedia_core::{ChunkedVideoUploader, ImageSource, ImageUploader};
use marketmedia_ebay::{EbayConfig, EbayUploader};
use marketmedia_sim::ebay::{EbaySim, EbaySimConfig, VideoOutcome};
use marketmedia_sim::fixtures::{sample_jpeg, write_sample_mp4};

const TOKEN: &str = "v^1.1#leak-ebay-user-token-5e1c9a7b";
const WRONG_TOKEN: &str = "v^1.1#leak-ebay-wrong-token-0d3f8e";
const SECRETS: &[&str] = &[TOKEN, WRONG_TOKEN];

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
        ],
        secrets: SECRETS,
    }
    .assert(&log, &ev);
}
