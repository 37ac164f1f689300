//! Accounts (issue 24): two Shopee shops and one Lazada seller in two countries at once,
//! rows labelled by account, limits per account measured at the simulator, a cancel after a
//! restart decided from the journal, and one account configured meaning no simulator row.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use marketmedia::lazada::{Lazada, LazadaConfig, LazadaSettings, LazadaUploader, Region};
use marketmedia::shopee::{Shopee, ShopeeConfig, ShopeeSettings, ShopeeUploader};
use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::{
    AccountRef, AccountUpload, ClientOptions, ErrorKind, Journal, UploadDriver, UploadMeta,
    UploadOptions,
};
use marketmedia_sim::faults::FaultProfile;
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::shopee::{TEST_ACCESS_TOKEN_2, TEST_SHOP_ID_2};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");
const MIB: u64 = 1024 * 1024;

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

async fn run(args: &[&str], env: &[(String, String)]) -> Output {
    let mut cmd = marketmedia(args, env);
    tokio::task::spawn_blocking(move || cmd.output().expect("the binary runs"))
        .await
        .expect("join")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{out:?}")))
        .collect()
}

fn video(dir: &Path, name: &str, bytes: u64) -> PathBuf {
    let path = dir.join(name);
    write_sample_mp4(&path, Duration::from_secs(12), bytes).unwrap();
    path
}

/// The sandbox's Shopee configuration (its test partner and shop).
fn shopee_config(sandbox: &Sandbox) -> ShopeeConfig {
    ShopeeSettings::from_settings(&sandbox.settings_of(&Shopee).unwrap())
        .unwrap()
        .config()
        .unwrap()
}

/// The sandbox's Lazada settings (its test seller, a cover on its CDN).
fn lazada_settings(sandbox: &Sandbox) -> LazadaSettings {
    LazadaSettings::from_settings(&sandbox.settings_of(&Lazada).unwrap()).unwrap()
}

/// A Lazada uploader on the sandbox.
fn lazada_uploader(sandbox: &Sandbox) -> LazadaUploader {
    LazadaUploader::new(lazada_settings(sandbox).config().unwrap()).unwrap()
}

/// The fields of a Lazada upload on the sandbox titled `title` (a cover on its CDN).
fn lazada_meta(sandbox: &Sandbox, title: &str) -> UploadMeta {
    lazada_settings(sandbox).upload_defaults().with_title(title)
}

/// The sandbox's Lazada gateway of `country` (`<server>/<country>/rest`).
fn gateway(sandbox: &Sandbox, country: &str) -> String {
    let rest = sandbox.base_url("lazada");
    let server = rest.trim_end_matches("/rest");
    format!("{server}/{country}/rest")
}

/// Four accounts: two shops of one Shopee partner, one Lazada seller in two countries; the
/// names are `prefix` + `sg`/`my`.
fn four_accounts(sandbox: &Sandbox, shopee: &str, lazada: &str) -> String {
    let s = shopee_config(sandbox);
    let l = lazada_settings(sandbox).config().unwrap();
    let shop = |name: &str, shop_id: u64, token: &str, country: &str| {
        format!(
            "[accounts.{name}]\nmarketplace = \"shopee\"\npartner_id = {}\npartner_key = \"{}\"\n\
             shop_id = {shop_id}\naccess_token = \"{token}\"\ncountry = \"{country}\"\n\
             base_url = \"{}\"\n\n",
            s.partner_id,
            s.partner_key.expose(),
            s.effective_base_url()
        )
    };
    let seller = |name: &str, country: &str| {
        format!(
            "[accounts.{name}]\nmarketplace = \"lazada\"\napp_key = \"{}\"\napp_secret = \"{}\"\n\
             access_token = \"{}\"\ncountry = \"{country}\"\nseller_id = \"{}\"\n\
             base_url = \"{}\"\ntitle = \"Blue kettle\"\ncover_url = \"{}\"\n\n",
            l.app_key,
            l.app_secret.expose(),
            l.access_token.expose(),
            marketmedia_sim::lazada::seller_id_in(country),
            gateway(sandbox, country),
            lazada_settings(sandbox).cover_url.unwrap()
        )
    };
    [
        shop(
            &format!("{shopee}sg"),
            s.shop_id,
            s.access_token.expose(),
            "sg",
        ),
        shop(
            &format!("{shopee}my"),
            TEST_SHOP_ID_2,
            TEST_ACCESS_TOKEN_2,
            "my",
        ),
        seller(&format!("{lazada}sg"), "sg"),
        seller(&format!("{lazada}my"), "my"),
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shopee_shops_and_two_lazada_countries_fan_out_and_catalog_and_rename() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, four_accounts(&sandbox, "shopee-", "lazada-")).unwrap();
    let cfg = config.to_str().unwrap();
    let file = video(dir.path(), "kettle.mp4", 6 * MIB);
    let journal = dir.path().join("journal");
    let journal_arg = journal.to_str().unwrap();

    // `accounts` lists them, never a secret.
    let out = run(&["accounts", "--config", cfg, "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let listed = json_lines(&out);
    let names: Vec<&str> = listed
        .iter()
        .filter_map(|l| l["account"].as_str())
        .collect();
    assert_eq!(names, ["shopee-my", "shopee-sg", "lazada-my", "lazada-sg"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(shopee_config(&sandbox).partner_key.expose()));
    assert!(!text.contains(TEST_ACCESS_TOKEN_2));

    // `accounts check`: one documented call each, every one works.
    let out = run(&["accounts", "--config", cfg, "check", "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let checks = json_lines(&out);
    assert!(checks.iter().all(|c| c["state"] == "ok"), "{checks:?}");
    let my = checks.iter().find(|c| c["account"] == "shopee-my").unwrap();
    assert_eq!(my["check"]["country"], "MY");
    let seller = checks.iter().find(|c| c["account"] == "lazada-my").unwrap();
    assert_eq!(
        seller["check"]["id"],
        marketmedia_sim::lazada::seller_id_in("my").to_string()
    );

    // The fan-out: four rows, one per account, each upload its own session.
    let out = run(
        &[
            "upload",
            file.to_str().unwrap(),
            "--config",
            cfg,
            "--json",
            "--journal-dir",
            journal_arg,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rows = json_lines(&out);
    let accounts: Vec<&str> = rows.iter().filter_map(|r| r["account"].as_str()).collect();
    assert_eq!(
        accounts,
        ["shopee-my", "shopee-sg", "lazada-my", "lazada-sg"]
    );
    assert!(rows
        .iter()
        .all(|r| r["ok"] == true && r["target"] == "configured"));
    let shopee = sandbox.sim::<marketmedia_sim::shopee::ShopeeSim>().unwrap();
    assert_eq!(shopee.wire().count("init_video_upload"), 2);
    assert_eq!(
        sandbox
            .sim::<marketmedia_sim::lazada::LazadaSim>()
            .unwrap()
            .video_ids()
            .len(),
        2
    );

    // The catalog: each asset made once per account.
    let manifest = dir.path().join("catalog.csv");
    std::fs::write(
        &manifest,
        format!(
            "sku,video,marketplaces\nK1,{},shopee|lazada\n",
            file.display()
        ),
    )
    .unwrap();
    let store = dir.path().join("jobs.db");
    let batch = |cfg: String| {
        let manifest = manifest.clone();
        let store = store.clone();
        async move {
            run(
                &[
                    "batch",
                    "--config",
                    &cfg,
                    "run",
                    manifest.to_str().unwrap(),
                    "--store",
                    store.to_str().unwrap(),
                    "--json",
                ],
                &[],
            )
            .await
        }
    };
    let out = batch(cfg.to_owned()).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(shopee.wire().count("init_video_upload"), 4, "one per shop");
    assert_eq!(
        sandbox
            .sim::<marketmedia_sim::lazada::LazadaSim>()
            .unwrap()
            .video_ids()
            .len(),
        4,
        "one per country"
    );

    // Renamed accounts, same identities: the rerun sends nothing.
    let renamed = dir.path().join("renamed.toml");
    std::fs::write(&renamed, four_accounts(&sandbox, "shop-", "seller-")).unwrap();
    let wire_before = shopee.wire().records().len()
        + sandbox
            .sim::<marketmedia_sim::lazada::LazadaSim>()
            .unwrap()
            .wire()
            .records()
            .len();
    let out = batch(renamed.to_str().unwrap().to_owned()).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(shopee.wire().count("init_video_upload"), 4);
    assert_eq!(
        sandbox
            .sim::<marketmedia_sim::lazada::LazadaSim>()
            .unwrap()
            .video_ids()
            .len(),
        4
    );
    assert_eq!(
        shopee.wire().records().len()
            + sandbox
                .sim::<marketmedia_sim::lazada::LazadaSim>()
                .unwrap()
                .wire()
                .records()
                .len(),
        wire_before,
        "a renamed account sends nothing again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_configured_means_no_simulator_row_and_sandbox_means_all() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = video(dir.path(), "kettle.mp4", 6 * MIB);
    let env = sandbox.env_vars(&["shopee"]);
    let out = run(
        &["upload", file.to_str().unwrap(), "--json", "--no-journal"],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["account"], "shopee");
    assert_eq!(rows[0]["target"], "configured");
    // A marketplace without an account is an error that says what to do.
    let out = run(&["upload", file.to_str().unwrap(), "--to", "lazada"], &env).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no lazada account") && err.contains("--sandbox"),
        "{err}"
    );
    // --sandbox: every simulator, whatever is configured.
    let out = run(
        &["upload", file.to_str().unwrap(), "--json", "--sandbox"],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rows = json_lines(&out);
    assert_eq!(rows.len(), marketmedia::registry().len(), "{rows:?}");
    assert!(rows.iter().all(|r| r["target"] == "sandbox"));
}

/// Two Lazada accounts (one seller, two country gateways), each client with a limit of N
/// requests in flight (`ClientOptions::request_limit`): the simulator sees at most N per
/// gateway, and more than N over both at once. One limit of N for the whole marketplace
/// would fail the second half.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_limited_per_account_not_per_marketplace() {
    const N: usize = 2;
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.sim::<marketmedia_sim::lazada::LazadaSim>().unwrap();
    // Slow bodies, so that blocks overlap.
    sim.faults().set(FaultProfile {
        bandwidth_per_conn: Some(4 * MIB),
        ..FaultProfile::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = video(dir.path(), "kettle.mp4", 8 * MIB);
    let l = lazada_settings(&sandbox).config().unwrap();
    let uploader = |country: &str| {
        let config = LazadaConfig::builder()
            .app_key(l.app_key.clone())
            .app_secret(l.app_secret.clone())
            .access_token(l.access_token.clone())
            .region(Region::Sg)
            .base_url(gateway(&sandbox, country))
            .block_size(MIB)
            .options(ClientOptions::default().with_request_limit(N))
            .build()
            .unwrap();
        LazadaUploader::new(config).unwrap()
    };
    let (sg, my) = (uploader("sg"), uploader("my"));
    let driver = UploadDriver::new(UploadOptions {
        concurrency: 8,
        meta: lazada_meta(&sandbox, "Blue kettle"),
        ..UploadOptions::default()
    });
    let accounts = vec![
        AccountUpload::new(AccountRef::new("lazada-sg", "lazada:sg:seller"), &sg),
        AccountUpload::new(AccountRef::new("lazada-my", "lazada:my:seller"), &my),
    ];
    let report = driver.upload_to_accounts(&accounts, &file, None).await;
    for r in &report.reports {
        assert!(r.result.is_ok(), "{r:?}");
    }
    let (per_gateway, total) = sim.peak_in_flight();
    for (gateway, peak) in &per_gateway {
        assert!(
            *peak <= N,
            "{gateway}: {peak} in flight with a limit of {N}"
        );
    }
    assert!(
        total > N,
        "both accounts at once should exceed {N} in all: {total} ({per_gateway:?})"
    );
}

/// The process that committed an upload is gone; the next one, asked to cancel it, answers
/// `Conflict` naming the video, from the journal's record, and sends no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_after_a_restart_is_a_conflict_from_the_record() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = video(dir.path(), "kettle.mp4", 6 * MIB);
    let journal = Journal::open(dir.path().join("journal")).unwrap();
    let account = AccountRef::new("lazada", "lazada:sg:seller");
    {
        // The first process: committed, not waiting for processing (the entry stays).
        let first = lazada_uploader(&sandbox);
        let driver = UploadDriver::new(UploadOptions {
            wait_for_processing: false,
            meta: lazada_meta(&sandbox, "Blue kettle"),
            ..UploadOptions::default()
        });
        let uploads = vec![AccountUpload::new(account.clone(), &first)];
        let report = driver
            .upload_to_accounts(&uploads, &file, Some(&journal))
            .await;
        assert!(report.reports[0].result.is_ok(), "{report:?}");
    }
    let entries = journal.entries();
    assert_eq!(
        entries.len(),
        1,
        "the committed, processing upload is journaled"
    );
    let entry = &entries[0];
    assert_eq!(entry.account.as_deref(), Some("lazada:sg:seller"));
    // Its account removed from the configuration, the session is said, not orphaned.
    let warnings = marketmedia_cli::commands::orphan_warnings(
        &marketmedia_cli::config::Config::empty(&marketmedia_cli::Setup::default()),
        &journal,
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("lazada:sg:seller") && warnings[0].contains("cleanup"),
        "{warnings:?}"
    );
    let video_id = marketmedia_core::committed_id(&entry.commit)
        .expect("the commit is recorded")
        .to_owned();

    // The next process knows nothing in memory.
    let second = lazada_uploader(&sandbox);
    let wire = sandbox
        .sim::<marketmedia_sim::lazada::LazadaSim>()
        .unwrap()
        .wire()
        .records()
        .len();
    let err =
        marketmedia_core::cancel_recorded(&second, &entry.session, &entry.receipts, &entry.commit)
            .await
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains(&video_id), "{err}");
    assert_eq!(
        sandbox
            .sim::<marketmedia_sim::lazada::LazadaSim>()
            .unwrap()
            .wire()
            .records()
            .len(),
        wire,
        "no request for a committed upload"
    );
}

/// Shop A's upload is killed mid-way while shop B of the same partner uploads the same file
/// from another process, with one journal: the rerun resumes A's own session, sends only
/// A's missing parts, and leaves B's finished session alone.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_of_shop_a_beside_shop_b_resumes_a_only() {
    use crate::shopee_child::{command, entries, SlowShopee};
    use std::time::Instant;

    let SlowShopee {
        sandbox,
        dir,
        journal,
        video,
        env: _,
    } = SlowShopee::start(20 * MIB, 4 * MIB).await;
    let s = shopee_config(&sandbox);
    let shop = |name: &str, shop_id: u64, token: &str| {
        format!(
            "[accounts.{name}]\nmarketplace = \"shopee\"\npartner_id = {}\npartner_key = \"{}\"\n\
             shop_id = {shop_id}\naccess_token = \"{token}\"\nbase_url = \"{}\"\n\n",
            s.partner_id,
            s.partner_key.expose(),
            s.effective_base_url()
        )
    };
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        shop("shop-a", s.shop_id, s.access_token.expose())
            + &shop("shop-b", TEST_SHOP_ID_2, TEST_ACCESS_TOKEN_2),
    )
    .unwrap();
    let env = vec![(
        "MARKETMEDIA_JOURNAL_DIR".to_owned(),
        journal.to_string_lossy().into_owned(),
    )];
    let args = |to: &str| -> Vec<String> {
        [
            "upload",
            video.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--to",
            to,
            "--concurrency",
            "1",
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let sim = sandbox.sim::<marketmedia_sim::shopee::ShopeeSim>().unwrap();
    let session_of = |shop_id: u64| {
        sim.upload_ids()
            .into_iter()
            .find(|id| sim.upload(id).is_some_and(|u| u.shop_id == shop_id))
    };
    let parts_of = |shop_id: u64| {
        session_of(shop_id)
            .and_then(|id| sim.parts(&id))
            .map(|p| p.len())
            .unwrap_or(0)
    };

    let mut a = command(&args("shop-a"), &env).spawn().unwrap();
    let b = command(&args("shop-b"), &env).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while parts_of(s.shop_id) < 2 {
        assert!(Instant::now() < deadline, "shop A's upload never got going");
        assert!(
            a.try_wait().unwrap().is_none(),
            "A finished before the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    let a_before = parts_of(s.shop_id);
    assert!(a_before < 5, "killed too late to prove anything");
    let b_out = tokio::task::spawn_blocking(move || b.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(b_out.status.code(), Some(0), "{b_out:?}");
    assert_eq!(
        entries(&journal),
        1,
        "only A's session is left in the journal"
    );
    let b_session = session_of(TEST_SHOP_ID_2).expect("B's session");
    let b_parts_wire = sim.wire().count("upload_video_part");

    sim.faults().clear();
    let rerun = args("shop-a");
    let out = tokio::task::spawn_blocking(move || command(&rerun, &env).output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Resumed, not restarted: still one session per shop.
    assert_eq!(sim.wire().count("init_video_upload"), 2);
    let a_session = session_of(s.shop_id).expect("A's session");
    assert_eq!(sim.parts(&a_session).unwrap().len(), 5);
    let sent = sim.wire().count("upload_video_part") - b_parts_wire;
    assert!(
        sent <= 5 - a_before + 1,
        "the rerun sent {sent} parts; A had {a_before} before the kill"
    );
    assert_eq!(sim.parts(&b_session).unwrap().len(), 5, "B untouched");
    assert_eq!(
        sim.assembled_bytes(&a_session).unwrap().as_ref(),
        std::fs::read(&video).unwrap().as_slice()
    );
    assert_eq!(entries(&journal), 0);
}

/// A journal entry written before accounts (no `account` field) is resumed by the account
/// that adopts such entries (the legacy one, or the marketplace's only one), and by no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_of_the_previous_release_is_resumed_by_the_adopting_account() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = video(dir.path(), "kettle.mp4", 20 * MIB);
    let journal = Journal::open(dir.path().join("journal")).unwrap();
    let shopee = ShopeeUploader::new(shopee_config(&sandbox)).unwrap();
    let sim = sandbox.sim::<marketmedia_sim::shopee::ShopeeSim>().unwrap();
    {
        // The previous release: no account; stopped after two acknowledged parts.
        let (tx, rx) = tokio::sync::watch::channel(false);
        let driver = UploadDriver::new(UploadOptions {
            concurrency: 1,
            stop: Some(rx),
            on_receipt: Some(std::sync::Arc::new(move |_, receipts| {
                if receipts.len() >= 2 {
                    let _ = tx.send(true);
                }
            })),
            ..UploadOptions::default()
        });
        let report = driver
            .upload_to_all_journaled(&[&shopee], &file, &journal)
            .await;
        assert!(report.reports[0].result.is_err(), "stopped");
    }
    let entries = journal.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].account, None,
        "written as the previous release did"
    );
    // The old release's file, as it wrote it: no `account` key at all.
    let raw = std::fs::read_dir(journal.dir())
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(!raw.contains("\"account\""), "{raw}");
    let acked = entries[0].receipts.len();
    let parts_before = sim.wire().count("upload_video_part");

    // An account that does not adopt old entries starts its own session…
    let driver = UploadDriver::new(UploadOptions {
        concurrency: 1,
        ..UploadOptions::default()
    });
    let other = AccountRef::new("shopee-other", "shopee:1:2");
    assert!(journal
        .find_for(
            "shopee",
            &other,
            &marketmedia_core::SourceFingerprint::of(&file).unwrap()
        )
        .is_none());
    // …while the adopting one resumes it: no new session, only the missing parts.
    let adopting = AccountRef::new("shopee", "shopee:2001887:600001").adopting_unkeyed();
    let uploads = vec![AccountUpload::new(adopting, &shopee)];
    let report = driver
        .upload_to_accounts(&uploads, &file, Some(&journal))
        .await;
    let outcome = report.reports[0]
        .result
        .as_ref()
        .expect("resumed and finished");
    assert_eq!(outcome.stats.parts_skipped as usize, acked);
    assert_eq!(
        sim.wire().count("init_video_upload"),
        1,
        "resumed, not restarted"
    );
    assert_eq!(
        sim.wire().count("upload_video_part") - parts_before,
        5 - acked,
        "only the missing parts"
    );
    assert!(journal.entries().is_empty(), "finished and forgotten");
}
