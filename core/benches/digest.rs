//! One-pass digests against plain MD5 and plain SHA-256, on the same 256 MiB file, in the same
//! run. Target: the Shopee + SMH digests (file MD5, SHA-256 instant-upload chain, CRC-64) in
//! one pass cost ≤ 1.1 × plain MD5 alone (MD5 and the SHA-256 chain run on separate cores).
//!
//! `cargo bench -p marketmedia-core --bench digest`

use std::io::Write;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use marketmedia_core::{digest_file, DigestRequest};
use md5::{Digest as _, Md5};
use sha2::Sha256;

const SIZE: usize = 256 * 1024 * 1024;

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..SIZE)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1])
        .collect();
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&data).expect("write");
    file.flush().expect("flush");
    let path = file.path().to_owned();

    let mut g = c.benchmark_group("digest_256MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));

    g.bench_function("plain_md5_memory", |b| b.iter(|| Md5::digest(&data)));
    g.bench_function("plain_sha256_memory", |b| b.iter(|| Sha256::digest(&data)));
    let md5_only = DigestRequest {
        file_md5: true,
        ..DigestRequest::default()
    };
    g.bench_function("plain_md5_file", |b| {
        b.iter(|| digest_file(&path, &md5_only).expect("digest"))
    });
    let shopee_smh = DigestRequest {
        file_md5: true,
        instant_upload_hashes: true,
        crc64: true,
        ..DigestRequest::default()
    };
    g.bench_function("one_pass_md5_sha_chain_crc64_file", |b| {
        b.iter(|| digest_file(&path, &shopee_smh).expect("digest"))
    });
    let with_parts = DigestRequest {
        part_md5_sizes: vec![4 * 1024 * 1024],
        ..shopee_smh.clone()
    };
    g.bench_function("one_pass_plus_part_md5s_file", |b| {
        b.iter(|| digest_file(&path, &with_parts).expect("digest"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
