//! The image call of `media_space`: `upload_image`, and the image checks `media` shares.

use serde_json::{json, Value};

use super::calls::{Answer, ApiError, Ctx, Outcome};
use super::{Module, ShopeeState, StoredImage};
use crate::request::Payload;
use crate::util::random_hex;

// ---------------------------------------------------------------------------------------------
// Images

pub(super) fn is_jpeg(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xD8, 0xFF])
}

pub(super) fn is_png(b: &[u8]) -> bool {
    b.starts_with(b"\x89PNG\r\n\x1a\n")
}

pub(super) fn upload_image(state: &mut ShopeeState, ctx: &Ctx<'_>, form: &Payload) -> Outcome {
    let config = ctx.config;
    let scene = form.text("scene").unwrap_or("normal");
    if !matches!(scene, "normal" | "desc") {
        return Err(ApiError::param("scene must be normal or desc"));
    }
    let ratio = form.text("ratio").unwrap_or("1:1");
    if !matches!(ratio, "1:1" | "3:4") {
        return Err(ApiError::param("ratio must be 1:1 or 3:4"));
    }
    if ratio == "3:4" && !config.ratio_3_4_whitelisted {
        return Err(ApiError::param(
            "ratio 3:4 is only available to whitelisted sellers",
        ));
    }
    let images = form.files("image");
    if images.is_empty() {
        return Err(ApiError::param("image is required"));
    }
    if images.len() > config.max_images_per_call {
        return Err(ApiError::param(format_args!(
            "at most {} images can be uploaded at once, got {}",
            config.max_images_per_call,
            images.len()
        )));
    }

    let region = config.region.to_uppercase();
    let mut list = Vec::with_capacity(images.len());
    let mut first_ok: Option<Value> = None;
    let mut refused = 0u64;
    for (index, image) in images.iter().enumerate() {
        let bytes = &image.bytes;
        let failure = if bytes.len() as u64 > config.max_image_bytes {
            Some((
                "error_file_size",
                format!(
                    "Image size {} exceeds the limit of {} bytes.",
                    bytes.len(),
                    config.max_image_bytes
                ),
            ))
        } else if !is_jpeg(bytes) && !is_png(bytes) {
            Some((
                "error_param",
                "Image format is not supported; only JPG, JPEG and PNG are accepted.".to_string(),
            ))
        } else {
            None
        };
        match failure {
            Some((error, message)) => {
                refused += 1;
                list.push(json!({ "id": index, "error": error, "message": message }));
            }
            None => {
                let image_id = format!("{}-11134201-{}", config.region, random_hex(8));
                let info = json!({
                    "image_id": image_id,
                    "image_url_list": [{
                        "image_url_region": region,
                        "image_url": format!("{}/{image_id}", config.image_url_base),
                    }],
                });
                if first_ok.is_none() {
                    first_ok = Some(info.clone());
                }
                list.push(json!({ "id": index, "error": "", "message": "", "image_info": info }));
                state.images.push(StoredImage {
                    image_id,
                    bytes: bytes.clone(),
                    scene: scene.to_string(),
                    ratio: ratio.to_string(),
                    module: Module::MediaSpace,
                    business: None,
                });
            }
        }
    }
    state.counters.images_accepted += images.len() as u64 - refused;
    state.counters.images_refused += refused;

    let mut response = json!({ "image_info_list": list });
    if let Some(info) = first_ok {
        response["image_info"] = info;
    }
    let warning = if refused > 0 {
        format!(
            "{refused} of {} images failed; see image_info_list.",
            images.len()
        )
    } else {
        String::new()
    };
    Ok(Answer { response, warning })
}
