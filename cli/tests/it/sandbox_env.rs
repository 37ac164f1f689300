//! `Sandbox::env_vars` points a `marketmedia upload` child process at a sandbox started in
//! code: every marketplace is reached as configured (not through the child's own embedded
//! simulators), at this sandbox's endpoints, and the upload lands in this sandbox.

use std::process::{Command, Stdio};
use std::time::Duration;

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::shopee::ShopeeSim;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_vars_point_a_child_upload_at_this_sandbox_for_every_marketplace() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("kettle.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 3 << 20).unwrap();
    let registry = marketmedia::registry();
    let mut env = sandbox.env_vars(&registry.names());
    // What a listing supplies, not the sandbox: Lazada's title and cover.
    env.extend([
        ("MARKETMEDIA_LAZADA_TITLE".to_owned(), "Kettle".to_owned()),
        (
            "MARKETMEDIA_LAZADA_COVER_URL".to_owned(),
            "https://example.invalid/kettle.jpg".to_owned(),
        ),
        ("HOME".to_owned(), dir.path().display().to_string()),
        (
            "MARKETMEDIA_JOURNAL_DIR".to_owned(),
            dir.path().join("journal").display().to_string(),
        ),
    ]);
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for name in names.iter().filter(|n| n.starts_with("MARKETMEDIA_")) {
        assert!(
            marketmedia_cli::config::known_env(&registry)
                .iter()
                .any(|k| k == name),
            "{name} is not a variable marketmedia reads"
        );
    }
    let video_arg = video.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .env_clear()
            .envs(env)
            .args(["upload", &video_arg, "--json"])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), registry.len());
    for platform in registry.names() {
        let r = records
            .iter()
            .find(|r| r["platform"] == platform)
            .unwrap_or_else(|| panic!("no record for {platform}"));
        assert_eq!(r["target"], "configured", "{r}");
        let endpoint = r["endpoint"].as_str().unwrap();
        assert!(
            sandbox
                .base_url(platform)
                .starts_with(endpoint.trim_end_matches('/'))
                || endpoint.starts_with(sandbox.base_url(platform).trim_end_matches('/')),
            "{platform}: {endpoint} is not {}",
            sandbox.base_url(platform)
        );
        assert_eq!(r["ok"], true, "{r}");
    }
    // The bytes landed in this sandbox.
    let source = std::fs::read(&video).unwrap();
    let shopee = sandbox.sim::<ShopeeSim>().unwrap();
    let ids = shopee.upload_ids();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        shopee.assembled_bytes(&ids[0]).unwrap().as_ref(),
        &source[..]
    );
}
