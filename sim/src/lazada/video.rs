//! The Media Center video calls: block/create, block/upload, block/commit, get, quota/get, remove.

use std::collections::BTreeMap;

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::calls::ReceivedRequest;
use super::calls::{codes, ApiError};
use super::LazadaSimConfig;
use super::{
    CommitPart, CommitPayload, ReceivedBlock, Store, StoredBlock, Upload, Video, VideoState,
};

/// The values a video's `videoUsage` may take.
pub const VIDEO_USAGES: [&str; 2] = ["pro_main_video", "im"];

/// A required parameter: absent or empty answers `MissingParameter`.
pub(crate) fn required<'a>(r: &'a ReceivedRequest, name: &str) -> Result<&'a str, ApiError> {
    match r.param(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::missing(name)),
    }
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn new_upload_id() -> String {
    hex::encode_upper(rand::random::<[u8; 16]>())
}

fn obj(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// `/media/video/block/create`.
pub(crate) fn block_create(
    store: &mut Store,
    cfg: &LazadaSimConfig,
    now_ms: i64,
    r: &ReceivedRequest,
) -> Result<Map<String, Value>, ApiError> {
    let file_name = required(r, "fileName")?;
    let file_bytes_raw = required(r, "fileBytes")?;
    let file_bytes: u64 = match file_bytes_raw.trim().parse() {
        Ok(n) if n > 0 => n,
        _ => {
            return Err(ApiError::media(
                codes::ILLEGAL_PARAMETER,
                format!("fileBytes must be a positive integer, got \"{file_bytes_raw}\""),
            ))
        }
    };
    if file_bytes > cfg.max_file_bytes {
        return Err(ApiError::media(
            codes::FAIL_TO_BLOCK_INIT,
            format!(
                "The video size {file_bytes} bytes exceeds the maximum of {} bytes",
                cfg.max_file_bytes
            ),
        ));
    }
    let upload_id = new_upload_id();
    store.uploads.insert(
        upload_id.clone(),
        Upload {
            file_name: file_name.to_string(),
            file_bytes,
            created_ms: now_ms,
            block_count: None,
            blocks: BTreeMap::new(),
            received: Vec::new(),
            last_commit: None,
            video_id: None,
        },
    );
    store.counters.uploads_created += 1;
    Ok(obj(vec![("upload_id", json!(upload_id))]))
}

fn parse_count(name: &str, raw: &str) -> Result<u32, ApiError> {
    raw.trim().parse::<u32>().map_err(|_| {
        ApiError::media(
            codes::ILLEGAL_PARAMETER,
            format!("{name} must be a non-negative integer, got \"{raw}\""),
        )
    })
}

/// `/media/video/block/upload`.
pub(crate) fn block_upload(
    store: &mut Store,
    cfg: &LazadaSimConfig,
    now_ms: i64,
    r: &ReceivedRequest,
) -> Result<Map<String, Value>, ApiError> {
    let upload_id = required(r, "uploadId")?;
    let block_no_raw = required(r, "blockNo")?;
    let block_count_raw = required(r, "blockCount")?;
    let file = r.file("file").ok_or_else(|| ApiError::missing("file"))?;

    let upload = store.uploads.get_mut(upload_id).ok_or_else(|| {
        ApiError::media(
            codes::FAIL_TO_UPLOAD_BLOCK,
            format!("The upload \"{upload_id}\" does not exist"),
        )
    })?;
    if now_ms.saturating_sub(upload.created_ms) > millis(cfg.upload_ttl) {
        return Err(ApiError::media(
            codes::FAIL_TO_UPLOAD_BLOCK,
            format!("The upload \"{upload_id}\" has expired"),
        ));
    }
    if upload.video_id.is_some() {
        return Err(ApiError::media(
            codes::FAIL_TO_UPLOAD_BLOCK,
            format!("The upload \"{upload_id}\" has already been committed"),
        ));
    }
    let block_count = parse_count("blockCount", block_count_raw)?;
    let block_no = parse_count("blockNo", block_no_raw)?;
    if block_count == 0 {
        return Err(ApiError::media(
            codes::ILLEGAL_PARAMETER,
            "blockCount must be at least 1",
        ));
    }
    if block_no >= block_count {
        return Err(ApiError::media(
            codes::ILLEGAL_PARAMETER,
            format!(
                "blockNo {block_no} is out of range: blockNo is 0-based and must be below blockCount {block_count}"
            ),
        ));
    }
    if let Some(fixed) = upload.block_count {
        if fixed != block_count {
            return Err(ApiError::media(
                codes::ILLEGAL_PARAMETER,
                format!(
                    "blockCount {block_count} differs from blockCount {fixed} sent with earlier blocks of this upload"
                ),
            ));
        }
    }
    let size = file.bytes.len();
    if size == 0 {
        return Err(ApiError::media(
            codes::ILLEGAL_PARAMETER,
            "The block is empty",
        ));
    }
    if size > cfg.max_block_bytes {
        return Err(ApiError::media(
            codes::FAIL_TO_UPLOAD_BLOCK,
            format!(
                "The block of {size} bytes exceeds the maximum block size of {} bytes",
                cfg.max_block_bytes
            ),
        ));
    }
    let e_tag = hex::encode_upper(file.md5);
    upload.block_count = Some(block_count);
    upload.blocks.insert(
        block_no,
        StoredBlock {
            bytes: file.bytes.clone(),
            e_tag: e_tag.clone(),
        },
    );
    upload.received.push(ReceivedBlock {
        block_no: block_no_raw.to_string(),
        block_count: block_count_raw.to_string(),
        size,
        e_tag: e_tag.clone(),
    });
    store.counters.blocks_accepted += 1;
    store.counters.block_bytes_accepted += size as u64;
    Ok(obj(vec![("e_tag", json!(e_tag))]))
}

fn parse_parts(raw: &str) -> Option<Vec<CommitPart>> {
    let value: Value = serde_json::from_str(raw).ok()?;
    let mut parts = Vec::new();
    for item in value.as_array()? {
        let item = item.as_object()?;
        let part_number = match item.get("partNumber")? {
            Value::Number(n) => n.as_u64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        let e_tag = item.get("eTag")?.as_str()?.to_string();
        parts.push(CommitPart { part_number, e_tag });
    }
    Some(parts)
}

fn is_http_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    (lower.starts_with("http://") && s.len() > 7) || (lower.starts_with("https://") && s.len() > 8)
}

/// `/media/video/block/commit`.
pub(crate) fn block_commit(
    store: &mut Store,
    cfg: &LazadaSimConfig,
    now_ms: i64,
    r: &ReceivedRequest,
) -> Result<Map<String, Value>, ApiError> {
    let upload_id = required(r, "uploadId")?;
    let parts_raw = required(r, "parts")?;
    let title = required(r, "title")?;
    let cover_url = required(r, "coverUrl")?;
    let video_usage = r.param("videoUsage").filter(|v| !v.is_empty());
    if let Some(usage) = video_usage {
        if !VIDEO_USAGES.contains(&usage) {
            return Err(ApiError::media(
                codes::ILLEGAL_PARAMETER,
                format!("videoUsage must be pro_main_video or im, got \"{usage}\""),
            ));
        }
    }
    if !is_http_url(cover_url) {
        return Err(ApiError::media(
            codes::ILLEGAL_PARAMETER,
            format!("coverUrl must be an http(s) URL, got \"{cover_url}\""),
        ));
    }

    let Store {
        uploads,
        videos,
        used_size,
        next_video_id,
        counters,
        ..
    } = store;
    let upload = uploads.get_mut(upload_id).ok_or_else(|| {
        ApiError::media(
            codes::FAIL_TO_BLOCK_COMPLETE,
            format!("The upload \"{upload_id}\" does not exist"),
        )
    })?;
    if now_ms.saturating_sub(upload.created_ms) > millis(cfg.upload_ttl) {
        return Err(ApiError::media(
            codes::FAIL_TO_BLOCK_COMPLETE,
            format!("The upload \"{upload_id}\" has expired"),
        ));
    }
    if let Some(video_id) = &upload.video_id {
        if cfg.recommit_returns_video {
            return Ok(obj(vec![("video_id", json!(video_id))]));
        }
        return Err(ApiError::media(
            codes::FAIL_TO_BLOCK_COMPLETE,
            format!("The upload \"{upload_id}\" has already been committed"),
        ));
    }
    let parts = parse_parts(parts_raw).ok_or_else(|| {
        ApiError::media(
            codes::ILLEGAL_PARAMETER,
            "parts must be a JSON array of {\"partNumber\":n,\"eTag\":\"...\"} objects",
        )
    })?;
    upload.last_commit = Some(CommitPayload {
        parts_raw: parts_raw.to_string(),
        parts: parts.clone(),
        title: title.to_string(),
        cover_url: cover_url.to_string(),
        video_usage: video_usage.map(str::to_string),
    });

    let Some(block_count) = upload.block_count else {
        return Err(ApiError::media(
            codes::FAIL_TO_BLOCK_COMPLETE,
            format!("No block has been uploaded for the upload \"{upload_id}\""),
        ));
    };
    let numbers: Vec<u64> = parts.iter().map(|p| p.part_number).collect();
    let expected: Vec<u64> = (1..=u64::from(block_count)).collect();
    if numbers != expected {
        let hint = if numbers.first() == Some(&0) {
            " (partNumber is 1-based: blockNo + 1)"
        } else {
            ""
        };
        return Err(ApiError::media(
            codes::FAIL_TO_VALIDATE,
            format!(
                "parts must list partNumber 1..{block_count} once each, in order; got {numbers:?}{hint}"
            ),
        ));
    }
    let mut assembled =
        Vec::with_capacity(upload.blocks.values().map(|b| b.bytes.len()).sum::<usize>());
    for (index, part) in (0u32..).zip(parts.iter()) {
        let block = upload.blocks.get(&index).ok_or_else(|| {
            ApiError::media(
                codes::FAIL_TO_BLOCK_COMPLETE,
                format!(
                    "Block {index} (partNumber {}) has not been uploaded",
                    part.part_number
                ),
            )
        })?;
        if !block.e_tag.eq_ignore_ascii_case(part.e_tag.trim()) {
            return Err(ApiError::media(
                codes::FAIL_TO_VALIDATE,
                format!(
                    "The eTag of partNumber {} does not match the uploaded block",
                    part.part_number
                ),
            ));
        }
        assembled.extend_from_slice(&block.bytes);
    }
    let size = assembled.len() as u64;
    if size != upload.file_bytes {
        return Err(ApiError::media(
            codes::FAIL_TO_BLOCK_COMPLETE,
            format!(
                "The assembled video is {size} bytes but fileBytes was {}",
                upload.file_bytes
            ),
        ));
    }
    if used_size.saturating_add(size) > cfg.quota_capacity_bytes {
        return Err(ApiError::media(
            codes::FAIL_TO_ADD_VIDEO,
            format!(
                "The video space quota is exhausted: {used_size} of {} bytes used, the video needs {size}",
                cfg.quota_capacity_bytes
            ),
        ));
    }
    *next_video_id += 1;
    let video_id = (30_000_000_000u64 + *next_video_id).to_string();
    videos.insert(
        video_id.clone(),
        Video {
            upload_id: upload_id.to_string(),
            title: title.to_string(),
            cover_url: cover_url.to_string(),
            video_usage: video_usage.unwrap_or(VIDEO_USAGES[0]).to_string(),
            bytes: Some(Bytes::from(assembled)),
            size,
            committed_ms: now_ms,
            outcome: cfg.video_outcome,
            deleted: false,
        },
    );
    *used_size += size;
    upload.video_id = Some(video_id.clone());
    // The blocks now live in the video; keep only their receipts.
    upload.blocks.clear();
    counters.videos_committed += 1;
    store.enforce_retention(cfg.retention.max_assembled_bytes);
    Ok(obj(vec![("video_id", json!(video_id))]))
}

fn unknown_video(video_id: &str) -> ApiError {
    ApiError::media(
        codes::FAIL_TO_GET_VIDEO,
        format!("The video \"{video_id}\" does not exist"),
    )
}

/// `/media/video/get`.
pub(crate) fn video_get(
    store: &mut Store,
    cfg: &LazadaSimConfig,
    now_ms: i64,
    r: &ReceivedRequest,
) -> Result<Map<String, Value>, ApiError> {
    let video_id = required(r, "videoId")?;
    let video = store
        .videos
        .get(video_id.trim())
        .ok_or_else(|| unknown_video(video_id))?;
    let state = video.state_at(now_ms, cfg);
    let video_url = if state.has_video_url() {
        format!(
            "{}/psp/{}.mp4",
            cfg.cdn_base_url.trim_end_matches('/'),
            video_id.trim()
        )
    } else {
        String::new()
    };
    Ok(obj(vec![
        ("state", json!(state.as_str())),
        ("title", json!(video.title)),
        ("cover_url", json!(video.cover_url)),
        ("video_url", json!(video_url)),
    ]))
}

/// `/media/video/remove`.
pub(crate) fn video_remove(
    store: &mut Store,
    _cfg: &LazadaSimConfig,
    _now_ms: i64,
    r: &ReceivedRequest,
) -> Result<Map<String, Value>, ApiError> {
    let video_id = required(r, "videoId")?;
    let video = store
        .videos
        .get_mut(video_id.trim())
        .ok_or_else(|| unknown_video(video_id))?;
    if !video.deleted {
        video.deleted = true;
        store.used_size = store.used_size.saturating_sub(video.size);
        store.counters.videos_removed += 1;
    }
    Ok(Map::new())
}

/// `/media/video/quota/get`.
pub(crate) fn quota_get(
    store: &mut Store,
    cfg: &LazadaSimConfig,
    _now_ms: i64,
    _r: &ReceivedRequest,
) -> Result<Map<String, Value>, ApiError> {
    Ok(obj(vec![
        ("capacity_size", json!(cfg.quota_capacity_bytes)),
        ("used_size", json!(store.used_size)),
    ]))
}

/// The state of `video` now (for accessors).
pub(crate) fn state_of(video: &Video, now_ms: i64, cfg: &LazadaSimConfig) -> VideoState {
    video.state_at(now_ms, cfg)
}
