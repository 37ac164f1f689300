//! What the tests that run `marketmedia upload` as a child process against a Shopee sandbox
//! share: the environment pointing it at the sandbox, the command, the journal's entries and
//! the parts the simulator stored.
#![allow(dead_code)] // each test file uses what it needs

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_sim::faults::{scope, FaultProfile};
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::shopee::ShopeeSim;

pub const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");
pub const MIB: u64 = 1024 * 1024;

/// The sandbox's Shopee variables and the journal's directory.
pub fn shopee_env(sandbox: &Sandbox, journal: &Path) -> Vec<(String, String)> {
    let mut env = sandbox.env_vars(&["shopee"]);
    env.push((
        "MARKETMEDIA_JOURNAL_DIR".to_owned(),
        journal.to_string_lossy().into_owned(),
    ));
    env
}

pub fn command<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts `marketmedia args` in `dir` with only `env` ([`command`]), its output piped.
pub fn spawn_in(args: &[&str], env: &[(String, String)], dir: &Path) -> std::process::Child {
    command(args, env)
        .current_dir(dir)
        .spawn()
        .expect("start marketmedia")
}

/// Journal entries: one log per session, `.jsonl` (a kill mid-compaction may also leave a
/// `.jsonl.tmp`, which the journal ignores), or a `.json` entry of the earlier format.
pub fn entries(journal: &Path) -> usize {
    std::fs::read_dir(journal)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.path()
                        .extension()
                        .is_some_and(|x| x == "jsonl" || x == "json")
                })
                .count()
        })
        .unwrap_or(0)
}

pub fn parts_received(sandbox: &Sandbox) -> usize {
    let sim = sandbox.sim::<ShopeeSim>().unwrap();
    sim.upload_ids()
        .iter()
        .filter_map(|id| sim.parts(id))
        .map(|p| p.len())
        .sum()
}

/// A sandbox whose Shopee parts are slowed to `bytes_per_sec` per connection (so a signal or a
/// kill lands mid-upload), a `video_bytes` sample video in 4 MiB parts, and the environment
/// pointing `marketmedia` at both with a journal of its own.
pub struct SlowShopee {
    /// The sandbox.
    pub sandbox: Sandbox,
    /// Holds the video and the journal.
    pub dir: tempfile::TempDir,
    /// The journal's directory.
    pub journal: PathBuf,
    /// The sample video.
    pub video: PathBuf,
    /// `marketmedia`'s environment.
    pub env: Vec<(String, String)>,
}

impl SlowShopee {
    /// Starts it.
    pub async fn start(video_bytes: u64, bytes_per_sec: u64) -> SlowShopee {
        let sandbox = Sandbox::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal");
        let video = dir.path().join("kettle.mp4");
        write_sample_mp4(&video, Duration::from_secs(20), video_bytes).unwrap();
        sandbox
            .sim::<ShopeeSim>()
            .unwrap()
            .faults()
            .set(FaultProfile {
                bandwidth_per_conn: Some(bytes_per_sec),
                calls: vec![scope::SHOPEE_PARTS.to_owned()],
                ..FaultProfile::default()
            });
        let env = shopee_env(&sandbox, &journal);
        SlowShopee {
            sandbox,
            dir,
            journal,
            video,
            env,
        }
    }
}
