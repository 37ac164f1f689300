//! The README's commands succeed on a fresh machine: here its catalog command, `marketmedia
//! batch run examples/catalog/catalog.csv`, from a fresh data directory against the embedded
//! sandbox, then its `batch export`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");

/// The workspace's root (the README, `examples/`, `docs/`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

/// The binary in `dir`, with a clean environment whose home, config and data directories are
/// all under `home`: fresh, and none of the machine user's files or variables read.
fn marketmedia(args: &[&str], home: &Path, dir: &Path) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .stdin(Stdio::null());
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        cmd.env("TMPDIR", tmp);
    }
    cmd.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The README's catalog command exits 0 from a fresh data directory, with every task of
/// every row done (the WeChat image tasks included: the sandbox's sample images decode), and
/// its export command lists them.
#[test]
fn the_readme_catalog_command_finishes_every_task() {
    let root = workspace();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let command = "cargo run -p marketmedia-cli -- batch run examples/catalog/catalog.csv";
    assert!(
        readme.contains(command),
        "the README no longer says {command:?}"
    );

    // The README's manifest in a directory of its own, so the media generated beside it (and
    // any left in the source tree by an older version) are this run's: the same relative
    // path, `examples/catalog/catalog.csv`, from a fresh working directory.
    let home = tempfile::tempdir().unwrap();
    let work = home.path().join("work");
    let catalog = work.join("examples/catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let manifest = std::fs::read_to_string(root.join("examples/catalog/catalog.csv")).unwrap();
    std::fs::write(catalog.join("catalog.csv"), &manifest).unwrap();

    let out = marketmedia(
        &["batch", "run", "examples/catalog/catalog.csv"],
        home.path(),
        &work,
    );
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{stderr}",
        text(&out.stdout)
    );
    assert!(!stderr.contains("warning:"), "{stderr}");
    assert!(
        home.path().join("data/marketmedia/batch.sqlite").is_file(),
        "the store is not the fresh data directory's: {stderr}"
    );

    let out = marketmedia(&["batch", "export", "--format", "json"], home.path(), &work);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let tasks: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let skus: Vec<&str> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(skus.len(), 5, "{manifest}");
    for sku in &skus {
        assert!(
            tasks.iter().any(|t| t["sku"] == *sku),
            "no task for {sku}: {tasks:?}"
        );
    }
    for t in &tasks {
        assert_eq!(t["state"], "done", "{t}");
        assert!(
            t["asset_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{t}"
        );
    }
    // Every marketplace of the sandbox took part (rows with no list go to all of them).
    for p in marketmedia::registry().names() {
        assert!(
            tasks.iter().any(|t| t["marketplace"] == p),
            "nothing went to {p}: {tasks:?}"
        );
    }

    // The README's second command: the CSV export, a header and a line per task.
    let out = marketmedia(&["batch", "export", "--format", "csv"], home.path(), &work);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout).lines().count(), tasks.len() + 1);

    // "a second run sends nothing and says so", and still exits 0.
    let again = marketmedia(
        &["batch", "run", "examples/catalog/catalog.csv"],
        home.path(),
        &work,
    );
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    assert!(
        text(&again.stdout).contains("0 new in the store"),
        "{}",
        text(&again.stdout)
    );
}
