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

/// Where an account's upload went.
#[derive(Debug, Clone, Serialize)]
pub struct Destination {
    /// The account's name (the marketplace's, for its embedded simulator).
    pub account: String,
    /// Platform name.
    pub platform: String,
    /// `sandbox` (the embedded simulator) or `configured` (credentials from the environment
    /// or the config file).
    pub target: &'static str,
    /// The API base URL (without user info or query).
    pub endpoint: String,
    /// The marketplace (how it shows asset ids).
    #[serde(skip)]
    pub market: std::sync::Arc<dyn marketmedia_core::Marketplace>,
}

impl Destination {
    /// The destination of `target`.
    pub fn of(target: &Target) -> Destination {
        Destination {
            account: target.account.clone(),
            platform: target.platform().to_owned(),
            market: target.market.clone(),
            target: if target.sandbox {
                "sandbox"
            } else {
                "configured"
            },
            endpoint: marketmedia_core::redact_url(&target.endpoint),
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

/// The state of an upload committed on the platform whose asset id is unknown.
pub const STATE_ID_UNKNOWN: &str = "committed-id-unknown";

/// One marketplace's video upload, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct UploadRecord {
    /// Where it went.
    #[serde(flatten)]
    pub destination: Destination,
    /// Whether this marketplace succeeded.
    pub ok: bool,
    /// `ready`, `processing` (committed; poll it later with `marketmedia status`),
    /// `committed-id-unknown` (committed, the platform holds the asset, but its answer naming
    /// it was lost and no call finds it: see `upload_id`) or `failed`.
    pub state: &'static str,
    /// The platform's upload id, for `committed-id-unknown`.
    pub upload_id: Option<String>,
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
            upload_id: None,
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
                    Completion::CommittedIdUnknown { upload_id } => {
                        record.state = STATE_ID_UNKNOWN;
                        record.upload_id = Some(upload_id.clone());
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

/// The terminal's width in columns: `$COLUMNS` when set (so a pipe can ask for a width),
/// else the width of the terminal on stdout, else none (output to a file or a pipe is never
/// cut).
pub fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
        .or_else(|| {
            console::Term::stdout()
                .size_checked()
                .map(|(_, w)| usize::from(w))
        })
}

/// `text` cut to `width` display columns, ending with `…` when cut (wide characters such as
/// CJK count for two columns).
pub fn fit(text: &str, width: usize) -> String {
    console::truncate_str(text, width, "…").into_owned()
}

/// Lays out rows under headers with comfy-table, which measures cells by their display
/// width (so wide characters and emoji stay aligned). Within `width` columns when given:
/// cells are shortened with `…` and each row stays on one line.
pub fn table_within(headers: &[&str], rows: &[Vec<String>], width: Option<usize>) -> String {
    use comfy_table::{presets::NOTHING, ContentArrangement, Row, Table};
    let mut table = Table::new();
    table.load_preset(NOTHING);
    table.set_header(headers.to_vec());
    match width {
        Some(w) => {
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(u16::try_from(w).unwrap_or(u16::MAX))
                .set_truncation_indicator("…");
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    for row in rows {
        let mut r = Row::from(row.clone());
        r.max_height(1);
        table.add_row(r);
    }
    // Column 1's left padding and every trailing space are dropped: the table starts at the
    // margin like the rest of the output.
    let mut out = String::new();
    for line in table.lines() {
        let line = line
            .strip_prefix(' ')
            .unwrap_or(&line)
            .trim_end()
            .to_owned();
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// [`table_within`] the terminal's width.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    table_within(headers, rows, terminal_width())
}

/// The line before an upload: what goes where, one marketplace a line, within the terminal's
/// width (`Uploading kettle.mp4 (6.0 MiB) to 1 marketplace:`).
pub fn header(what: &str, targets: &[Target]) -> String {
    let width = terminal_width();
    let n = targets.len() as u64;
    let (one, many) = nouns(targets.iter().all(|t| t.sandbox));
    let first = format!(
        "Uploading {what} to {}:",
        marketmedia_core::count(n, one, many)
    );
    let mut out = match width {
        Some(w) => fit(&first, w),
        None => first,
    };
    out.push('\n');
    for t in targets {
        let line = if t.sandbox {
            format!("  {:<7} {}", t.platform(), t.label())
        } else {
            format!("  {} ({}) {}", t.account, t.platform(), t.label())
        };
        out.push_str(&width.map(|w| fit(&line, w)).unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The hints after an upload with `--no-wait`: for each marketplace still processing, the
/// exact `status` command to ask later; for the sandbox, which forgets its uploads when the
/// command ends, that there is nothing to ask later.
pub fn processing_hints(records: &[UploadRecord]) -> String {
    let mut out = String::new();
    for r in records.iter().filter(|r| r.state == STATE_ID_UNKNOWN) {
        out.push_str(&format!(
            "{}: committed (upload {}), but the answer naming the asset was lost and the              platform has no call to find it; look for it on the platform's console.\n",
            r.destination.platform,
            r.upload_id.as_deref().unwrap_or("-")
        ));
    }
    for r in records.iter().filter(|r| r.state == "processing") {
        let id = r.id.as_deref().unwrap_or("ID");
        if r.destination.target == "sandbox" {
            out.push_str(&format!(
                "{}: still processing in the sandbox, which forgets its uploads when this \
                 command ends; run without --no-wait to see it finish.\n",
                r.destination.platform
            ));
        } else {
            out.push_str(&format!(
                "{}: still processing; ask later with `marketmedia status --platform {} --id {id}`.\n",
                r.destination.account, r.destination.account
            ));
        }
    }
    out
}

/// Why a marketplace's row has no URL, when the platform gives none at upload.
fn no_url_reason(d: &Destination) -> String {
    d.market.no_url_note().unwrap_or("-").to_owned()
}

/// The ID column: the asset's id as its marketplace shows it.
fn id_cell(d: &Destination, id: Option<&str>) -> String {
    match id {
        Some(id) => d.market.display_asset_id(id),
        None => "-".into(),
    }
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
                r.destination.account.clone(),
                r.destination.platform.clone(),
                r.destination.label(),
                r.state.to_owned(),
                id_cell(&r.destination, r.id.as_deref()),
                r.stats
                    .as_ref()
                    .map(|s| seconds(s.elapsed_ms))
                    .unwrap_or_else(|| "-".into()),
                match (r.urls.first(), r.ok) {
                    (Some(u), _) => u.url.clone(),
                    (None, true) => no_url_reason(&r.destination),
                    (None, false) => "-".into(),
                },
            ]
        })
        .collect();
    let mut out = table(
        &[
            "ACCOUNT",
            "MARKETPLACE",
            "TARGET",
            "RESULT",
            "ID",
            "TIME",
            "URL",
        ],
        &rows,
    );
    for r in records {
        if let Some(s) = r.stats.as_ref().filter(|s| s.parts_skipped > 0) {
            let parts = u64::from(s.parts_skipped) + u64::from(s.parts_sent);
            out.push_str(&format!(
                "{}: resumed, {} of {} already sent\n",
                r.destination.account,
                s.parts_skipped,
                marketmedia_core::count(parts, "part", "parts")
            ));
        }
    }
    out.push_str(&closing_lines(
        records.iter().filter(|r| r.ok).count(),
        records.len(),
        records.iter().all(|r| r.destination.target == "sandbox"),
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
                r.destination.account.clone(),
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
                r.destination.account.clone(),
                r.destination.platform.clone(),
                r.destination.label(),
                img.file.clone(),
                if img.ok { "uploaded" } else { "refused" }.into(),
                id_cell(&r.destination, img.id.as_deref()),
                match (img.urls.first(), img.ok) {
                    (Some(u), _) => u.url.clone(),
                    (None, true) => no_url_reason(&r.destination),
                    (None, false) => "-".into(),
                },
            ]);
            if let Some(e) = &img.error {
                errors.push(image_error_line(
                    &r.destination.platform,
                    &img.file,
                    &e.message,
                ));
            }
        }
    }
    let mut out = table(
        &[
            "ACCOUNT",
            "MARKETPLACE",
            "TARGET",
            "FILE",
            "RESULT",
            "ID",
            "URL",
        ],
        &rows,
    );
    out.push_str(&closing_lines(
        records.iter().filter(|r| r.ok).count(),
        records.len(),
        records.iter().all(|r| r.destination.target == "sandbox"),
        errors.into_iter(),
    ));
    out
}

/// An image's error line, in the same shape as `upload`'s (`<marketplace>: invalid input: …`), the
/// file named once.
fn image_error_line(platform: &str, file: &str, message: &str) -> String {
    if message.contains(file) {
        return message.to_owned();
    }
    match message.strip_prefix(&format!("{platform}: ")) {
        Some(rest) => format!("{platform}: {file}: {rest}"),
        None => format!("{platform}: {file}: {message}"),
    }
}

/// What a run counts: accounts, or marketplaces when only their simulators serve (one
/// each).
fn nouns(sandbox_only: bool) -> (&'static str, &'static str) {
    if sandbox_only {
        ("marketplace", "marketplaces")
    } else {
        ("account", "accounts")
    }
}

fn closing_lines(
    ok: usize,
    total: usize,
    sandbox_only: bool,
    errors: impl Iterator<Item = String>,
) -> String {
    let (one, many) = nouns(sandbox_only);
    let noun = marketmedia_core::plural(total as u64, one, many);
    let mut out = format!("\n{ok} of {total} {noun} succeeded.\n");
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
        let t = table_within(
            &["A", "BB"],
            &[vec!["xxx".into(), "y".into()], vec!["z".into(), "w".into()]],
            None,
        );
        assert_eq!(t, "A    BB\nxxx  y\nz    w\n");
    }

    #[test]
    fn wide_characters_stay_aligned_and_long_cells_are_cut() {
        use console::measure_text_width as width;
        let rows = vec![
            vec!["Blue kettle – 蓝色水壶 ✓.mp4".into(), "ready".into()],
            vec!["plain.mp4".into(), "ready".into()],
        ];
        let t = table_within(&["FILE", "RESULT"], &rows, None);
        let cols: Vec<usize> = t
            .lines()
            .map(|l| width(&l[..l.rfind("ready").unwrap_or(l.len())]))
            .skip(1)
            .collect();
        assert_eq!(cols[0], cols[1], "{t}");
        let long = vec![vec![
            "x".repeat(200),
            "https://cdn.example/".to_owned() + &"y".repeat(200),
        ]];
        let t = table_within(&["FILE", "URL"], &long, Some(60));
        for line in t.lines() {
            assert!(width(line) <= 60, "{line:?}");
        }
        assert!(t.contains('…'), "{t}");
        assert_eq!(fit("蓝色水壶蓝色水壶", 7), "蓝色水…");
    }
}
