//! Tokens that refresh themselves, through the command (issue 26): accounts that hold only a
//! refresh token (or nothing, after `accounts authorize`), short real lifetimes on the
//! simulators (`set_token_lifetimes`, what `PUT /__sim/tokens/lifetimes` runs), and the
//! simulators' token ledgers (`GET /__sim/tokens`) as the witness of what crossed the wire:
//! refreshes per credential, requests refused for an expired token, spent refresh tokens
//! used again.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_conformance::leaks::assert_clean;
use marketmedia_sim::ebay::EbaySim;
use marketmedia_sim::faults::FaultProfile;
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::lazada::LazadaSim;
use marketmedia_sim::shopee::ShopeeSim;
use marketmedia_sim::shopify::ShopifySim;
use marketmedia_sim::tokens::{LifetimesPatch, Revoke, TokenReport};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");
pub(crate) const KIB: u64 = 1024;

/// The command with only `data` as its data directory (its credential store) and `env`.
pub(crate) fn marketmedia(args: &[&str], data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .args(args)
        .env("XDG_DATA_HOME", data)
        .env("HOME", data)
        .stdin(Stdio::null());
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        cmd.env("TMPDIR", tmp);
    }
    cmd
}

/// `marketmedia accounts --config CFG authorize ACCOUNT --code REDIRECT`: what the seller
/// pastes from the redirect.
pub(crate) async fn authorize(cfg: &str, account: &str, redirect: &str, data: &Path) -> Output {
    run(
        &[
            "accounts",
            "--config",
            cfg,
            "authorize",
            account,
            "--code",
            redirect,
        ],
        data,
    )
    .await
}

pub(crate) async fn run(args: &[&str], data: &Path) -> Output {
    let mut cmd = marketmedia(args, data);
    tokio::task::spawn_blocking(move || cmd.output().expect("the binary runs"))
        .await
        .expect("join")
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every token the simulators' ledgers issued (sandbox secrets), and the apps' secrets: none
/// may appear in the command's output.
pub(crate) fn secrets(sb: &Sandbox) -> Vec<String> {
    let mut all = Vec::new();
    for report in reports(sb) {
        for c in &report.credentials {
            all.extend(c.sandbox_secrets.access_token.clone());
            all.extend(c.sandbox_secrets.refresh_token.clone());
            all.extend(c.refresh_tokens.iter().map(|r| r.refresh_token.clone()));
        }
    }
    for m in ["shopee", "lazada", "ebay"] {
        let p = sb.published(m).unwrap();
        for key in ["partner_key", "app_secret", "client_secret", "access_token"] {
            if let Some(s) = p["credentials"][key].as_str() {
                all.push(s.to_owned());
            }
        }
        for a in p["accounts"].as_array().into_iter().flatten() {
            for key in ["access_token", "refresh_token", "authorization_code"] {
                if let Some(s) = a[key].as_str() {
                    all.push(s.to_owned());
                }
            }
        }
    }
    all.retain(|s| s.len() >= 8);
    all
}

pub(crate) fn reports(sb: &Sandbox) -> [TokenReport; 4] {
    [
        sb.sim::<ShopeeSim>().unwrap().tokens(),
        sb.sim::<LazadaSim>().unwrap().tokens(),
        sb.sim::<EbaySim>().unwrap().tokens(),
        sb.sim::<ShopifySim>().unwrap().tokens(),
    ]
}

/// Access tokens living `access_ms` on every simulator, from now on.
pub(crate) fn lifetimes(sb: &Sandbox, access_ms: u64) {
    let patch = LifetimesPatch {
        access_ms: Some(access_ms),
        ..LifetimesPatch::default()
    };
    sb.sim::<ShopeeSim>()
        .unwrap()
        .set_token_lifetimes(patch)
        .unwrap();
    sb.sim::<LazadaSim>()
        .unwrap()
        .set_token_lifetimes(patch)
        .unwrap();
    sb.sim::<EbaySim>()
        .unwrap()
        .set_token_lifetimes(patch)
        .unwrap();
}

/// Every simulator's requests slowed to `bytes_per_sec` per connection, so a small catalog
/// spans several token lifetimes.
pub(crate) fn slow(sb: &Sandbox, bytes_per_sec: u64) {
    for m in ["shopee", "lazada", "ebay"] {
        sb.simulator(m)
            .unwrap()
            .faults()
            .unwrap()
            .set(FaultProfile {
                bandwidth_per_conn: Some(bytes_per_sec),
                ..FaultProfile::none()
            });
    }
}

/// The config: two Shopee shops, a Lazada seller on two gateways, an eBay user, each with
/// only its refresh token (no access token: the first call refreshes, then every token is
/// replaced ahead of its expiry). `only`: the accounts to write (all when empty).
pub(crate) fn accounts(sb: &Sandbox, only: &[&str]) -> String {
    let s = sb.published("shopee").unwrap();
    let l = sb.published("lazada").unwrap();
    let e = sb.published("ebay").unwrap();
    let lazada = sb.settings_of(&marketmedia::lazada::Lazada).unwrap();
    let cover = lazada.text("cover_url").unwrap().to_owned();
    let mut out = String::new();
    let mut add = |name: &str, body: String| {
        if only.is_empty() || only.contains(&name) {
            out.push_str(&format!("[accounts.{name}]\n{body}\n"));
        }
    };
    for a in s["accounts"].as_array().unwrap() {
        add(
            &text(&a["name"]),
            format!(
                "marketplace = \"shopee\"\npartner_id = {}\npartner_key = \"{}\"\nshop_id = {}\n\
                 refresh_token = \"{}\"\nbase_url = \"{}\"\n",
                s["credentials"]["partner_id"],
                text(&s["credentials"]["partner_key"]),
                a["shop_id"],
                text(&a["refresh_token"]),
                text(&s["base_url"]),
            ),
        );
    }
    for a in l["accounts"].as_array().unwrap() {
        add(
            &text(&a["name"]),
            format!(
                "marketplace = \"lazada\"\napp_key = \"{}\"\napp_secret = \"{}\"\n\
                 refresh_token = \"{}\"\nseller = \"kettle-seller\"\ncountry = \"{}\"\n\
                 seller_id = \"{}\"\nbase_url = \"{}\"\nauth_url = \"{}\"\n\
                 title = \"Blue kettle\"\ncover_url = \"{cover}\"\n",
                text(&l["credentials"]["app_key"]),
                text(&l["credentials"]["app_secret"]),
                text(&a["refresh_token"]),
                text(&a["country"]),
                text(&a["seller_id"]),
                text(&a["base_url"]),
                text(&l["auth_base_url"]),
            ),
        );
    }
    let user = &e["accounts"][0];
    add(
        "ebay",
        format!(
            "marketplace = \"ebay\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nru_name = \"{}\"\n\
             refresh_token = \"{}\"\nuser_id = \"{}\"\nbase_url = \"{}\"\ntoken_url = \"{}\"\n",
            text(&e["credentials"]["client_id"]),
            text(&e["credentials"]["client_secret"]),
            text(&e["credentials"]["ru_name"]),
            text(&user["refresh_token"]),
            text(&user["username"]),
            text(&e["base_url"]),
            text(&e["token_url"]),
        ),
    );
    // Shopify's store, on its expiring offline token: only when asked for by name (the
    // tests of "every account" predate it).
    if only.contains(&"shopify") {
        let sh = sb.published("shopify").unwrap();
        let c = &sh["credentials"];
        out.push_str(&format!(
            "[accounts.shopify]\nmarketplace = \"shopify\"\nshop = \"{}\"\nclient_id = \"{}\"\n\
             client_secret = \"{}\"\nredirect_uri = \"{}\"\nrefresh_token = \"{}\"\n\
             base_url = \"{}\"\n",
            text(&sh["shop"]),
            text(&c["client_id"]),
            text(&c["client_secret"]),
            text(&c["redirect_uri"]),
            text(&sh["accounts"][0]["refresh_token"]),
            text(&sh["base_url"]),
        ));
    }
    out
}

/// A catalog of `n` distinct small videos, each to `marketplaces`.
pub(crate) fn catalog(dir: &Path, n: usize, marketplaces: &str) -> PathBuf {
    let mut csv = String::from("sku,video,marketplaces\n");
    for i in 0..n {
        let video = dir.join(format!("v{i}.mp4"));
        write_sample_mp4(
            &video,
            Duration::from_secs(12),
            256 * KIB + 4 * KIB * i as u64,
        )
        .unwrap();
        csv.push_str(&format!("K{i},{},{marketplaces}\n", video.display()));
    }
    let path = dir.join("catalog.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// Per credential of every ledger with a refresh: (name, refreshes, refused expired,
/// refused invalid, spent refresh token uses).
pub(crate) fn counts(sb: &Sandbox) -> Vec<(String, u64, u64, u64, u64)> {
    reports(sb)
        .iter()
        .flat_map(|r| r.credentials.iter())
        .filter(|c| c.refreshes > 0 || c.refused_expired > 0 || c.refused_refreshes > 0)
        .map(|c| {
            (
                c.credential.clone(),
                c.refreshes,
                c.refused_expired,
                c.refused_invalid,
                c.spent_refresh_token_uses,
            )
        })
        .collect()
}

pub(crate) fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The access tokens' lifetime on the simulators. They answer it in whole seconds
/// (`expires_in` 2), and a token living 2 s is replaced after 1 s (the margin is at most half
/// the lifetime, `RefreshMargin`), so a token serves [`SERVES_MS`].
pub(crate) const LIFETIME_MS: u64 = 2000;
/// How long one token is used before it is replaced.
pub(crate) const SERVES_MS: u64 = LIFETIME_MS / 2;

/// The refreshes a credential may make over `elapsed`: at least one per lifetime (else an
/// expired token would have been sent), at most one per token's service (plus the first
/// and one in flight at the end).
pub(crate) fn refresh_bounds(elapsed: Duration) -> (u64, u64) {
    let ms = elapsed.as_millis() as u64;
    (
        (ms / LIFETIME_MS).saturating_sub(1).max(2),
        ms / SERVES_MS + 2,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_outlives_its_tokens_with_one_refresh_per_lifetime_and_no_expired_answer() {
    let sb = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &accounts(&sb, &[]));
    // 20 products: about 7.5 s with one upload per account (a video processing holds no slot,
    // so the next upload starts meanwhile: 10 products took 4.2 s, under three lifetimes).
    let manifest = catalog(dir.path(), 20, "shopee|lazada|ebay");
    lifetimes(&sb, LIFETIME_MS);
    // Every request body (256 KiB) in flight a quarter of a second: well inside the margin.
    slow(&sb, 1024 * KIB);
    let store = dir.path().join("jobs.sqlite");
    let started = Instant::now();
    let out = run(
        &[
            "batch",
            "--config",
            &cfg,
            "run",
            manifest.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--uploads-per-market",
            "1",
            "--json",
        ],
        dir.path(),
    )
    .await;
    let elapsed = started.elapsed();
    let counts = counts(&sb);
    println!(
        "proactive: {elapsed:?} for lifetimes of {LIFETIME_MS} ms; per credential (refreshes, \
         refused expired, refused invalid, spent uses): {counts:?}"
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let lifetimes_spanned = elapsed.as_millis() as u64 / LIFETIME_MS;
    assert!(
        lifetimes_spanned >= 3,
        "the catalog must span three lifetimes: {elapsed:?}"
    );
    // Two shops, one seller (two gateways), one user: four credentials refreshed.
    assert_eq!(counts.len(), 4, "{counts:?}");
    let (low, high) = refresh_bounds(elapsed);
    for (credential, refreshes, expired, invalid, spent) in &counts {
        assert_eq!(*expired, 0, "{credential}: an expired token was sent");
        assert_eq!(*invalid, 0, "{credential}: an invalid token was sent");
        assert_eq!(*spent, 0, "{credential}: a spent refresh token was used");
        assert!(
            (low..=high).contains(refreshes),
            "{credential}: {refreshes} refreshes over {elapsed:?} (expected {low}..={high})"
        );
    }
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_clean(&secrets(&sb), "batch run", &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_access_token_is_refreshed_once_and_the_call_sent_again() {
    let sb = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &accounts(&sb, &["shopee-sg"]));
    let video = dir.path().join("k.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 9 * 1024 * KIB).unwrap(); // 3 parts
    let shopee = sb.sim::<ShopeeSim>().unwrap();
    sb.simulator("shopee")
        .unwrap()
        .faults()
        .unwrap()
        .set(FaultProfile {
            bandwidth_per_conn: Some(4 * 1024 * KIB),
            ..FaultProfile::none()
        });
    let child = marketmedia(
        &[
            "upload",
            video.to_str().unwrap(),
            "--config",
            &cfg,
            "--json",
            "--no-journal",
        ],
        dir.path(),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Mid-upload (the first part arrived): the access token in use is revoked.
    let start = Instant::now();
    while shopee.wire().count("upload_video_part") == 0 {
        assert!(start.elapsed() < Duration::from_secs(20), "no part arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let report = shopee.tokens();
    let shop = report
        .credentials
        .iter()
        .find(|c| c.refreshes == 1)
        .expect("the shop's first refresh");
    let before = shop.refreshes;
    let access = shop.sandbox_secrets.access_token.clone().unwrap();
    shopee
        .revoke_tokens(&Revoke {
            access_token: Some(access),
            ..Revoke::default()
        })
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let after = shopee.tokens();
    let shop = after.credential(&shop.credential).unwrap();
    println!(
        "reactive: refreshes {before} → {}, refused invalid {}, refused expired {}",
        shop.refreshes, shop.refused_invalid, shop.refused_expired
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Each part in flight with the revoked token is refused; all of them wait for one
    // refresh.
    assert!(shop.refused_invalid >= 1, "the revoked token was refused");
    assert_eq!(shop.refreshes, before + 1, "one refresh after the refusal");
    assert_eq!(shop.spent_refresh_token_uses, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_store_refresh_once_per_lifetime() {
    let sb = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &accounts(&sb, &["shopee-sg"]));
    lifetimes(&sb, LIFETIME_MS);
    // Both processes start on an empty store and seed it from the configuration's refresh
    // token; whichever refreshes first spends it, and the other's seed (insert-if-absent)
    // leaves the rotated pair in place.
    let manifest = catalog(dir.path(), 10, "shopee");
    let video = dir.path().join("single.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 5 * 1024 * KIB).unwrap();
    slow(&sb, 1024 * KIB);
    let store = dir.path().join("jobs.sqlite");
    let started = Instant::now();
    let batch_args = [
        "batch",
        "--config",
        &cfg,
        "run",
        manifest.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--uploads-per-market",
        "1",
        "--json",
    ];
    let upload_args = [
        "upload",
        video.to_str().unwrap(),
        "--config",
        &cfg,
        "--json",
        "--no-journal",
    ];
    let batch = run(&batch_args, dir.path());
    let upload = run(&upload_args, dir.path());
    let (batch, upload) = tokio::join!(batch, upload);
    let elapsed = started.elapsed();
    let counts = counts(&sb);
    println!(
        "two processes: {elapsed:?}; (credential, refreshes, expired, invalid, spent): {counts:?}"
    );
    assert_eq!(batch.status.code(), Some(0), "{batch:?}");
    assert_eq!(upload.status.code(), Some(0), "{upload:?}");
    assert_eq!(counts.len(), 1, "{counts:?}");
    let (_, refreshes, expired, invalid, spent) = counts[0].clone();
    assert_eq!((expired, invalid, spent), (0, 0, 0));
    // The first refresh (of the seed), then one per token's service for both processes, not
    // one each.
    let (low, high) = refresh_bounds(elapsed);
    assert!(
        (low..=high).contains(&refreshes),
        "{refreshes} refreshes over {elapsed:?} (expected {low}..={high})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_stops_its_accounts_until_authorized_again() {
    let sb = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &accounts(&sb, &["shopee-sg", "shopee-my", "ebay"]),
    );
    let published = sb.published("shopee").unwrap().clone();
    let sg = &published["accounts"][0];
    let shop_id = sg["shop_id"].as_u64().unwrap();
    let shopee = sb.sim::<ShopeeSim>().unwrap();
    shopee
        .revoke_tokens(&Revoke {
            refresh_token: Some(text(&sg["refresh_token"])),
            ..Revoke::default()
        })
        .unwrap();
    let video = dir.path().join("k.mp4");
    write_sample_mp4(&video, Duration::from_secs(12), 512 * KIB).unwrap();
    let upload = |to: &'static str| {
        let video = video.clone();
        let cfg = cfg.clone();
        let data = dir.path().to_owned();
        async move {
            let mut args = vec![
                "upload".to_owned(),
                video.to_str().unwrap().to_owned(),
                "--config".into(),
                cfg,
                "--json".into(),
                "--no-journal".into(),
            ];
            if !to.is_empty() {
                args.extend(["--to".to_owned(), to.to_owned()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&args, &data).await
        }
    };
    let out = upload("").await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(marketmedia_cli::exit::REAUTHORIZE),
        "{out:?}"
    );
    assert!(
        stderr.contains("marketmedia accounts authorize shopee-sg"),
        "{stderr}"
    );
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ok = |name: &str| rows.iter().find(|r| r["account"] == name).unwrap()["ok"] == true;
    assert!(
        !ok("shopee-sg") && ok("shopee-my") && ok("ebay"),
        "{rows:?}"
    );
    assert_clean(&secrets(&sb), "upload", &(stdout + &stderr));

    // The seller authorizes again: a fresh code, as the redirect would give it.
    let code = shopee
        .authorization_code(&serde_json::json!({ "shop_id": shop_id }))
        .unwrap();
    let redirect = format!(
        "https://seller.example.com/cb?code={}&shop_id={shop_id}",
        code.code
    );
    let out = authorize(&cfg, "shopee-sg", &redirect, dir.path()).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("access token expires"), "{said}");
    let mut leaked = secrets(&sb);
    leaked.push(code.code.clone());
    assert_clean(&leaked, "accounts authorize", &said);

    // `accounts` shows the expiries, never a token.
    let out = run(&["accounts", "--config", &cfg, "--json"], dir.path()).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let sg_row: Value = listed
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["account"] == "shopee-sg")
        .unwrap();
    assert!(
        sg_row["access_expires_at_ms"].as_u64().is_some(),
        "{sg_row}"
    );
    assert_clean(&secrets(&sb), "accounts", &listed);

    let out = upload("shopee-sg").await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // The store and its key file are private.
    #[cfg(unix)]
    for name in ["credentials.sqlite", "secret.key"] {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.path().join("marketmedia").join(name);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    // No token is in the store's files (database, WAL), as is or as base64 or hex.
    assert_store_files_clean(&dir.path().join("marketmedia"), &secrets(&sb));
}

/// Panics when a file of the credential store in `data` holds one of `secrets`, as is or as
/// base64 or hex.
fn assert_store_files_clean(data: &Path, secrets: &[String]) {
    use base64::Engine;
    let mut read = 0;
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("credentials.sqlite") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        read += bytes.len();
        let text = String::from_utf8_lossy(&bytes);
        let encoded: Vec<String> = secrets
            .iter()
            .flat_map(|s| {
                [
                    s.clone(),
                    base64::engine::general_purpose::STANDARD_NO_PAD.encode(s),
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s),
                    hex::encode(s),
                    hex::encode_upper(s),
                ]
            })
            .collect();
        assert_clean(&encoded, &name, &text);
    }
    assert!(read > 0, "no credential store in {}", data.display());
}

/// `accounts rekey`: every credential re-encrypted under a new key file; a key from the
/// variable needs the new one given; a wrong key names the credential, never a token.
#[tokio::test]
async fn rekey_re_encrypts_the_store_under_a_new_key() {
    use marketmedia_batch::credentials::seal::{Sealer, SecretKey};
    use marketmedia_batch::credentials::SqliteCredentialStore;
    use marketmedia_core::{CredentialKey, CredentialStore, Tokens};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("marketmedia");
    let file = data.join("credentials.sqlite");
    let key = CredentialKey::new("shopee", "2001887", "shop-600001").unwrap();
    let tokens = Tokens::new("access-rekey-Yt55", 1).with_refresh_token("refresh-rekey-Pp90", None);
    // The store as `accounts authorize` leaves it: a key file beside it.
    SqliteCredentialStore::open_with(
        &file,
        Sealer::new(SecretKey::from_file(&data, true).unwrap()),
    )
    .await
    .unwrap()
    .save(&key, &tokens)
    .await
    .unwrap();
    let before = SecretKey::from_file(&data, false).unwrap();

    let out = run(&["accounts", "rekey"], dir.path()).await;
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let after = SecretKey::from_file(&data, false).unwrap();
    assert_ne!(after.fingerprint(), before.fingerprint());
    assert!(said.contains("Re-encrypted 1 credential"), "{said}");
    assert!(said.contains(&after.fingerprint()), "{said}");
    assert!(!data.join("secret.key.new").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(SecretKey::file_path(&data))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let leaked = [
        before.to_text().expose().to_owned(),
        after.to_text().expose().to_owned(),
        "access-rekey-Yt55".to_owned(),
        "refresh-rekey-Pp90".to_owned(),
    ];
    assert_clean(&leaked, "accounts rekey", &said);
    let opened = SqliteCredentialStore::open_with(&file, Sealer::new(after.clone()))
        .await
        .unwrap();
    assert_eq!(opened.load(&key).await.unwrap(), Some(tokens.clone()));
    drop(opened);

    // The key from the variable: the new one must be given; then the variable must change.
    let current = after.to_text().expose().to_owned();
    let mut cmd = marketmedia(&["accounts", "rekey"], dir.path());
    cmd.env("MARKETMEDIA_SECRET_KEY", &current);
    let out = cmd.output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("MARKETMEDIA_NEW_SECRET_KEY"), "{said}");
    let next = SecretKey::generate();
    let mut cmd = marketmedia(&["accounts", "rekey"], dir.path());
    cmd.env("MARKETMEDIA_SECRET_KEY", &current)
        .env("MARKETMEDIA_NEW_SECRET_KEY", next.to_text().expose());
    let out = cmd.output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("set MARKETMEDIA_SECRET_KEY"), "{said}");
    assert_clean(
        &[current.clone(), next.to_text().expose().to_owned()],
        "rekey",
        &said,
    );
    assert_eq!(
        SecretKey::from_file(&data, false).unwrap().fingerprint(),
        after.fingerprint(),
        "the key file is left alone"
    );

    // Now the old key (the file's) is the wrong one: the error names the credential.
    let out = run(&["accounts", "rekey"], dir.path()).await;
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(key.as_str()), "{said}");
    assert!(said.contains("cannot be decrypted"), "{said}");
    assert!(said.contains(&after.fingerprint()), "{said}");
    assert_eq!(
        SecretKey::from_file(&data, false).unwrap().fingerprint(),
        after.fingerprint(),
        "a failed rekey keeps the key file"
    );
    assert!(!data.join("secret.key.new").exists());
    assert_store_files_clean(
        &data,
        &["access-rekey-Yt55".into(), "refresh-rekey-Pp90".into()],
    );
}

#[test]
fn the_pasted_redirect_gives_its_code_and_ids() {
    use marketmedia_cli::tokens::{parse_pasted, when};
    let a =
        parse_pasted(" https://seller.example.com/cb?code=v%5E1.1%23i&shop_id=600001&x=1#top\n");
    assert_eq!(a.code.expose(), "v^1.1#i");
    assert_eq!((a.shop_id, a.main_account_id), (Some(600001), None));
    let b = parse_pasted("code=abc&main_account_id=42");
    assert_eq!(b.code.expose(), "abc");
    assert_eq!(b.main_account_id, Some(42));
    let c = parse_pasted("6b6f6e\n");
    assert_eq!((c.code.expose(), c.shop_id), ("6b6f6e", None));
    assert!(!format!("{a:?}").contains("v^1.1"), "the code is a secret");
    // 2026-12-07 03:24:54 UTC, an hour ahead.
    let now = 1_796_613_894_000;
    assert_eq!(
        when(Some(now + 3_600_000), now),
        "2026-12-07 04:24 UTC (in 60 min)"
    );
    assert_eq!(when(Some(now - 1), now), "2026-12-07 03:24 UTC (expired)");
    assert_eq!(when(None, now), "-");
}

/// A main account authorizes both shops with one code: `accounts authorize --main-account-id`
/// stores its pair under each shop's credential; then a catalog on both shops, spanning
/// several lifetimes: each shop's first refresh presents the shared refresh token with its
/// own `shop_id` (once per shop, what Shopee allows) and gets a pair of its own, and each
/// keeps refreshing its own. No call refused, no spent token presented, no shop to
/// authorize again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_main_account_authorization_serves_each_shop_until_it_has_its_own_pair() {
    use marketmedia_core::{CredentialKey, CredentialStore};

    let sb = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The two shops with no token in the configuration: only the authorization gives them.
    let config: String = accounts(&sb, &["shopee-sg", "shopee-my"])
        .lines()
        .filter(|l| !l.starts_with("refresh_token"))
        .map(|l| format!("{l}\n"))
        .collect();
    let cfg = write_config(dir.path(), &config);
    lifetimes(&sb, LIFETIME_MS);
    let shopee = sb.sim::<ShopeeSim>().unwrap();
    let creds = shopee.credentials();
    let main = creds.main_account_id;
    let code = shopee
        .authorization_code(&serde_json::json!({ "main_account_id": main }))
        .unwrap();
    let redirect = format!(
        "https://seller.example.com/cb?code={}&main_account_id={main}",
        code.code
    );
    let out = authorize(&cfg, "shopee-sg", &redirect, dir.path()).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let shops: Vec<u64> = shopee.shops().iter().map(|s| s.shop_id).collect();
    assert_eq!(shops.len(), 2);
    for id in &shops {
        assert!(said.contains(&format!("shop-{id}: authorized")), "{said}");
    }
    let shared = shopee
        .tokens()
        .credential(&format!("main_account:{main}"))
        .unwrap()
        .sandbox_secrets
        .refresh_token
        .clone()
        .unwrap();

    let manifest = catalog(dir.path(), 8, "shopee");
    slow(&sb, 1024 * KIB);
    let store = dir.path().join("jobs.sqlite");
    let started = Instant::now();
    let out = run(
        &[
            "batch",
            "--config",
            &cfg,
            "run",
            manifest.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--uploads-per-market",
            "1",
            "--json",
        ],
        dir.path(),
    )
    .await;
    let elapsed = started.elapsed();
    let report = shopee.tokens();
    let counts = counts(&sb);
    println!(
        "main account: {elapsed:?}; (credential, refreshes, expired, invalid, spent): {counts:?}"
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for c in &report.credentials {
        assert_eq!(
            (
                c.spent_refresh_token_uses,
                c.refused_refreshes,
                c.refused_expired,
                c.refused_invalid
            ),
            (0, 0, 0, 0),
            "{c:?}"
        );
    }
    // The shared refresh token presented once per shop.
    let main_report = report.credential(&format!("main_account:{main}")).unwrap();
    let uses = main_report
        .refresh_tokens
        .iter()
        .find(|t| t.refresh_token == shared)
        .map(|t| t.uses);
    assert_eq!(uses, Some(2), "{main_report:?}");
    // Each shop refreshed its own pair after the split, and the store holds each shop's
    // newest pair: distinct, neither the main account's.
    let file = dir.path().join("marketmedia").join("credentials.sqlite");
    let store = marketmedia_batch::credentials::SqliteCredentialStore::open(&file)
        .await
        .unwrap();
    let mut pairs = Vec::new();
    for id in &shops {
        let ledger = report.credential(&format!("shop:{id}")).unwrap();
        assert!(ledger.refreshes >= 2, "shop {id}: {ledger:?}");
        let key = CredentialKey::new(
            "shopee",
            &creds.partner_id.to_string(),
            &format!("shop-{id}"),
        )
        .unwrap();
        let stored = store.load(&key).await.unwrap().unwrap();
        let refresh = stored.refresh_token.unwrap().expose().to_owned();
        assert_ne!(refresh, shared, "shop {id}");
        assert_eq!(
            Some(refresh.clone()),
            ledger.sandbox_secrets.refresh_token,
            "shop {id}: the store holds the newest pair"
        );
        pairs.push((stored.access_token.expose().to_owned(), refresh));
    }
    assert_ne!(pairs[0].0, pairs[1].0);
    assert_ne!(pairs[0].1, pairs[1].1);
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_clean(&secrets(&sb), "batch run", &all);
}
