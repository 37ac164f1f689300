//! The fault cases: uploads through the driver while the simulator's fault layer answers
//! 5xx, resets connections, loses answers, stalls and rate-limits, and while a session
//! expires in the middle of an upload. Each needs the simulator's
//! [`FaultTargets`](crate::suite::FaultTargets) and is skipped without them; each puts the
//! fault layer back to "no fault" when it ends, however it ends.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use marketmedia_core::raw::http::HttpTimeouts;
use marketmedia_core::raw::{PartPlan, UploadRules};
use marketmedia_core::{
    Completion, PollPolicy, RetryPolicy, UploadDriver, UploadOptions, UploadOutcome,
};

use super::{annotate, finish, id_of, provider};
use crate::suite::report::CaseOutcome;
use crate::suite::support::{
    check, check_assembled, fail, lacks, part_size, Lack, Sources, Step, StepExt,
};
use crate::suite::{Backend, FaultTargets};
use marketmedia_sim::faults::{FaultCounters, FaultHandle, FaultKind, FaultProfile};
use marketmedia_sim::WireRecord;

/// Uploads in a hostile run: enough that every fault kind of the hostile profile is met.
const HOSTILE_UPLOADS: u64 = 30;

/// Parts in flight in a hostile run.
const HOSTILE_CONCURRENCY: usize = 4;

/// How long a stalled answer hangs: longer than the whole case may take, so only the read
/// timeout can end it.
const STALL: Duration = Duration::from_secs(5);

/// The read timeout in the stall case.
const READ_IDLE: Duration = Duration::from_millis(300);

/// The stall case's upload must end before this: cut by the timeout, not by the stall's end.
const STALL_CASE_LIMIT: Duration = Duration::from_secs(4);

/// Longest wait for processing in a fault case.
const FAULT_POLL_DEADLINE: Duration = Duration::from_secs(20);

/// A driver that outlasts the hostile profile: 12 attempts with short backoff, and it waits
/// for processing (a fault case checks the ready asset).
fn fault_driver(b: &Backend, concurrency: usize) -> UploadDriver {
    UploadDriver::new(UploadOptions {
        concurrency,
        retry: RetryPolicy {
            max_attempts: 12,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
            ..RetryPolicy::default()
        },
        poll: PollPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(50),
            deadline: FAULT_POLL_DEADLINE.min(b.config().poll_deadline),
            ..PollPolicy::default()
        },
        meta: b.meta().clone(),
        ..UploadOptions::default()
    })
}

/// Clears the fault profile when dropped, so a failing case leaves no fault behind.
struct ClearOnDrop<'a>(&'a FaultHandle);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

fn targets(b: &Backend) -> Step<FaultTargets<'_>> {
    b.sim()
        .fault_targets()
        .ok_or_else(|| lacks(Lack::Simulator, "the simulator has no fault layer"))
}

/// The counters of what was injected between `before` and `now`.
fn since(now: FaultCounters, before: &FaultCounters) -> FaultCounters {
    FaultCounters {
        requests: now.requests.saturating_sub(before.requests),
        matched: now.matched.saturating_sub(before.matched),
        delayed: now.delayed.saturating_sub(before.delayed),
        paced_bytes: now.paced_bytes.saturating_sub(before.paced_bytes),
        status_500: now.status_500.saturating_sub(before.status_500),
        status_502: now.status_502.saturating_sub(before.status_502),
        status_503: now.status_503.saturating_sub(before.status_503),
        rate_limited: now.rate_limited.saturating_sub(before.rate_limited),
        resets: now.resets.saturating_sub(before.resets),
        stalls: now.stalls.saturating_sub(before.stalls),
        drips: now.drips.saturating_sub(before.drips),
        lost_responses: now.lost_responses.saturating_sub(before.lost_responses),
        etags_removed: now.etags_removed.saturating_sub(before.etags_removed),
        etags_replaced: now.etags_replaced.saturating_sub(before.etags_replaced),
    }
}

/// Requests of the wire log's `call` so far.
fn count(b: &Backend, call: &str) -> usize {
    b.sim().wire().count(call)
}

/// Checks that `out` ended with a ready asset whose assembled bytes are those of `path`.
/// The upload ended ready with the source's bytes — or, where the platform cannot name the
/// asset of a completion whose answer was lost, committed with the id unknown, and the
/// simulator holds the source's bytes as that upload's asset.
fn ready_and_intact(b: &Backend, out: &UploadOutcome, path: &Path) -> Step {
    let source = std::fs::read(path).step("reading the source back")?;
    if let Completion::CommittedIdUnknown { upload_id } = &out.completion {
        let held = b.sim().committed_upload(upload_id);
        return check(
            held.as_deref() == Some(source.as_slice()),
            "an upload committed with its id unknown is the source, committed",
            || {
                format!(
                    "upload {upload_id}: the simulator holds {:?} bytes for it",
                    held.map(|h| h.len())
                )
            },
        );
    }
    check(out.asset().is_some(), "the upload ends ready", || {
        format!("it ended {:?}", out.completion)
    })?;
    check_assembled(b.sim(), id_of(&out.completion), &source)
}

/// A file of `parts` parts (`parts − 1` whole parts and 10 bytes), at most `max_parts`.
fn parts_file(sources: &mut Sources, rules: &UploadRules, cs: u64, parts: u64) -> Step<PathBuf> {
    // A platform taking each file in one request (`max_parts = 1`) gets a file of one part,
    // half the part size: the case's faults then meet its one request.
    let parts = parts.min(u64::from(rules.max_parts.max(1)));
    let size = if parts == 1 {
        (cs / 2).max(rules.min_file_bytes)
    } else {
        (parts - 1) * cs + 10
    };
    if size > rules.max_file_bytes {
        return Err(lacks(
            Lack::Rule,
            format!("a {parts}-part file ({size} bytes) is over max_file_bytes"),
        ));
    }
    sources.video(size)
}

/// Uploads [`HOSTILE_UPLOADS`] files of 2–3 parts, every one different, with the hostile
/// profile on the requests `calls` match (all when empty): every upload ends ready with the
/// source's bytes, and every fault kind of the profile was met.
async fn hostile_uploads(b: &Backend, on_every_call: bool) -> CaseOutcome {
    finish(
        async {
            let t = targets(b)?;
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let mut sources = Sources::new(rules)?;
            let calls = if on_every_call {
                Vec::new()
            } else {
                t.all_but_commit.clone()
            };
            let before = t.faults.counters();
            let _clear = ClearOnDrop(t.faults);
            t.faults.set(FaultProfile {
                calls,
                // The 429s carry `Retry-After: 0`: the driver still reads the header and backs
                // off, without a second of wall-clock wait per burst (each run spent 12 of its
                // 14 s there). Waiting for a real Retry-After is `retry_after_is_waited`'s.
                retry_after_secs: 0,
                ..FaultProfile::hostile(t.seed)
            });
            let driver = fault_driver(b, HOSTILE_CONCURRENCY);
            let started = Instant::now();
            for i in 0..HOSTILE_UPLOADS {
                // 2–3 parts, every file different.
                let size = (2 * cs + 1000 + i * 7919 % cs).min(rules.max_file_bytes);
                let path = sources.video(size)?;
                let out = driver.upload_file(p.as_ref(), &path).await.map_err(|e| {
                    fail(
                        "every upload under faults succeeds",
                        format!("upload {i} failed: {e} ({e:?})"),
                    )
                })?;
                ready_and_intact(b, &out, &path)
                    .map_err(|e| annotate(e, &format!("upload {i}")))?;
            }
            let k = since(t.faults.counters(), &before);
            check(
                k.missing_kinds().is_empty(),
                "every fault kind of the hostile profile is injected",
                || format!("never injected: {:?} ({k:?})", k.missing_kinds()),
            )?;
            Ok(vec![format!(
                "{HOSTILE_UPLOADS} uploads in {:?}, seed {:#x}; faults {k:?}",
                started.elapsed(),
                t.seed
            )])
        }
        .await,
    )
}

/// Many uploads (2–3 parts each, concurrency 4) under 5xx answers, connection resets, lost
/// answers and 429 bursts on every call but the completion all arrive intact and ready, and
/// every one of those fault kinds was really injected.
pub async fn uploads_under_faults(b: &Backend) -> CaseOutcome {
    hostile_uploads(b, false).await
}

/// The same as [`uploads_under_faults`] with the completion call under faults too (so a lost
/// completion answer must be recovered: see [`lost_commit_answer`]).
pub async fn uploads_under_faults_on_every_call(b: &Backend) -> CaseOutcome {
    hostile_uploads(b, true).await
}

/// The completion's answer is lost once (the simulator completed the upload, the client saw
/// the connection drop): the driver's retry recovers, the upload ends ready with the source's
/// bytes, and exactly one answer was lost.
pub async fn lost_commit_answer(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let t = targets(b)?;
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let mut sources = Sources::new(rules)?;
            let path = parts_file(&mut sources, rules, cs, 3)?;
            let before = t.faults.counters();
            let _clear = ClearOnDrop(t.faults);
            t.faults
                .set(FaultProfile::scripted(&t.commit, [FaultKind::LostResponse]));
            let out = fault_driver(b, HOSTILE_CONCURRENCY)
                .upload_file(p.as_ref(), &path)
                .await
                .step("the upload after a lost completion answer")?;
            ready_and_intact(b, &out, &path)?;
            let k = since(t.faults.counters(), &before);
            check(
                k.lost_responses == 1,
                "exactly one completion answer is lost",
                || format!("{} answers lost ({k:?})", k.lost_responses),
            )?;
            Ok(vec![format!("recovered; {} retries", out.stats.retries)])
        }
        .await,
    )
}

/// A part's answer stalls (longer than the case may last); the provider's read timeout
/// (300 ms) cuts it and the driver retries once: the upload (3 parts, one at a time) ends
/// well before the stall would have, with one retry, one stall, three part requests on the
/// wire (the stalled attempt never reached the simulator) and the source's bytes.
pub async fn stalled_part_answer(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let t = targets(b)?;
            let timeouts = HttpTimeouts {
                connect: Duration::from_secs(2),
                read_idle: READ_IDLE,
            };
            let p = b
                .provider_with_timeouts(timeouts)
                .ok_or_else(|| {
                    lacks(
                        Lack::Backend,
                        "the backend builds no provider with other timeouts",
                    )
                })?
                .map_err(|e| fail("the provider can be built", e.to_string()))?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let mut sources = Sources::new(rules)?;
            let path = parts_file(&mut sources, rules, cs, 3)?;
            let planned = PartPlan::new(
                std::fs::metadata(&path).step("the source's size")?.len(),
                rules,
                None,
            )
            .map_err(|e| fail("the source can be planned", e.to_string()))?
            .count();
            let before = t.faults.counters();
            let parts_before = count(b, &t.part_call);
            let _clear = ClearOnDrop(t.faults);
            t.faults.set(FaultProfile {
                stall_ms: u64::try_from(STALL.as_millis()).unwrap_or(u64::MAX),
                ..FaultProfile::scripted(&t.parts, [FaultKind::Stall])
            });
            let started = Instant::now();
            let out = fault_driver(b, 1)
                .upload_file(p.as_ref(), &path)
                .await
                .step("the upload with a stalled part answer")?;
            let elapsed = started.elapsed();
            check(
                elapsed < STALL_CASE_LIMIT,
                "a stalled answer is cut by the read timeout, not by the stall's end",
                || format!("the upload took {elapsed:?}"),
            )?;
            check(
                out.stats.retries == 1,
                "the stalled part is retried once",
                || format!("{} retries", out.stats.retries),
            )?;
            let k = since(t.faults.counters(), &before);
            check(k.stalls == 1, "one answer is stalled", || {
                format!("{} stalls ({k:?})", k.stalls)
            })?;
            let sent = count(b, &t.part_call) - parts_before;
            check(
                planned == 3.min(rules.max_parts) && sent == planned as usize,
                "every planned part (3, or the one of a one-request platform) on the wire once; \
                 the stalled attempt never reached the simulator",
                || format!("{sent} part requests for {planned} planned parts"),
            )?;
            ready_and_intact(b, &out, &path)?;
            Ok(vec![format!("cut and retried in {elapsed:?}")])
        }
        .await,
    )
}

/// The upload session expires right after the first part (the simulator's clock moves past
/// its lifetime), and the simulator's wire log shows what followed. Exactly one part meets
/// the expiry and is refused (with the platform's status or code for it). Where sessions are
/// renewable (`renewable_sessions = true`), the provider renews and the upload goes on: at
/// least one renewal, no second init. Where they are not, the only way on is a new session
/// and every part again: the refused part belonged to a session the simulator holds as
/// expired, a second init went out, and the upload ended on the new session. Either way the
/// upload (4 parts, one at a time) ends ready with the source's bytes.
pub async fn session_expiring_mid_upload(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let t = targets(b)?;
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let mut sources = Sources::new(rules)?;
            let path = parts_file(&mut sources, rules, cs, 4)?;
            let parts_before = count(b, &t.part_call);
            let _clear = ClearOnDrop(t.faults);
            let expiry = b
                .sim()
                .expire_session_after_parts(1)
                .ok_or_else(|| lacks(Lack::Simulator, "the simulator cannot expire a session"))?;
            let renewals_before = expiry.renew_call.as_deref().map(|c| count(b, c));
            let inits_before = expiry.init_call.as_deref().map(|c| count(b, c));
            let out = fault_driver(b, 1)
                .upload_file(p.as_ref(), &path)
                .await
                .step("the upload with a session expiring after its first part")?;
            ready_and_intact(b, &out, &path)?;
            let parts: Vec<WireRecord> = b
                .sim()
                .wire()
                .calls(&t.part_call)
                .into_iter()
                .skip(parts_before)
                .collect();
            let refused: Vec<&WireRecord> = parts.iter().filter(|r| r.error.is_some()).collect();
            let [refused] = refused.as_slice() else {
                return Err(fail(
                    "one part meets the expiry and is refused",
                    format!(
                        "{} of {} part requests refused: {:?}",
                        refused.len(),
                        parts.len(),
                        refused
                            .iter()
                            .map(|r| (r.status, &r.error))
                            .collect::<Vec<_>>()
                    ),
                ));
            };
            if let Some(status) = expiry.refused_part_status {
                check(
                    refused.status == status,
                    "the part meeting the expiry is refused with the platform's status",
                    || format!("refused with {}, expected {status}", refused.status),
                )?;
            }
            if let Some(code) = &expiry.refused_part_code {
                check(
                    refused.error.as_deref() == Some(code.as_str()),
                    "the part meeting the expiry is refused with the platform's code",
                    || format!("refused with {:?}, expected {code}", refused.error),
                )?;
            }
            let inits = match (expiry.init_call.as_deref(), inits_before) {
                (Some(call), Some(before)) => Some((call, count(b, call) - before)),
                _ => None,
            };
            let mut notes = Vec::new();
            if rules.renewable_sessions {
                let (Some(call), Some(before)) = (expiry.renew_call.as_deref(), renewals_before)
                else {
                    return Err(fail(
                        "renewable_sessions = true: the simulator names its renewal call",
                        "no renewal call named",
                    ));
                };
                let renewed = count(b, call) - before;
                check(
                    renewed >= 1,
                    "renewable_sessions = true: an expired session is renewed",
                    || format!("{renewed} `{call}` requests"),
                )?;
                if let Some((init, n)) = inits {
                    check(
                        n == 1,
                        "renewable_sessions = true: the session is renewed, not replaced",
                        || format!("{n} `{init}` requests"),
                    )?;
                }
                notes.push(format!(
                    "part refused {} {:?}, renewed {renewed} time(s)",
                    refused.status, refused.error
                ));
            } else {
                let (Some((init, n)), Some(param)) = (inits, expiry.session_param.as_deref())
                else {
                    return Err(lacks(
                        Lack::Simulator,
                        "its adapter names no init call and parts' session parameter, so a \
                         replaced session cannot be told from the wire log",
                    ));
                };
                check(
                    n == 2,
                    "renewable_sessions = false: an expired session is replaced by a second init",
                    || format!("{n} `{init}` requests"),
                )?;
                let expired = refused.param(param).unwrap_or_default().to_owned();
                let last = out
                    .session
                    .as_ref()
                    .map(|s| s.upload_id.clone())
                    .unwrap_or_default();
                check(
                    !expired.is_empty() && expired != last,
                    "the upload ends on a new session, not the expired one",
                    || {
                        format!(
                            "the refused part's {param}={expired:?}, the upload ended on {last:?}"
                        )
                    },
                )?;
                let on_expired = parts
                    .iter()
                    .filter(|r| r.param(param) == Some(expired.as_str()))
                    .count();
                check(
                    on_expired == 2,
                    "the expired session took its first part and refused the next",
                    || format!("{on_expired} part requests for {param}={expired}"),
                )?;
                match b.sim().session_expired(&expired) {
                    Some(true) => {}
                    other => {
                        return Err(fail(
                            "the refused part's session expired on the simulator's clock",
                            format!("the simulator says {other:?} for {param}={expired}"),
                        ))
                    }
                }
                notes.push(format!(
                    "session expired, part refused {:?}, second `{init}`; {} parts sent",
                    refused.error, out.stats.parts_sent
                ));
            }
            Ok(notes)
        }
        .await,
    )
}

/// How long the fault layer holds each part request in [`parts_overlap_on_the_wire`], so the
/// parts a client has in flight at once are in flight at the simulator at once.
const PART_HOLD: Duration = Duration::from_millis(150);

/// The `Retry-After` of [`retry_after_is_waited`]'s 429, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

fn traffic(b: &Backend) -> Step<&marketmedia_sim::Traffic> {
    b.sim()
        .traffic()
        .ok_or_else(|| lacks(Lack::Simulator, "the simulator counts no traffic"))
}

/// The parts the driver has in flight reach the simulator at once, by the simulator's own
/// count: with `concurrent_parts = true` and the suite's concurrency `n`, a file of `n + 2`
/// parts (each part request held 150 ms by the fault layer, so they overlap whatever the
/// machine's speed) shows exactly `n` part requests in flight at the peak; with
/// `concurrent_parts = false`, exactly one. The upload ends ready with the source's bytes.
pub async fn parts_overlap_on_the_wire(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let t = targets(b)?;
            let traffic = traffic(b)?;
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let concurrency = b.config().concurrency.max(2);
            let expected = if rules.concurrent_parts {
                concurrency
            } else {
                1
            };
            let mut sources = Sources::new(rules)?;
            let path = parts_file(&mut sources, rules, cs, concurrency as u64 + 2)?;
            let _clear = ClearOnDrop(t.faults);
            t.faults.set(FaultProfile {
                latency_ms: u64::try_from(PART_HOLD.as_millis()).unwrap_or(u64::MAX),
                calls: vec![t.parts.clone()],
                ..FaultProfile::default()
            });
            traffic.reset();
            let out = fault_driver(b, concurrency)
                .upload_file(p.as_ref(), &path)
                .await
                .step("the upload with parts held on the wire")?;
            let seen = traffic.counters_of(&t.parts);
            ready_and_intact(b, &out, &path)?;
            let rule = format!(
                "concurrent_parts = {}: {expected} part(s) in flight at once at the simulator \
                 (driver concurrency {concurrency})",
                rules.concurrent_parts
            );
            check(seen.peak_in_flight == expected as u64, &rule, || {
                format!(
                    "the simulator saw at most {} of {} part requests in flight at once",
                    seen.peak_in_flight, seen.requests
                )
            })?;
            Ok(vec![format!(
                "{} part requests, at most {} in flight at once",
                seen.requests, seen.peak_in_flight
            )])
        }
        .await,
    )
}

/// A part answered 429 with `Retry-After: 1` is sent again no earlier than the header says,
/// measured on the simulator's side: from the end of the 429 exchange to the start of the next
/// part request, by the simulator's own (monotonic) timestamps. The upload (2 parts, one at a
/// time) ends ready with the source's bytes, after one retry.
pub async fn retry_after_is_waited(b: &Backend) -> CaseOutcome {
    finish(
        async {
            let t = targets(b)?;
            let traffic = traffic(b)?;
            let p = provider(b)?;
            let rules = p.rules();
            let cs = part_size(rules)?;
            let mut sources = Sources::new(rules)?;
            let path = parts_file(&mut sources, rules, cs, 2)?;
            let _clear = ClearOnDrop(t.faults);
            t.faults.set(FaultProfile {
                retry_after_secs: RETRY_AFTER_SECS,
                ..FaultProfile::scripted(&t.parts, [FaultKind::RateLimited])
            });
            traffic.reset();
            let out = fault_driver(b, 1)
                .upload_file(p.as_ref(), &path)
                .await
                .step("the upload with a part answered 429")?;
            ready_and_intact(b, &out, &path)?;
            let parts = traffic.exchanges_of(&t.parts);
            let Some(i) = parts.iter().position(|e| e.status == Some(429)) else {
                return Err(fail(
                    "the scripted 429 reaches the client",
                    format!("no part answered 429: {parts:?}"),
                ));
            };
            let limited_end = parts[i].ended_us.unwrap_or(parts[i].started_us);
            let Some(next) = parts.get(i + 1) else {
                return Err(fail(
                    "a part answered 429 is sent again",
                    format!("no part request after the 429: {parts:?}"),
                ));
            };
            let waited = Duration::from_micros(next.started_us.saturating_sub(limited_end));
            let floor = Duration::from_secs(RETRY_AFTER_SECS);
            check(
                waited >= floor,
                &format!("a 429 with Retry-After: {RETRY_AFTER_SECS} is retried no earlier"),
                || format!("the next part request came {waited:?} after the 429"),
            )?;
            check(out.stats.retries >= 1, "the 429 counts as a retry", || {
                format!("{} retries", out.stats.retries)
            })?;
            Ok(vec![format!("retried {waited:?} after the 429")])
        }
        .await,
    )
}
