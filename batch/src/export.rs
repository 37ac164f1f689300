//! The export: one line per sku × account × media with its asset id, URL, state and
//! error, ready for a listing tool. Read from the store in pages, so it streams.

use std::io::Write;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{JobStore, Task, TaskFilter};

/// The export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV with a header.
    Csv,
    /// One JSON object per line.
    Json,
}

/// One exported line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRow {
    /// The batch.
    pub batch: String,
    /// The product.
    pub sku: String,
    /// The account (its name; the marketplace's for the account named after it).
    pub account: String,
    /// The marketplace the account is of.
    pub marketplace: String,
    /// `video`, `image1`…
    pub media: String,
    /// The task's state.
    pub state: String,
    /// The asset's id, once done.
    pub asset_id: String,
    /// Its first URL.
    pub url: String,
    /// Whether it reused an earlier asset.
    pub reused: bool,
    /// The last error, if any.
    pub error: String,
    /// Attempts so far.
    pub attempts: u32,
}

impl From<&Task> for ExportRow {
    fn from(t: &Task) -> Self {
        let error = match (&t.error_kind, &t.error_message) {
            (Some(k), Some(m)) => format!("{k}: {m}"),
            (None, Some(m)) => m.clone(),
            _ => String::new(),
        };
        ExportRow {
            batch: t.spec.batch.clone(),
            sku: t.spec.sku.clone(),
            account: t.spec.marketplace.clone(),
            marketplace: if t.spec.platform.is_empty() {
                t.spec.marketplace.clone()
            } else {
                t.spec.platform.clone()
            },
            media: t.spec.media.clone(),
            state: t.state.to_string(),
            asset_id: t.asset_id.clone().unwrap_or_default(),
            url: t.urls.first().map(|u| u.url.clone()).unwrap_or_default(),
            reused: t.reused,
            error,
            attempts: t.attempts,
        }
    }
}

/// Tasks read from the store per query while exporting.
const PAGE: u32 = 500;

/// Writes every task of the store (or of one `batch`) to `out`. Returns how many lines were
/// written.
pub async fn export(
    store: &dyn JobStore,
    format: ExportFormat,
    batch: Option<&str>,
    out: impl Write,
) -> Result<u64> {
    let filter = TaskFilter::all().in_batch(batch);
    let mut csv_out = None;
    let mut json_out = None;
    match format {
        ExportFormat::Csv => csv_out = Some(csv::Writer::from_writer(out)),
        ExportFormat::Json => json_out = Some(out),
    }
    let mut after = 0;
    let mut n = 0;
    loop {
        let page = store.tasks(after, PAGE, &filter).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for task in &page {
            let row = ExportRow::from(task);
            if let Some(w) = csv_out.as_mut() {
                w.serialize(&row)
                    .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
            }
            if let Some(w) = json_out.as_mut() {
                serde_json::to_writer(&mut *w, &row).map_err(std::io::Error::other)?;
                w.write_all(b"\n")?;
            }
            n += 1;
        }
    }
    if let Some(mut w) = csv_out {
        w.flush()?;
    }
    if let Some(mut w) = json_out {
        w.flush()?;
    }
    Ok(n)
}
