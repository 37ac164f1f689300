//! What `v2.media` does differently (Shopee API reference, module 130 "Media"): init declares
//! `business`, `scene`, `file_name`, `file_size` and `duration` and answers with the
//! `part_size` the parts must have; completion takes the task id only; the result has more
//! statuses, a `reason` and a flat `video_info`; images are uploaded for a business and scene
//! and answered with `image_list`. Sessions, parts, signatures and cancelling are shared with
//! `media_space` (`video`, `auth`, `calls`).

use serde_json::{json, Map, Value};

use super::calls::{required, required_str, session, Answer, ApiError, Ctx, Outcome};
use super::image::{is_jpeg, is_png};
use super::video::{check_open, finish_upload, open_session, result_session};
use super::{
    MediaDeclared, Module, Phase, ShopeeState, StoredImage, UploadStatus, Verdict,
    MEDIA_IMAGE_USES, MEDIA_VIDEO_USES,
};
use crate::request::{Payload, Received};
use crate::util::random_hex;

/// A `business`/`scene` code: an integer, in the JSON body or a form field.
fn code(value: Option<&Value>, name: &str) -> Result<i64, ApiError> {
    match value {
        None | Some(Value::Null) => Err(ApiError::param(format_args!("{name} is required"))),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::param(format_args!("{name} must be an integer"))),
    }
}

/// Refuses a pair the module does not list, with the `error_param` family's message.
fn check_use(business: i64, scene: i64, known: &[(i64, i64)], what: &str) -> Result<(), ApiError> {
    if !known.iter().any(|(b, _)| *b == business) {
        return Err(ApiError::param(format_args!(
            "business {business} is not supported for {what}"
        )));
    }
    if !known.contains(&(business, scene)) {
        return Err(ApiError::param(format_args!(
            "scene {scene} is not supported for business {business}"
        )));
    }
    Ok(())
}

pub(super) fn media_init_video_upload(
    state: &mut ShopeeState,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Outcome {
    let config = ctx.config;
    let business = code(body.get("business"), "business")?;
    let scene = code(body.get("scene"), "scene")?;
    check_use(business, scene, MEDIA_VIDEO_USES, "video uploads")?;
    let file_name = required_str(body, "file_name")?;
    if file_name.trim().is_empty() {
        return Err(ApiError::param("file_name must not be empty"));
    }
    let file_size = required(body, "file_size")?
        .as_u64()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::param("file_size must be a positive integer"))?;
    if file_size > config.media_max_video_bytes {
        return Err(ApiError::new(
            "error_file_size",
            format!(
                "The video file size {file_size} exceeds the limit of {} bytes.",
                config.media_max_video_bytes
            ),
        ));
    }
    let duration = required(body, "duration")?
        .as_u64()
        .ok_or_else(|| ApiError::param("duration must be a whole number of seconds"))?;
    let (min, max) = (
        config.media_min_video_duration.as_secs(),
        config.media_max_video_duration.as_secs(),
    );
    if !(min..=max).contains(&duration) {
        return Err(ApiError::param(format_args!(
            "duration must be {min} to {max} seconds, not {duration}"
        )));
    }
    let part_size = config.media_part_size.max(1);
    let declared = MediaDeclared {
        business,
        scene,
        file_name: file_name.to_string(),
        duration,
    };
    let id = open_session(
        state,
        ctx,
        String::new(),
        file_size,
        part_size,
        Some(declared),
    )?;
    Ok(Answer::of(
        json!({ "video_upload_id": id, "part_size": part_size }),
    ))
}

/// Completes a task: every part `0..n` must be there. Other fields (a client written for
/// `media_space` sends `part_seq_list` and `report_data`) are ignored, as the reference
/// lists only `video_upload_id`.
pub(super) fn media_complete_video_upload(
    state: &mut ShopeeState,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) -> Outcome {
    let id = required_str(body, "video_upload_id")?;
    let config = ctx.config;
    let now_ms = ctx.now_ms;
    let upload = session(state, ctx, id)?;
    check_open(&upload.phase)?;
    if let Some(missing) = (0..upload.part_count).find(|s| !upload.parts.contains_key(s)) {
        return Err(ApiError::part_seq(format!(
            "Part {missing} has not been uploaded."
        )));
    }
    let seqs: Vec<u32> = (0..upload.part_count).collect();
    let durations = (
        config.media_min_video_duration,
        config.media_max_video_duration,
    );
    finish_upload(upload, config, now_ms, seqs, 0, durations)?;
    state.counters.sessions_completed += 1;
    state.enforce_retention(config.retention.max_assembled_bytes);
    Ok(Answer::empty())
}

pub(super) fn media_get_video_upload_result(
    state: &mut ShopeeState,
    ctx: &Ctx<'_>,
    r: &Received,
) -> Outcome {
    let config = ctx.config;
    let (upload, status) = result_session(state, ctx, r)?;
    let mut update_ms = upload.updated_ms;
    let mut response = json!({ "status": status.as_str() });
    match (&upload.phase, status) {
        (
            Phase::Completed {
                verdict,
                media_key,
                ready_at_ms,
                ..
            },
            UploadStatus::Succeeded | UploadStatus::Failed,
        ) => {
            update_ms = update_ms.max(*ready_at_ms);
            match verdict {
                Verdict::Ready { duration_secs } => {
                    response["video_info"] = json!({
                        "video_url": format!("{}/{media_key}", config.video_url_base),
                        "video_thumbnail_url": format!("{}/{media_key}_tn", config.image_url_base),
                        "thumbnail_width": 720,
                        "thumbnail_height": 1280,
                        "duration": duration_secs.round() as u64,
                        "resolution": "720x1280",
                    });
                }
                Verdict::Failed { message } => response["reason"] = json!(message),
            }
        }
        (Phase::Cancelled, _) => {
            response["reason"] = json!("The video upload was cancelled by the client.");
        }
        _ => {}
    }
    response["update_time"] = json!(update_ms.div_euclid(1000));
    Ok(Answer::of(response))
}

/// `v2.media.upload_image`: `business` and `scene` (form fields), 1 to 3 `images` (file
/// fields), each JPG/JPEG/PNG of at most the image limit. The reference gives no per-image
/// error field in `image_list`, so one bad image fails the whole call.
pub(super) fn media_upload_image(
    state: &mut ShopeeState,
    ctx: &Ctx<'_>,
    form: &Payload,
) -> Outcome {
    let config = ctx.config;
    let text_code = |name: &str| -> Result<i64, ApiError> {
        let raw = form
            .text(name)
            .ok_or_else(|| ApiError::param(format_args!("{name} is required")))?;
        raw.trim()
            .parse()
            .map_err(|_| ApiError::param(format_args!("{name} must be an integer")))
    };
    let business = text_code("business")?;
    let scene = text_code("scene")?;
    check_use(business, scene, MEDIA_IMAGE_USES, "image uploads")?;
    let images = form.files("images");
    if images.is_empty() {
        return Err(ApiError::param("images is required"));
    }
    if images.len() > config.media_max_images_per_call {
        return Err(ApiError::param(format_args!(
            "at most {} images can be uploaded at once, got {}",
            config.media_max_images_per_call,
            images.len()
        )));
    }
    for (index, image) in images.iter().enumerate() {
        let bytes = &image.bytes;
        if bytes.len() as u64 > config.max_image_bytes {
            return Err(ApiError::new(
                "error_file_size",
                format!(
                    "Image {index} is {} bytes; the limit is {} bytes.",
                    bytes.len(),
                    config.max_image_bytes
                ),
            ));
        }
        if !is_jpeg(bytes) && !is_png(bytes) {
            return Err(ApiError::param(format_args!(
                "image {index} is not a JPG, JPEG or PNG"
            )));
        }
    }
    let mut list = Vec::with_capacity(images.len());
    for image in images {
        let image_id = format!("{}-11134207-{}", config.region, random_hex(8));
        list.push(json!({
            "image_id": image_id,
            "image_url": format!("{}/{image_id}", config.image_url_base),
        }));
        state.images.push(StoredImage {
            image_id,
            bytes: image.bytes.clone(),
            scene: scene.to_string(),
            ratio: String::new(),
            module: Module::Media,
            business: Some(business),
        });
    }
    state.counters.images_accepted += list.len() as u64;
    Ok(Answer::of(json!({ "image_list": list })))
}
