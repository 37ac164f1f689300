//! The `MARKETMEDIA_*` variables: every one the docs' variable tables name, and every one
//! clap reads (`#[arg(env = …)]`), draws no "not a variable marketmedia reads" warning; a
//! misspelled one is warned about with the closest name. The names come from the docs and
//! from clap's own definition of the command line, not from the list under test
//! (`config::known_env`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use marketmedia_cli::config::{known_env, unknown_env_warnings};

const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");

/// The docs with a table of variables.
const DOCS: [&str; 2] = ["docs/cli.md", "docs/batch.md"];

/// The `MARKETMEDIA_*` names in the first column of the markdown tables of `doc`.
fn table_names(doc: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(row) = line.trim().strip_prefix('|') else {
            continue;
        };
        let first = row.split('|').next().unwrap_or("");
        for quoted in first.split('`').skip(1).step_by(2) {
            if quoted.starts_with("MARKETMEDIA_")
                && quoted
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                names.insert(quoted.to_owned());
            }
        }
    }
    names
}

/// The `env` of every argument of `cmd` and its subcommands, walked here on its own.
fn clap_names(cmd: &clap::Command, out: &mut BTreeSet<String>) {
    for arg in cmd.get_arguments() {
        if let Some(env) = arg.get_env() {
            out.insert(env.to_string_lossy().into_owned());
        }
    }
    for sub in cmd.get_subcommands() {
        clap_names(sub, out);
    }
}

fn documented() -> BTreeSet<String> {
    DOCS.iter().flat_map(|d| table_names(d)).collect()
}

fn read_by_clap() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    clap_names(
        &marketmedia_cli::args::command(&marketmedia::registry()),
        &mut names,
    );
    names
}

#[test]
fn every_documented_and_every_clap_variable_is_known() {
    let documented = documented();
    let clap = read_by_clap();
    // The sources are not empty, so this test can fail.
    for name in [
        "MARKETMEDIA_BATCH_STORE",
        "MARKETMEDIA_WECHAT_APPID",
        "MARKETMEDIA_CONFIG",
    ] {
        assert!(
            documented.contains(name),
            "{name} is in no table of {DOCS:?}"
        );
    }
    for name in [
        "MARKETMEDIA_BATCH_STORE",
        "MARKETMEDIA_SIM_SEED",
        "MARKETMEDIA_CONFIG",
    ] {
        assert!(clap.contains(name), "clap reads no {name}: {clap:?}");
    }
    for name in documented.iter().chain(&clap) {
        let warnings = unknown_env_warnings(&marketmedia::registry(), [name.clone()], &[]);
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}

/// The docs' tables name every variable the command reads (the reverse of the test above).
#[test]
fn every_variable_read_is_documented() {
    let documented = documented();
    for name in &known_env(&marketmedia::registry()) {
        assert!(
            documented.contains(name),
            "{name} is read but in no variable table of {DOCS:?}"
        );
    }
}

#[test]
fn a_misspelled_variable_is_warned_with_the_closest_name() {
    let warnings = unknown_env_warnings(
        &marketmedia::registry(),
        ["MARKETMEDIA_BATCH_STOR".to_owned()],
        &[],
    );
    assert_eq!(
        warnings,
        ["warning: MARKETMEDIA_BATCH_STOR is not a variable marketmedia reads (did you mean MARKETMEDIA_BATCH_STORE?)"]
    );
    let warnings = unknown_env_warnings(
        &marketmedia::registry(),
        ["MARKETMEDIA_WECHAT_APP_ID".to_owned()],
        &[],
    );
    assert!(
        warnings[0].ends_with("(did you mean MARKETMEDIA_WECHAT_APPID?)"),
        "{warnings:?}"
    );
}

/// The binary itself, with every documented and clap variable set and one misspelled: one
/// warning, for the misspelled one.
#[test]
fn the_command_warns_only_about_the_misspelled_variable() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .args(["upload", "--to", "shopee", "no-such-video.mp4"])
        .current_dir(home.path())
        .stdin(Stdio::null());
    for name in documented().iter().chain(&read_by_clap()) {
        // Values do not matter: names are checked before anything is read.
        cmd.env(name, "1");
    }
    cmd.env("MARKETMEDIA_BATCH_STOR", "1");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(
        warnings,
        ["warning: MARKETMEDIA_BATCH_STOR is not a variable marketmedia reads (did you mean MARKETMEDIA_BATCH_STORE?)"],
        "{stderr}"
    );
}
