//! What the cases share: early exits that carry a rule and what was seen, source files, a
//! fast driver, sessions driven by hand, and the wire checks.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use marketmedia_core::digest_request;
use marketmedia_core::raw::{
    InitOutcome, NumberingBase, Part, PartPlan, PartReceipt, SourceInfo, UploadRules, UploadSession,
};
use marketmedia_core::{
    ChunkedVideoUploader, PollPolicy, PreparedSource, RetryPolicy, SourceProbe, UploadDriver,
    UploadOptions,
};

use super::handle::{SimHandle, WirePart};
use super::Backend;
use marketmedia_sim::fixtures::{min_mp4_size, write_sample_mp4};

/// Why a case stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The case does not apply: only ever built by [`lacks`], from something the provider's
    /// rules, its simulator's declared abilities or its backend say it lacks.
    Skip(String),
    Fail {
        rule: String,
        seen: String,
    },
}

/// What a case needs that the provider declares it lacks: the only grounds for a skip.
/// Anything else that keeps a case from running (a file that cannot be written, a size the
/// suite cannot build) fails it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lack {
    /// The provider's rules (`concurrent_parts = false`, `instant_upload = false`, a maximum
    /// too small or too large for the case…).
    Rule,
    /// The simulator's declared abilities ([`SimCapabilities`](super::SimCapabilities), a
    /// `SimHandle` method answering `None`): what the platform or its simulator cannot do.
    Simulator,
    /// The backend: no factory for wrong credentials or other timeouts.
    Backend,
}

pub(crate) type Step<T = ()> = Result<T, Stop>;

pub(crate) fn fail(rule: impl Into<String>, seen: impl Into<String>) -> Stop {
    Stop::Fail {
        rule: rule.into(),
        seen: seen.into(),
    }
}

/// A skip: the case needs what `lack` says is missing (`what`, e.g. `concurrent_parts =
/// false`). The reason in the report starts with where it is declared.
pub(crate) fn lacks(lack: Lack, what: impl Into<String>) -> Stop {
    let source = match lack {
        Lack::Rule => "rules",
        Lack::Simulator => "simulator",
        Lack::Backend => "backend",
    };
    Stop::Skip(format!("{source}: {}", what.into()))
}

pub(crate) fn check(cond: bool, rule: &str, seen: impl FnOnce() -> String) -> Step {
    if cond {
        Ok(())
    } else {
        Err(fail(rule, seen()))
    }
}

/// Turns a provider error where success was expected into a failure naming the step.
pub(crate) trait StepExt<T> {
    fn step(self, what: &str) -> Step<T>;
}

impl<T> StepExt<T> for marketmedia_core::Result<T> {
    fn step(self, what: &str) -> Step<T> {
        self.map_err(|e| fail(format!("{what} succeeds"), e.to_string()))
    }
}

/// A local file the case could not prepare fails the case: it is no capability the provider
/// lacks, and a skip would hide that the case never ran.
impl<T> StepExt<T> for std::io::Result<T> {
    fn step(self, what: &str) -> Step<T> {
        self.map_err(|e| {
            fail(
                "the suite prepares its source files",
                format!("{what}: {e} ({:?})", e.kind()),
            )
        })
    }
}

/// A driver with short delays, the suite's poll deadline, and no waiting for processing.
pub(crate) fn driver(b: &Backend, concurrency: usize) -> UploadDriver {
    UploadDriver::new(UploadOptions {
        concurrency,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(20),
            multiplier: 1.5,
            max_delay: Duration::from_millis(100),
            deadline: b.config().poll_deadline,
        },
        wait_for_processing: false,
        meta: b.meta().clone(),
        ..UploadOptions::default()
    })
}

/// The part size the provider uses for small files (its preferred or exact size).
pub(crate) fn part_size(rules: &UploadRules) -> Step<u64> {
    PartPlan::new(1, rules, None)
        .map(|p| p.part_size())
        .map_err(|e| fail("a 1-byte plan exists", e.to_string()))
}

/// Source files in a temporary directory.
pub(crate) struct Sources {
    dir: tempfile::TempDir,
    duration: Duration,
    n: u32,
}

impl Sources {
    pub(crate) fn new(rules: &UploadRules) -> Step<Self> {
        let duration = match rules.video_duration {
            Some(r) => (r.min + r.max) / 2,
            None => Duration::from_secs(15),
        };
        Ok(Sources {
            dir: tempfile::tempdir().step("temporary directory")?,
            duration,
            n: 0,
        })
    }

    fn next_path(&mut self, ext: &str) -> PathBuf {
        self.n += 1;
        self.dir
            .path()
            .join(format!("conformance-{}.{ext}", self.n))
    }

    /// A sample MP4 of exactly `size` bytes, lasting a duration the rules accept.
    pub(crate) fn video(&mut self, size: u64) -> Step<PathBuf> {
        if size < min_mp4_size() {
            return Err(fail(
                "the suite builds a sample MP4 of the size the case needs",
                format!(
                    "{size} bytes is below the smallest sample MP4 ({} bytes)",
                    min_mp4_size()
                ),
            ));
        }
        let path = self.next_path("mp4");
        write_sample_mp4(&path, self.duration, size).step("sample video")?;
        salt(&path, size).step("salting the sample video")?;
        Ok(path)
    }

    /// A file holding exactly `data`.
    pub(crate) fn raw(&mut self, data: &[u8], ext: &str) -> Step<PathBuf> {
        let path = self.next_path(ext);
        std::fs::write(&path, data).step("raw file")?;
        Ok(path)
    }

    /// A sparse MP4 of `size` bytes: a real head (ftyp, moov/mvhd) and a 64-bit `mdat` whose
    /// payload is a hole, so a file far above any limit costs no disk. `Ok(Err(e))` when the
    /// file system refused it (a file-size limit, `ulimit -f`, answers "File too large
    /// (os error 27)"; a file system without sparse files needs the disk).
    pub(crate) fn sparse_video(&mut self, size: u64) -> Step<std::io::Result<PathBuf>> {
        let small = marketmedia_sim::fixtures::sample_mp4(self.duration, min_mp4_size())
            .step("sample video head")?;
        let head = &small[..small.len() - 8];
        let mdat = size
            .checked_sub(head.len() as u64)
            .filter(|n| *n >= 16)
            .ok_or_else(|| {
                fail(
                    "the suite builds a sparse MP4 of the size the case needs",
                    format!("{size} bytes is too small for a sparse MP4"),
                )
            })?;
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(b"mdat");
        bytes.extend_from_slice(&mdat.to_be_bytes());
        let path = self.raw(&bytes, "mp4")?;
        let grown = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_len(size));
        Ok(grown.map(|()| path))
    }

    /// A sample MP4 of the smallest size, probed, then declared `size` bytes long: what the
    /// driver's pre-flight sees of a file of `size` bytes, without the file.
    pub(crate) async fn declared_size(&mut self, size: u64) -> Step<PreparedSource> {
        let path = self.video(min_mp4_size())?;
        let mut probe = SourceProbe::open(&path)
            .await
            .map_err(|e| fail("the suite probes its sample video", e.to_string()))?;
        probe.size = size;
        Ok(PreparedSource::undigested(probe))
    }
}

/// Makes every sample unique (the fixtures are deterministic), so a platform with instant
/// upload never recognises a file from an earlier case: the last bytes of the `mdat` filler
/// get a process-wide counter and the time.
fn salt(path: &Path, size: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut tag = [0u8; 16];
    tag[..8].copy_from_slice(&n.to_be_bytes());
    tag[8..].copy_from_slice(&nanos.to_be_bytes());
    // Only bytes of the mdat payload are touched (the head and mdat header come first).
    let room = size.saturating_sub(min_mp4_size()).min(16) as usize;
    if room == 0 {
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.seek(SeekFrom::Start(size - room as u64))?;
    file.write_all(&tag[16 - room..])
}

/// A source ready for hand-driven uploads: its bytes, plan and what `init` sees.
pub(crate) struct Source {
    pub(crate) bytes: Bytes,
    pub(crate) plan: PartPlan,
    pub(crate) info: SourceInfo,
    pub(crate) prepared: PreparedSource,
}

impl Source {
    /// Probes, plans and digests `path` for `provider` (the pre-flight checks are skipped when
    /// `check` is false, for sources the driver would refuse, like a 1-byte file).
    pub(crate) async fn open(
        b: &Backend,
        provider: &dyn ChunkedVideoUploader,
        path: &Path,
        check: bool,
    ) -> Step<Source> {
        let rules = provider.rules();
        let mut probe = SourceProbe::open(path).await.step("probing the source")?;
        if check {
            probe.check(rules).step("the pre-flight check")?;
        } else {
            probe.format = marketmedia_core::MediaFormat::Mp4;
        }
        let plan = probe.plan(rules, None).step("planning the parts")?;
        let prepared = PreparedSource::digest(probe, &digest_request(rules, &plan))
            .await
            .step("digesting the source")?;
        let bytes = Bytes::from(std::fs::read(path).step("reading the source")?);
        let mut info = prepared.info();
        info.meta = b.meta().clone();
        Ok(Source {
            bytes,
            plan,
            info,
            prepared,
        })
    }

    /// Part `index` as the driver would hand it to the provider.
    pub(crate) fn part(&self, rules: &UploadRules, index: u32) -> Step<Part> {
        let spec = self
            .plan
            .part(index)
            .ok_or_else(|| fail("the plan has the part", format!("no part {index}")))?;
        let start = spec.offset as usize;
        let data = self.bytes.slice(start..start + spec.len as usize);
        let md5 = rules
            .digests
            .part_md5
            .then(|| marketmedia_core::raw::md5(&data));
        Ok(Part::new(index, spec.offset, data, md5))
    }
}

/// Opens a session by hand (instant upload is not expected here).
pub(crate) async fn open_session(
    provider: &dyn ChunkedVideoUploader,
    source: &Source,
) -> Step<UploadSession> {
    match provider
        .init(&source.info, &source.plan)
        .await
        .step("init")?
    {
        InitOutcome::Session(s) => Ok(s),
        InitOutcome::Done(asset) => Err(fail(
            "init opens a session for a new file",
            format!("init finished at once with asset {}", asset.id),
        )),
    }
}

/// Sends every part in order, returning the receipts.
pub(crate) async fn send_all(
    provider: &dyn ChunkedVideoUploader,
    session: &UploadSession,
    source: &Source,
) -> Step<Vec<PartReceipt>> {
    let rules = provider.rules();
    let mut receipts = Vec::new();
    for i in 0..source.plan.count() {
        let part = source.part(rules, i)?;
        receipts.push(
            provider
                .put_part(session, &part)
                .await
                .step(&format!("put_part of part {i}"))?,
        );
    }
    Ok(receipts)
}

/// Checks the parts that arrived for `session`: every planned part accepted under its wire
/// number with its exact size, and no number outside the plan. With `in_order`, the n-th
/// accepted part must be part n (a sequential upload), so a misnumbered part is named.
pub(crate) fn check_parts(
    sim: &dyn SimHandle,
    rules: &UploadRules,
    session: &UploadSession,
    plan: &PartPlan,
    in_order: bool,
) -> Step<Vec<WirePart>> {
    let field = sim.part_number_field();
    let base = rules.part_numbering;
    let rule = format!("part_numbering = {base:?}");
    let wire = sim.parts_on_wire(session);
    let accepted: Vec<&WirePart> = wire.iter().filter(|p| p.accepted).collect();
    if let Some(refused) = wire.iter().find(|p| !p.accepted) {
        return Err(fail(
            "every part is accepted",
            format!(
                "a part sent as {field}={} ({} bytes) was refused with {}",
                refused.number_as_sent,
                refused.size,
                refused.error.as_deref().unwrap_or("an error")
            ),
        ));
    }
    if in_order {
        for (i, p) in accepted.iter().enumerate() {
            let expected = base.wire(i as u32);
            if p.number() != Some(expected) {
                return Err(fail(
                    &rule,
                    format!(
                        "part {i} sent as {field}={}, expected {expected}",
                        p.number_as_sent
                    ),
                ));
            }
        }
    }
    let index_of = |p: &WirePart| -> Option<u32> {
        let n = p.number()?;
        match base {
            NumberingBase::Zero => Some(n),
            NumberingBase::One => n.checked_sub(1),
        }
        .filter(|i| *i < plan.count())
    };
    for p in &accepted {
        let Some(i) = index_of(p) else {
            return Err(fail(
                &rule,
                format!(
                    "a part was sent as {field}={}; the plan's {} parts are numbered {}..={}",
                    p.number_as_sent,
                    plan.count(),
                    base.wire(0),
                    base.wire(plan.count() - 1)
                ),
            ));
        };
        let len = plan.part(i).map(|s| s.len).unwrap_or(0);
        check(p.size == len, "exact part sizes", || {
            format!(
                "part {i} sent as {field}={} with {} bytes, expected {len} (part size {}, file {} bytes)",
                p.number_as_sent,
                p.size,
                plan.part_size(),
                plan.file_size()
            )
        })?;
    }
    for i in 0..plan.count() {
        let expected = base.wire(i);
        check(
            accepted.iter().any(|p| p.number() == Some(expected)),
            "every planned part arrives",
            || {
                let seen: Vec<&str> = accepted.iter().map(|p| p.number_as_sent.as_str()).collect();
                format!("part {i} ({field}={expected}) never arrived; {field} seen: {seen:?}")
            },
        )?;
    }
    Ok(wire)
}

/// Checks the completion request of `session` against the rules.
pub(crate) fn check_completion(
    sim: &dyn SimHandle,
    rules: &UploadRules,
    session: &UploadSession,
    plan: &PartPlan,
    wire: &[WirePart],
) -> Step<Vec<String>> {
    let mut notes = Vec::new();
    let c = sim.completion(session).ok_or_else(|| {
        fail(
            "the completion call arrives",
            "no completion request reached the simulator",
        )
    })?;
    check(c.accepted, "the completion is accepted", || {
        format!("the simulator refused the completion {:?}", c.fields)
    })?;
    match (rules.commit_numbering, &c.part_numbers) {
        (Some(base), Some(listed)) => {
            let expected: Vec<u32> = (0..plan.count()).map(|i| base.wire(i)).collect();
            check(
                *listed == expected,
                &format!("commit_numbering = {base:?}, every part listed in order"),
                || format!("the completion listed {listed:?}, expected {expected:?}"),
            )?;
            notes.push(format!("listed {listed:?}"));
        }
        (Some(base), None) => {
            return Err(fail(
                format!("commit_numbering = {base:?}"),
                "the completion lists no parts",
            ))
        }
        (None, Some(listed)) => {
            return Err(fail(
                "commit_numbering = None (a bare completion)",
                format!("the completion listed parts {listed:?}"),
            ))
        }
        (None, None) => notes.push("bare completion".into()),
    }
    if let (Some(base), Some(tags)) = (rules.commit_numbering, &c.etags) {
        for (i, tag) in tags.iter().enumerate() {
            let number = rules.part_numbering.wire(i as u32);
            let answered: Vec<&str> = wire
                .iter()
                .filter(|p| p.accepted && p.number() == Some(number))
                .filter_map(|p| p.etag.as_deref())
                .collect();
            check(
                answered.iter().any(|a| a == tag),
                "the completion carries each part's tag as the platform answered it",
                || {
                    format!(
                        "part {i} listed as partNumber {} with tag {tag}, the platform answered {answered:?}",
                        base.wire(i as u32)
                    )
                },
            )?;
        }
        notes.push(format!("{} tags match", tags.len()));
    }
    for field in sim.capabilities().completion_fields {
        check(
            c.fields.get(&field).is_some_and(|v| !v.is_empty()),
            &format!("the completion carries `{field}`"),
            || format!("fields sent: {:?}", c.fields.keys().collect::<Vec<_>>()),
        )?;
    }
    Ok(notes)
}

/// Checks that the simulator assembled exactly `source`.
pub(crate) fn check_assembled(sim: &dyn SimHandle, asset_id: &str, source: &[u8]) -> Step {
    let got = sim.assembled(asset_id).ok_or_else(|| {
        fail(
            "the finished upload is stored",
            format!("the simulator holds no file for {asset_id}"),
        )
    })?;
    if got.as_ref() == source {
        return Ok(());
    }
    let first = got
        .iter()
        .zip(source)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(source.len()));
    Err(fail(
        "assembled bytes equal the source",
        format!(
            "{} bytes assembled for a {}-byte source; first difference at byte {first}",
            got.len(),
            source.len()
        ),
    ))
}
