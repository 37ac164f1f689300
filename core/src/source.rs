//! The source file: what it is, whether the rules accept it, and its digests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::digest::{digest_file_async, DigestRequest, Digests};
use crate::error::{Error, ErrorKind, Result};
use crate::media::{self, MediaFormat};
use crate::plan::PartPlan;
use crate::rules::UploadRules;
use crate::units::human_sizes;
use crate::uploader::SourceInfo;

/// What a cheap look at a file tells (no full read): size, format, video duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProbe {
    /// The file.
    pub path: PathBuf,
    /// Its name without directories.
    pub file_name: String,
    /// Size in bytes.
    pub size: u64,
    /// Format by magic bytes.
    pub format: MediaFormat,
    /// Duration from `moov/mvhd`, for a readable MP4/MOV.
    pub duration: Option<Duration>,
    /// Why the duration could not be read, for a video whose container is unreadable.
    pub probe_error: Option<String>,
}

impl SourceProbe {
    /// Looks at the file: size, magic bytes and, for videos, the container's duration.
    pub async fn open(path: &Path) -> Result<SourceProbe> {
        let meta = tokio::fs::metadata(path).await.map_err(|e| {
            Error::invalid_input(format!("cannot open {}: {e}", path.display())).with_source(e)
        })?;
        if !meta.is_file() {
            return Err(Error::invalid_input(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let owned = path.to_owned();
        let (format, duration, probe_error) = tokio::task::spawn_blocking(move || {
            let format = media::sniff_file(&owned)?;
            if !format.is_video() {
                return Ok::<_, Error>((format, None, None));
            }
            match media::probe_video(&owned) {
                Ok(info) => Ok((format, Some(info.duration), None)),
                Err(e) => Ok((format, None, Some(e.message().to_owned()))),
            }
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("the probe task failed: {e}")))??;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "video.mp4".to_owned());
        Ok(SourceProbe {
            path: path.to_owned(),
            file_name,
            size: meta.len(),
            format,
            duration,
            probe_error,
        })
    }

    /// Checks the source against a provider's rules: size, format, duration. No network.
    ///
    /// A file that breaks several limits is told about all of them in one message, sizes in
    /// human units (`kettle.mp4 is 62.0 MiB and lasts 70.0 s; shopee accepts at most 30.0 MiB
    /// and 10–60 s`).
    pub fn check(&self, rules: &UploadRules) -> Result<()> {
        let platform = rules.platform.as_str();
        let fail = |msg: String| Err(Error::invalid_input(msg).with_platform(platform));
        if self.size == 0 {
            return fail(format!("{} is empty", self.path.display()));
        }
        if !self.format.is_video() {
            let found = match self.format {
                MediaFormat::Unknown => "its format is unknown".to_owned(),
                other => format!("it is {}", other.name()),
            };
            return fail(format!(
                "{} is not a video ({found}); MP4 or MOV expected",
                self.file_name
            ));
        }
        // (what the file is, what the platform accepts)
        let mut broken: Vec<(String, String)> = Vec::new();
        if self.size < rules.min_file_bytes {
            let (is, min) = human_sizes(self.size, rules.min_file_bytes);
            broken.push((format!("is {is}"), format!("at least {min}")));
        }
        if self.size > rules.max_file_bytes {
            let (is, max) = human_sizes(self.size, rules.max_file_bytes);
            broken.push((format!("is {is}"), format!("at most {max}")));
        }
        if let Some(range) = rules.video_duration {
            let accepted = format!("{}–{} s", range.min.as_secs(), range.max.as_secs());
            match self.duration {
                None => {
                    let why = self.probe_error.as_deref().unwrap_or("no duration found");
                    broken.push((
                        format!("has no readable duration ({why})"),
                        format!("videos of {accepted}"),
                    ));
                }
                Some(d) if d < range.min || d > range.max => {
                    broken.push((format!("lasts {:.1} s", d.as_secs_f64()), accepted));
                }
                Some(_) => {}
            }
        }
        if broken.is_empty() {
            return Ok(());
        }
        let (what, limits): (Vec<String>, Vec<String>) = broken.into_iter().unzip();
        fail(format!(
            "{} {}; {platform} accepts {}",
            self.file_name,
            what.join(" and "),
            limits.join(" and ")
        ))
    }

    /// The part plan for a provider, checked against its rules.
    pub fn plan(&self, rules: &UploadRules, part_size: Option<u64>) -> Result<PartPlan> {
        PartPlan::new(self.size, rules, part_size).map_err(|e| e.with_platform(&rules.platform))
    }
}

/// The digests a provider needs from the pass over the whole file before `init`.
///
/// Part MD5s ride along only when the pass reads the file anyway for a whole-file digest the
/// provider needs at `init` (Shopee's `file_md5`): they then cost a second thread, not a
/// second read. Otherwise (Lazada) there is no pass at all, and the driver hashes each part
/// when it sends it, overlapped with the other parts on the network.
pub fn digest_request(rules: &UploadRules, plan: &PartPlan) -> DigestRequest {
    let whole_file =
        rules.digests.file_md5 || rules.digests.instant_upload_hashes || rules.digests.crc64;
    DigestRequest {
        file_md5: rules.digests.file_md5,
        part_md5_sizes: if rules.digests.part_md5 && whole_file {
            vec![plan.part_size()]
        } else {
            Vec::new()
        },
        instant_upload_hashes: rules.digests.instant_upload_hashes,
        crc64: rules.digests.crc64,
    }
}

/// Merges digest requests so one pass serves several providers.
pub(crate) fn merge_requests<'a>(
    requests: impl IntoIterator<Item = &'a DigestRequest>,
) -> DigestRequest {
    let mut out = DigestRequest::default();
    for r in requests {
        out.file_md5 |= r.file_md5;
        out.instant_upload_hashes |= r.instant_upload_hashes;
        out.crc64 |= r.crc64;
        for s in &r.part_md5_sizes {
            if !out.part_md5_sizes.contains(s) {
                out.part_md5_sizes.push(*s);
            }
        }
    }
    out
}

/// A probed and digested source, ready for `init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedSource {
    /// The probe.
    pub probe: SourceProbe,
    /// The digests.
    pub digests: Digests,
}

impl PreparedSource {
    /// Digests `probe`'s file with `request` (one read of the file).
    pub async fn digest(probe: SourceProbe, request: &DigestRequest) -> Result<PreparedSource> {
        if request.is_empty() {
            // Nothing to compute: no read of the file.
            return Ok(PreparedSource::undigested(probe));
        }
        let digests = digest_file_async(&probe.path, request).await?;
        if digests.size != probe.size {
            return Err(Error::new(
                ErrorKind::Io,
                format!("{} changed while it was read", probe.path.display()),
            ));
        }
        Ok(PreparedSource { probe, digests })
    }

    /// The source with no digest computed (only its size).
    pub fn undigested(probe: SourceProbe) -> PreparedSource {
        let digests = Digests {
            size: probe.size,
            ..Digests::default()
        };
        PreparedSource { probe, digests }
    }

    /// The value providers see.
    pub fn info(&self) -> SourceInfo {
        SourceInfo {
            file_name: self.probe.file_name.clone(),
            size: self.probe.size,
            format: self.probe.format,
            duration: self.probe.duration,
            digests: self.digests.clone(),
            meta: crate::UploadMeta::default(),
        }
    }
}
