//! Secrets never appear in logs: the whole TRACE output of full uploads against the simulator
//! (with the app secret, which travels in the token call, and with a given access token, which
//! travels in every call) and of every error path, and the `Debug`, `Display` and JSON of
//! everything the provider hands back, hold neither the app secret nor any access token.

use std::path::Path;
use std::time::Duration;

use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::leaks::{
    self, captured, leak_driver as driver, open_session, Evidence, LeakCheck,
};
use marketmedia_conformance::recorder::WireRecorder;
use marketmedia_core::{ChunkedVideoUploader, ImageSource, ImageUploader, ProcessingHandle};
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::wechat::{WechatSim, WechatSimConfig};
use marketmedia_wechat::{WechatConfig, WechatConfigBuilder, WechatUploader, MIN_PART_BYTES};

const APPID: &str = "wx-leak-appid";
const APPSECRET: &str = "ASleak-wechat-app-secret-4b2e9d7c";
const ACCESS_TOKEN: &str = "ATleak-wechat-access-token-8c1f3a";
const WRONG_SECRET: &str = "ASleak-wechat-wrong-secret-e61d0b";
const WRONG_TOKEN: &str = "ATleak-wechat-wrong-token-93a7f2";
const REFETCHED: &str = "ATleak-wechat-refetched-token-2d71c9";

/// The stable token: fetched, refused by a store call (42001), fetched again for the call's
/// second try, and a wrong secret refused; the uploader and its errors seen from outside.
async fn token_scenarios(ev: &mut Evidence) {
    let server = WireRecorder::start().await.unwrap();
    let token = |t: &str| {
        JunkAnswer::json(
            200,
            serde_json::json!({"access_token": t, "expires_in": 7200}),
        )
    };
    server.script(
        vec![
            token(ACCESS_TOKEN),
            JunkAnswer::json(
                200,
                serde_json::json!({"errcode": 42001, "errmsg": "access_token expired"}),
            ),
            token(REFETCHED),
        ],
        JunkAnswer::json(
            200,
            serde_json::json!({"errcode": 0, "data": {"url": "https://v/1"}}),
        ),
    );
    let wechat = WechatUploader::new(config(
        &server.base_url(),
        WechatConfig::builder().appid(APPID).appsecret(APPSECRET),
    ))
    .unwrap();
    let handle = ProcessingHandle {
        platform: "wechat".into(),
        id: "key".into(),
        data: serde_json::Value::Null,
    };
    ev.add(format!("{:?}", wechat.poll(&handle).await.unwrap()));
    ev.add(format!("{wechat:?}"));
    server.always(JunkAnswer::json(
        200,
        serde_json::json!({"errcode": 40125, "errmsg": "invalid appsecret"}),
    ));
    let wrong = WechatUploader::new(config(
        &server.base_url(),
        WechatConfig::builder().appid(APPID).appsecret(WRONG_SECRET),
    ))
    .unwrap();
    ev.err("a wrong secret", wrong.poll(&handle).await);
}

fn config(base: &str, c: WechatConfigBuilder) -> WechatConfig {
    c.part_size(MIN_PART_BYTES).base_url(base).build().unwrap()
}

async fn scenarios(video: &Path, ev: &mut Evidence) -> WechatSim {
    token_scenarios(ev).await;
    let sim = WechatSim::new(WechatSimConfig {
        appid: APPID.into(),
        appsecret: APPSECRET.into(),
        access_token: ACCESS_TOKEN.into(),
        processing_delay: Duration::from_millis(20),
        ..WechatSimConfig::default()
    });
    let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    for creds in [
        WechatConfig::builder().appid(APPID).appsecret(APPSECRET),
        WechatConfig::builder().access_token(ACCESS_TOKEN),
    ] {
        let wechat = WechatUploader::new(config(&base, creds)).unwrap();
        ev.add(format!("{:?}\n{:?}", wechat, wechat.config()));
        let outcome = driver().upload_file(&wechat, video).await.unwrap();
        ev.value(&outcome);
        let images = wechat
            .upload_images(&[ImageSource::from_bytes("a.jpg", real_jpeg())])
            .await
            .unwrap();
        ev.add(format!("{images:?}"));
        let (session, _) = open_session(&wechat, video).await;
        ev.value(&session);
        wechat.cancel(&session).await.unwrap();
    }
    assert!(
        sim.wire()
            .records()
            .iter()
            .any(|r| r.param("access_token") == Some(ACCESS_TOKEN))
            && sim
                .wire()
                .records()
                .iter()
                .any(|r| r.param("secret") == Some(APPSECRET)),
        "the secret and the token travelled, so a leak would show"
    );

    let wrong_secret = WechatUploader::new(config(
        &base,
        WechatConfig::builder().appid(APPID).appsecret(WRONG_SECRET),
    ))
    .unwrap();
    ev.add(format!("{wrong_secret:?}"));
    ev.err(
        "a wrong secret",
        driver().upload_file(&wrong_secret, video).await,
    );
    let wrong_token = WechatUploader::new(config(
        &base,
        WechatConfig::builder().access_token(WRONG_TOKEN),
    ))
    .unwrap();
    ev.err(
        "a wrong token",
        driver().upload_file(&wrong_token, video).await,
    );
    sim.update_config(|c| c.rate_limited = true);
    let wechat = WechatUploader::new(config(
        &base,
        WechatConfig::builder().appid(APPID).appsecret(APPSECRET),
    ))
    .unwrap();
    ev.err("a spent quota", driver().upload_file(&wechat, video).await);
    sim.update_config(|c| c.rate_limited = false);

    leaks::error_paths(
        ev,
        video,
        "<html>upstream broke</html>",
        "http://127.0.0.1:1",
        |base, read_idle| {
            let mut c = config(
                base,
                WechatConfig::builder().appid(APPID).appsecret(APPSECRET),
            );
            c.options.timeouts.read_idle = read_idle;
            WechatUploader::new(c).unwrap()
        },
    )
    .await;
    sim
}

#[test]
fn no_secret_in_logs_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("product.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 3 * 1024 * 1024).unwrap();
    let mut ev = Evidence::default();
    let (sim, log) = captured(scenarios(&video, &mut ev));
    // Every token the simulator issued travelled too.
    let mut secrets: Vec<String> = [
        APPSECRET,
        ACCESS_TOKEN,
        WRONG_SECRET,
        WRONG_TOKEN,
        REFETCHED,
    ]
    .map(String::from)
    .to_vec();
    secrets.extend(
        sim.wire()
            .records()
            .iter()
            .filter_map(|r| r.param("access_token").map(str::to_owned)),
    );
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() > 5,
        "a fetched token is among the checked values"
    );
    LeakCheck {
        platform: "wechat",
        calls: &[
            "stable_token",
            "video_initupload",
            "video_uploadpart",
            "video_finishupload",
            "video_getplayinfo",
            "img_upload",
        ],
        secrets: &secrets,
    }
    .assert(&log, &ev);
}

/// A real 8 × 8 JPEG (the fixtures' samples carry no frame header, so no dimensions).
pub(crate) fn real_jpeg() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(8, 8)
        .write_to(&mut out, image::ImageOutputFormat::Jpeg(80))
        .unwrap();
    out.into_inner()
}
