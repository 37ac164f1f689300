//! The video calls: `initupload`, `uploadpart`, `finishupload` and `getplayinfo`.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use serde_json::{json, Map, Value};

use super::calls::{code, query_u64, required_u64, Answer, ApiError, Ctx, Outcome};
use super::{PartAnswer, PartInfo, StoredPart, Upload, UploadStatus, WechatState};
use super::{SCENE_AFTER_SALE, SCENE_PRODUCT};
use crate::util::{millis, random_hex};

fn no_such_upload() -> ApiError {
    ApiError::new(
        code::NO_SUCH_UPLOAD,
        "NoSuchUpload: video_upload_key is unknown or expired",
    )
}

/// The upload of `key`, refusing an unknown key and one that expired before its finish.
fn upload<'a>(
    state: &'a mut WechatState,
    ctx: &Ctx<'_>,
    key: &str,
) -> Result<&'a mut Upload, ApiError> {
    state
        .uploads
        .get_mut(key)
        .filter(|u| !u.expired(ctx.now_ms))
        .ok_or_else(no_such_upload)
}

/// `POST …/initupload` `{scene_type, file_type, file_size}` → `data.video_upload_key`.
pub(super) fn initupload(
    state: &mut WechatState,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Outcome {
    let config = ctx.config;
    let scene_type = required_u64(body, "scene_type")?;
    let max = match scene_type {
        SCENE_PRODUCT => config.max_product_video_bytes,
        SCENE_AFTER_SALE => config.max_after_sale_video_bytes,
        other => {
            return Err(ApiError::param(format_args!(
                "scene_type {other} is not one of {SCENE_PRODUCT}, {SCENE_AFTER_SALE}"
            )))
        }
    };
    let file_type = body
        .get("file_type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::param("file_type must be a non-empty string"))?;
    let file_size = required_u64(body, "file_size")?;
    if file_size == 0 {
        return Err(ApiError::param("file_size must be positive"));
    }
    if file_size > max {
        return Err(ApiError::param(format_args!(
            "file_size {file_size} exceeds the {max} bytes of scene_type {scene_type}"
        )));
    }
    let key = format!("vuk_{}", random_hex(16));
    state.uploads.insert(
        key.clone(),
        Upload {
            scene_type,
            file_type: file_type.to_owned(),
            file_size,
            expires_ms: ctx.now_ms.saturating_add(millis(config.upload_key_ttl)),
            parts: BTreeMap::new(),
            answers: Vec::new(),
            finished: None,
            finished_order: 0,
            assembled: None,
            evicted: false,
        },
    );
    state.order.push(key.clone());
    Ok(Answer::Envelope {
        errmsg: "",
        extra: json!({ "data": { "video_upload_key": key } }),
    })
}

/// `POST …/uploadpart?video_upload_key&partnum`, the part in the form field `media` →
/// `data.part_sha`. Out of order and concurrent parts are fine; a re-send overwrites.
pub(super) fn uploadpart(state: &mut WechatState, ctx: &Ctx<'_>) -> Outcome {
    let config = ctx.config;
    let r = ctx.received;
    let key = r
        .query("video_upload_key")
        .ok_or_else(|| ApiError::param("video_upload_key is required"))?;
    let partnum_raw = r.query("partnum").unwrap_or_default().to_owned();
    let partnum = query_u64(ctx, "partnum")?;
    let files: Vec<_> = r.payload.all_files().enumerate().collect();
    let (index, media) = match files.as_slice() {
        [(i, f)] if f.name == "media" => (*i, *f),
        [] => {
            return Err(ApiError::param(
                "the part must be sent in the form field media",
            ))
        }
        _ => return Err(ApiError::param("one file field, media, is expected")),
    };
    let upload = upload(state, ctx, key)?;
    if upload.finished.is_some() {
        return Err(ApiError::new(
            code::UPLOAD_STATE,
            "the upload is already finished",
        ));
    }
    let partnum = u32::try_from(partnum)
        .ok()
        .filter(|n| (1..=config.max_partnum).contains(n))
        .ok_or_else(|| {
            ApiError::param(format_args!(
                "partnum {partnum} is out of range 1..={}",
                config.max_partnum
            ))
        })?;
    let size = media.bytes.len();
    if size == 0 {
        return Err(ApiError::param("the part is empty"));
    }
    if size as u64 > config.max_part_bytes {
        return Err(ApiError::param(format_args!(
            "EntityTooLarge: part {partnum} is {size} bytes; parts are 1M ~ 2MB (at most {})",
            config.max_part_bytes
        )));
    }
    let part_sha = ctx.file_shas.get(index).cloned().unwrap_or_default();
    let times_received = upload
        .parts
        .get(&partnum)
        .map_or(1, |p| p.info.times_received + 1);
    upload.parts.insert(
        partnum,
        StoredPart {
            info: PartInfo {
                partnum,
                size,
                part_sha: part_sha.clone(),
                times_received,
            },
            bytes: media.bytes.clone(),
        },
    );
    upload.answers.push(PartAnswer {
        partnum: partnum_raw,
        part_sha: part_sha.clone(),
    });
    Ok(Answer::Envelope {
        errmsg: "",
        extra: json!({ "data": { "part_sha": part_sha } }),
    })
}

/// `POST …/finishupload` `{video_upload_key, finish_parts: [{partnum, part_sha}]}`: the parts
/// sorted, from 1 without gaps, each SHA-1 the one answered, every part but the last at least
/// 1M (`EntityTooSmall`), and together the `file_size` announced at init.
pub(super) fn finishupload(
    state: &mut WechatState,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Outcome {
    let key = body
        .get("video_upload_key")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::param("video_upload_key must be a string"))?;
    let list = body
        .get("finish_parts")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| ApiError::param("finish_parts must be a non-empty list"))?;
    let mut parts = Vec::with_capacity(list.len());
    for item in list {
        let obj = item
            .as_object()
            .ok_or_else(|| ApiError::param("finish_parts holds objects {partnum, part_sha}"))?;
        let n = required_u64(obj, "partnum")?;
        let sha = obj.get("part_sha").and_then(Value::as_str).ok_or_else(|| {
            ApiError::param(format_args!("part_sha of part {n} must be a string"))
        })?;
        parts.push((u32::try_from(n).unwrap_or(u32::MAX), sha.to_owned()));
    }
    let min = ctx.config.min_part_bytes;
    let ready_ms = ctx
        .now_ms
        .saturating_add(millis(ctx.config.processing_delay));
    let upload = upload(state, ctx, key)?;
    if let Some((done, _)) = &upload.finished {
        // A finish repeated with the same parts (its answer was lost) is answered again.
        return if *done == parts {
            Ok(Answer::Envelope {
                errmsg: "",
                extra: json!({}),
            })
        } else {
            Err(ApiError::new(
                code::UPLOAD_STATE,
                "the upload is already finished with other parts",
            ))
        };
    }
    for (i, (n, _)) in parts.iter().enumerate() {
        if *n as usize != i + 1 {
            return Err(ApiError::param(format_args!(
                "finish_parts must be sorted by partnum from 1 without gaps; entry {i} is partnum {n}"
            )));
        }
    }
    let mut total = 0u64;
    let last = parts.len() - 1;
    for (i, (n, sha)) in parts.iter().enumerate() {
        let held = upload
            .parts
            .get(n)
            .ok_or_else(|| ApiError::param(format_args!("part {n} was not uploaded")))?;
        if !held.info.part_sha.eq_ignore_ascii_case(sha) {
            return Err(ApiError::param(format_args!(
                "part_sha of part {n} does not match the part uploaded"
            )));
        }
        if i < last && (held.info.size as u64) < min {
            return Err(ApiError::new(
                code::ENTITY_TOO_SMALL,
                format!(
                    "EntityTooSmall: 上传分块有误,除最后一个分块,其他分块大小不得小于1M (part {n} is {} bytes)",
                    held.info.size
                ),
            ));
        }
        total += held.info.size as u64;
    }
    if total != upload.file_size {
        return Err(ApiError::param(format_args!(
            "the parts listed hold {total} bytes; initupload announced file_size {}",
            upload.file_size
        )));
    }
    let mut file = BytesMut::with_capacity(usize::try_from(total).unwrap_or(0));
    for (n, _) in &parts {
        if let Some(p) = upload.parts.get_mut(n) {
            file.extend_from_slice(&p.bytes);
            // The assembled file keeps the bytes; the part keeps its facts.
            p.bytes = Bytes::new();
        }
    }
    upload.assembled = Some(file.freeze());
    upload.finished = Some((parts, ready_ms));
    state.uploads_finished += 1;
    let order = state.uploads_finished;
    if let Some(u) = state.uploads.get_mut(key) {
        u.finished_order = order;
    }
    state.enforce_retention(ctx.config.retention.max_assembled_bytes);
    Ok(Answer::Envelope {
        errmsg: "",
        extra: json!({}),
    })
}

/// `GET …/getplayinfo?video_upload_key` → `data.url` once the finished video is ready; while it
/// is not, `data` has no `url` (the pages are silent on that answer).
pub(super) fn getplayinfo(state: &mut WechatState, ctx: &Ctx<'_>) -> Outcome {
    let key = ctx
        .received
        .query("video_upload_key")
        .ok_or_else(|| ApiError::param("video_upload_key is required"))?
        .to_owned();
    let base = ctx.config.video_url_base.clone();
    let now = ctx.now_ms;
    let upload = upload(state, ctx, &key)?;
    match upload.status(now) {
        UploadStatus::Uploading => Err(ApiError::new(
            code::UPLOAD_STATE,
            "the upload is not finished",
        )),
        UploadStatus::Processing => Ok(Answer::Envelope {
            errmsg: "",
            extra: json!({ "data": {} }),
        }),
        UploadStatus::Ready => Ok(Answer::Envelope {
            errmsg: "",
            extra: json!({ "data": {
                "url": format!("{base}/{key}.f0.mp4?dis_k={}&dis_t={}", random_hex(20), now / 1000),
            } }),
        }),
    }
}
