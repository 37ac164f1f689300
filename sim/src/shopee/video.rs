//! The video calls: `init_video_upload`, `upload_video_part`, `complete_video_upload`,
//! `get_video_upload_result` and `cancel_video_upload` of `media_space`, and what `media`
//! shares with them (opening a session, storing parts, assembling and judging the file,
//! cancelling).

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

use super::calls::{
    is_hex32, required, required_str, session, uuid_ish, Answer, ApiError, Ctx, Outcome,
};
use super::{
    probe, MediaDeclared, Module, PartInfo, Phase, ShopeeSimConfig, ShopeeState, StoredPart,
    Upload, UploadStatus, Verdict,
};
use crate::request::Received;
use crate::util::random_hex;

// ---------------------------------------------------------------------------------------------
// Video calls

pub(super) fn init_video_upload(
    state: &mut ShopeeState,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Outcome {
    let config = ctx.config;
    let file_md5 = required_str(body, "file_md5")?;
    if !is_hex32(file_md5) || file_md5.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::param(
            "file_md5 must be the lowercase hex MD5 of the file (32 characters)",
        ));
    }
    let file_size = required(body, "file_size")?
        .as_u64()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::param("file_size must be a positive integer"))?;
    if file_size > config.max_video_bytes {
        return Err(ApiError::new(
            "error_file_size",
            format!(
                "The video file size {file_size} exceeds the limit of {} bytes.",
                config.max_video_bytes
            ),
        ));
    }
    let id = open_session(
        state,
        ctx,
        file_md5.to_string(),
        file_size,
        config.part_size,
        None,
    )?;
    Ok(Answer::of(json!({ "video_upload_id": id })))
}

/// Counts the init against the daily limit and opens a session in the call's module: its id,
/// parts of `part_size`, and its lifetime.
pub(super) fn open_session(
    state: &mut ShopeeState,
    ctx: &Ctx<'_>,
    file_md5: String,
    file_size: u64,
    part_size: u64,
    declared: Option<MediaDeclared>,
) -> Result<String, ApiError> {
    let config = ctx.config;
    let day = ctx.now_ms.div_euclid(86_400_000);
    let today = state.inits_per_day.entry(day).or_insert(0);
    if config
        .daily_upload_limit
        .is_some_and(|limit| *today >= limit)
    {
        return Err(ApiError::new(
            "error_limit",
            "The daily video upload limit is reached.",
        ));
    }

    let part_size = part_size.max(1);
    let part_count = u32::try_from(file_size.div_ceil(part_size))
        .map_err(|_| ApiError::param("file_size needs too many parts"))?;
    *today += 1;
    let id = format!("{}_{}_000000", config.region, uuid_ish());
    let ttl = i64::try_from(config.upload_session_ttl.as_millis()).unwrap_or(i64::MAX);
    state.uploads.insert(
        id.clone(),
        Upload {
            module: ctx.module,
            declared,
            updated_ms: ctx.now_ms,
            // Shop-type call: authenticate guarantees the shop shape.
            shop_id: ctx.caller.shop_id.unwrap_or(config.shop_id),
            file_md5,
            file_size,
            part_size,
            part_count,
            expires_at_ms: ctx.now_ms.saturating_add(ttl),
            parts: BTreeMap::new(),
            prefix_md5: Some((Md5::new(), 0)),
            phase: Phase::Initiated,
        },
    );
    state.upload_order.push(id.clone());
    state.counters.sessions_initiated += 1;
    Ok(id)
}

/// `upload_video_part` of either module: `media_space` names the part's MD5 `content_md5`,
/// `media` names it `part_md5`. Under `media` the text fields may also come in the query
/// string (the reference does not say where they travel; one client sends them there).
pub(super) fn upload_video_part(state: &mut ShopeeState, ctx: &Ctx<'_>, r: &Received) -> Outcome {
    let form = &r.payload;
    let media = ctx.module == Module::Media;
    let field = |name: &str| {
        form.text(name)
            .or_else(|| if media { r.query(name) } else { None })
    };
    let md5_field = if media { "part_md5" } else { "content_md5" };
    let id =
        field("video_upload_id").ok_or_else(|| ApiError::param("video_upload_id is required"))?;
    let part_seq_raw = field("part_seq").ok_or_else(|| ApiError::param("part_seq is required"))?;
    let content_md5 =
        field(md5_field).ok_or_else(|| ApiError::param(format_args!("{md5_field} is required")))?;
    let files = form.files("part_content");
    let part = match files.as_slice() {
        [one] => *one,
        [] if form.text("part_content").is_some() => {
            return Err(ApiError::param(
                "part_content must be a file field (a multipart part with a filename)",
            ))
        }
        [] => return Err(ApiError::param("part_content is required")),
        _ => return Err(ApiError::param("part_content must be sent once")),
    };

    let upload = session(state, ctx, id)?;
    check_open(&upload.phase)?;
    let seq: i64 = part_seq_raw
        .trim()
        .parse()
        .map_err(|_| ApiError::param("part_seq must be an integer"))?;
    let seq = u32::try_from(seq)
        .ok()
        .filter(|s| *s < upload.part_count)
        .ok_or_else(|| {
            ApiError::part_seq(format!(
                "part_seq {seq} is out of range: this upload has parts 0 to {}.",
                upload.part_count - 1
            ))
        })?;
    let expected = upload.expected_part_size(seq);
    let size = part.bytes.len();
    if size as u64 != expected {
        return Err(ApiError::new(
            "error_invalid_part_size",
            format!("Part {seq} is {size} bytes; it must be exactly {expected} bytes."),
        ));
    }
    if !is_hex32(content_md5) || !content_md5.eq_ignore_ascii_case(&part.md5_hex()) {
        return Err(ApiError::param(format_args!("{md5_field} mismatch")));
    }
    let times_received = upload
        .parts
        .get(&seq)
        .map_or(1, |p| p.info.times_received + 1);
    let replaces_hashed = upload
        .prefix_md5
        .as_ref()
        .is_some_and(|(_, next)| seq < *next)
        && upload
            .parts
            .get(&seq)
            .is_some_and(|p| p.bytes != part.bytes);
    if replaces_hashed {
        upload.prefix_md5 = None;
    }
    upload.parts.insert(
        seq,
        StoredPart {
            info: PartInfo {
                part_seq: seq,
                part_seq_as_sent: part_seq_raw.to_string(),
                size,
                content_md5_as_sent: content_md5.to_string(),
                times_received,
            },
            bytes: part.bytes.clone(),
        },
    );
    upload.advance_prefix_md5();
    upload.updated_ms = ctx.now_ms;
    state.counters.parts_accepted += 1;
    state.counters.part_bytes_accepted += size as u64;
    Ok(Answer::empty())
}

pub(super) fn complete_video_upload(
    state: &mut ShopeeState,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Outcome {
    let id = required_str(body, "video_upload_id")?;
    let list = required(body, "part_seq_list")?
        .as_array()
        .ok_or_else(|| ApiError::param("part_seq_list must be a list of integers"))?;
    let report_data = required(body, "report_data")?
        .as_object()
        .ok_or_else(|| ApiError::param("report_data must be an object"))?;
    let upload_cost = required(report_data, "upload_cost")
        .map_err(|_| ApiError::param("report_data.upload_cost is required"))?
        .as_u64()
        .ok_or_else(|| ApiError::param("report_data.upload_cost must be an integer"))?;
    let mut seqs = Vec::with_capacity(list.len());
    for v in list {
        let n = v
            .as_i64()
            .ok_or_else(|| ApiError::param("part_seq_list must be a list of integers"))?;
        seqs.push(n);
    }

    let config = ctx.config;
    let now_ms = ctx.now_ms;
    let upload = session(state, ctx, id)?;
    check_open(&upload.phase)?;
    let count = upload.part_count;
    let mut seen = BTreeSet::new();
    for &n in &seqs {
        let seq = u32::try_from(n)
            .ok()
            .filter(|s| *s < count)
            .ok_or_else(|| {
                ApiError::part_seq(format!(
                    "part_seq {n} in part_seq_list is out of range: this upload has parts 0 to {}.",
                    count - 1
                ))
            })?;
        if !seen.insert(seq) {
            return Err(ApiError::part_seq(format!(
                "part_seq {seq} is listed twice in part_seq_list."
            )));
        }
    }
    if let Some(missing) = (0..count).find(|s| !seen.contains(s)) {
        return Err(ApiError::part_seq(format!(
            "part_seq_list must list every part 0 to {}: {missing} is missing.",
            count - 1
        )));
    }
    if let Some(missing) = (0..count).find(|s| !upload.parts.contains_key(s)) {
        return Err(ApiError::part_seq(format!(
            "Part {missing} has not been uploaded."
        )));
    }

    let mut ordered: Vec<u32> = Vec::with_capacity(seqs.len());
    for n in seqs {
        // Every entry was range-checked above.
        if let Ok(s) = u32::try_from(n) {
            ordered.push(s);
        }
    }
    let durations = (config.min_video_duration, config.max_video_duration);
    finish_upload(upload, config, now_ms, ordered, upload_cost, durations)?;
    state.counters.sessions_completed += 1;
    state.enforce_retention(config.retention.max_assembled_bytes);
    Ok(Answer::empty())
}

/// Parts and completion need a session still open: a completed one is
/// `error_already_completed`, a cancelled one `error_invalid_upload_id`.
pub(super) fn check_open(phase: &Phase) -> Result<(), ApiError> {
    match phase {
        Phase::Initiated => Ok(()),
        Phase::Completed { .. } => Err(ApiError::already_completed()),
        Phase::Cancelled => Err(ApiError::invalid_upload_id(
            "The video upload has been cancelled.",
        )),
    }
}

/// The session `get_video_upload_result` asks about (query `video_upload_id`) and its status
/// now.
pub(super) fn result_session<'a>(
    state: &'a mut ShopeeState,
    ctx: &Ctx<'_>,
    r: &Received,
) -> Result<(&'a mut Upload, UploadStatus), ApiError> {
    let id = r
        .query("video_upload_id")
        .ok_or_else(|| ApiError::param("video_upload_id is required"))?;
    let upload = session(state, ctx, id)?;
    let status = upload.status(ctx.now_ms);
    Ok((upload, status))
}

/// Completes a session whose parts are all there: assembles the file, checks it against
/// `file_md5` (when init sent one), probes its duration against `durations` and schedules the
/// verdict after the transcoding delay.
pub(super) fn finish_upload(
    upload: &mut Upload,
    config: &ShopeeSimConfig,
    now_ms: i64,
    part_seq_list: Vec<u32>,
    upload_cost: u64,
    (min_duration, max_duration): (std::time::Duration, std::time::Duration),
) -> Result<(), ApiError> {
    let mut file = BytesMut::with_capacity(usize::try_from(upload.file_size).unwrap_or(0));
    for part in upload.parts.values() {
        file.extend_from_slice(&part.bytes);
    }
    let file = file.freeze();
    if !upload.file_md5.is_empty() && upload.file_md5_of(&file) != upload.file_md5 {
        return Err(ApiError::param(
            "the MD5 of the uploaded parts does not match file_md5",
        ));
    }

    let probed = probe::video_duration_secs(&file);
    let verdict = match (&config.force_transcode_failure, &probed) {
        (Some(message), _) => Verdict::Failed {
            message: message.clone(),
        },
        (None, Err(why)) => Verdict::Failed {
            message: format!("Video format is not supported: {why}."),
        },
        (None, Ok(secs)) if *secs < min_duration.as_secs_f64() => Verdict::Failed {
            message: "Video is too short".to_string(),
        },
        (None, Ok(secs)) if *secs > max_duration.as_secs_f64() => Verdict::Failed {
            message: "Video is too long".to_string(),
        },
        (None, Ok(secs)) => Verdict::Ready {
            duration_secs: *secs,
        },
    };
    let delay = i64::try_from(config.transcode_delay.as_millis()).unwrap_or(i64::MAX);
    upload.phase = Phase::Completed {
        ready_at_ms: now_ms.saturating_add(delay),
        assembled: Some(file),
        verdict,
        probed_duration: probed.ok(),
        part_seq_list,
        upload_cost,
        media_key: format!("{}-11110105-{}", config.region, random_hex(8)),
    };
    upload.updated_ms = now_ms;
    // The assembled file now holds the bytes; keep only the parts' descriptions.
    for part in upload.parts.values_mut() {
        part.bytes = Bytes::new();
    }
    Ok(())
}

pub(super) fn get_video_upload_result(
    state: &mut ShopeeState,
    ctx: &Ctx<'_>,
    r: &Received,
) -> Outcome {
    let config = ctx.config;
    let (upload, status) = result_session(state, ctx, r)?;
    let mut response = json!({ "status": status.as_str() });
    if let Phase::Completed {
        verdict, media_key, ..
    } = &upload.phase
    {
        let region = config.region.to_uppercase();
        match (status, verdict) {
            (UploadStatus::Succeeded, Verdict::Ready { duration_secs }) => {
                response["video_info"] = json!({
                    "video_url_list": [{
                        "video_url_region": region,
                        "video_url": format!("{}/{media_key}", config.video_url_base),
                    }],
                    "thumbnail_url_list": [{
                        "image_url_region": region,
                        "image_url": format!("{}/{media_key}_tn", config.image_url_base),
                    }],
                    "duration": duration_secs.round() as u64,
                });
            }
            (UploadStatus::Failed, Verdict::Failed { message }) => {
                response["message"] = json!(message);
            }
            _ => {}
        }
    }
    Ok(Answer::of(response))
}

pub(super) fn cancel_video_upload(
    state: &mut ShopeeState,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Outcome {
    let id = required_str(body, "video_upload_id")?;
    let upload = session(state, ctx, id)?;
    match upload.phase {
        Phase::Completed { .. } => Err(ApiError::already_completed()),
        // Cancelling twice is harmless: the session stays CANCELLED.
        Phase::Cancelled => Ok(Answer::empty()),
        Phase::Initiated => {
            upload.phase = Phase::Cancelled;
            upload.updated_ms = ctx.now_ms;
            upload
                .parts
                .values_mut()
                .for_each(|p| p.bytes = Bytes::new());
            state.counters.sessions_cancelled += 1;
            Ok(Answer::empty())
        }
    }
}
