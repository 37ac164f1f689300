//! The `v2.media` module: what differs from `v2.media_space` (init fields and the server's
//! `part_size`, the part's `part_md5`, a completion with the task id only, the result's
//! statuses and `video_info`, images for a business and scene answered with `image_list`).
//! Signing, the envelope, the error table, part sending and cancelling are shared with
//! `media_space` in the crate root.

use std::time::Duration;

use marketmedia_core::raw::http::CallMeta;
use marketmedia_core::raw::{
    Asset, AssetUrl, DigestNeeds, Error, ImageRules, ImageSource, InitOutcome, PartPlan,
    PartSizeRule, ProcessingHandle, ProcessingStatus, Result, SourceInfo, UploadRules,
    UploadSession, UploadedImage,
};

use crate::config::{ShopeeConfig, ShopeeModule};
use crate::wire::media as w;
use crate::{http, ShopeeUploader, PLATFORM};

/// Most parts a server-given `part_size` may cut a file into. Shopee publishes no part limit
/// for `v2.media`; a `part_size` so small that a file needs more parts than COS or S3 would
/// ever take (10,000) is read as a broken answer rather than followed into millions of
/// requests.
pub const MAX_MEDIA_PARTS: u64 = 10_000;

/// Most images in one `v2.media.upload_image` call ("Up to 3 images" for business 2 / scene 1).
pub const MAX_MEDIA_IMAGES: u32 = 3;

/// The rules of `v2.media`: parts planned with the configured size until init gives the
/// server's, the part MD5 but no file MD5, 1–180 s, up to the configured limit (1 GiB), no
/// part list at completion, processing to poll, 1–3 images.
pub(crate) fn rules(config: &ShopeeConfig) -> (UploadRules, ImageRules) {
    let digests = DigestNeeds {
        part_md5: true,
        ..DigestNeeds::default()
    };
    (
        crate::video_rules(config, digests, (1, 180), None),
        crate::image_rules(MAX_MEDIA_IMAGES),
    )
}

/// What a `v2.media` session and processing handle record, so that a resumed session or a
/// later `status` goes to this module's paths whatever the configuration says then.
pub(crate) fn handle_data() -> serde_json::Value {
    serde_json::json!({ "module": ShopeeModule::Media.as_str() })
}

/// The plan the upload follows: the planned one when the server's `part_size` is absent or
/// the same, else the file cut by the server's size. A size of 0 or one that would need more
/// than [`MAX_MEDIA_PARTS`] parts is a protocol error.
pub fn plan_for(plan: &PartPlan, rules: &UploadRules, server: Option<u64>) -> Result<PartPlan> {
    let Some(size) = server else {
        return Ok(*plan);
    };
    if size == plan.part_size() {
        return Ok(*plan);
    }
    let broken = |why: String| {
        Error::protocol(format!(
            "init_video_upload answered part_size {size}: {why}"
        ))
        .with_platform(PLATFORM)
        .with_call("init_video_upload")
    };
    if size == 0 {
        return Err(broken("a part size must be positive".into()));
    }
    let parts = plan.file_size().div_ceil(size);
    if parts > MAX_MEDIA_PARTS {
        return Err(broken(format!(
            "the file would need {parts} parts, more than {MAX_MEDIA_PARTS}"
        )));
    }
    let server_rules = UploadRules {
        part_size: PartSizeRule::Exact(size),
        max_parts: MAX_MEDIA_PARTS as u32,
        ..rules.clone()
    };
    PartPlan::new(plan.file_size(), &server_rules, None).map_err(|e| broken(e.to_string()))
}

/// The `duration` init declares: whole seconds, rounded, at least 1.
fn declared_duration(source: &SourceInfo) -> Result<u64> {
    let secs = source.duration.ok_or_else(|| {
        Error::invalid_input(
            "Shopee's media module needs the video's duration; it could not be read from the file",
        )
        .with_platform(PLATFORM)
    })?;
    Ok((secs.as_secs_f64().round() as u64).max(1))
}

impl ShopeeUploader {
    /// `v2.media.init_video_upload`: declares business, scene, name, size and duration; the
    /// answer's `part_size` decides the plan.
    pub(crate) async fn media_init(
        &self,
        source: &SourceInfo,
        plan: &PartPlan,
    ) -> Result<InitOutcome> {
        let duration = declared_duration(source)?;
        if source.file_name.trim().is_empty() {
            return Err(
                Error::invalid_input("Shopee's media module needs the video's file name")
                    .with_platform(PLATFORM),
            );
        }
        let (business, scene) = self.config().media_video_use.codes();
        let started_at_ms = http::unix_millis();
        let response: w::InitVideoUploadResponse = self
            .post_json(
                w::path::INIT_VIDEO_UPLOAD,
                "init_video_upload",
                &w::InitVideoUploadRequest {
                    business,
                    scene,
                    file_name: &source.file_name,
                    file_size: source.size,
                    duration,
                },
            )
            .await?;
        if response.video_upload_id.is_empty() {
            return Err(
                Error::protocol("init_video_upload returned an empty video_upload_id")
                    .with_platform(PLATFORM),
            );
        }
        let plan = plan_for(plan, &self.rules, response.part_size)?;
        Ok(InitOutcome::Session(UploadSession {
            platform: PLATFORM.into(),
            upload_id: response.video_upload_id,
            plan,
            expires_at: None,
            started_at_ms,
            data: handle_data(),
        }))
    }

    /// `v2.media.upload_image`: the images for the configured business and scene, answered
    /// in order by `image_list`. The call succeeds or fails as a whole; an image the list
    /// leaves out is an error in its own slot.
    pub(crate) async fn media_upload_images(
        &self,
        images: &[ImageSource],
    ) -> Result<Vec<Result<UploadedImage>>> {
        use w::image_fields as f;
        let (business, scene) = self.config().media_image_use.codes();
        let form = || {
            let mut form = reqwest::multipart::Form::new()
                .text(f::BUSINESS, business.to_string())
                .text(f::SCENE, scene.to_string());
            for img in images {
                form = form.part(f::IMAGES, Self::image_part(img)?);
            }
            Ok(form)
        };
        let meta = CallMeta {
            platform: PLATFORM,
            call: "upload_image",
            part: None,
        };
        let response: w::UploadImageResponse =
            self.post_form(w::path::UPLOAD_IMAGE, meta, form).await?;
        let mut listed = response.image_list.unwrap_or_default().into_iter();
        Ok(images
            .iter()
            .map(|img| match listed.next() {
                Some(image) if !image.image_id.is_empty() => Ok(UploadedImage {
                    platform: PLATFORM.into(),
                    id: image.image_id,
                    urls: image
                        .image_url
                        .into_iter()
                        .map(|url| AssetUrl { region: None, url })
                        .collect(),
                    details: serde_json::Value::Null,
                }),
                _ => Err(
                    Error::protocol(format!("image_list has no image for {}", img.file_name))
                        .with_platform(PLATFORM)
                        .with_call("upload_image"),
                ),
            })
            .collect())
    }
}

/// Reads a `v2.media.get_video_upload_result` answer.
pub(crate) fn status_of(
    handle: &ProcessingHandle,
    result: w::GetVideoUploadResultResponse,
) -> Result<ProcessingStatus> {
    let (info, update_time) = (result.video_info, result.update_time);
    crate::read_status(result.status, result.reason, || {
        let info = info.ok_or_else(crate::no_video_info)?;
        let duration = info
            .duration
            .as_ref()
            .and_then(|d| d.as_f64())
            .and_then(|d| Duration::try_from_secs_f64(d).ok());
        Ok(Asset {
            platform: PLATFORM.into(),
            id: handle.id.clone(),
            urls: vec![AssetUrl {
                region: None,
                url: info.video_url,
            }],
            thumbnails: info
                .video_thumbnail_url
                .into_iter()
                .map(|url| AssetUrl { region: None, url })
                .collect(),
            duration,
            size: None,
            details: serde_json::json!({
                "status": "SUCCEEDED",
                "module": ShopeeModule::Media.as_str(),
                "resolution": info.resolution,
                "thumbnail_width": info.thumbnail_width,
                "thumbnail_height": info.thumbnail_height,
                "update_time": update_time,
            }),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn rules_and_plan(file: u64) -> (UploadRules, PartPlan) {
        let config = ShopeeConfig::builder()
            .partner_id(1)
            .partner_key("k")
            .shop_id(2)
            .access_token("t")
            .module(ShopeeModule::Media)
            .build()
            .unwrap();
        let (rules, _) = rules(&config);
        let plan = PartPlan::new(file, &rules, None).unwrap();
        (rules, plan)
    }

    #[test]
    fn the_servers_part_size_replaces_the_planned_one() {
        let (rules, plan) = rules_and_plan(10 * MIB + 1);
        assert_eq!((plan.part_size(), plan.count()), (4 * MIB, 3));
        let same = plan_for(&plan, &rules, Some(4 * MIB)).unwrap();
        assert_eq!(same, plan);
        assert_eq!(plan_for(&plan, &rules, None).unwrap(), plan);
        let server = plan_for(&plan, &rules, Some(MIB)).unwrap();
        assert_eq!((server.part_size(), server.count()), (MIB, 11));
        assert_eq!(server.part(10).unwrap().len, 1);
        let bigger = plan_for(&plan, &rules, Some(8 * MIB)).unwrap();
        assert_eq!((bigger.part_size(), bigger.count()), (8 * MIB, 2));
    }

    #[test]
    fn a_broken_part_size_is_a_protocol_error() {
        let (rules, plan) = rules_and_plan(10 * MIB);
        for size in [0, 1, 1000] {
            let err = plan_for(&plan, &rules, Some(size)).unwrap_err();
            assert_eq!(err.kind(), marketmedia_core::ErrorKind::Protocol, "{size}");
            assert!(err.message().contains("part_size"), "{err}");
        }
    }

    #[test]
    fn statuses_are_read() {
        let handle = ProcessingHandle {
            platform: PLATFORM.into(),
            id: "sg_1".into(),
            data: handle_data(),
        };
        let parse = |v: serde_json::Value| {
            status_of(
                &handle,
                serde_json::from_value::<w::GetVideoUploadResultResponse>(v).unwrap(),
            )
        };
        for stage in ["INITIATED", "UPLOADING", "UPLOADED", "PROCESSING"] {
            assert_eq!(
                parse(serde_json::json!({ "status": stage })).unwrap(),
                ProcessingStatus::Pending {
                    stage: stage.into()
                }
            );
        }
        assert_eq!(
            parse(serde_json::json!({ "status": "FAILED", "reason": "too short" })).unwrap(),
            ProcessingStatus::Failed {
                state: "FAILED".into(),
                reason: "too short".into()
            }
        );
        let ready = parse(serde_json::json!({
            "status": "SUCCEEDED",
            "update_time": 1_700_000_000,
            "video_info": {
                "video_url": "https://v/1", "video_thumbnail_url": "https://t/1",
                "thumbnail_width": 320, "thumbnail_height": 240, "duration": 12,
                "resolution": "960x540"
            }
        }))
        .unwrap();
        let ProcessingStatus::Ready(asset) = ready else {
            panic!("not ready: {ready:?}")
        };
        assert_eq!(asset.urls[0].url, "https://v/1");
        assert_eq!(asset.thumbnails[0].url, "https://t/1");
        assert_eq!(asset.duration, Some(Duration::from_secs(12)));
        assert_eq!(asset.details["resolution"], "960x540");
        let err = parse(serde_json::json!({ "status": "SUCCEEDED" })).unwrap_err();
        assert_eq!(err.kind(), marketmedia_core::ErrorKind::Protocol);
        assert!(parse(serde_json::json!({})).is_err());
    }
}
