//! `POST /shop/ec/basics/img/upload?upload_type=0&resp_type=…&height=…&width=…`, the image in
//! the form field `media`.

use serde_json::json;

use super::calls::{code, query_u64, Answer, ApiError, Ctx, Outcome};
use super::{StoredImage, WechatState};
use crate::util::random_hex;

pub(super) fn img_upload(state: &mut WechatState, ctx: &Ctx<'_>) -> Outcome {
    let config = ctx.config;
    match query_u64(ctx, "upload_type")? {
        0 => {}
        1 => {
            return Err(ApiError::param(
                "upload_type=1 (an image URL) is not simulated",
            ))
        }
        other => {
            return Err(ApiError::param(format_args!(
                "upload_type {other} is not 0 or 1"
            )))
        }
    }
    let resp_type = query_u64(ctx, "resp_type")?;
    let max = match resp_type {
        0 => config.max_image_bytes_media_id,
        1 => config.max_image_bytes_link,
        other => {
            return Err(ApiError::param(format_args!(
                "resp_type {other} is not 0 or 1"
            )))
        }
    };
    let dim = |name| {
        query_u64(ctx, name)
            .ok()
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
            .ok_or_else(|| ApiError::param(format_args!("{name} is required with upload_type=0")))
    };
    let (height, width) = (dim("height")?, dim("width")?);
    let files = ctx.received.payload.files("media");
    let media = match files.as_slice() {
        [one] => *one,
        [] => return Err(ApiError::new(code::IMAGE_EMPTY, "图片为空")),
        _ => return Err(ApiError::param("one image per call, in the field media")),
    };
    if media.bytes.is_empty() {
        return Err(ApiError::new(code::IMAGE_EMPTY, "图片为空"));
    }
    if media.bytes.len() as u64 > max {
        return Err(ApiError::new(
            code::IMAGE_TOO_LARGE,
            format!(
                "图片大小超出限制 ({} bytes; at most {max} with resp_type={resp_type})",
                media.bytes.len()
            ),
        ));
    }
    let b = &media.bytes;
    if !(b.starts_with(&[0xFF, 0xD8, 0xFF]) || b.starts_with(b"\x89PNG\r\n\x1a\n")) {
        return Err(ApiError::param("the image is neither JPEG nor PNG"));
    }
    let media_id = random_hex(16);
    let img_url =
        (resp_type == 1).then(|| format!("{}/{}/{media_id}", config.image_url_base, config.appid));
    state.images.push(StoredImage {
        media_id: media_id.clone(),
        img_url: img_url.clone(),
        declared: (width, height),
        bytes: media.bytes.clone(),
    });
    let pic_file = match img_url {
        Some(url) => json!({ "img_url": url }),
        None => json!({ "media_id": media_id, "pay_media_id": format!("pay_{media_id}") }),
    };
    Ok(Answer::Envelope {
        errmsg: "ok",
        extra: json!({ "pic_file": pic_file }),
    })
}
