//! One-pass digests against plain MD5 and plain SHA-256, on the same 256 MiB file, in the same
//! run. Target: the Shopee + SMH digests (file MD5, SHA-256 instant-upload chain, CRC-64) in
//! one pass cost ≤ 1.1 × plain MD5 alone (MD5 and the SHA-256 chain run on separate cores).
//!
//! `cargo bench -p marketmedia-core --bench digest [-- --runs N]`
//!
//! Each case runs N times (default 7) after one warm-up; the table shows the median, the
//! throughput and the ratio to plain MD5 over the file. A plain timing loop, not a statistics
//! framework: the figure that matters is one ratio, and keeping a benchmark framework out of
//! the dev-dependencies keeps `cargo run` and `cargo test` on one build (see README).

use std::io::Write;
use std::time::{Duration, Instant};

use marketmedia_core::{digest_file, DigestRequest};
use md5::{Digest as _, Md5};
use sha2::Sha256;

const SIZE: usize = 256 * 1024 * 1024;

/// The median of `runs` timed calls of `f`, after one untimed warm-up call.
fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut runs = 7;
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs);
        }
    }
    let data: Vec<u8> = (0..SIZE)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1])
        .collect();
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&data).expect("write");
    file.flush().expect("flush");
    let path = file.path().to_owned();

    let md5_only = DigestRequest {
        file_md5: true,
        ..DigestRequest::default()
    };
    let one_pass = DigestRequest {
        file_md5: true,
        instant_upload_hashes: true,
        crc64: true,
        ..DigestRequest::default()
    };
    let with_parts = DigestRequest {
        part_md5_sizes: vec![4 * 1024 * 1024],
        ..one_pass.clone()
    };
    let digest = |req: &DigestRequest| {
        std::hint::black_box(digest_file(&path, req).expect("digest"));
    };
    let cases: Vec<(&str, Duration)> = vec![
        (
            "plain MD5, in memory",
            median_of(runs, || {
                std::hint::black_box(Md5::digest(&data));
            }),
        ),
        (
            "plain SHA-256, in memory",
            median_of(runs, || {
                std::hint::black_box(Sha256::digest(&data));
            }),
        ),
        (
            "plain MD5, reading the file",
            median_of(runs, || digest(&md5_only)),
        ),
        (
            "one pass: MD5 + SHA-256 chain + CRC-64",
            median_of(runs, || digest(&one_pass)),
        ),
        (
            "one pass + part MD5s (4 MiB)",
            median_of(runs, || digest(&with_parts)),
        ),
    ];
    let reference = cases[2].1.as_secs_f64();
    println!("digests of 256 MiB, median of {runs} runs");
    println!(
        "{:<42} {:>10} {:>11} {:>9}",
        "case", "median", "MiB/s", "× MD5"
    );
    for (name, took) in &cases {
        let secs = took.as_secs_f64();
        println!(
            "{name:<42} {:>7.0} ms {:>11.0} {:>8.2}×",
            secs * 1000.0,
            256.0 / secs,
            secs / reference
        );
    }
    let ratio = cases[3].1.as_secs_f64() / reference;
    let verdict = if ratio <= 1.1 { "met" } else { "MISSED" };
    println!("target: one pass ≤ 1.10 × plain MD5 over the file: {ratio:.2}× ({verdict})");
}
