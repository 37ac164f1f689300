//! Many workers, one credential (issue 27): `marketmedia batch` processes on one PostgreSQL
//! job store keep their accounts' tokens in that database, refresh each credential under its
//! row lock, and survive a worker that dies between the platform's answer to a refresh and
//! the commit of the new pair as each platform allows. The simulators' token ledgers
//! (`GET /__sim/tokens`) witness what crossed the wire.
#![cfg(unix)]

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use marketmedia_batch::credentials::postgres::{KILL_POINT_AFTER_ANSWER, KILL_POINT_ENV};
use marketmedia_batch::credentials::seal::{Sealer, SecretKey};
use marketmedia_batch::credentials::PgCredentialStore;
use marketmedia_batch::store::{self, JobStore};
use marketmedia_batch::{TaskFilter, TaskState};
use marketmedia_cli::sandbox::Sandbox;
use marketmedia_conformance::leaks::assert_clean;
use marketmedia_core::{CredentialKey, CredentialStore};
use marketmedia_sim::faults::{scope, FaultProfile};
use marketmedia_sim::shopee::ShopeeSim;
use marketmedia_sim::tokens::CredentialReport;

use crate::common;
use crate::tokens::{
    accounts, catalog, counts, lifetimes, marketmedia, refresh_bounds, reports, run, secrets, slow,
    text, write_config, KIB, LIFETIME_MS,
};

/// The key the command's processes sealed with: the key file beside their (never made)
/// local store, in the test's data directory.
fn cli_sealer(data: &Path) -> Sealer {
    Sealer::new(SecretKey::load(&data.join("marketmedia"), false).unwrap())
}

fn spawn(args: &[&str], data: &Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = marketmedia(args, data);
    cmd.envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("start marketmedia")
}

async fn wait(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
}

fn said(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Waits until `ready` holds for the store's tasks (at most 30 s).
async fn until(
    store: &dyn JobStore,
    what: &str,
    ready: impl Fn(&[marketmedia_batch::Task]) -> bool,
) {
    let start = Instant::now();
    loop {
        let tasks = store.tasks(0, 1000, &TaskFilter::all()).await.unwrap();
        if ready(&tasks) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: not after 30 s: {tasks:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_store_refresh_each_credential_once_per_lifetime() {
    let Some(db) = common::pg().await else { return };
    let sb = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &accounts(&sb, &["shopee-sg", "shopee-my", "ebay"]),
    );
    let manifest = catalog(dir.path(), 20, "shopee|ebay");
    lifetimes(&sb, LIFETIME_MS);
    // Each video (256 KiB) half a second on the wire: with two workers and one upload per
    // account each, the 20 products take at least 5 s however fast the machine, and each
    // request stays well inside the margin (1 s for a 2 s token).
    slow(&sb, 512 * KIB);
    let jobs = store::open(&db.url).await.unwrap();
    let started = Instant::now();
    let common_args = ["--uploads-per-market", "1", "--json"];
    let mut args = vec![
        "batch",
        "--config",
        &cfg,
        "run",
        manifest.to_str().unwrap(),
        "--store",
        &db.url,
    ];
    args.extend(common_args);
    let first = spawn(&args, dir.path(), &[]);
    // The second worker joins once the batch is planned.
    until(jobs.as_ref(), "planned", |t| !t.is_empty()).await;
    let mut args = vec!["batch", "--config", &cfg, "work", "--store", &db.url];
    args.extend(common_args);
    let second = spawn(&args, dir.path(), &[]);
    let (first, second) = tokio::join!(wait(first), wait(second));
    let elapsed = started.elapsed();
    let counts = counts(&sb);
    println!(
        "two workers, one PostgreSQL store: {elapsed:?} for lifetimes of {LIFETIME_MS} ms; \
         (credential, refreshes, refused expired, refused invalid, spent uses): {counts:?}"
    );
    assert_eq!(first.status.code(), Some(0), "{}", said(&first));
    assert_eq!(second.status.code(), Some(0), "{}", said(&second));
    let tasks = jobs.tasks(0, 1000, &TaskFilter::all()).await.unwrap();
    assert!(tasks.iter().all(|t| t.state == TaskState::Done));
    // Both workers did some of it.
    let done = |out: &Output| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("\"event\":\"done\""))
            .count()
    };
    let (by_first, by_second) = (done(&first), done(&second));
    println!("tasks done: {by_first} by the first worker, {by_second} by the second");
    assert!(by_first > 0 && by_second > 0, "{by_first} {by_second}");
    assert!(
        elapsed.as_millis() as u64 / LIFETIME_MS >= 3,
        "the catalog must span three lifetimes: {elapsed:?}"
    );
    // Two shops and one user, each refreshed by one worker at a time: no expired or invalid
    // token sent, no refresh token presented twice.
    assert_eq!(counts.len(), 3, "{counts:?}");
    let (low, high) = refresh_bounds(elapsed);
    for (credential, refreshes, expired, invalid, spent) in &counts {
        assert_eq!(
            (*expired, *invalid, *spent),
            (0, 0, 0),
            "{credential}: expired, invalid, spent"
        );
        assert!(
            (low..=high).contains(refreshes),
            "{credential}: {refreshes} refreshes over {elapsed:?} (expected {low}..={high})"
        );
    }
    let shopee = sb.sim::<ShopeeSim>().unwrap().tokens();
    for c in &shopee.credentials {
        for t in &c.refresh_tokens {
            assert!(
                t.uses <= 1,
                "{}: a refresh token used {} times",
                c.credential,
                t.uses
            );
        }
    }
    // The shared store counted exactly the refreshes the platforms saw.
    let shared = PgCredentialStore::connect(&db.url, cli_sealer(dir.path()))
        .await
        .unwrap();
    let listed = shared.list().await.unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mut committed = 0;
    for (key, _) in &listed {
        committed += shared.refresh_count(key).await.unwrap();
    }
    let seen: u64 = reports(&sb)
        .iter()
        .flat_map(|r| r.credentials.iter())
        .map(|c| c.refreshes)
        .sum();
    println!("refreshes committed in the store {committed}, seen by the platforms {seen}");
    assert_eq!(committed, seen, "every refresh committed once");
    // One source of truth: this machine's credential file was never made.
    assert!(!dir
        .path()
        .join("marketmedia")
        .join("credentials.sqlite")
        .exists());
    assert_clean(
        &secrets(&sb),
        "two workers",
        &(said(&first) + &said(&second)),
    );
    drop((jobs, shared));
    db.drop_db().await;
}

/// A batch of one account on a PostgreSQL store whose first worker was killed between the
/// platform's answer to its first refresh and the commit of the new pair.
struct Killed {
    db: common::PgDb,
    sb: Sandbox,
    dir: tempfile::TempDir,
    cfg: String,
    jobs: std::sync::Arc<dyn JobStore>,
}

/// Plans 3 videos to `account` and runs `batch run` with the kill point set, one upload at a
/// time: it dies at its first refresh, after the platform answered. The platform answers
/// refreshes (`refresh_call`) 2 s late, and a second worker (`batch work`) is started once
/// the first committed its refresh intent: while the first holds the credential's row lock,
/// so the second claims a task and waits on that lock. Returns the batch and the second
/// worker, running.
async fn killed_mid_refresh(
    account: &str,
    marketplace: &str,
    refresh_call: &str,
) -> Option<(Killed, Child)> {
    let db = common::pg().await?;
    let sb = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &accounts(&sb, &[account]));
    let manifest = catalog(dir.path(), 3, marketplace);
    sb.simulator(marketplace)
        .unwrap()
        .faults()
        .unwrap()
        .set(FaultProfile {
            latency_ms: 2000,
            calls: vec![refresh_call.to_owned()],
            ..FaultProfile::none()
        });
    let args = [
        "batch",
        "--config",
        &cfg,
        "run",
        manifest.to_str().unwrap(),
        "--store",
        &db.url,
        "--lease-secs",
        "1",
        "--uploads-per-market",
        "1",
        "--json",
    ];
    let first = spawn(
        &args,
        dir.path(),
        &[(KILL_POINT_ENV, KILL_POINT_AFTER_ANSWER)],
    );
    // The first worker is mid-refresh: its intent committed, the row locked, the answer
    // not there yet.
    let raw = sqlx::PgPool::connect_lazy(&db.url).unwrap();
    let start = Instant::now();
    loop {
        let n: Option<i64> = sqlx::query_scalar("SELECT COUNT(*) FROM credential_refresh_intents")
            .fetch_one(&raw)
            .await
            .ok();
        if n.unwrap_or(0) > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the first worker never started a refresh"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let jobs = store::open(&db.url).await.unwrap();
    let k = Killed {
        db,
        sb,
        dir,
        cfg,
        jobs,
    };
    let second = k.work();
    // Whether the second worker reached the row lock while the first held it (seen in
    // pg_stat_activity), until the first dies.
    let mut first = first;
    let mut waited = false;
    while first.try_wait().unwrap().is_none() {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE OF c%'",
        )
        .fetch_one(&raw)
        .await
        .unwrap();
        waited |= n > 0;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    raw.close().await;
    println!("{marketplace}: the second worker waited on the row lock: {waited}");
    let out = wait(first).await;
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "aborted at the kill point: {out:?}"
        );
    }
    assert!(
        said(&out).contains(KILL_POINT_AFTER_ANSWER),
        "{}",
        said(&out)
    );
    Some((k, second))
}

impl Killed {
    fn work(&self) -> Child {
        spawn(
            &[
                "batch",
                "--config",
                &self.cfg,
                "work",
                "--store",
                &self.db.url,
                "--lease-secs",
                "1",
                "--auth-poll-ms",
                "200",
                "--auth-wait-secs",
                "30",
                "--json",
            ],
            self.dir.path(),
            &[],
        )
    }

    /// The ledger entry of `credential`, or (`None`) of the one credential refreshed.
    fn ledger(&self, credential: Option<&str>) -> CredentialReport {
        reports(&self.sb)
            .iter()
            .flat_map(|r| r.credentials.iter())
            .find(|c| match credential {
                Some(name) => c.credential == name,
                None => c.refreshes > 0,
            })
            .cloned()
            .unwrap_or_else(|| panic!("no ledger entry {credential:?}"))
    }

    async fn all_done(&self) {
        let tasks = self.jobs.tasks(0, 100, &TaskFilter::all()).await.unwrap();
        assert_eq!(tasks.len(), 3);
        assert!(
            tasks.iter().all(|t| t.state == TaskState::Done),
            "{tasks:#?}"
        );
    }

    async fn finish(self) {
        drop(self.jobs);
        self.db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopee_killed_mid_refresh_waits_for_authorization_and_sends_the_spent_token_once() {
    let Some((k, worker)) = killed_mid_refresh("shopee-sg", "shopee", scope::SHOPEE_REFRESH).await
    else {
        return;
    };
    let published = k.sb.published("shopee").unwrap().clone();
    let sg = &published["accounts"][0];
    let shop_id = sg["shop_id"].as_u64().unwrap();
    let credential = format!("shop:{shop_id}");
    let before = k.ledger(Some(&credential));
    // The platform answered the killed worker's refresh: its refresh token is spent, and
    // the new pair died with the worker.
    assert_eq!(before.refreshes, 1, "{before:?}");
    until(k.jobs.as_ref(), "waiting", |t| {
        t.len() == 3 && t.iter().all(|t| t.state == TaskState::Waiting)
    })
    .await;
    // The other worker presented the spent token once, was refused, and recorded it.
    let refused = k.ledger(Some(&credential));
    assert_eq!(refused.refused_refreshes, 1, "{refused:?}");
    assert!(refused.spent_refresh_token_uses <= 1, "{refused:?}");
    let status = run(&["batch", "status", "--store", &k.db.url], k.dir.path()).await;
    let mut shown = said(&status);
    println!("status while waiting:\n{shown}");
    // The export names the waiting tasks with the same message (checked for secrets below).
    let export = run(
        &["batch", "export", "--format", "json", "--store", &k.db.url],
        k.dir.path(),
    )
    .await;
    let exported = said(&export);
    assert!(exported.contains("waiting"), "{exported}");
    assert!(
        shown.contains("waiting for authorization: shopee-sg (3 task(s))"),
        "{shown}"
    );
    assert!(
        shown.contains("marketmedia accounts authorize shopee-sg"),
        "{shown}"
    );
    assert!(shown.contains("worker stopped after sending"), "{shown}");
    // `accounts --store` says so too.
    let listed = run(
        &["accounts", "--config", &k.cfg, "--store", &k.db.url],
        k.dir.path(),
    )
    .await;
    assert!(
        said(&listed).contains("shopee-sg must be authorized again"),
        "{}",
        said(&listed)
    );
    // It does not loop: a second later (five looks at the credential), nothing more sent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = k.ledger(Some(&credential));
    assert_eq!(
        (
            later.refused_refreshes,
            later.spent_refresh_token_uses,
            later.refreshes
        ),
        (
            refused.refused_refreshes,
            refused.spent_refresh_token_uses,
            refused.refreshes
        ),
        "the worker sent the refused token again"
    );
    // Waiting counts no attempt (the killed worker's claim counted one; a task claimed for
    // a look at this instant counts one more until it waits again).
    let tasks = k
        .jobs
        .tasks(0, 100, &TaskFilter::state(TaskState::Waiting))
        .await
        .unwrap();
    assert!(!tasks.is_empty());
    assert!(
        tasks.iter().all(|t| t.attempts <= 1),
        "waiting counts no attempt: {tasks:#?}"
    );

    // The seller authorizes again, into the shared store; the waiting worker goes on.
    let shopee = k.sb.sim::<ShopeeSim>().unwrap();
    let code = shopee
        .authorization_code(&serde_json::json!({ "shop_id": shop_id }))
        .unwrap();
    let redirect = format!(
        "https://seller.example.com/cb?code={}&shop_id={shop_id}",
        code.code
    );
    let out = run(
        &[
            "accounts",
            "--config",
            &k.cfg,
            "authorize",
            "shopee-sg",
            "--code",
            &redirect,
            "--store",
            &k.db.url,
        ],
        k.dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let out = wait(worker).await;
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    k.all_done().await;
    let after = k.ledger(Some(&credential));
    println!(
        "shopee, killed mid-refresh: refreshes {} → {}, refused refreshes {}, spent uses {}",
        before.refreshes, after.refreshes, after.refused_refreshes, after.spent_refresh_token_uses
    );
    assert!(after.spent_refresh_token_uses <= 1, "{after:?}");
    assert_eq!(after.refused_refreshes, 1, "{after:?}");
    let mut leaked = secrets(&k.sb);
    leaked.push(code.code.clone());
    shown.push_str(&exported);
    assert_clean(
        &leaked,
        "batch work / status / export",
        &(said(&out) + &shown),
    );
    k.finish().await;
}

async fn recovers(account: &str, marketplace: &str, refresh_call: &str) {
    let Some((k, worker)) = killed_mid_refresh(account, marketplace, refresh_call).await else {
        return;
    };
    let before = k.ledger(None);
    let credential = before.credential.clone();
    assert_eq!(before.refreshes, 1, "{before:?}");
    let out = wait(worker).await;
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    k.all_done().await;
    let after = k.ledger(Some(&credential));
    println!(
        "{marketplace}, killed mid-refresh: refreshes {} → {}, refused refreshes {}, spent uses {}",
        before.refreshes, after.refreshes, after.refused_refreshes, after.spent_refresh_token_uses
    );
    // The old refresh token still served: one more refresh, nothing refused.
    assert_eq!(after.refreshes, 2, "{after:?}");
    assert_eq!(
        (after.refused_refreshes, after.spent_refresh_token_uses),
        (0, 0)
    );
    // And the shared store holds the recovered pair, ready.
    let shared = PgCredentialStore::connect(&k.db.url, cli_sealer(k.dir.path()))
        .await
        .unwrap();
    let listed = shared.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    let key: &CredentialKey = &listed[0].0;
    assert!(!shared
        .state(key)
        .await
        .unwrap()
        .unwrap()
        .needs_authorization());
    assert!(!shared.refresh_intent_left(key).await.unwrap());
    drop(shared);
    k.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebay_killed_mid_refresh_recovers() {
    recovers("ebay", "ebay", scope::EBAY_TOKEN).await;
}

/// Shopify keeps the previous refresh token usable until its replacement is first used
/// (shopify.dev changelog, 2026-08-28): the pair the killed worker never saved was never
/// used, so the old refresh token still serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_killed_mid_refresh_recovers_with_the_retained_refresh_token() {
    recovers("shopify", "shopify", scope::SHOPIFY_TOKEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazada_killed_mid_refresh_recovers() {
    let probe = Sandbox::start().await.unwrap();
    let name = text(&probe.published("lazada").unwrap()["accounts"][0]["name"]);
    drop(probe);
    recovers(&name, "lazada", scope::LAZADA_REFRESH).await;
}

/// `accounts move`: a credential authorized on this machine moves into the shared store;
/// the local file keeps a tombstone, `accounts` says where it went, a local upload says so
/// instead of refreshing, and a batch on the PostgreSQL store uses the moved pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_moved_to_the_shared_store_is_used_from_there_only() {
    let Some(db) = common::pg().await else { return };
    let sb = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // No token in the configuration: only the authorization gives them.
    let config: String = accounts(&sb, &["shopee-sg"])
        .lines()
        .filter(|l| !l.starts_with("refresh_token"))
        .map(|l| format!("{l}\n"))
        .collect();
    let cfg = write_config(dir.path(), &config);
    let shopee = sb.sim::<ShopeeSim>().unwrap();
    let shop_id = sb.published("shopee").unwrap()["accounts"][0]["shop_id"]
        .as_u64()
        .unwrap();
    let code = shopee
        .authorization_code(&serde_json::json!({ "shop_id": shop_id }))
        .unwrap();
    let redirect = format!(
        "https://seller.example.com/cb?code={}&shop_id={shop_id}",
        code.code
    );
    let out = crate::tokens::authorize(&cfg, "shopee-sg", &redirect, dir.path()).await;
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));

    // Moved: said, and the URL's password never printed.
    let url = db.url.clone();
    let out = run(
        &[
            "accounts",
            "--config",
            &cfg,
            "move",
            "shopee-sg",
            "--to",
            &url,
        ],
        dir.path(),
    )
    .await;
    let moved = said(&out);
    assert_eq!(out.status.code(), Some(0), "{moved}");
    assert!(moved.contains("moved to postgres://"), "{moved}");
    assert!(moved.contains("retired"), "{moved}");
    let shared = PgCredentialStore::connect(&url, cli_sealer(dir.path()))
        .await
        .unwrap();
    let key = CredentialKey::new(
        "shopee",
        &shopee.credentials().partner_id.to_string(),
        &format!("shop-{shop_id}"),
    )
    .unwrap();
    assert!(shared.load(&key).await.unwrap().is_some());
    // Again: nothing to do.
    let out = run(
        &[
            "accounts",
            "--config",
            &cfg,
            "move",
            "shopee-sg",
            "--to",
            &url,
        ],
        dir.path(),
    )
    .await;
    assert!(said(&out).contains("already moved"), "{}", said(&out));

    // `accounts` says where it went.
    let out = run(&["accounts", "--config", &cfg], dir.path()).await;
    assert!(
        said(&out).contains("moved to postgres://"),
        "{}",
        said(&out)
    );

    // A local upload does not refresh from the file: it says where the credential is.
    let video = dir.path().join("k.mp4");
    marketmedia_sim::fixtures::write_sample_mp4(&video, Duration::from_secs(12), 256 * KIB)
        .unwrap();
    let out = run(
        &[
            "upload",
            video.to_str().unwrap(),
            "--config",
            &cfg,
            "--no-journal",
        ],
        dir.path(),
    )
    .await;
    let refused = said(&out);
    assert_ne!(out.status.code(), Some(0), "{refused}");
    assert!(
        refused.contains("was moved to the shared store postgres://"),
        "{refused}"
    );

    // A batch on the PostgreSQL store uses the moved pair (no refresh: it is fresh).
    let manifest = catalog(dir.path(), 2, "shopee");
    let out = run(
        &[
            "batch",
            "--config",
            &cfg,
            "run",
            manifest.to_str().unwrap(),
            "--store",
            &url,
            "--json",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let ledger = shopee.tokens();
    let shop = ledger.credential(&format!("shop:{shop_id}")).unwrap();
    assert_eq!(
        (shop.refreshes, shop.refused_invalid, shop.refused_expired),
        (0, 0, 0)
    );

    // Rekey the shared store under a given key: the rows open with it (the key file of
    // this machine now holds it), not with the old one.
    drop(shared);
    let old = cli_sealer(dir.path());
    let new_key = dir.path().join("new.key");
    std::fs::write(&new_key, "c3".repeat(32)).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&new_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = run(
        &[
            "accounts",
            "rekey",
            "--store",
            &url,
            "--new-key-file",
            new_key.to_str().unwrap(),
        ],
        dir.path(),
    )
    .await;
    let rekeyed = said(&out);
    assert_eq!(out.status.code(), Some(0), "{rekeyed}");
    assert!(
        rekeyed.contains("Re-encrypted 1 credential(s)"),
        "{rekeyed}"
    );
    assert!(!rekeyed.contains(&"c3".repeat(32)), "the key printed");
    let shared = PgCredentialStore::connect(&url, cli_sealer(dir.path()))
        .await
        .unwrap();
    assert!(shared.load(&key).await.unwrap().is_some());
    let stale = PgCredentialStore::connect(&url, old).await.unwrap();
    assert!(stale.load(&key).await.is_err(), "the old key opens nothing");
    drop(stale);

    let mut leaked = secrets(&sb);
    leaked.push(code.code.clone());
    assert_clean(&leaked, "accounts move", &(moved + &refused));
    drop(shared);
    db.drop_db().await;
}
