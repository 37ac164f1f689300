//! What the command prints: one JSON object per marketplace (`--json`), or a summary table
//! followed by one line per error.

use marketmedia_core::{
    AssetUrl, Completion, Error, FanOutReport, ImageReport, UploadOutcome, UploadStats,
    UploadedImage,
};
use serde::Serialize;

use crate::targets::Target;

/// An error as printed in JSON: its kind to match on, the one-line message, and the
/// platform's own context.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorRecord {
    /// The error kind (`Auth`, `InvalidInput`, `Transient`, …).
    pub kind: String,
    /// The error in one line (its `Display`).
    pub message: String,
    /// The platform's error code.
    pub code: Option<String>,
    /// The HTTP status, when there was an answer.
    pub http_status: Option<u16>,
    /// The platform's request id.
    pub request_id: Option<String>,
    /// Whether trying again as is may succeed.
    pub retryable: bool,
}

impl From<&Error> for ErrorRecord {
    fn from(e: &Error) -> Self {
        ErrorRecord {
            kind: format!("{:?}", e.kind()),
            message: e.to_string(),
            code: e.code().map(str::to_owned),
            http_status: e.http_status(),
            request_id: e.request_id().map(str::to_owned),
            retryable: e.is_retryable(),
        }
    }
}

/// Where a marketplace's upload went.
#[derive(Debug, Clone, Serialize)]
pub struct Destination {
    /// Platform name.
    pub platform: String,
    /// `sandbox` (the embedded simulator) or `configured` (credentials from the environment
    /// or the config file).
    pub target: &'static str,
    /// The API base URL (without user info or query).
    pub endpoint: String,
}

impl Destination {
    /// The destination of `target`.
    pub fn of(target: &Target) -> Destination {
        Destination {
            platform: target.platform.name().to_owned(),
            target: if target.sandbox {
                "sandbox"
            } else {
                "configured"
            },
            endpoint: crate::targets::redact_url(&target.endpoint),
        }
    }

    fn label(&self) -> String {
        if self.target == "sandbox" {
            crate::sandbox::SANDBOX_LABEL.to_owned()
        } else {
            self.endpoint.clone()
        }
    }
}

/// One marketplace's video upload, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct UploadRecord {
    /// Where it went.
    #[serde(flatten)]
    pub destination: Destination,
    /// Whether this marketplace succeeded.
    pub ok: bool,
    /// `ready`, `processing` (committed; poll it later with `marketmedia status`) or `failed`.
    pub state: &'static str,
    /// The asset id to attach to products (or to poll).
    pub id: Option<String>,
    /// Where the asset is served.
    pub urls: Vec<AssetUrl>,
    /// Thumbnails or covers.
    pub thumbnails: Vec<AssetUrl>,
    /// Duration in seconds, when the platform reports it.
    pub duration_secs: Option<f64>,
    /// Size in bytes, when the platform reports it.
    pub size: Option<u64>,
    /// Other platform facts (eTag, CRC-64, state…), as the platform named them.
    pub details: serde_json::Value,
    /// Counters of the upload.
    pub stats: Option<UploadStats>,
    /// Why it failed.
    pub error: Option<ErrorRecord>,
}

impl UploadRecord {
    /// The record of one marketplace's result.
    pub fn new(destination: Destination, result: &Result<UploadOutcome, Error>) -> Self {
        let mut record = UploadRecord {
            destination,
            ok: result.is_ok(),
            state: "failed",
            id: None,
            urls: Vec::new(),
            thumbnails: Vec::new(),
            duration_secs: None,
            size: None,
            details: serde_json::Value::Null,
            stats: None,
            error: None,
        };
        match result {
            Ok(outcome) => {
                record.stats = Some(outcome.stats.clone());
                match &outcome.completion {
                    Completion::Ready(asset) => {
                        record.state = "ready";
                        record.id = Some(asset.id.clone());
                        record.urls = asset.urls.clone();
                        record.thumbnails = asset.thumbnails.clone();
                        record.duration_secs = asset.duration.map(|d| d.as_secs_f64());
                        record.size = asset.size;
                        record.details = asset.details.clone();
                    }
                    Completion::Processing(handle) => {
                        record.state = "processing";
                        record.id = Some(handle.id.clone());
                    }
                }
            }
            Err(e) => record.error = Some(ErrorRecord::from(e)),
        }
        record
    }
}

/// The records of a fan-out, in the targets' order.
pub fn upload_records(targets: &[Target], report: &FanOutReport) -> Vec<UploadRecord> {
    targets
        .iter()
        .zip(&report.reports)
        .map(|(t, r)| UploadRecord::new(Destination::of(t), &r.result))
        .collect()
}

/// One image on one marketplace, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct ImageRecord {
    /// The file it came from.
    pub file: String,
    /// Whether this image was accepted.
    pub ok: bool,
    /// The platform's image id.
    pub id: Option<String>,
    /// Where it is served.
    pub urls: Vec<AssetUrl>,
    /// Why it was refused.
    pub error: Option<ErrorRecord>,
}

/// One marketplace's images, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct ImagesRecord {
    /// Where they went.
    #[serde(flatten)]
    pub destination: Destination,
    /// Whether every image was accepted.
    pub ok: bool,
    /// One entry per image, when the call as a whole went through.
    pub images: Vec<ImageRecord>,
    /// Why the call as a whole failed (checks or request).
    pub error: Option<ErrorRecord>,
}

/// The records of an image fan-out; `files` are the images' names in order.
pub fn image_records(
    targets: &[Target],
    reports: &[ImageReport],
    files: &[String],
) -> Vec<ImagesRecord> {
    targets
        .iter()
        .zip(reports)
        .map(|(t, r)| {
            let destination = Destination::of(t);
            match &r.result {
                Ok(list) => {
                    let images: Vec<ImageRecord> = list
                        .iter()
                        .enumerate()
                        .map(|(i, res)| image_record(files.get(i), res))
                        .collect();
                    ImagesRecord {
                        destination,
                        ok: images.iter().all(|i| i.ok),
                        images,
                        error: None,
                    }
                }
                Err(e) => ImagesRecord {
                    destination,
                    ok: false,
                    images: Vec::new(),
                    error: Some(ErrorRecord::from(e)),
                },
            }
        })
        .collect()
}

fn image_record(file: Option<&String>, result: &Result<UploadedImage, Error>) -> ImageRecord {
    let file = file.cloned().unwrap_or_default();
    match result {
        Ok(img) => ImageRecord {
            file,
            ok: true,
            id: Some(img.id.clone()),
            urls: img.urls.clone(),
            error: None,
        },
        Err(e) => ImageRecord {
            file,
            ok: false,
            id: None,
            urls: Vec::new(),
            error: Some(ErrorRecord::from(e)),
        },
    }
}

/// Lays out rows under headers, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let pad = widths.get(i).copied().unwrap_or(0);
                out.push_str(&format!("{cell:<pad$}  "));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// The human summary of a video fan-out: a table, then each failure on its own line.
pub fn upload_summary(records: &[UploadRecord], errors: &[Option<&Error>]) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.destination.platform.clone(),
                r.destination.label(),
                r.state.to_owned(),
                r.id.clone().unwrap_or_else(|| "-".into()),
                r.stats
                    .as_ref()
                    .map(|s| seconds(s.elapsed_ms))
                    .unwrap_or_else(|| "-".into()),
                r.urls
                    .first()
                    .map(|u| u.url.clone())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut out = table(
        &["MARKETPLACE", "TARGET", "RESULT", "ID", "TIME", "URL"],
        &rows,
    );
    out.push_str(&closing_lines(
        records.iter().filter(|r| r.ok).count(),
        records.len(),
        errors.iter().flatten().map(|e| e.to_string()),
    ));
    out
}

/// The human summary of an image fan-out.
pub fn images_summary(records: &[ImagesRecord]) -> String {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for r in records {
        if let Some(e) = &r.error {
            rows.push(vec![
                r.destination.platform.clone(),
                r.destination.label(),
                "(all)".into(),
                "failed".into(),
                "-".into(),
                "-".into(),
            ]);
            errors.push(e.message.clone());
        }
        for img in &r.images {
            rows.push(vec![
                r.destination.platform.clone(),
                r.destination.label(),
                img.file.clone(),
                if img.ok { "uploaded" } else { "failed" }.into(),
                img.id.clone().unwrap_or_else(|| "-".into()),
                img.urls
                    .first()
                    .map(|u| u.url.clone())
                    .unwrap_or_else(|| "-".into()),
            ]);
            if let Some(e) = &img.error {
                errors.push(format!("{}: {}", img.file, e.message));
            }
        }
    }
    let mut out = table(
        &["MARKETPLACE", "TARGET", "FILE", "RESULT", "ID", "URL"],
        &rows,
    );
    out.push_str(&closing_lines(
        records.iter().filter(|r| r.ok).count(),
        records.len(),
        errors.into_iter(),
    ));
    out
}

fn closing_lines(ok: usize, total: usize, errors: impl Iterator<Item = String>) -> String {
    let mut out = format!("\n{ok} of {total} marketplaces succeeded.\n");
    for e in errors {
        // One line per error, whatever the platform put in its message.
        out.push_str(&format!("error: {}\n", e.replace(['\n', '\r'], " ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns() {
        let t = table(
            &["A", "BB"],
            &[vec!["xxx".into(), "y".into()], vec!["z".into(), "w".into()]],
        );
        assert_eq!(t, "A    BB\nxxx  y\nz    w\n");
    }
}
