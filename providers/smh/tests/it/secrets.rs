//! Secrets never appear in logs: the whole TRACE output (ours and every third-party crate's,
//! `log` records included, as a user with `RUST_LOG=trace` gets it) of full uploads against
//! the simulator and of every error path, and the `Debug`, `Display` and JSON of everything
//! the provider hands back, hold neither the library secret, nor any access token the
//! simulator issued or the provider sent, nor the presigned storage signature.

use std::path::Path;
use std::time::Duration;

use marketmedia_conformance::leaks::{
    self, captured, describe, leak_driver as driver, open_session, Evidence, LeakCheck,
};
use marketmedia_core::raw::Part;
use marketmedia_core::{ChunkedVideoUploader, ImageSource, ImageUploader};
use marketmedia_sim::fixtures::{sample_png, write_sample_mp4};
use marketmedia_sim::smh::{SmhSim, SmhSimConfig};
use marketmedia_smh::{SmhConfig, SmhConfigBuilder, SmhUploader, StorageScheme, MIB};

const LIBRARY_ID: &str = "smhleaklib0000001";
const LIBRARY_SECRET: &str = "LSleak-smh-library-secret-6a0f2c8e4d";
const WRONG_SECRET: &str = "LSleak-smh-wrong-secret-1f7b3d";
const BOGUS_TOKEN: &str = "ATleak-smh-bogus-token-9c5e0a";
/// The signature part of the presigned storage `Authorization` header.
const PRESIGNED: &str = "q-signature=";

// ---- scenarios ----------------------------------------------------------------------------

fn config(base_url: &str, c: SmhConfigBuilder, read_idle: Duration) -> SmhConfig {
    let mut c = c
        .base_url(base_url)
        .storage_scheme(StorageScheme::Http)
        .allow_plain_http(true)
        .part_size(MIB)
        .build()
        .unwrap();
    c.options.timeouts.read_idle = read_idle;
    c
}

/// Runs every scenario; returns the tokens the simulator issued or received.
async fn scenarios(video: &Path, other: &Path, ev: &mut Evidence) -> Vec<String> {
    let long = Duration::from_secs(5);
    let sim = SmhSim::new(SmhSimConfig {
        library_id: LIBRARY_ID.into(),
        library_secret: LIBRARY_SECRET.into(),
        ..SmhSimConfig::default()
    });
    let servers = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = servers.api_base_url();
    let smh = SmhUploader::new(config(
        &base,
        SmhConfig::builder()
            .library_id(LIBRARY_ID)
            .library_secret(LIBRARY_SECRET),
        long,
    ))
    .unwrap();
    ev.add(format!("{:?}\n{:?}", smh, smh.config()));

    // Full uploads: multipart, then the same file again (instant upload), an image.
    ev.value(&driver().upload_file(&smh, video).await.unwrap());
    ev.value(&driver().upload_file(&smh, video).await.unwrap());
    let images = smh
        .upload_images(&[ImageSource::from_bytes("a.png", sample_png(2048))])
        .await
        .unwrap();
    ev.add(format!("{images:?}"));

    // A ready token, given as is.
    let issued = sim.issue_token();
    let with_token = SmhUploader::new(config(
        &base,
        SmhConfig::builder()
            .library_id(LIBRARY_ID)
            .access_token(issued.as_str()),
        long,
    ))
    .unwrap();
    ev.add(format!("{with_token:?}"));
    let mut dirs = with_token.create_directory("a").await;
    if let Err(e) = &dirs {
        ev.add(describe(e));
    }
    dirs = with_token.create_directory("a").await;
    ev.err("an existing directory", dirs);

    // Session by hand: status, renew, cancel, then a part of the cancelled session.
    let no_instant = SmhUploader::new(config(
        &base,
        SmhConfig::builder()
            .library_id(LIBRARY_ID)
            .library_secret(LIBRARY_SECRET)
            .instant_upload(false),
        long,
    ))
    .unwrap();
    // Without instant upload SMH opens a session.
    let (session, _) = open_session(&no_instant, other).await;
    ev.value(&session);
    let part = Part::new(0, 0, bytes::Bytes::from(vec![0u8; MIB as usize]), None);
    ev.value(&no_instant.put_part(&session, &part).await.unwrap());
    ev.add(format!(
        "{:?}",
        no_instant.uploaded_parts(&session).await.unwrap()
    ));
    ev.value(&no_instant.renew(&session).await.unwrap());
    ev.err(
        "an incomplete confirm",
        no_instant.commit(&session, &[]).await,
    );
    no_instant.cancel(&session).await.unwrap();
    ev.err(
        "a part of a cancelled session",
        no_instant.put_part(&session, &part).await,
    );

    // An expired token is fetched again (the provider's cache still thinks it is good).
    sim.clock().advance(Duration::from_secs(48 * 3600));
    ev.value(&driver().upload_file(&no_instant, other).await.unwrap());

    // Wrong secret, bogus token, rate limited.
    let wrong = SmhUploader::new(config(
        &base,
        SmhConfig::builder()
            .library_id(LIBRARY_ID)
            .library_secret(WRONG_SECRET),
        long,
    ))
    .unwrap();
    ev.add(format!("{wrong:?}"));
    ev.err("a wrong secret", driver().upload_file(&wrong, other).await);
    let bogus = SmhUploader::new(config(
        &base,
        SmhConfig::builder()
            .library_id(LIBRARY_ID)
            .access_token(BOGUS_TOKEN),
        long,
    ))
    .unwrap();
    ev.err("a bogus token", driver().upload_file(&bogus, other).await);
    sim.set_rate_limited(true);
    ev.err(
        "rate limited",
        driver().upload_file(&no_instant, other).await,
    );
    sim.set_rate_limited(false);

    // A server error, junk, a stall and no server at all.
    leaks::error_paths(
        ev,
        other,
        "<Error><Code>InternalError</Code></Error>",
        "http://127.0.0.1:1",
        |base, read_idle| {
            SmhUploader::new(config(
                base,
                SmhConfig::builder()
                    .library_id(LIBRARY_ID)
                    .library_secret(LIBRARY_SECRET),
                read_idle,
            ))
            .unwrap()
        },
    )
    .await;

    // Every token that crossed the wire, either way.
    let mut tokens: Vec<String> = sim
        .wire()
        .records()
        .iter()
        .filter_map(|r| r.param("access_token").map(str::to_owned))
        .collect();
    tokens.push(issued);
    tokens.sort();
    tokens.dedup();
    tokens
}

#[test]
fn no_secret_in_logs_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("v.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 3 * MIB).unwrap();
    let other = dir.path().join("w.mp4");
    write_sample_mp4(&other, Duration::from_secs(14), 2 * MIB + 17).unwrap();
    let mut ev = Evidence::default();
    let (tokens, log) = captured(scenarios(&video, &other, &mut ev));
    assert!(
        tokens.len() >= 3,
        "tokens were issued and used: {}",
        tokens.len()
    );

    let mut secrets: Vec<String> = [LIBRARY_SECRET, WRONG_SECRET, BOGUS_TOKEN, PRESIGNED]
        .iter()
        .map(|s| s.to_string())
        .collect();
    secrets.extend(tokens);
    LeakCheck {
        platform: "smh",
        calls: &[
            "token",
            "begin",
            "upload_part",
            "upload_status",
            "renew",
            "confirm",
            "cancel",
            "simple_upload",
            "put_object",
            "create_directory",
        ],
        secrets: &secrets,
    }
    .assert(&log, &ev);
}
