//! The manifest: one product per row, in CSV (what sellers export from a spreadsheet) or JSON
//! Lines, read as a stream so that memory does not grow with the catalog.
//!
//! CSV columns (header required, any order): `sku`, `video`, `images` (paths separated by
//! `|` or `;`), `marketplaces` (names separated by `|`, `;`, `,` or spaces; empty: every
//! configured one), and any `MARKET.FIELD` column for a marketplace's own fields, e.g.
//! `lazada.title`, `lazada.cover_url`. JSON Lines: one object per line with the same keys,
//! `images` and `marketplaces` as arrays or strings, and marketplace fields either dotted
//! (`"lazada.title"`) or nested (`"lazada": {"title": …}`). Relative paths are relative to
//! the manifest's directory. Blank lines and JSON lines starting with `#` are skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// One product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRow {
    /// The manifest line the row starts on (1-based; the CSV header is line 1).
    pub line: u64,
    /// The product's sku.
    pub sku: String,
    /// Its video, if any.
    pub video: Option<PathBuf>,
    /// Its images, in order.
    pub images: Vec<PathBuf>,
    /// The marketplaces it goes to (lower case); empty means every configured one.
    pub marketplaces: Vec<String>,
    /// Marketplace fields, keyed `market.field` (lower-case market).
    pub fields: BTreeMap<String, String>,
}

impl ProductRow {
    /// The fields of one marketplace, keyed by field name (`title`, `cover_url`).
    /// The fields of an account named `account` of `platform`: the marketplace's
    /// (`lazada.title`), overridden by the account's own (`lazada-my.title`).
    pub fn fields_for_account(&self, platform: &str, account: &str) -> BTreeMap<String, String> {
        let mut fields = self.fields_for(platform);
        if account != platform {
            fields.extend(self.fields_for(account));
        }
        fields
    }

    /// The fields prefixed `market.` (without the prefix).
    pub fn fields_for(&self, market: &str) -> BTreeMap<String, String> {
        let prefix = format!("{}.", market.to_ascii_lowercase());
        self.fields
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|f| (f.to_owned(), v.clone())))
            .collect()
    }
}

/// A row that could not be read, by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The manifest line.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// The manifest's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    /// Comma-separated values with a header.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl ManifestFormat {
    /// The format for a file name: `.jsonl`/`.ndjson` are JSON Lines, anything else CSV.
    pub fn of(path: &Path) -> ManifestFormat {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            Some(e) if e == "jsonl" || e == "ndjson" => ManifestFormat::JsonLines,
            _ => ManifestFormat::Csv,
        }
    }
}

/// The line a byte offset of the manifest is on, counted on a second reader of the file.
/// The CSV reader's own line numbers skip blank lines (csv counts the lines of the records it
/// returns), so a report by line would point above the row a seller has to fix. Offsets only
/// grow, so one pass over the file serves the whole read, in constant memory.
struct LineCounter {
    reader: BufReader<File>,
    /// Bytes counted so far.
    at: u64,
    /// Newlines before `at`.
    newlines: u64,
}

impl LineCounter {
    fn open(path: &Path) -> Result<LineCounter> {
        let file =
            File::open(path).map_err(|e| Error::Manifest(format!("{}: {e}", path.display())))?;
        Ok(LineCounter {
            reader: BufReader::new(file),
            at: 0,
            newlines: 0,
        })
    }

    /// The 1-based line of the record starting at byte `offset`, past any blank lines there
    /// (an offset behind the last one asked gives the last line counted).
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.at < offset {
            let want = usize::try_from(offset - self.at).unwrap_or(usize::MAX);
            let Ok(buf) = self.reader.fill_buf() else {
                break;
            };
            if buf.is_empty() {
                break;
            }
            let take = want.min(buf.len());
            self.newlines += buf[..take].iter().filter(|&&b| b == b'\n').count() as u64;
            self.at += take as u64;
            self.reader.consume(take);
        }
        // The CSV reader places a record after the blank lines before it: skip them.
        while let Ok(buf) = self.reader.fill_buf() {
            let blank = buf
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            if blank == 0 {
                break;
            }
            self.newlines += buf[..blank].iter().filter(|&&b| b == b'\n').count() as u64;
            self.at += blank as u64;
            self.reader.consume(blank);
        }
        self.newlines + 1
    }
}

enum Source {
    Csv {
        records: csv::StringRecordsIntoIter<File>,
        header: Vec<String>,
        lines: LineCounter,
    },
    Json {
        lines: std::io::Lines<BufReader<File>>,
        line: u64,
    },
}

/// A streaming reader of a manifest: yields one row (or the reason it is unreadable) at a
/// time, holding only that row in memory.
pub struct ManifestReader {
    base: PathBuf,
    source: Source,
}

impl std::fmt::Debug for ManifestReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestReader")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ManifestReader {
    /// Opens `path`, in the format its extension says.
    pub fn open(path: &Path) -> Result<ManifestReader> {
        ManifestReader::open_as(path, ManifestFormat::of(path))
    }

    /// Opens `path` in `format`.
    pub fn open_as(path: &Path, format: ManifestFormat) -> Result<ManifestReader> {
        let file = File::open(path)
            .map_err(|e| Error::Manifest(format!("cannot open {}: {e}", path.display())))?;
        // Media paths are stored with their tasks and read by workers that may run in
        // another directory (`batch work`), so they are made absolute here.
        let base = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = std::path::absolute(&base).unwrap_or(base);
        let source = match format {
            ManifestFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .trim(csv::Trim::All)
                    .from_reader(file);
                let header = reader
                    .headers()
                    .map_err(|e| Error::Manifest(format!("line 1: {e}")))?
                    .iter()
                    .map(|h| h.trim().to_ascii_lowercase())
                    .collect::<Vec<_>>();
                if !header.iter().any(|h| h == "sku") {
                    return Err(Error::Manifest(
                        "line 1: the header has no `sku` column".into(),
                    ));
                }
                Source::Csv {
                    records: reader.into_records(),
                    header,
                    lines: LineCounter::open(path)?,
                }
            }
            ManifestFormat::JsonLines => Source::Json {
                lines: BufReader::new(file).lines(),
                line: 0,
            },
        };
        Ok(ManifestReader { base, source })
    }

    fn path(&self, s: &str) -> PathBuf {
        let p = PathBuf::from(s);
        if p.is_absolute() {
            p
        } else {
            self.base.join(p)
        }
    }

    fn row(&self, line: u64, raw: RawRow) -> std::result::Result<ProductRow, RowError> {
        let err = |message: String| RowError { line, message };
        let sku = raw.sku.trim().to_owned();
        if sku.is_empty() {
            return Err(err("the row has no sku".into()));
        }
        let video = raw
            .video
            .filter(|v| !v.trim().is_empty())
            .map(|v| self.path(v.trim()));
        let images: Vec<PathBuf> = raw
            .images
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| self.path(s))
            .collect();
        if video.is_none() && images.is_empty() {
            return Err(err(format!(
                "{sku}: the row has neither a video nor an image"
            )));
        }
        let mut marketplaces: Vec<String> = raw
            .marketplaces
            .iter()
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .collect();
        marketplaces.dedup();
        Ok(ProductRow {
            line,
            sku,
            video,
            images,
            marketplaces,
            fields: raw.fields,
        })
    }
}

#[derive(Default)]
struct RawRow {
    sku: String,
    video: Option<String>,
    images: Vec<String>,
    marketplaces: Vec<String>,
    fields: BTreeMap<String, String>,
}

fn split_list(s: &str, separators: &[char]) -> Vec<String> {
    s.split(|c: char| separators.contains(&c))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

const IMAGE_SEPARATORS: &[char] = &['|', ';'];
const MARKET_SEPARATORS: &[char] = &['|', ';', ',', ' '];

fn csv_row(header: &[String], record: &csv::StringRecord) -> RawRow {
    let mut raw = RawRow::default();
    for (name, value) in header.iter().zip(record.iter()) {
        match name.as_str() {
            "sku" => raw.sku = value.to_owned(),
            "video" => raw.video = Some(value.to_owned()),
            "images" | "image" => raw.images = split_list(value, IMAGE_SEPARATORS),
            "marketplaces" | "marketplace" => {
                raw.marketplaces = split_list(value, MARKET_SEPARATORS)
            }
            other if other.contains('.') && !value.is_empty() => {
                raw.fields.insert(other.to_owned(), value.to_owned());
            }
            _ => {}
        }
    }
    raw
}

fn json_list(v: &Value, separators: &[char]) -> std::result::Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(split_list(s, separators)),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("expected a string, found {i}"))
            })
            .collect(),
        other => Err(format!("expected a list, found {other}")),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn json_row(text: &str) -> std::result::Result<RawRow, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("expected a JSON object".into());
    };
    let mut raw = RawRow::default();
    for (key, v) in map {
        let key = key.to_ascii_lowercase();
        match key.as_str() {
            "sku" => raw.sku = scalar(&v).ok_or("sku: expected a string")?,
            "video" => raw.video = scalar(&v),
            "images" | "image" => raw.images = json_list(&v, IMAGE_SEPARATORS)?,
            "marketplaces" | "marketplace" => raw.marketplaces = json_list(&v, MARKET_SEPARATORS)?,
            _ => match v {
                Value::Object(fields) => {
                    for (f, fv) in fields {
                        if let Some(s) = scalar(&fv) {
                            raw.fields
                                .insert(format!("{key}.{}", f.to_ascii_lowercase()), s);
                        }
                    }
                }
                other if key.contains('.') => {
                    if let Some(s) = scalar(&other) {
                        raw.fields.insert(key, s);
                    }
                }
                _ => {}
            },
        }
    }
    Ok(raw)
}

impl Iterator for ManifestReader {
    type Item = std::result::Result<ProductRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line, raw) = match &mut self.source {
                Source::Csv {
                    records,
                    header,
                    lines,
                } => {
                    let record = records.next()?;
                    match record {
                        Ok(r) => {
                            let line = r.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
                            if r.iter().all(|f| f.is_empty()) {
                                continue;
                            }
                            (line, Ok(csv_row(header, &r)))
                        }
                        Err(e) => {
                            let line = e.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
                            (line, Err(e.to_string()))
                        }
                    }
                }
                Source::Json { lines, line } => {
                    let text = lines.next()?;
                    *line += 1;
                    match text {
                        Ok(t) if t.trim().is_empty() || t.trim_start().starts_with('#') => continue,
                        Ok(t) => (*line, json_row(&t)),
                        Err(e) => (*line, Err(e.to_string())),
                    }
                }
            };
            return Some(match raw {
                Ok(raw) => self.row(line, raw),
                Err(message) => Err(RowError { line, message }),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(name: &str, text: &str) -> Vec<std::result::Result<ProductRow, RowError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        ManifestReader::open(&path).unwrap().collect()
    }

    #[test]
    fn csv_rows_carry_their_line_and_fields() {
        let rows = rows(
            "m.csv",
            "sku,video,images,marketplaces,lazada.title\n\
             K1,k1.mp4,a.jpg|b.png,shopee;lazada,Kettle\n\
             K2,,,,\n\
             ,x.mp4,,,\n\
             K3,,c.jpg,,\n",
        );
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        let k1 = rows[0].as_ref().unwrap();
        assert_eq!(k1.line, 2);
        assert_eq!(k1.images.len(), 2);
        assert_eq!(k1.marketplaces, vec!["shopee", "lazada"]);
        assert_eq!(k1.fields_for("lazada").get("title").unwrap(), "Kettle");
        assert_eq!(rows[2].as_ref().unwrap_err().line, 4);
        let k3 = rows[3].as_ref().unwrap();
        assert!(k3.video.is_none() && k3.marketplaces.is_empty());
    }

    #[test]
    fn csv_line_numbers_count_blank_lines_and_quoted_newlines() {
        for newline in ["\n", "\r\n"] {
            let text = [
                "sku,video,lazada.title",
                "",
                "K1,k1.mp4,Kettle",
                "",
                "",
                "K2,k2.mp4,\"two",
                "lines\"",
                "   ",
                ",x.mp4,no sku",
                "K3,k3.mp4,",
            ]
            .join(newline);
            let rows = rows("m.csv", &text);
            let lines: Vec<u64> = rows
                .iter()
                .map(|r| match r {
                    Ok(row) => row.line,
                    Err(e) => e.line,
                })
                .collect();
            assert_eq!(lines, vec![3, 6, 9, 10], "newline {newline:?}: {rows:?}");
            assert!(rows[2].is_err());
        }
    }

    #[test]
    fn json_lines_take_nested_and_dotted_fields() {
        let rows = rows(
            "m.jsonl",
            "{\"sku\":\"K1\",\"video\":\"v.mp4\",\"lazada\":{\"title\":\"T\"},\"shopee.x\":\"y\"}\n\
             # a comment\n\
             not json\n",
        );
        let k1 = rows[0].as_ref().unwrap();
        assert_eq!(k1.fields_for("lazada").get("title").unwrap(), "T");
        assert_eq!(k1.fields_for("shopee").get("x").unwrap(), "y");
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
    }
}
