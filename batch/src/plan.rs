//! Planning: the whole manifest is validated before any request (missing files, formats and
//! every marketplace's limits, by line), and the good rows become tasks in the store.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use marketmedia_core::{check_images, ImageSource, SourceProbe};

use crate::error::Result;
use crate::manifest::{ManifestReader, ProductRow};
use crate::market::Market;
use crate::store::{JobStore, MediaKind, NewTask};

/// A problem with one row, found before any request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The manifest line.
    pub line: u64,
    /// The row's sku, when it has one.
    pub sku: Option<String>,
    /// The marketplace whose rule the row breaks, when it is one marketplace's.
    pub marketplace: Option<String>,
    /// What is wrong, in words a seller understands.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(sku) = &self.sku {
            write!(f, " ({sku})")?;
        }
        if let Some(m) = &self.marketplace {
            write!(f, " [{m}]")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// One marketplace's share of the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MarketPlan {
    /// Video uploads.
    pub videos: u64,
    /// Image uploads.
    pub images: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What a manifest amounts to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Rows read.
    pub rows: u64,
    /// Rows with no problem.
    pub good_rows: u64,
    /// Problems, by line (a row may have several).
    pub problems: Vec<Problem>,
    /// Uploads and bytes per marketplace, of the good rows.
    pub markets: BTreeMap<String, MarketPlan>,
    /// Tasks new to the store (0 in a dry run, and for a rerun of a planned manifest).
    pub tasks_added: u64,
}

impl Plan {
    /// Seconds the uploads would take at `bytes_per_sec` per marketplace, marketplaces in
    /// parallel: the largest marketplace's bytes over the bandwidth.
    pub fn seconds_at(&self, bytes_per_sec: u64) -> f64 {
        let most = self.markets.values().map(|m| m.bytes).max().unwrap_or(0);
        most as f64 / bytes_per_sec.max(1) as f64
    }

    /// Tasks of the good rows.
    pub fn tasks(&self) -> u64 {
        self.markets.values().map(|m| m.videos + m.images).sum()
    }
}

/// Tasks written to the store per transaction while planning.
const INSERT_CHUNK: usize = 256;

/// Reads and checks the whole manifest. With a store, adds the good rows' tasks to `batch`
/// (the content of each file is digested for the idempotence key); without, a dry run.
pub async fn plan(
    manifest: &Path,
    markets: &[Market],
    store: Option<(&dyn JobStore, &str)>,
) -> Result<Plan> {
    let mut out = Plan::default();
    let mut pending: Vec<NewTask> = Vec::new();
    for row in ManifestReader::open(manifest)? {
        out.rows += 1;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                out.problems.push(Problem {
                    line: e.line,
                    sku: None,
                    marketplace: None,
                    message: e.message,
                });
                continue;
            }
        };
        let checked = check_row(&row, markets).await;
        if !checked.problems.is_empty() {
            out.problems.extend(checked.problems);
            continue;
        }
        out.good_rows += 1;
        for task in &checked.tasks {
            let m = out.markets.entry(task.marketplace.clone()).or_default();
            match task.kind {
                MediaKind::Video => m.videos += 1,
                MediaKind::Image => m.images += 1,
            }
            m.bytes += task.size;
        }
        if let Some((store, batch)) = store {
            let mut digests: BTreeMap<String, String> = BTreeMap::new();
            for mut task in checked.tasks {
                if let Some(d) = digests.get(&task.path) {
                    task.content_key = d.clone();
                } else {
                    let d = content_key(Path::new(&task.path)).await?;
                    digests.insert(task.path.clone(), d.clone());
                    task.content_key = d;
                }
                task.batch = batch.to_owned();
                pending.push(task);
            }
            if pending.len() >= INSERT_CHUNK {
                out.tasks_added += store.add_tasks(&pending).await?;
                pending.clear();
            }
        }
    }
    if let Some((store, _)) = store {
        if !pending.is_empty() {
            out.tasks_added += store.add_tasks(&pending).await?;
        }
    }
    Ok(out)
}

struct Checked {
    problems: Vec<Problem>,
    tasks: Vec<NewTask>,
}

/// The largest image any marketplace could take: images are read to check them, never
/// beyond this.
const MAX_IMAGE_READ: u64 = 64 << 20;

async fn check_row(row: &ProductRow, markets: &[Market]) -> Checked {
    let mut problems = Vec::new();
    let mut tasks = Vec::new();
    let problem = |marketplace: Option<&str>, message: String| Problem {
        line: row.line,
        sku: Some(row.sku.clone()),
        marketplace: marketplace.map(str::to_owned),
        message,
    };
    let targets: Vec<&Market> = if row.marketplaces.is_empty() {
        markets.iter().collect()
    } else {
        let mut t = Vec::new();
        // An account's name, or a marketplace's meaning every account of it.
        for name in &row.marketplaces {
            let mut found = false;
            for m in markets.iter().filter(|m| m.answers_to(name)) {
                found = true;
                if !t.iter().any(|seen: &&Market| seen.name == m.name) {
                    t.push(m);
                }
            }
            if !found {
                problems.push(problem(
                    None,
                    format!("{name} is not one of the configured accounts or marketplaces"),
                ));
            }
        }
        t
    };
    let task = |m: &Market, media: String, kind: MediaKind, path: &Path, size: u64| NewTask {
        batch: String::new(),
        line: row.line,
        sku: row.sku.clone(),
        media,
        kind,
        marketplace: m.name.clone(),
        platform: m.platform.clone(),
        account: m.account.clone(),
        path: path.display().to_string(),
        size,
        content_key: String::new(),
        fields: row.fields_for_account(&m.platform, &m.name),
    };
    if let Some(video) = &row.video {
        match SourceProbe::open(video).await {
            Err(e) => problems.push(problem(None, format!("video: {}", e.message()))),
            Ok(probe) => {
                for m in &targets {
                    let Some(rules) = &m.video_rules else {
                        problems.push(problem(Some(&m.name), "takes no videos".into()));
                        continue;
                    };
                    if let Err(e) = probe.check(rules) {
                        problems.push(problem(Some(&m.name), e.message().to_owned()));
                        continue;
                    }
                    // The fields the platform declares it needs, from the row or the
                    // market's defaults.
                    let meta = m.meta_for(&row.fields_for_account(&m.platform, &m.name));
                    let missing: Vec<&str> =
                        meta.missing(rules).into_iter().map(|f| f.name()).collect();
                    if !missing.is_empty() {
                        let cols: Vec<String> =
                            missing.iter().map(|f| format!("{}.{f}", m.name)).collect();
                        problems.push(problem(
                            Some(&m.name),
                            format!("the video needs {}", cols.join(" and ")),
                        ));
                        continue;
                    }
                    tasks.push(task(m, "video".into(), MediaKind::Video, video, probe.size));
                }
            }
        }
    }
    if !row.images.is_empty() {
        let mut images = Vec::with_capacity(row.images.len());
        for path in &row.images {
            match ImageSource::read(path, MAX_IMAGE_READ).await {
                Ok(img) => images.push((path, img)),
                Err(e) => problems.push(problem(None, format!("image: {}", e.message()))),
            }
        }
        if images.len() == row.images.len() {
            let sources: Vec<ImageSource> = images.iter().map(|(_, i)| i.clone()).collect();
            for m in &targets {
                let Some(rules) = &m.image_rules else {
                    problems.push(problem(Some(&m.name), "takes no images".into()));
                    continue;
                };
                if let Err(e) = check_images(rules, &sources) {
                    problems.push(problem(Some(&m.name), e.message().to_owned()));
                    continue;
                }
                for (n, (path, img)) in images.iter().enumerate() {
                    let media = format!("image{}", n + 1);
                    tasks.push(task(
                        m,
                        media,
                        MediaKind::Image,
                        path,
                        img.data.len() as u64,
                    ));
                }
            }
        }
    }
    Checked { problems, tasks }
}

/// The content key of a file: `sha256:` and the hex digest of its bytes, read in 1 MiB
/// blocks off the async runtime.
pub async fn content_key(path: &Path) -> Result<String> {
    let path = path.to_owned();
    let digest = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
    })
    .await
    .map_err(|e| std::io::Error::other(format!("the digest task failed: {e}")))??;
    Ok(digest)
}
