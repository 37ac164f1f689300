//! The `marketmedia` binary end to end, as a subprocess, against the simulators: the sandbox
//! (no credentials), simulators this test owns (credentials in the environment or a config
//! file), JSON output parsed and checked, exit statuses, digests against known vectors.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_sim::faults::{FaultKind, FaultProfile};
use marketmedia_sim::fixtures::{sample_gif, sample_jpeg, write_sample_mp4};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");
const MIB: u64 = 1024 * 1024;
const VIDEO_BYTES: u64 = 6 * MIB;

/// The binary with a clean environment: no `MARKETMEDIA_*` variable and no home directory, so
/// neither the developer's variables nor their config file can leak in.
fn marketmedia(args: &[&str], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        cmd.env("TMPDIR", tmp);
    }
    cmd
}

/// Runs the binary off the async runtime (the test's simulators keep serving meanwhile).
async fn run(args: &[&str], env: &[(String, String)]) -> Output {
    let mut cmd = marketmedia(args, env);
    tokio::task::spawn_blocking(move || cmd.output().expect("the binary runs"))
        .await
        .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One JSON object per stdout line.
fn json_lines(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{out:?}")))
        .collect()
}

fn by_platform<'a>(lines: &'a [Value], platform: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["platform"] == platform)
        .unwrap_or_else(|| panic!("no {platform} line in {lines:?}"))
}

/// Errors are readable lines: no panic, no Debug dump of an error.
fn assert_readable(out: &Output) {
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    for bad in ["panicked", "Error {", "Inner {", "RUST_BACKTRACE"] {
        assert!(!all.contains(bad), "found {bad:?} in:\n{all}");
    }
}

/// A real, decodable JPEG of `w` × `h` pixels.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    encode(w, h, image::ImageOutputFormat::Jpeg(80))
}

/// A real, decodable PNG of `w` × `h` pixels.
fn png_image(w: u32, h: u32) -> Vec<u8> {
    encode(w, h, image::ImageOutputFormat::Png)
}

fn encode(w: u32, h: u32, format: image::ImageOutputFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

fn video(dir: &Path) -> PathBuf {
    let path = dir.join("kettle.mp4");
    write_sample_mp4(&path, Duration::from_secs(12), VIDEO_BYTES).unwrap();
    path
}

/// Environment variables configuring `platform` for the sandbox's simulator (optionally with
/// a wrong secret).
fn env_for(sandbox: &Sandbox, platform: &str, wrong_secret: bool) -> Vec<(String, String)> {
    let mut env = sandbox.env_vars(&[platform]);
    let wrong = match platform {
        "shopee" => ("MARKETMEDIA_SHOPEE_PARTNER_KEY", "wrong-partner-key-0001"),
        "lazada" => ("MARKETMEDIA_LAZADA_APP_SECRET", "wrong-app-secret-0002"),
        other => panic!("no env for {other}"),
    };
    if wrong_secret {
        for (k, v) in env.iter_mut() {
            if k == wrong.0 {
                *v = wrong.1.to_owned();
            }
        }
    }
    if platform == "lazada" {
        env.push(("MARKETMEDIA_LAZADA_TITLE".into(), "Blue kettle".into()));
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_json_to_every_sandboxed_marketplace() {
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path());
    let out = run(&["upload", path.to_str().unwrap(), "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), marketmedia::registry().len(), "{lines:?}");
    for platform in marketmedia::registry().names() {
        let l = by_platform(&lines, platform);
        assert_eq!(l["ok"], true, "{l}");
        assert_eq!(l["target"], "sandbox", "{l}");
        assert_eq!(l["state"], "ready", "{l}");
        assert!(l["id"].as_str().is_some_and(|id| !id.is_empty()), "{l}");
        assert_eq!(l["stats"]["bytes_sent"], VIDEO_BYTES, "{l}");
        assert!(l["error"].is_null(), "{l}");
        assert!(l["endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with("http://127.0.0.1:")));
    }
    assert_eq!(by_platform(&lines, "shopee")["duration_secs"], 12.0);
    assert!(by_platform(&lines, "lazada")["urls"][0]["url"]
        .as_str()
        .is_some_and(|u| u.ends_with(".mp4")));
    assert_eq!(by_platform(&lines, "smh")["size"], VIDEO_BYTES);
    // No bars, no table: stdout is JSON only.
    assert_readable(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_without_a_file_generates_a_sample_and_prints_a_table() {
    let out = run(&["upload", "--to", "smh,shopee"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("generated 12 s, 6.0 MiB sample video"),
        "{stdout}"
    );
    assert!(
        stdout.contains("shopee  sandbox (embedded simulator)"),
        "{stdout}"
    );
    assert!(!stdout.contains("lazada"), "{stdout}");
    assert!(stdout.contains("MARKETPLACE"), "{stdout}");
    assert!(
        stdout.contains("2 of 2 marketplaces succeeded."),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_marketplace_with_wrong_credentials_is_a_partial_success() {
    let sims = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path());
    // Three accounts, one of them with a wrong secret; no simulator row (accounts are
    // configured, so the sandbox does not serve).
    let mut env = env_for(&sims, "lazada", true);
    env.extend(env_for(&sims, "shopee", false));
    env.extend(sims.env_vars(&["smh"]));
    let out = run(&["upload", path.to_str().unwrap(), "--json"], &env).await;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let lines = json_lines(&out);
    let lazada = by_platform(&lines, "lazada");
    assert_eq!(lazada["ok"], false);
    assert_eq!(lazada["target"], "configured");
    assert_eq!(lazada["state"], "failed");
    assert_eq!(lazada["error"]["kind"], "Auth", "{lazada}");
    assert!(lazada["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("lazada: ") && !m.contains('\n')));
    assert_eq!(lines.len(), 3, "{lines:?}");
    for platform in ["shopee", "smh"] {
        let l = by_platform(&lines, platform);
        assert_eq!(
            (l["ok"].clone(), l["target"].clone(), l["account"].clone()),
            (true.into(), "configured".into(), platform.into())
        );
    }
    // The refused marketplace got no video, and no secret was printed.
    assert!(sims
        .sim::<marketmedia_sim::lazada::LazadaSim>()
        .unwrap()
        .video_ids()
        .is_empty());
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("wrong-app-secret-0002"));
    let lazada = sims.settings_of(&marketmedia::lazada::Lazada).unwrap();
    assert!(!all.contains(lazada.secret("access_token").unwrap().expose()));
    assert_readable(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_partial_success_with_a_readable_error() {
    // A port that was free a moment ago and is closed now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sims = Sandbox::start().await.unwrap();
    let mut env = env_for(&sims, "shopee", false);
    env.extend(sims.env_vars(&["smh"]));
    env.retain(|(k, _)| k != "MARKETMEDIA_SHOPEE_BASE_URL");
    env.push((
        "MARKETMEDIA_SHOPEE_BASE_URL".into(),
        format!("http://127.0.0.1:{port}"),
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path());
    let out = run(
        &[
            "upload",
            path.to_str().unwrap(),
            "--to",
            "shopee,smh",
            "--attempts",
            "1",
        ],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 of 2 accounts succeeded."), "{stdout}");
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stdout}");
    assert!(errors[0].starts_with("error: shopee: "), "{stdout}");
    assert!(errors[0].contains("temporary failure"), "{stdout}");
    assert_readable(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_video_fails_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "not a video\n").unwrap();
    let out = run(&["upload", path.to_str().unwrap(), "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), marketmedia::registry().len());
    for l in &lines {
        assert_eq!(l["ok"], false);
        assert_eq!(l["error"]["kind"], "InvalidInput", "{l}");
        assert!(l["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("is not a video")));
    }
    // The same in human form: one line per marketplace's error.
    let out = run(&["upload", path.to_str().unwrap()], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("error: ")).count(),
        marketmedia::registry().len(),
        "{stdout}"
    );
    assert_readable(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_is_one_line_and_status_1() {
    let out = run(&["upload", "/nonexistent/kettle.mp4"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/kettle.mp4 is not a readable file"),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty());
    assert_readable(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_and_partial_configuration() {
    let out = run(&["upload", "--to", "amazon"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("--to amazon"), "{out:?}");

    let env = vec![
        ("MARKETMEDIA_SHOPEE_PARTNER_ID".to_owned(), "1".to_owned()),
        (
            "MARKETMEDIA_SHOPEE_PARTNER_KEY".to_owned(),
            "super-secret-key-xyz".to_owned(),
        ),
    ];
    let out = run(&["upload"], &env).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("MARKETMEDIA_SHOPEE_SHOP_ID"), "{stderr}");
    assert!(!stderr.contains("super-secret-key-xyz"), "{stderr}");
    assert!(text(&out.stdout).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_file_points_a_marketplace_at_a_host() {
    let sims = Sandbox::start().await.unwrap();
    let c = marketmedia::shopee::ShopeeSettings::from_settings(
        &sims.settings_of(&marketmedia::shopee::Shopee).unwrap(),
    )
    .unwrap()
    .config()
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[shopee]\npartner_id = {}\npartner_key = \"{}\"\nshop_id = {}\naccess_token = \"{}\"\nbase_url = \"{}\"\n",
            c.partner_id,
            c.partner_key.expose(),
            c.shop_id,
            c.access_token.expose(),
            c.effective_base_url()
        ),
    )
    .unwrap();
    let path = video(dir.path());
    let out = run(
        &[
            "upload",
            path.to_str().unwrap(),
            "--to",
            "shopee",
            "--json",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let lines = json_lines(&out);
    let shopee = by_platform(&lines, "shopee");
    assert_eq!(shopee["target"], "configured");
    assert_eq!(shopee["endpoint"], c.effective_base_url());
    let id = shopee["id"].as_str().unwrap();
    assert_eq!(
        sims.sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .assembled_bytes(id)
            .map(|b| b.len() as u64),
        Some(VIDEO_BYTES)
    );

    // --sandbox ignores the configuration.
    let out = run(
        &[
            "upload",
            path.to_str().unwrap(),
            "--to",
            "shopee",
            "--json",
            "--sandbox",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(json_lines(&out)[0]["target"], "sandbox", "{out:?}");

    // A broken file is one line with its line number.
    std::fs::write(&config, "[shopee]\npartner_id = \"one\"\n").unwrap();
    let out = run(&["upload", "--config", config.to_str().unwrap()], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_polls_an_upload_started_earlier() {
    let sims = Sandbox::start().await.unwrap();
    let env = env_for(&sims, "shopee", false);
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path());
    let out = run(
        &[
            "upload",
            path.to_str().unwrap(),
            "--to",
            "shopee",
            "--no-wait",
            "--json",
        ],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let line = &json_lines(&out)[0];
    assert_eq!(line["state"], "processing", "{line}");
    let id = line["id"].as_str().unwrap().to_owned();

    let out = run(
        &[
            "status",
            "--platform",
            "shopee",
            "--id",
            &id,
            "--wait",
            "--json",
        ],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let status = &json_lines(&out)[0];
    assert_eq!(status["state"], "ready", "{status}");
    assert!(status["urls"][0]["url"].as_str().is_some());

    // An unknown id is a failure with a readable error.
    let out = run(
        &["status", "--platform", "shopee", "--id", "nope", "--json"],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json_lines(&out)[0]["state"], "not_found", "{out:?}");
    // … and in words, "not found", not "failed" (which reads as failed processing).
    let out = run(
        &["status", "--platform", "shopee", "--id", "bogus123"],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("shopee bogus123: not found"), "{stdout}");
    assert!(!stdout.contains("failed"), "{stdout}");

    // Without credentials there is nothing to ask.
    let out = run(&["status", "--platform", "lazada", "--id", "1"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("no credentials configured"));
    assert_readable(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_json_to_all_three_and_a_format_two_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let jpg = dir.path().join("front.jpg");
    let png = dir.path().join("side.png");
    let gif = dir.path().join("anim.gif");
    std::fs::write(&jpg, jpeg(320, 240)).unwrap();
    std::fs::write(&png, png_image(200, 200)).unwrap();
    std::fs::write(&gif, sample_gif(1_000)).unwrap();

    let out = run(
        &[
            "images",
            jpg.to_str().unwrap(),
            png.to_str().unwrap(),
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), marketmedia::registry().len());
    for l in &lines {
        assert_eq!(l["ok"], true, "{l}");
        let images = l["images"].as_array().unwrap();
        let files: Vec<&str> = images.iter().filter_map(|i| i["file"].as_str()).collect();
        assert_eq!(files, ["front.jpg", "side.png"], "{l}");
        assert!(images.iter().all(|i| i["id"].as_str().is_some()), "{l}");
    }

    // Shopee and Lazada take JPEG and PNG only: refused before any request; SMH stores it.
    let out = run(&["images", gif.to_str().unwrap(), "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let lines = json_lines(&out);
    for platform in ["shopee", "lazada"] {
        let l = by_platform(&lines, platform);
        assert_eq!(l["ok"], false);
        assert_eq!(l["images"][0]["error"]["kind"], "InvalidInput", "{l}");
    }
    assert_eq!(by_platform(&lines, "smh")["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_matches_known_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let check = dir.path().join("check.txt");
    std::fs::write(&check, b"123456789").unwrap();
    let out = run(
        &[
            "digest",
            check.to_str().unwrap(),
            "--part-size",
            "4",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let d = &json_lines(&out)[0];
    assert_eq!(d["size"], 9);
    assert_eq!(d["md5"], "25f9e794323b453885f5181f1b624d0b");
    // CRC-64/XZ check value.
    assert_eq!(d["crc64_hex"], "995dc9bbdf1939fa");
    assert_eq!(d["crc64"], "11051210869376104954");
    // One chunk: both SMH hashes are the SHA-256 of the file.
    let sha = "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225";
    assert_eq!(d["smh"]["beginning_hash"], sha);
    assert_eq!(d["smh"]["full_hash"], sha);
    let parts: Vec<(u64, u64, &str)> = d["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["offset"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
                p["md5"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            (0, 4, "81dc9bdb52d04dc20036dbd8313ed055"),
            (4, 4, "674f3c2c1a8a6f90461e8a66fb5550ba"),
            (8, 1, "45c48cce2e2d7fbdea1afc51c7c6ad26"),
        ]
    );

    // Two MiB of zeros: the SMH chain over two 1 MiB chunks (vectors shared with core and the
    // simulator), and MD5 from the coreutils.
    let zeros = dir.path().join("zeros.bin");
    std::fs::write(&zeros, vec![0u8; 2 * MIB as usize]).unwrap();
    let out = run(
        &[
            "digest",
            zeros.to_str().unwrap(),
            "--part-size",
            "1MiB",
            "--json",
        ],
        &[],
    )
    .await;
    let d = &json_lines(&out)[0];
    assert_eq!(d["md5"], "b2d1236c286a3c0704224fe4105eca49");
    assert_eq!(
        d["smh"]["beginning_hash"],
        "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58"
    );
    assert_eq!(
        d["smh"]["full_hash"],
        "b0f7e82d16e99dc466cd1aeec8df5ed780b08f2f2ff3fac6ce90ccfe042d4cae"
    );
    assert_eq!(d["parts"].as_array().unwrap().len(), 2);

    // Human form, and a missing file.
    let out = run(&["digest", check.to_str().unwrap()], &[]).await;
    assert!(text(&out.stdout).contains("0x995dc9bbdf1939fa"));
    let out = run(&["digest", "/nonexistent"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr).lines().count(), 1);
}

#[test]
fn sim_prints_every_platform_and_serves() {
    let mut child = marketmedia(&["sim", "--listen", "127.0.0.1:0"], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).expect("one JSON line");
    let shopee = info["shopee"]["base_url"].as_str().unwrap().to_owned();
    assert!(info["lazada"]["base_url"]
        .as_str()
        .is_some_and(|u| u.ends_with("/rest")));
    assert_eq!(info["smh"]["storage_scheme"], "http");
    let reachable = std::net::TcpStream::connect(shopee.trim_start_matches("http://")).is_ok();
    child.kill().ok();
    child.wait().ok();
    assert!(reachable);
}

// ---- Issue 17: what a seller meets ------------------------------------------------------

/// Display width of a line (wide characters count for two columns).
fn width(line: &str) -> usize {
    line.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF => 2,
            0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_read_as_english() {
    let out = run(&["upload", "--to", "shopee"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("sample video to 1 marketplace:"),
        "{stdout}"
    );
    assert!(stdout.contains("1 of 1 marketplace succeeded."), "{stdout}");
    assert!(!stdout.contains("1 marketplaces"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let jpg = dir.path().join("front.jpg");
    std::fs::write(&jpg, jpeg(64, 64)).unwrap();
    let out = run(&["images", jpg.to_str().unwrap(), "--to", "smh"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Uploading 1 image to 1 marketplace:"),
        "{stdout}"
    );
    assert!(!stdout.contains("image(s)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broken_limit_is_named_in_human_units() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.mp4");
    write_sample_mp4(&path, Duration::from_secs(70), 62 * MIB).unwrap();
    let out = run(
        &["upload", path.to_str().unwrap(), "--to", "shopee", "--json"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let message = json_lines(&out)[0]["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("is 62.0 MiB"), "{message}");
    assert!(message.contains("at most 30.0 MiB"), "{message}");
    assert!(message.contains("lasts 70.0 s"), "{message}");
    assert!(!message.contains("bytes"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_errors_name_the_format_the_path_and_share_upload_s_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.jpg");
    std::fs::write(&fake, b"this is text, not a picture").unwrap();
    let out = run(
        &["images", fake.to_str().unwrap(), "--to", "shopee,lazada"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("fake.jpg is in an unknown format"),
        "{stdout}"
    );
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{stdout}");
    // The same shape as `upload`'s lines: `error: PLATFORM: KIND: MESSAGE`.
    for (e, platform) in errors.iter().zip(["shopee", "lazada"]) {
        assert!(
            e.starts_with(&format!("error: {platform}: invalid input: fake.jpg ")),
            "{e}"
        );
    }

    // A directory is named.
    let out = run(&["images", dir.path().to_str().unwrap()], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{} is a directory", dir.path().display())),
        "{stderr}"
    );
    assert_readable(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_decoded_and_refused_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    // A valid JPEG header, then random bytes: refused everywhere, before any request.
    let broken = dir.path().join("broken.jpg");
    std::fs::write(&broken, sample_jpeg(30_000)).unwrap();
    let good = dir.path().join("good.jpg");
    std::fs::write(&good, jpeg(300, 200)).unwrap();
    let gif = dir.path().join("anim.gif");
    std::fs::write(&gif, sample_gif(2_000)).unwrap();
    // Wider than Lazada's documented 5000 px.
    let wide = dir.path().join("wide.png");
    std::fs::write(&wide, png_image(5001, 4)).unwrap();
    let paths = [&broken, &good, &gif, &wide].map(|p| p.to_str().unwrap().to_owned());
    let mut args = vec!["images"];
    args.extend(paths.iter().map(String::as_str));
    args.push("--json");
    let out = run(&args, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let lines = json_lines(&out);
    let result = |platform: &str, file: &str| -> Value {
        by_platform(&lines, platform)["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["file"] == file)
            .cloned()
            .unwrap_or_else(|| panic!("no {file} for {platform}: {lines:?}"))
    };
    for platform in ["shopee", "lazada", "smh"] {
        let b = result(platform, "broken.jpg");
        assert_eq!(b["ok"], false, "{b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("broken.jpg is not a readable JPEG image")),
            "{b}"
        );
        // The good image still goes, whatever the others are.
        assert_eq!(result(platform, "good.jpg")["ok"], true, "{platform}");
    }
    for platform in ["shopee", "lazada"] {
        assert_eq!(result(platform, "anim.gif")["ok"], false, "{platform}");
    }
    assert_eq!(result("shopee", "wide.png")["ok"], true);
    let w = result("lazada", "wide.png");
    assert!(
        w["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("5001 × 4 px") && m.contains("5000 × 5000 px")),
        "{w}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_marketmedia_variable_is_named_with_the_closest_known_one() {
    let env = vec![(
        "MARKETMEDIA_SHOPEE_URL".to_owned(),
        "https://partner.shopeemobile.com".to_owned(),
    )];
    let out = run(&["upload", "--to", "shopee", "--json"], &env).await;
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("MARKETMEDIA_SHOPEE_URL is not a variable marketmedia reads (did you mean MARKETMEDIA_SHOPEE_BASE_URL?)"),
        "{stderr}"
    );
    assert!(!stderr.contains("partner.shopeemobile.com"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_no_wait_hint_is_true() {
    // The sandbox forgets its uploads: no `status` hint that would be refused.
    let out = run(&["upload", "--to", "shopee", "--no-wait"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("marketmedia status"), "{stdout}");
    assert!(
        stdout.contains("still processing in the sandbox"),
        "{stdout}"
    );

    // Configured: the exact command, which works.
    let sims = Sandbox::start().await.unwrap();
    let env = env_for(&sims, "shopee", false);
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path());
    let out = run(
        &[
            "upload",
            path.to_str().unwrap(),
            "--to",
            "shopee",
            "--no-wait",
        ],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    let hint = stdout
        .lines()
        .find_map(|l| {
            l.split('`')
                .nth(1)
                .filter(|c| c.starts_with("marketmedia status"))
        })
        .unwrap_or_else(|| panic!("no status hint in {stdout}"))
        .to_owned();
    let args: Vec<&str> = hint.split_whitespace().skip(1).collect();
    let out = run(&args, &env).await;
    assert!(
        matches!(out.status.code(), Some(0) | Some(4)),
        "{hint}: {out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_and_sim_take_no_configuration_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path());
    for args in [
        vec!["digest", path.to_str().unwrap(), "--sandbox"],
        vec!["digest", path.to_str().unwrap(), "--config", "x.toml"],
        vec!["sim", "--sandbox"],
        vec!["sim", "--config", "x.toml"],
        vec!["--sandbox", "digest", path.to_str().unwrap()],
    ] {
        let out = run(&args, &[]).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_and_status_retry_like_upload() {
    let sims = Sandbox::start().await.unwrap();
    let env = env_for(&sims, "shopee", false);
    let dir = tempfile::tempdir().unwrap();
    let jpg = dir.path().join("front.jpg");
    std::fs::write(&jpg, jpeg(64, 64)).unwrap();
    sims.sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .set(FaultProfile::scripted(
            "upload_image",
            [FaultKind::Status503],
        ));
    let out = run(
        &["images", jpg.to_str().unwrap(), "--to", "shopee", "--json"],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        sims.sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .faults()
            .counters()
            .status_503,
        1
    );

    let path = video(dir.path());
    sims.sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .clear();
    let out = run(
        &[
            "upload",
            path.to_str().unwrap(),
            "--to",
            "shopee",
            "--no-wait",
            "--json",
        ],
        &env,
    )
    .await;
    let id = json_lines(&out)[0]["id"].as_str().unwrap().to_owned();
    sims.sim::<marketmedia_sim::shopee::ShopeeSim>()
        .unwrap()
        .faults()
        .set(FaultProfile::scripted(
            "get_video_upload_result",
            [FaultKind::Status503],
        ));
    let out = run(
        &["status", "--platform", "shopee", "--id", &id, "--json"],
        &env,
    )
    .await;
    assert!(matches!(out.status.code(), Some(0) | Some(4)), "{out:?}");
    assert_ne!(json_lines(&out)[0]["state"], "unknown", "{out:?}");
    // One 503 for `images`, one for `status`: both retried.
    assert_eq!(
        sims.sim::<marketmedia_sim::shopee::ShopeeSim>()
            .unwrap()
            .faults()
            .counters()
            .status_503,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_fit_the_width_measure_wide_characters_and_name_smh_paths() {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("Blue kettle – 蓝色水壶 ✓.jpg");
    let long = dir
        .path()
        .join(format!("{}.jpg", "very-long-product-photo-name-".repeat(6)));
    let plain = dir.path().join("plain.jpg");
    for p in [&wide, &long, &plain] {
        std::fs::write(p, jpeg(32, 32)).unwrap();
    }
    let out = run(
        &[
            "images",
            wide.to_str().unwrap(),
            plain.to_str().unwrap(),
            "--to",
            "smh",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    // The RESULT column starts at the same display column on every row.
    let starts: Vec<usize> = stdout
        .lines()
        .filter_map(|l| l.find(" uploaded ").map(|i| width(&l[..i])))
        .collect();
    assert_eq!(starts.len(), 2, "{stdout}");
    assert_eq!(starts[0], starts[1], "{stdout}");
    // SMH rows: the path in the library, and why there is no URL.
    assert!(stdout.contains("/plain.jpg"), "{stdout}");
    assert!(stdout.contains("signed links"), "{stdout}");

    // Within COLUMNS: every line fits, long names end with an ellipsis.
    let env = vec![("COLUMNS".to_owned(), "72".to_owned())];
    let out = run(&["images", long.to_str().unwrap(), "--to", "smh"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    for line in stdout.lines() {
        assert!(width(line) <= 72, "{line:?} is wider than 72 in\n{stdout}");
    }
    assert!(stdout.contains('…'), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_given_up_on_within_seconds() {
    // Accepts connections, reads, never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let sims = Sandbox::start().await.unwrap();
    let mut env = env_for(&sims, "shopee", false);
    for (k, v) in env.iter_mut() {
        if k == "MARKETMEDIA_SHOPEE_BASE_URL" {
            *v = format!("http://{addr}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = video(dir.path());
    let started = std::time::Instant::now();
    let out = run(
        &[
            "upload",
            path.to_str().unwrap(),
            "--to",
            "shopee",
            "--json",
            "--no-journal",
            "--attempts",
            "2",
            "--first-byte-timeout",
            "1",
        ],
        &env,
    )
    .await;
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let message = json_lines(&out)[0]["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("timed out"), "{message}");
    assert!(message.contains("no answer within 1 s"), "{message}");
}
