//! The cases. Each takes a [`Backend`] and returns a [`CaseOutcome`]; each decides from the
//! provider's declared [`UploadRules`](marketmedia_core::raw::UploadRules) (and the simulator's
//! [`SimCapabilities`](super::SimCapabilities)) whether it applies, never from a name.

use std::time::{Duration, Instant};

use marketmedia_core::raw::{CommitOutcome, PartPlan, PartReceipt, PartSizeRule};
use marketmedia_core::{
    ChunkedVideoUploader, Completion, ErrorKind, ProcessingStatus, UploadOutcome,
};

use super::report::CaseOutcome;
use super::support::{
    check, check_assembled, check_completion, check_parts, driver, fail, lacks, open_session,
    part_size, send_all, Lack, Source, Sources, Step, StepExt,
};
use super::{Backend, Credentials};

mod faults;
pub use faults::{
    lost_commit_answer, parts_overlap_on_the_wire, retry_after_is_waited,
    session_expiring_mid_upload, stalled_part_answer, uploads_under_faults,
    uploads_under_faults_on_every_call,
};

pub(super) fn finish(result: Step<Vec<String>>) -> CaseOutcome {
    match result {
        Ok(notes) => CaseOutcome::Passed { notes },
        Err(super::support::Stop::Skip(reason)) => CaseOutcome::Skipped { reason },
        Err(super::support::Stop::Fail { rule, seen }) => CaseOutcome::Failed { rule, seen },
    }
}

pub(super) fn provider(b: &Backend) -> Step<Box<dyn ChunkedVideoUploader>> {
    b.provider(Credentials::Valid)
        .map_err(|e| fail("the provider can be built", e.to_string()))
}

pub(super) fn id_of(c: &Completion) -> &str {
    match c {
        Completion::Ready(a) => &a.id,
        Completion::Processing(h) => &h.id,
        Completion::CommittedIdUnknown { upload_id } => upload_id,
    }
}

fn commit_id(c: &CommitOutcome) -> &str {
    match c {
        CommitOutcome::Ready(a) => &a.id,
        CommitOutcome::Processing(h) => &h.id,
    }
}

/// Uploads `path` with the driver, then checks parts, completion and assembled bytes.
async fn upload_and_check(
    b: &Backend,
    p: &dyn ChunkedVideoUploader,
    path: &std::path::Path,
    concurrency: usize,
) -> Step<(UploadOutcome, Vec<String>)> {
    let rules = p.rules();
    let sim = b.sim();
    let out = driver(b, concurrency)
        .upload_file(p, path)
        .await
        .step("the upload")?;
    let session = out.session.clone().ok_or_else(|| {
        fail(
            "a new file is uploaded in parts",
            "the upload finished without a session (instant upload?)",
        )
    })?;
    let plan = session.plan;
    let wire = check_parts(sim, rules, &session, &plan, concurrency == 1)?;
    let mut notes = check_completion(sim, rules, &session, &plan, &wire)?;
    let source = std::fs::read(path).step("reading the source back")?;
    check_assembled(sim, id_of(&out.completion), &source)?;
    notes.insert(0, format!("{} parts", plan.count()));
    Ok((out, notes))
}

/// Files of cs−1, cs, cs+1 and 2cs+1 bytes (cs = the part size) upload whole: every part on
/// the wire with its exact size, the completion right, the assembled bytes equal.
pub async fn size_boundaries(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let mut sources = Sources::new(rules)?;
            let mut notes = Vec::new();
            let mut skipped = Vec::new();
            for (label, size) in [
                ("cs-1", cs - 1),
                ("cs", cs),
                ("cs+1", cs + 1),
                ("2cs+1", 2 * cs + 1),
            ] {
                if size
                    < rules
                        .min_file_bytes
                        .max(marketmedia_sim::fixtures::min_mp4_size())
                    || size > rules.max_file_bytes
                {
                    skipped.push(format!("{label} outside the accepted sizes"));
                    continue;
                }
                let path = sources.video(size)?;
                let (_, n) = upload_and_check(b, p.as_ref(), &path, b.config().concurrency)
                    .await
                    .map_err(|e| annotate(e, &format!("{label} = {size} bytes")))?;
                notes.push(format!("{label}={size}: {}", n[0]));
            }
            notes.extend(skipped);
            Ok(notes)
        }
        .await,
    )
}

pub(super) fn annotate(stop: super::support::Stop, context: &str) -> super::support::Stop {
    match stop {
        super::support::Stop::Fail { rule, seen } => super::support::Stop::Fail {
            rule,
            seen: format!("{context}: {seen}"),
        },
        other => other,
    }
}

/// A 1-byte file, where the rules allow one (no duration rule, minimum ≤ 1 byte), driven
/// through the trait (no container to sniff): one part, assembled equal.
pub async fn one_byte(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            if rules.min_file_bytes > 1 {
                return Err(lacks(
                    Lack::Rule,
                    format!("min_file_bytes = {}", rules.min_file_bytes),
                ));
            }
            if rules.video_duration.is_some() {
                return Err(lacks(
                    Lack::Rule,
                    "video_duration is set: a 1-byte file is no video of an accepted duration",
                ));
            }
            let mut sources = Sources::new(rules)?;
            let path = sources.raw(b"x", "mp4")?;
            let source = Source::open(b, p.as_ref(), &path, false).await?;
            let session = open_session(p.as_ref(), &source).await?;
            let receipts = send_all(p.as_ref(), &session, &source).await?;
            let done = p.commit(&session, &receipts).await.step("commit")?;
            let wire = check_parts(b.sim(), rules, &session, &source.plan, true)?;
            check_completion(b.sim(), rules, &session, &source.plan, &wire)?;
            check_assembled(b.sim(), commit_id(&done), &source.bytes)?;
            Ok(vec!["1 byte, 1 part".into()])
        }
        .await,
    )
}

/// Parts sent one at a time carry the wire numbers the rules declare (`part_numbering`), in
/// order, each with its exact size.
pub async fn part_numbering(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let size = 2 * cs + 1;
            if size > rules.max_file_bytes {
                return Err(lacks(
                    Lack::Rule,
                    format!("2cs+1 = {size} bytes is over max_file_bytes"),
                ));
            }
            let mut sources = Sources::new(rules)?;
            let path = sources.video(size)?;
            let (out, _) = upload_and_check(b, p.as_ref(), &path, 1).await?;
            let session = out.session.ok_or_else(|| fail("a session", "none"))?;
            let numbers: Vec<String> = b
                .sim()
                .parts_on_wire(&session)
                .into_iter()
                .map(|w| w.number_as_sent)
                .collect();
            Ok(vec![format!(
                "{} = {numbers:?} ({:?})",
                b.sim().part_number_field(),
                rules.part_numbering
            )])
        }
        .await,
    )
}

/// The completion request lists what the platform needs: every part in order under
/// `commit_numbering` with the tags the platform answered, or nothing for a bare completion,
/// plus the platform's required fields.
pub async fn completion_payload(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let size = (2 * cs + 1).min(rules.max_file_bytes);
            let mut sources = Sources::new(rules)?;
            let path = sources.video(size)?;
            let (out, mut notes) =
                upload_and_check(b, p.as_ref(), &path, b.config().concurrency).await?;
            let session = out.session.ok_or_else(|| fail("a session", "none"))?;
            if let Some(c) = b.sim().completion(&session) {
                let fields: Vec<&String> = c.fields.keys().collect();
                notes.push(format!("fields {fields:?}"));
            }
            Ok(notes)
        }
        .await,
    )
}

/// A file of exactly the maximum size uploads (once); skipped when the maximum is above the
/// suite's byte budget.
pub async fn maximum_size(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            let max = rules.max_file_bytes;
            if max > b.config().max_upload_bytes {
                return Err(lacks(
                    Lack::Rule,
                    format!(
                        "max_file_bytes = {max} is above the suite's budget of {} bytes",
                        b.config().max_upload_bytes
                    ),
                ));
            }
            let mut sources = Sources::new(rules)?;
            let path = sources.video(max)?;
            let (_, notes) = upload_and_check(b, p.as_ref(), &path, b.config().concurrency).await?;
            Ok(vec![format!("{max} bytes in {}", notes[0])])
        }
        .await,
    )
}

/// A file one byte over the maximum is refused as `InvalidInput` before any request.
pub async fn over_maximum_refused(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            let size = rules
                .max_file_bytes
                .checked_add(1)
                .ok_or_else(|| lacks(Lack::Rule, "max_file_bytes is u64::MAX"))?;
            let mut sources = Sources::new(rules)?;
            // A sparse file where the file system allows one; else the same file as the
            // driver's pre-flight sees it, its size declared (never a skip: the refusal of a
            // file over the maximum is checked on every machine).
            let (result, before, how) = match sources.sparse_video(size)? {
                Ok(path) => {
                    let before = b.sim().request_count();
                    let r = driver(b, 1).upload_file(p.as_ref(), &path).await;
                    (r, before, "a sparse file".to_owned())
                }
                Err(e) => {
                    let source = sources.declared_size(size).await?;
                    let before = b.sim().request_count();
                    let r = driver(b, 1).upload_prepared(p.as_ref(), &source).await;
                    (
                        r,
                        before,
                        format!("its size declared (no sparse file here: {e})"),
                    )
                }
            };
            let after = b.sim().request_count();
            let rule = "max_file_bytes + 1 is refused before any request";
            match result {
                Ok(_) => return Err(fail(rule, format!("a {size}-byte file was uploaded"))),
                Err(e) => check(e.kind() == ErrorKind::InvalidInput, rule, || {
                    format!("refused as {:?}: {e}", e.kind())
                })?,
            }
            check(after == before, rule, || {
                format!("{} requests reached the simulator", after - before)
            })?;
            Ok(vec![format!("{size} bytes refused, no request ({how})")])
        }
        .await,
    )
}

/// Parts sent out of order and concurrently (last first, all at once) assemble into the
/// source, where the rules allow concurrent parts.
pub async fn out_of_order_concurrent(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            if !rules.concurrent_parts {
                return Err(lacks(Lack::Rule, "concurrent_parts = false"));
            }
            let cs = part_size(rules)?;
            let size = (3 * cs + 7).min(rules.max_file_bytes);
            let mut sources = Sources::new(rules)?;
            let path = sources.video(size)?;
            let source = Source::open(b, p.as_ref(), &path, true).await?;
            let session = open_session(p.as_ref(), &source).await?;
            let mut parts = Vec::new();
            for i in (0..source.plan.count()).rev() {
                parts.push(source.part(rules, i)?);
            }
            let sends = parts.iter().map(|part| p.put_part(&session, part));
            let results = futures::future::join_all(sends).await;
            let mut receipts: Vec<PartReceipt> = Vec::new();
            for r in results {
                receipts.push(r.step("put_part (concurrent, reversed)")?);
            }
            receipts.sort_by_key(|r| r.index);
            let done = p.commit(&session, &receipts).await.step("commit")?;
            let wire = check_parts(b.sim(), rules, &session, &source.plan, false)?;
            check_completion(b.sim(), rules, &session, &source.plan, &wire)?;
            check_assembled(b.sim(), commit_id(&done), &source.bytes)?;
            let order: Vec<String> = wire.iter().map(|w| w.number_as_sent.clone()).collect();
            Ok(vec![format!(
                "{} parts sent at once, arrival order {order:?}",
                source.plan.count()
            )])
        }
        .await,
    )
}

/// A part sent twice (a retry after a lost response) is harmless: the commit succeeds and the
/// assembled bytes equal the source.
pub async fn part_sent_twice(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let size = (2 * cs + 1).min(rules.max_file_bytes);
            let mut sources = Sources::new(rules)?;
            let path = sources.video(size)?;
            let source = Source::open(b, p.as_ref(), &path, true).await?;
            let session = open_session(p.as_ref(), &source).await?;
            let first = source.part(rules, 0)?;
            p.put_part(&session, &first)
                .await
                .step("put_part of part 0")?;
            // The answer was "lost": the driver sends the part again.
            let mut receipts = vec![p
                .put_part(&session, &first)
                .await
                .step("put_part of part 0, sent again")?];
            for i in 1..source.plan.count() {
                let part = source.part(rules, i)?;
                receipts.push(p.put_part(&session, &part).await.step("put_part")?);
            }
            let done = p
                .commit(&session, &receipts)
                .await
                .step("commit after a part was sent twice")?;
            let wire = check_parts(b.sim(), rules, &session, &source.plan, false)?;
            let number = rules.part_numbering.wire(0);
            let sends = wire
                .iter()
                .filter(|w| w.accepted && w.number() == Some(number))
                .count();
            check(sends == 2, "the part was sent twice", || {
                format!("the simulator saw part 0 accepted {sends} times")
            })?;
            check_assembled(b.sim(), commit_id(&done), &source.bytes)?;
            Ok(vec![format!("part 0 accepted {sends} times")])
        }
        .await,
    )
}

fn typed_refusal(kinds: &[ErrorKind], e: &marketmedia_core::Error) -> bool {
    kinds.contains(&e.kind())
}

fn describe(e: &marketmedia_core::Error) -> String {
    format!("{:?} (code {}): {e}", e.kind(), e.code().unwrap_or("none"))
}

/// Committing twice is tolerated or refused as `Conflict` ("already completed"), and leaves
/// the upload intact.
pub async fn commit_twice(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            let size = part_size(rules)?
                .saturating_add(1)
                .min(rules.max_file_bytes);
            let mut sources = Sources::new(rules)?;
            let path = sources.video(size)?;
            let source = Source::open(b, p.as_ref(), &path, true).await?;
            let session = open_session(p.as_ref(), &source).await?;
            let receipts = send_all(p.as_ref(), &session, &source).await?;
            let done = p.commit(&session, &receipts).await.step("commit")?;
            let again = p.commit(&session, &receipts).await;
            let note = match &again {
                Ok(_) => "second commit tolerated".to_owned(),
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    format!("second commit refused: {}", describe(e))
                }
                Err(e) => {
                    return Err(fail(
                        "commit twice is tolerated or a typed Conflict (already completed)",
                        describe(e),
                    ))
                }
            };
            check_assembled(b.sim(), commit_id(&done), &source.bytes)?;
            Ok(vec![note])
        }
        .await,
    )
}

/// After a cancel, a part is refused with a typed, non-retryable error.
pub async fn put_part_after_cancel(b: &Backend) -> CaseOutcome {
    finish(
        async {
            if !b.sim().capabilities().cancel_upload {
                return Err(lacks(
                    Lack::Simulator,
                    "the platform has no call to abandon an upload",
                ));
            }
            let p = provider(b)?;
            let rules = p.rules();
            let size = part_size(rules)?
                .saturating_add(1)
                .min(rules.max_file_bytes);
            let mut sources = Sources::new(rules)?;
            let path = sources.video(size)?;
            let source = Source::open(b, p.as_ref(), &path, true).await?;
            let session = open_session(p.as_ref(), &source).await?;
            p.put_part(&session, &source.part(rules, 0)?)
                .await
                .step("put_part before cancel")?;
            p.cancel(&session).await.step("cancel")?;
            let last = source.plan.count() - 1;
            let rule = "put_part after cancel is a typed, non-retryable error";
            match p.put_part(&session, &source.part(rules, last)?).await {
                Ok(_) => Err(fail(rule, "the part was accepted after the cancel")),
                Err(e)
                    if typed_refusal(
                        &[
                            ErrorKind::NotFound,
                            ErrorKind::Cancelled,
                            ErrorKind::Conflict,
                            ErrorKind::Rejected,
                            ErrorKind::Expired,
                        ],
                        &e,
                    ) =>
                {
                    Ok(vec![describe(&e)])
                }
                Err(e) => Err(fail(rule, describe(&e))),
            }
        }
        .await,
    )
}

/// Cancelling a committed upload returns the platform's answer as a typed error (e.g.
/// `Conflict` "already completed") and leaves the upload intact.
pub async fn cancel_after_commit(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            let size = part_size(rules)?.saturating_add(1).min(rules.max_file_bytes);
            let mut sources = Sources::new(rules)?;
            let path = sources.video(size)?;
            let source = Source::open(b, p.as_ref(), &path, true).await?;
            let session = open_session(p.as_ref(), &source).await?;
            let receipts = send_all(p.as_ref(), &session, &source).await?;
            let done = p.commit(&session, &receipts).await.step("commit")?;
            let rule = "cancel after commit is the platform's answer as a typed error";
            let note = match p.cancel(&session).await {
                Ok(()) => {
                    return Err(fail(
                        rule,
                        "cancel after commit returned Ok (nothing tells the caller the upload was already complete)",
                    ))
                }
                Err(e)
                    if typed_refusal(
                        &[ErrorKind::Conflict, ErrorKind::Rejected, ErrorKind::NotFound],
                        &e,
                    ) && e.code().is_some() =>
                {
                    describe(&e)
                }
                Err(e) => return Err(fail(rule, describe(&e))),
            };
            check_assembled(b.sim(), commit_id(&done), &source.bytes)?;
            Ok(vec![note])
        }
        .await,
    )
}

/// Where commit starts processing, polling goes through the platform's stages to a ready
/// asset.
pub async fn processing_ready(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            if !rules.async_processing {
                return Err(lacks(
                    Lack::Rule,
                    "async_processing = false (ready at commit)",
                ));
            }
            let cs = part_size(rules)?;
            let mut sources = Sources::new(rules)?;
            let path = sources.video((cs + 1).min(rules.max_file_bytes))?;
            let out = driver(b, b.config().concurrency)
                .upload_file(p.as_ref(), &path)
                .await
                .step("the upload")?;
            let handle = match out.completion {
                Completion::Processing(h) => h,
                Completion::Ready(a) => {
                    return Ok(vec![format!("ready at commit ({})", a.id)]);
                }
                Completion::CommittedIdUnknown { upload_id } => {
                    return Err(fail(
                        "the upload ends ready or processing",
                        format!("committed as {upload_id} with the asset id unknown"),
                    ));
                }
            };
            b.sim().processing_started(&handle.id);
            let deadline = Instant::now() + b.config().poll_deadline;
            let mut stages: Vec<String> = Vec::new();
            loop {
                match p.poll(&handle).await.step("poll")? {
                    ProcessingStatus::Pending { stage } => {
                        if stages.last() != Some(&stage) {
                            stages.push(stage);
                        }
                    }
                    ProcessingStatus::Ready(asset) => {
                        check(!asset.id.is_empty(), "a ready asset has an id", || {
                            format!("{asset:?}")
                        })?;
                        stages.push("ready".into());
                        return Ok(vec![format!("stages {stages:?}")]);
                    }
                    ProcessingStatus::Failed { state, reason } => {
                        return Err(fail(
                            "processing of a valid video ends ready",
                            format!("{state}: {reason} after {stages:?}"),
                        ))
                    }
                }
                if Instant::now() > deadline {
                    return Err(fail(
                        "processing ends within the poll deadline",
                        format!("still {stages:?}"),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        .await,
    )
}

/// When processing fails, the driver's wait ends in `Rejected` carrying the platform's state
/// as the code and its reason in the message.
pub async fn processing_failed(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            if !rules.async_processing {
                return Err(lacks(
                    Lack::Rule,
                    "async_processing = false (nothing to poll)",
                ));
            }
            let reason = "conformance: the video was refused";
            let Some(expected) = b.sim().set_processing_failure(Some(reason)) else {
                return Err(lacks(
                    Lack::Simulator,
                    "the simulator cannot make processing fail",
                ));
            };
            let result = async {
                let cs = part_size(rules)?;
                let mut sources = Sources::new(rules)?;
                let path = sources.video((cs + 1).min(rules.max_file_bytes))?;
                let d = driver(b, b.config().concurrency);
                let out = d.upload_file(p.as_ref(), &path).await.step("the upload")?;
                let Completion::Processing(handle) = out.completion else {
                    return Err(fail(
                        "async_processing = true: commit returns a processing handle",
                        "the asset was ready at commit",
                    ));
                };
                b.sim().processing_started(&handle.id);
                Ok(d.wait_ready(p.as_ref(), &handle).await)
            }
            .await;
            b.sim().set_processing_failure(None);
            let rule = "a failed processing is Rejected with the platform's state and reason";
            match result? {
                Ok(c) => Err(fail(rule, format!("processing ended {c:?}"))),
                Err(e) => {
                    check(e.kind() == ErrorKind::Rejected, rule, || describe(&e))?;
                    if let Some(state) = &expected.state {
                        check(e.code() == Some(state.as_str()), rule, || {
                            format!("expected code {state}, got {}", describe(&e))
                        })?;
                    }
                    if let Some(reason) = &expected.reason {
                        check(e.to_string().contains(reason.as_str()), rule, || {
                            format!("expected the reason {reason:?} in {e}")
                        })?;
                    }
                    Ok(vec![describe(&e)])
                }
            }
        }
        .await,
    )
}

/// Wrong credentials end as `Auth` and no part byte reaches the platform.
pub async fn wrong_credentials(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = match b.provider(Credentials::Wrong) {
                Ok(p) => p,
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    return Err(lacks(
                        Lack::Backend,
                        "the factory builds no provider with wrong credentials",
                    ))
                }
                Err(e) => return Err(fail("the provider can be built", e.to_string())),
            };
            let rules = p.rules();
            let cs = part_size(rules)?;
            let mut sources = Sources::new(rules)?;
            let path = sources.video((cs + 1).min(rules.max_file_bytes))?;
            let before = b.sim().part_bytes_received();
            let rule = "wrong credentials are an Auth error";
            let note = match driver(b, 1).upload_file(p.as_ref(), &path).await {
                Ok(_) => return Err(fail(rule, "the upload succeeded")),
                Err(e) if e.kind() == ErrorKind::Auth => describe(&e),
                Err(e) => return Err(fail(rule, describe(&e))),
            };
            let sent = b.sim().part_bytes_received() - before;
            check(
                sent == 0,
                "no part is sent with refused credentials",
                || format!("{sent} part bytes arrived"),
            )?;
            Ok(vec![note])
        }
        .await,
    )
}

/// The platform's refusals the simulator can be made to answer, each mapped to its kind: a
/// part number past the end, a wrong-sized part (exact part sizes), a commit missing a part,
/// a file over the maximum at init (pre-flight bypassed; where `max + 1` bytes need more than
/// `max_parts` parts, the rules' own refusal of its plan too), and rate limiting.
pub async fn error_codes(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules().clone();
            let cs = part_size(&rules)?;
            let size = (2 * cs + 1).min(rules.max_file_bytes);
            let mut sources = Sources::new(&rules)?;
            let path = sources.video(size)?;
            let source = Source::open(b, p.as_ref(), &path, true).await?;
            let sim = b.sim();
            let mut rows = Vec::new();
            // What the platform answered to the requests since `before`: its last error code,
            // "accepted", or "no request" (refused by the provider itself).
            let last_code = |before: usize| -> String {
                let records: Vec<_> = sim.wire().records().into_iter().skip(before).collect();
                match records.iter().rev().find_map(|r| r.error.clone()) {
                    Some(code) => code,
                    None if records.is_empty() => "no request".into(),
                    None => "accepted".into(),
                }
            };
            let refusal = [
                ErrorKind::InvalidInput,
                ErrorKind::Rejected,
                ErrorKind::NotFound,
            ];
            let mut broken: Vec<(String, String)> = Vec::new();
            let mut row = |name: &str,
                           result: marketmedia_core::Result<()>,
                           kinds: &[ErrorKind],
                           before: usize| {
                let wire_code = last_code(before);
                match result {
                    Ok(()) => broken.push((
                        format!("{name} is refused"),
                        format!("it succeeded (platform: {wire_code})"),
                    )),
                    Err(e) if kinds.contains(&e.kind()) => {
                        rows.push(format!("{name}: {wire_code} -> {:?}", e.kind()))
                    }
                    Err(e) => broken.push((
                        format!("{name} maps to one of {kinds:?}"),
                        format!("platform {wire_code}, got {}", describe(&e)),
                    )),
                }
            };

            // A part number past the end of the plan.
            let session = open_session(p.as_ref(), &source).await?;
            let count = source.plan.count();
            let mut past = source.part(&rules, count - 1)?;
            past.index = count;
            let before = sim.request_count();
            let r = p.put_part(&session, &past).await.map(|_| ());
            row("part past the end", r, &refusal, before);

            // A non-last part of the wrong size, where sizes are exact.
            if let (PartSizeRule::Exact(_), true) = (rules.part_size, count > 1) {
                let good = source.part(&rules, 0)?;
                let bytes = good
                    .read_all()
                    .await
                    .map_err(|e| fail("the suite's part can be read", e.to_string()))?;
                let short = bytes.slice(..bytes.len().saturating_sub(1));
                let md5 = rules
                    .digests
                    .part_md5
                    .then(|| marketmedia_core::raw::md5(&short));
                let bad = marketmedia_core::raw::Part::new(0, 0, short, md5);
                let before = sim.request_count();
                let r = p.put_part(&session, &bad).await.map(|_| ());
                row(
                    "short non-last part",
                    r,
                    &[ErrorKind::InvalidInput, ErrorKind::Rejected],
                    before,
                );
            }

            // A commit with the last part missing.
            if count > 1 {
                let mut receipts = Vec::new();
                for i in 0..count - 1 {
                    let part = source.part(&rules, i)?;
                    receipts.push(p.put_part(&session, &part).await.step("put_part")?);
                }
                let before = sim.request_count();
                let r = p.commit(&session, &receipts).await.map(|_| ());
                row("commit missing a part", r, &refusal, before);
            }
            let _ = p.cancel(&session).await;

            // A file over the maximum announced at init (the pre-flight bypassed). Its plan
            // under the rules must be made when `max + 1` bytes fit in `max_parts` parts of
            // the largest size; when they do not, the rules must refuse it (a row of its own,
            // no request), and the platform is asked with a plan of as many parts as needed.
            if let Some(over) = rules.max_file_bytes.checked_add(1) {
                let mut info = source.info.clone();
                info.size = over;
                let largest = match rules.part_size {
                    PartSizeRule::Exact(size) => size,
                    PartSizeRule::Range { max, .. } => max,
                }
                .max(1);
                let needed = over.div_ceil(largest);
                let planned = PartPlan::new(over, &rules, None);
                let plan = if needed <= u64::from(rules.max_parts.max(1)) {
                    planned.map_err(|e| {
                        fail(
                            format!(
                                "a plan of max + 1 = {over} bytes is made ({needed} parts of at \
                                 most {largest} bytes, max_parts {})",
                                rules.max_parts
                            ),
                            describe(&e),
                        )
                    })?
                } else {
                    let before = sim.request_count();
                    row(
                        "plan beyond max_parts",
                        planned.map(|_| ()),
                        &[ErrorKind::InvalidInput],
                        before,
                    );
                    let relaxed = marketmedia_core::raw::UploadRules {
                        max_parts: u32::try_from(needed).unwrap_or(u32::MAX),
                        ..rules.clone()
                    };
                    PartPlan::new(over, &relaxed, None).map_err(|e| {
                        fail(
                            format!("a plan of max + 1 = {over} bytes in {needed} parts is made"),
                            describe(&e),
                        )
                    })?
                };
                let before = sim.request_count();
                let r = p.init(&info, &plan).await.map(|_| ());
                row("init over the maximum", r, &refusal, before);
            }

            // Rate limiting, where the simulator can be made to answer it. Where a file goes in
            // one request (`UploadRules::one_request`), the request to limit is the part's: its
            // session is opened before the limit (its `init` may send nothing, or a request of
            // its own that the limit would refuse).
            let one_request = if rules.is_one_request() {
                Some((
                    open_session(p.as_ref(), &source).await?,
                    source.part(&rules, 0)?,
                ))
            } else {
                None
            };
            if sim.set_rate_limited(true) {
                let before = sim.request_count();
                let r = if let Some((session, part)) = &one_request {
                    p.put_part(session, part).await.map(|_| ())
                } else {
                    p.init(&source.info, &source.plan).await.map(|_| ())
                };
                sim.set_rate_limited(false);
                row("rate limited", r, &[ErrorKind::RateLimited], before);
            }
            if !broken.is_empty() {
                let (rules, seen): (Vec<String>, Vec<String>) = broken.into_iter().unzip();
                return Err(fail(rules.join("; "), seen.join("; ")));
            }
            Ok(rows)
        }
        .await,
    )
}

/// Where the provider declares instant upload, a file the platform already holds finishes at
/// init, with no part sent.
pub async fn instant_upload(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            if !rules.instant_upload {
                return Err(lacks(Lack::Rule, "instant_upload = false"));
            }
            let Some(min) = b.sim().capabilities().instant_upload_min_bytes else {
                return Err(lacks(
                    Lack::Simulator,
                    "the simulator offers no instant upload",
                ));
            };
            let size = min.max(2 << 20).min(rules.max_file_bytes);
            let mut sources = Sources::new(rules)?;
            let path = sources.video(size)?;
            let d = driver(b, b.config().concurrency);
            let first = d
                .upload_file(p.as_ref(), &path)
                .await
                .step("first upload")?;
            check(
                !first.stats.instant,
                "a new file is uploaded in parts",
                || "the first upload was instant".into(),
            )?;
            let before = b.sim().part_bytes_received();
            let again = d
                .upload_file(p.as_ref(), &path)
                .await
                .step("second upload of the same file")?;
            let sent = b.sim().part_bytes_received() - before;
            let rule = "instant_upload = true: a known file finishes at init";
            check(again.stats.instant && again.asset().is_some(), rule, || {
                format!("stats {:?}", again.stats)
            })?;
            check(sent == 0, rule, || format!("{sent} part bytes were sent"))?;
            Ok(vec![format!("{size} bytes, second upload instant")])
        }
        .await,
    )
}

/// Resuming a session sends only the parts not already acknowledged.
pub async fn resume_skips_known_parts(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let size = (2 * cs + 1).min(rules.max_file_bytes);
            let mut sources = Sources::new(rules)?;
            let path = sources.video(size)?;
            let source = Source::open(b, p.as_ref(), &path, true).await?;
            if source.plan.count() < 2 {
                return Err(lacks(Lack::Rule, "max_file_bytes: the file fits one part"));
            }
            let session = open_session(p.as_ref(), &source).await?;
            let r0 = p
                .put_part(&session, &source.part(rules, 0)?)
                .await
                .step("put_part of part 0")?;
            let out = driver(b, b.config().concurrency)
                .resume(p.as_ref(), &source.prepared, session.clone(), vec![r0])
                .await
                .step("resume")?;
            let wire = check_parts(b.sim(), rules, &session, &source.plan, false)?;
            let number = rules.part_numbering.wire(0);
            let sends = wire.iter().filter(|w| w.number() == Some(number)).count();
            check(
                sends == 1,
                "a resumed upload skips acknowledged parts",
                || format!("part 0 was sent {sends} times"),
            )?;
            check_assembled(b.sim(), id_of(&out.completion), &source.bytes)?;
            Ok(vec![format!(
                "{} parts skipped, {} sent",
                out.stats.parts_skipped, out.stats.parts_sent
            )])
        }
        .await,
    )
}

/// Empty files and files that are no video are refused as `InvalidInput` before any request.
pub async fn bad_input_refused(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let p = provider(b)?;
            let mut sources = Sources::new(p.rules())?;
            let cases = [
                ("empty file", sources.raw(b"", "mp4")?),
                (
                    "text file",
                    sources.raw(b"this is not a video, only text pretending", "mp4")?,
                ),
            ];
            let before = b.sim().request_count();
            for (what, path) in cases {
                match driver(b, 1).upload_file(p.as_ref(), &path).await {
                    Ok(_) => return Err(fail("bad input is refused", format!("{what} uploaded"))),
                    Err(e) => check(
                        e.kind() == ErrorKind::InvalidInput,
                        "bad input is InvalidInput",
                        || format!("{what}: {}", describe(&e)),
                    )?,
                }
            }
            let after = b.sim().request_count();
            check(after == before, "bad input sends no request", || {
                format!("{} requests arrived", after - before)
            })?;
            Ok(vec!["empty and text files refused, no request".into()])
        }
        .await,
    )
}
