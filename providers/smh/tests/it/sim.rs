//! The SMH provider against the SMH simulator (`marketmedia_sim::smh`): the whole
//! flow through `UploadDriver`, wire numbering, instant upload, renewal, resume, conflicts,
//! credentials, small files, images and errors.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use marketmedia_core::digest_request;
use marketmedia_core::raw::Digester;
use marketmedia_core::raw::{
    CommitOutcome, InitOutcome, Part, PartPlan, PartReceipt, SourceInfo, UploadRules, UploadSession,
};
use marketmedia_core::{
    ChunkedVideoUploader, DigestRequest, Error, ErrorKind, ImageSource, MediaFormat,
    PreparedSource, ProcessingHandle, ProcessingStatus, Result, RetryPolicy, SourceProbe,
    UploadDriver, UploadMeta, UploadOptions,
};
use marketmedia_sim::fixtures;
use marketmedia_sim::smh::{
    calls, ExpiredTokenCode, SmhServers, SmhSim, SmhSimConfig, SmhUploadState, TEST_LIBRARY_ID,
    TEST_LIBRARY_SECRET,
};
use marketmedia_smh::{
    ConflictStrategy, SmhConfig, SmhConfigBuilder, SmhUploader, StorageScheme, MIB,
};

struct Env {
    sim: SmhSim,
    servers: SmhServers,
    dir: tempfile::TempDir,
}

async fn env_with(config: SmhSimConfig) -> Env {
    let sim = SmhSim::new(config);
    let servers = sim
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    Env {
        sim,
        servers,
        dir: tempfile::tempdir().unwrap(),
    }
}

async fn env() -> Env {
    env_with(SmhSimConfig::default()).await
}

impl Env {
    fn config(&self) -> SmhConfigBuilder {
        SmhConfig::builder()
            .library_id(TEST_LIBRARY_ID)
            .library_secret(TEST_LIBRARY_SECRET)
            .base_url(self.servers.api_base_url())
            .storage_scheme(StorageScheme::Http)
            .allow_plain_http(true)
            .part_size(MIB)
    }

    fn uploader(&self, config: SmhConfigBuilder) -> SmhUploader {
        SmhUploader::new(config.build().unwrap()).unwrap()
    }

    fn video(&self, name: &str, size: u64) -> PathBuf {
        let path = self.dir.path().join(name);
        fixtures::write_sample_mp4(&path, Duration::from_secs(20), size).unwrap();
        path
    }

    fn part_numbers(&self) -> Vec<u32> {
        let mut n: Vec<u32> = self
            .sim
            .wire()
            .calls(calls::PUT_PART)
            .iter()
            .filter(|r| r.status == 200)
            .filter_map(|r| r.param("partNumber")?.parse().ok())
            .collect();
        n.sort_unstable();
        n
    }
}

fn driver() -> UploadDriver {
    UploadDriver::new(UploadOptions {
        retry: RetryPolicy {
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        ..UploadOptions::default()
    })
}

fn no_retry_driver() -> UploadDriver {
    UploadDriver::new(UploadOptions {
        retry: RetryPolicy::never(),
        ..UploadOptions::default()
    })
}

async fn prepared(provider: &dyn ChunkedVideoUploader, path: &Path) -> PreparedSource {
    let probe = SourceProbe::open(path).await.unwrap();
    let plan = probe.plan(provider.rules(), None).unwrap();
    PreparedSource::digest(probe, &digest_request(provider.rules(), &plan))
        .await
        .unwrap()
}

fn digests_of(data: &[u8]) -> marketmedia_core::Digests {
    let mut d = Digester::new(&DigestRequest {
        instant_upload_hashes: true,
        crc64: true,
        ..DigestRequest::default()
    });
    d.update(data);
    d.finish()
}

#[tokio::test]
async fn whole_flow_assembles_the_source_with_1_based_parts() {
    let env = env().await;
    env.sim.create_directory("-", "videos/2024");
    let smh = env.uploader(env.config().directory("videos/2024"));
    let size = 5 * MIB + 12_345;
    let path = env.video("clip.mp4", size);
    let outcome = driver().upload_file(&smh, &path).await.unwrap();
    let asset = outcome.asset().expect("SMH is ready at confirm");
    assert_eq!(asset.id, "videos/2024/clip.mp4");
    assert_eq!(asset.size, Some(size));
    assert_eq!(
        asset.details["crc64"].as_str().map(str::to_owned),
        digests_of(&std::fs::read(&path).unwrap())
            .crc64
            .map(|c| c.to_string())
    );
    assert!(!outcome.stats.instant);
    assert_eq!(outcome.stats.parts_sent, 6);
    let stored = env.sim.file("videos/2024/clip.mp4").expect("stored");
    assert_eq!(stored.as_ref(), std::fs::read(&path).unwrap().as_slice());
    assert_eq!(env.part_numbers(), vec![1, 2, 3, 4, 5, 6]);
    // Every part went with every presigned header.
    for r in env.sim.wire().calls(calls::PUT_PART) {
        assert!(
            r.param("header:authorization").is_some() || r.param("header:Authorization").is_some(),
            "{r:?}"
        );
        assert!(r.param("header:x-cos-security-token").is_some(), "{r:?}");
    }
    // Confirm carried the CRC-64 as a decimal string.
    let confirm = env.sim.wire().calls(calls::CONFIRM_UPLOAD);
    assert_eq!(confirm.len(), 1);
    assert!(confirm[0]
        .param("crc64")
        .is_some_and(|c| c.parse::<u64>().is_ok()));
    assert_eq!(
        confirm[0].param("conflict_resolution_strategy"),
        Some("rename")
    );
    // A session begin just opened holds nothing: no status call before the parts.
    assert_eq!(env.sim.wire().count(calls::UPLOAD_STATUS), 0);
}

#[tokio::test]
async fn begin_body_carries_the_vector_hashes_in_lowercase_hex() {
    let env = env().await;
    let smh = env.uploader(env.config());
    let zeros = vec![0u8; 2 * MIB as usize];
    let source = SourceInfo {
        file_name: "zeros.mp4".into(),
        size: zeros.len() as u64,
        format: MediaFormat::Mp4,
        duration: None,
        digests: digests_of(&zeros),
        meta: Default::default(),
    };
    let plan = PartPlan::new(source.size, smh.rules(), None).unwrap();
    let init = smh.init(&source, &plan).await.unwrap();
    let InitOutcome::Session(session) = init else {
        panic!("an empty library cannot have the file")
    };
    let begins = env.sim.wire().calls(calls::BEGIN_MULTIPART);
    assert_eq!(begins.len(), 1, "no 202, so no second begin");
    assert_eq!(
        begins[0].param("beginningHash"),
        Some("30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58")
    );
    assert_eq!(begins[0].param("fullHash"), None);
    assert_eq!(begins[0].param("size"), Some("2097152"));
    assert_eq!(begins[0].param("filesize"), Some("2097152"));
    assert!(begins[0].param("multipart").is_some());
    smh.cancel(&session).await.unwrap();
    assert_eq!(
        env.sim.upload_state(&session.upload_id),
        Some(SmhUploadState::Cancelled)
    );
}

#[tokio::test]
async fn second_upload_is_instant_with_zero_part_bytes() {
    let env = env().await;
    let smh = env.uploader(env.config());
    let path = env.video("same.mp4", 3 * MIB + 7);
    driver().upload_file(&smh, &path).await.unwrap();
    let received = env.sim.storage_bytes_received();
    let parts_before = env.sim.wire().count(calls::PUT_PART);
    let uploads_before = env.sim.upload_count();

    let outcome = driver().upload_file(&smh, &path).await.unwrap();
    assert!(outcome.stats.instant);
    assert_eq!(outcome.stats.bytes_sent, 0);
    assert!(outcome.session.is_none());
    assert_eq!(env.sim.storage_bytes_received(), received, "no byte sent");
    assert_eq!(env.sim.wire().count(calls::PUT_PART), parts_before);
    assert_eq!(env.sim.upload_count(), uploads_before, "no task created");
    // 202 on beginningHash, then 200 on fullHash.
    let begins = env.sim.wire().calls(calls::BEGIN_MULTIPART);
    let last_two = &begins[begins.len() - 2..];
    assert_eq!(last_two[0].status, 202);
    assert!(last_two[0].param("fullHash").is_none());
    assert_eq!(last_two[1].status, 200);
    let full = last_two[1].param("fullHash").unwrap();
    assert_eq!(full, full.to_ascii_lowercase());
    assert_eq!(full.len(), 64);
    let asset = outcome.asset().unwrap();
    assert_eq!(asset.id, "same (1).mp4", "renamed by the default strategy");
    assert_eq!(
        env.sim.file("same (1).mp4").unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
}

#[tokio::test]
async fn instant_upload_can_be_turned_off() {
    let env = env().await;
    let smh = env.uploader(env.config().instant_upload(false));
    let path = env.video("again.mp4", 2 * MIB);
    driver().upload_file(&smh, &path).await.unwrap();
    let outcome = driver().upload_file(&smh, &path).await.unwrap();
    assert!(!outcome.stats.instant);
    for r in env.sim.wire().calls(calls::BEGIN_MULTIPART) {
        assert!(r.param("beginningHash").is_none() && r.param("fullHash").is_none());
    }
}

#[tokio::test]
async fn small_files_skip_the_hashes() {
    let env = env().await;
    let smh = env.uploader(env.config());
    let size = MIB - 1;
    let path = env.video("small.mp4", size);
    for round in 0..2 {
        let outcome = driver().upload_file(&smh, &path).await.unwrap();
        assert!(!outcome.stats.instant, "round {round}");
        assert_eq!(outcome.stats.parts_sent, 1);
    }
    for r in env.sim.wire().calls(calls::BEGIN_MULTIPART) {
        assert_eq!(r.status, 201);
        assert!(r.param("beginningHash").is_none() && r.param("fullHash").is_none());
        assert_eq!(r.param("size"), Some("1048575"));
    }
    assert_eq!(
        env.sim.file("small.mp4").unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
    assert_eq!(env.part_numbers(), vec![1, 1]);
}

#[tokio::test]
async fn expiry_mid_upload_renews_and_completes() {
    let env = env().await;
    let smh = env.uploader(env.config());
    let path = env.video("long.mp4", 4 * MIB + 1);
    let sim = env.sim.clone();
    let moved = Arc::new(Mutex::new(false));
    let opts = UploadOptions {
        concurrency: 1,
        on_receipt: Some(Arc::new(move |_s: &UploadSession, done: &[PartReceipt]| {
            let mut moved = moved.lock().unwrap();
            if done.len() == 1 && !*moved {
                // The presigned headers (30 min) expire before part 2.
                sim.clock().advance(Duration::from_secs(31 * 60));
                *moved = true;
            }
        })),
        ..driver().options().clone()
    };
    let outcome = UploadDriver::new(opts)
        .upload_file(&smh, &path)
        .await
        .unwrap();
    assert!(outcome.asset().is_some());
    let expired: Vec<_> = env
        .sim
        .wire()
        .calls(calls::PUT_PART)
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert_eq!(expired.len(), 1, "one part met the expired headers");
    assert_eq!(env.sim.wire().count(calls::RENEW_UPLOAD), 1);
    assert_eq!(env.part_numbers(), vec![1, 2, 3, 4, 5]);
    assert_eq!(
        env.sim.file("long.mp4").unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
}

#[tokio::test]
async fn headers_about_to_expire_are_renewed_before_sending() {
    let env = env_with(SmhSimConfig {
        // Shorter than the driver's 5-minute margin: renewed before the first part.
        upload_info_lifetime: Duration::from_secs(240),
        ..SmhSimConfig::default()
    })
    .await;
    let smh = env.uploader(env.config());
    let path = env.video("soon.mp4", 2 * MIB + 3);
    let opts = UploadOptions {
        renew_margin: Duration::from_secs(300),
        ..driver().options().clone()
    };
    UploadDriver::new(opts)
        .upload_file(&smh, &path)
        .await
        .unwrap();
    assert!(env.sim.wire().count(calls::RENEW_UPLOAD) >= 1);
    assert!(env
        .sim
        .wire()
        .calls(calls::PUT_PART)
        .iter()
        .all(|r| r.status == 200));
}

/// Fails every part from `fail_from` on, as a dropped connection would, without retry.
struct Interrupted {
    inner: SmhUploader,
    fail_from: u32,
}

#[async_trait]
impl ChunkedVideoUploader for Interrupted {
    fn rules(&self) -> &UploadRules {
        self.inner.rules()
    }
    async fn init(&self, s: &SourceInfo, p: &PartPlan) -> Result<InitOutcome> {
        self.inner.init(s, p).await
    }
    async fn put_part(&self, s: &UploadSession, part: &Part) -> Result<PartReceipt> {
        if part.index >= self.fail_from {
            return Err(Error::new(ErrorKind::Io, "interrupted by the test"));
        }
        self.inner.put_part(s, part).await
    }
    async fn commit(&self, s: &UploadSession, r: &[PartReceipt]) -> Result<CommitOutcome> {
        self.inner.commit(s, r).await
    }
    async fn poll(&self, h: &ProcessingHandle) -> Result<ProcessingStatus> {
        self.inner.poll(h).await
    }
    async fn cancel(&self, s: &UploadSession) -> Result<()> {
        self.inner.cancel(s).await
    }
    async fn uploaded_parts(&self, s: &UploadSession) -> Result<Option<Vec<PartReceipt>>> {
        self.inner.uploaded_parts(s).await
    }
    async fn renew(&self, s: &UploadSession) -> Result<UploadSession> {
        self.inner.renew(s).await
    }
}

#[tokio::test]
async fn resume_sends_only_the_missing_parts_from_another_process() {
    let env = env().await;
    let path = env.video("resume.mp4", 6 * MIB + 99);
    let broken = Interrupted {
        inner: env.uploader(env.config()),
        fail_from: 3,
    };
    let saved: Arc<Mutex<Option<String>>> = Arc::default();
    let keep = Arc::clone(&saved);
    let opts = UploadOptions {
        concurrency: 1,
        cancel_on_failure: false,
        on_receipt: Some(Arc::new(move |s: &UploadSession, _r: &[PartReceipt]| {
            *keep.lock().unwrap() = Some(serde_json::to_string(s).unwrap());
        })),
        ..driver().options().clone()
    };
    let err = UploadDriver::new(opts.clone())
        .upload_file(&broken, &path)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(env.part_numbers(), vec![1, 2, 3]);
    assert_eq!(env.sim.wire().count(calls::CANCEL_UPLOAD), 0);

    // "Another process": a fresh uploader (no remembered headers) and the journaled session.
    let json = saved.lock().unwrap().clone().unwrap();
    assert!(
        !json.contains("q-sign"),
        "the session holds no presigned credentials"
    );
    let session: UploadSession = serde_json::from_str(&json).unwrap();
    let smh = env.uploader(env.config());
    let source = prepared(&smh, &path).await;
    let bytes_before = env.sim.storage_bytes_received();
    let outcome = UploadDriver::new(UploadOptions {
        on_receipt: None,
        ..opts
    })
    .resume(&smh, &source, session, Vec::new())
    .await
    .unwrap();
    assert_eq!(outcome.stats.parts_skipped, 3);
    assert_eq!(outcome.stats.parts_sent, 4);
    assert_eq!(env.part_numbers(), vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(
        env.sim.storage_bytes_received() - bytes_before,
        6 * MIB + 99 - 3 * MIB
    );
    // The driver lists the parts when it resumes, never for a session init just opened (it
    // holds nothing); the listing's fresh upload information spares the new uploader a
    // renewal.
    assert_eq!(env.sim.wire().count(calls::UPLOAD_STATUS), 1);
    assert_eq!(env.sim.wire().count(calls::RENEW_UPLOAD), 0);
    assert_eq!(
        env.sim.file("resume.mp4").unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
}

#[tokio::test]
async fn a_failed_upload_is_cancelled_by_default() {
    let env = env().await;
    let path = env.video("fail.mp4", 2 * MIB + 1);
    let broken = Interrupted {
        inner: env.uploader(env.config()),
        fail_from: 1,
    };
    let err = driver().upload_file(&broken, &path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    let cancels = env.sim.wire().calls(calls::CANCEL_UPLOAD);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].status, 204);
    let key = cancels[0].param("ConfirmKey").unwrap().to_owned();
    assert_eq!(env.sim.upload_state(&key), Some(SmhUploadState::Cancelled));
}

#[tokio::test]
async fn conflict_strategies() {
    let env = env().await;
    let first = env.video("dup.mp4", 300_000);
    let other = env.video("dup-b.mp4", 400_000);
    // Both uploads store their file as `dup.mp4`: the name travels with the upload.
    let driver = || driver().with_meta(UploadMeta::default().with_file_name("dup.mp4"));
    let base = env.config().instant_upload(false);
    driver()
        .upload_file(&env.uploader(base.clone()), &first)
        .await
        .unwrap();

    // ask: refused at begin, nothing sent.
    let parts = env.sim.wire().count(calls::PUT_PART);
    let err = driver()
        .upload_file(
            &env.uploader(base.clone().conflict(ConflictStrategy::Ask)),
            &other,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.code(), Some("SameNameDirectoryOrFileExists"));
    assert_eq!(err.http_status(), Some(409));
    assert!(err.request_id().is_some());
    assert!(!err.is_retryable());
    assert_eq!(env.sim.wire().count(calls::PUT_PART), parts);

    // rename: a new name, the old file kept.
    let renamed = driver()
        .upload_file(&env.uploader(base.clone()), &other)
        .await
        .unwrap();
    assert_eq!(renamed.asset().unwrap().id, "dup (1).mp4");
    assert_eq!(env.sim.file("dup.mp4").unwrap().len(), 300_000);

    // overwrite: same name, new bytes.
    let over = driver()
        .upload_file(
            &env.uploader(base.conflict(ConflictStrategy::Overwrite)),
            &other,
        )
        .await
        .unwrap();
    let asset = over.asset().unwrap();
    assert_eq!(asset.id, "dup.mp4");
    assert_eq!(asset.details["isOverwritten"], true);
    assert_eq!(
        env.sim.file("dup.mp4").unwrap().as_ref(),
        std::fs::read(&other).unwrap().as_slice()
    );
}

#[tokio::test]
async fn bad_credentials_are_auth_errors_before_any_upload_call() {
    let env = env().await;
    let path = env.video("x.mp4", 200_000);
    let smh = env.uploader(
        SmhConfig::builder()
            .library_id(TEST_LIBRARY_ID)
            .library_secret("wrong-secret")
            .base_url(env.servers.api_base_url())
            .storage_scheme(StorageScheme::Http)
            .allow_plain_http(true),
    );
    let err = driver().upload_file(&smh, &path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.http_status(), Some(403));
    assert!(!err.to_string().contains("wrong-secret"));
    assert_eq!(env.sim.wire().count(calls::BEGIN_MULTIPART), 0);
    assert_eq!(env.sim.wire().count(calls::TOKEN), 1, "Auth is not retried");

    // A ready token the library does not know: refused, and not "refreshed".
    let smh = env.uploader(
        SmhConfig::builder()
            .library_id(TEST_LIBRARY_ID)
            .access_token("not-a-token")
            .base_url(env.servers.api_base_url())
            .storage_scheme(StorageScheme::Http)
            .allow_plain_http(true),
    );
    let err = driver().upload_file(&smh, &path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.code(), Some("InvalidAccessToken"));
    assert_eq!(env.sim.wire().count(calls::BEGIN_MULTIPART), 1);
    assert_eq!(env.sim.wire().count(calls::TOKEN), 1);
}

#[tokio::test]
async fn a_ready_access_token_works() {
    let env = env().await;
    let path = env.video("tok.mp4", 100_000);
    let smh = env.uploader(
        SmhConfig::builder()
            .library_id(TEST_LIBRARY_ID)
            .access_token(env.sim.issue_token())
            .base_url(env.servers.api_base_url())
            .storage_scheme(StorageScheme::Http)
            .allow_plain_http(true),
    );
    driver().upload_file(&smh, &path).await.unwrap();
    assert_eq!(env.sim.wire().count(calls::TOKEN), 0);
}

#[tokio::test]
async fn tokens_are_cached_and_an_expired_one_is_fetched_again_once() {
    for code in [
        ExpiredTokenCode::AuthorizationExpired,
        ExpiredTokenCode::InvalidAccessToken,
    ] {
        let env = env_with(SmhSimConfig {
            token_lifetime: Duration::from_secs(600),
            expired_token_code: code,
            ..SmhSimConfig::default()
        })
        .await;
        let smh = env.uploader(env.config());
        let path = env.video("t.mp4", 100_000);
        driver().upload_file(&smh, &path).await.unwrap();
        assert_eq!(env.sim.wire().count(calls::TOKEN), 1);
        // Our clock still trusts the token; the platform's says it expired.
        env.sim.clock().advance(Duration::from_secs(700));
        let path = env.video("t2.mp4", 100_001);
        driver().upload_file(&smh, &path).await.unwrap();
        assert_eq!(env.sim.wire().count(calls::TOKEN), 2, "{code:?}");
        let refused: Vec<_> = env
            .sim
            .wire()
            .records()
            .into_iter()
            .filter(|r| r.status == 403)
            .collect();
        assert_eq!(refused.len(), 1, "{code:?}");
    }
}

#[tokio::test]
async fn missing_directory_is_not_found_until_created() {
    let env = env().await;
    let smh = env.uploader(env.config().directory("shop/videos"));
    let path = env.video("d.mp4", 100_000);
    let err = driver().upload_file(&smh, &path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.code(), Some("DirectoryNotFound"));
    assert_eq!(env.sim.wire().count(calls::PUT_PART), 0);

    // The default grant (`upload_file`) does not create directories: the error says what to add.
    let refused = smh.create_directory("shop").await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Auth);
    assert_eq!(refused.code(), Some("NoPermission"));
    assert!(
        refused.to_string().contains("create_directory"),
        "{refused}"
    );
    let smh = env.uploader(
        env.config()
            .directory("shop/videos")
            .grants(["upload_file", "create_directory"]),
    );
    smh.create_directory("shop").await.unwrap();
    smh.create_directory("shop/videos").await.unwrap();
    let again = smh.create_directory("shop").await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict);
    let outcome = driver().upload_file(&smh, &path).await.unwrap();
    assert_eq!(outcome.asset().unwrap().id, "shop/videos/d.mp4");
}

#[tokio::test]
async fn tokens_are_requested_with_the_upload_grant_and_a_read_only_token_is_refused_at_begin() {
    let env = env().await;
    let path = env.video("g.mp4", 100_000);

    // Default: the token request asks for `grant=upload_file`, and the upload goes through.
    let smh = env.uploader(env.config());
    driver().upload_file(&smh, &path).await.unwrap();
    let token_call = env.sim.wire().calls(calls::TOKEN).pop().unwrap();
    assert_eq!(token_call.param("grant"), Some("upload_file"));

    // No grant: SMH gives a read-only token, and begin answers 403 NoPermission.
    let smh = env.uploader(env.config().grants(Vec::<String>::new()));
    let err = driver().upload_file(&smh, &path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.code(), Some("NoPermission"));
    assert!(err.to_string().contains("\"upload_file\""), "{err}");
    let token_call = env.sim.wire().calls(calls::TOKEN).pop().unwrap();
    assert_eq!(token_call.param("grant"), None);
    let begin = env.sim.wire().calls(calls::BEGIN_MULTIPART).pop().unwrap();
    assert_eq!(
        (begin.status, begin.error.as_deref()),
        (403, Some("NoPermission"))
    );

    // A ready token issued without upload permission: refused at begin, with the grant to ask for.
    let parts_before = env.sim.wire().count(calls::PUT_PART);
    let read_only = env.sim.issue_token_with_grants(&[]);
    let config = SmhConfig::builder()
        .library_id(TEST_LIBRARY_ID)
        .access_token(read_only)
        .base_url(env.servers.api_base_url())
        .storage_scheme(StorageScheme::Http)
        .allow_plain_http(true)
        .part_size(MIB);
    let smh = env.uploader(config);
    let err = driver().upload_file(&smh, &path).await.unwrap_err();
    assert_eq!(err.code(), Some("NoPermission"));
    assert!(err.to_string().contains("grant=upload_file"), "{err}");
    assert_eq!(env.sim.wire().count(calls::PUT_PART), parts_before);
}

#[tokio::test]
async fn quota_and_rate_limits_are_typed() {
    let env = env_with(SmhSimConfig {
        capacity_bytes: MIB,
        ..SmhSimConfig::default()
    })
    .await;
    let smh = env.uploader(env.config());
    let path = env.video("big.mp4", 2 * MIB);
    let err = driver().upload_file(&smh, &path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("QuotaLimitReached"));
    assert_eq!(env.sim.wire().count(calls::PUT_PART), 0);

    env.sim.set_rate_limited(true);
    let small = env.video("s.mp4", 10_000);
    let err = no_retry_driver()
        .upload_file(&smh, &small)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn bad_inputs_fail_before_any_request() {
    let env = env().await;
    let smh = env.uploader(env.config());
    let empty = env.dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let text = env.dir.path().join("notes.mp4");
    std::fs::write(&text, b"this is not a video at all").unwrap();
    for path in [empty, text, env.dir.path().join("missing.mp4")] {
        let err = driver().upload_file(&smh, &path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{path:?}");
    }
    let bad_part = UploadDriver::new(UploadOptions {
        part_size: Some(MIB / 2),
        ..UploadOptions::default()
    });
    let video = env.video("v.mp4", 3 * MIB);
    let err = bad_part.upload_file(&smh, &video).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(env.sim.wire().records().is_empty(), "no request at all");
}

#[tokio::test]
async fn images_go_through_the_simple_upload() {
    let env = env().await;
    env.sim.create_directory("-", "img");
    let smh = env.uploader(env.config().directory("img"));
    let jpeg = fixtures::sample_jpeg(50_000);
    let png = fixtures::sample_png(20_000);
    let images = vec![
        ImageSource::from_bytes("a.jpg", jpeg.clone()),
        ImageSource::from_bytes("b.png", png.clone()),
    ];
    let results = marketmedia_core::upload_images(&smh, &images)
        .await
        .unwrap();
    let ids: Vec<String> = results.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(ids, vec!["img/a.jpg", "img/b.png"]);
    assert_eq!(env.sim.file("img/a.jpg").unwrap().as_ref(), jpeg.as_slice());
    assert_eq!(env.sim.file("img/b.png").unwrap().as_ref(), png.as_slice());
    assert_eq!(env.sim.wire().count(calls::BEGIN_SIMPLE), 2);
    assert_eq!(env.sim.wire().count(calls::PUT_OBJECT), 2);
    assert_eq!(env.sim.wire().count(calls::CONFIRM_UPLOAD), 2);

    // Per-image results: a bad name fails alone.
    let mixed = vec![
        ImageSource::from_bytes("c.jpg", jpeg.clone()),
        ImageSource::from_bytes("..", jpeg.clone()),
    ];
    let results = marketmedia_core::upload_images(&smh, &mixed).await.unwrap();
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidInput
    );

    // A format the rules refuse: no request.
    let before = env.sim.wire().records().len();
    let text = vec![ImageSource::from_bytes("t.jpg", b"plain text".to_vec())];
    let err = marketmedia_core::upload_images(&smh, &text)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(env.sim.wire().records().len(), before);
}

#[tokio::test]
async fn confirm_of_an_incomplete_upload_is_rejected() {
    let env = env().await;
    let smh = env.uploader(env.config());
    let path = env.video("inc.mp4", 2 * MIB + 5);
    let source = prepared(&smh, &path).await;
    let plan = PartPlan::new(source.probe.size, smh.rules(), None).unwrap();
    let InitOutcome::Session(session) = smh.init(&source.info(), &plan).await.unwrap() else {
        panic!("new file")
    };
    let err = smh.commit(&session, &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("MultipartUploadIncomplete"));
    assert_eq!(err.http_status(), Some(400));
    // Cancelling twice is harmless.
    smh.cancel(&session).await.unwrap();
    smh.cancel(&session).await.unwrap();
}

/// Issue 14: after the service restarted mid-upload, COS refuses the next part 403
/// `AccessDenied` (the presigned headers are signed with a secret it no longer has). The
/// upload is not failed as `Auth`: the session is gone, so the driver opens a new one and
/// sends every part again, and the stats say so.
#[tokio::test]
async fn a_session_lost_in_a_restart_is_replaced() {
    let env = env().await;
    let smh = env.uploader(env.config());
    let path = env.video("restart.mp4", 3 * MIB + 5);
    let sim = env.sim.clone();
    let restarted = Arc::new(Mutex::new(false));
    let opts = UploadOptions {
        concurrency: 1,
        on_receipt: Some(Arc::new(move |_s: &UploadSession, done: &[PartReceipt]| {
            let mut restarted = restarted.lock().unwrap();
            if done.len() == 2 && !*restarted {
                sim.restart();
                *restarted = true;
            }
        })),
        ..driver().options().clone()
    };
    let outcome = UploadDriver::new(opts)
        .upload_file(&smh, &path)
        .await
        .unwrap();
    assert!(outcome.asset().is_some(), "{:?}", outcome.completion);
    let denied = env
        .sim
        .wire()
        .calls(calls::PUT_PART)
        .into_iter()
        .filter(|r| r.status == 403)
        .count();
    assert_eq!(denied, 1, "one part met the restarted storage");
    assert_eq!(outcome.stats.sessions_restarted, 1);
    // The 2 parts the lost session acknowledged, and the third, whose bytes went out before
    // the restarted storage refused it.
    assert_eq!(outcome.stats.bytes_resent, 3 * MIB);
    assert_eq!(
        env.sim.file("restart.mp4").unwrap().as_ref(),
        std::fs::read(&path).unwrap().as_slice()
    );
}
