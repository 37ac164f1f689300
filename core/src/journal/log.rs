//! A session's log: JSON lines, a snapshot of the whole entry first, then one small record
//! per event (a part sending, a receipt, the completion sent or answered, a renewed session).
//!
//! ```text
//! {"at":1765090000000,"entry":{"platform":"shopee","source":{…},"session":{…},"receipts":[],…}}
//! {"at":1765090000012,"sending":0}
//! {"at":1765090000480,"receipt":{"index":0,"wire_number":1,"size":4194304,"etag":null}}
//! {"at":1765090009930,"commit":"Sent"}
//! ```
//!
//! Reading replays the records over the snapshot, in order, each replacing what it names (a
//! receipt replaces the earlier one of its part; "sent" never undoes "answered"). A line that
//! does not parse (the torn last line of a crash mid-write) is skipped. A log whose records
//! outgrow its snapshot is compacted: rewritten as one snapshot.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::JournalEntry;
use crate::driver::CommitState;
use crate::error::{Error, ErrorKind, Result};
use crate::uploader::{PartReceipt, UploadSession};

/// The extension of a session's log.
pub(super) const LOG_EXT: &str = "jsonl";

/// The extension of the whole-entry files written before logs: still read, and replaced by a
/// log when the session runs again.
pub(super) const ENTRY_EXT: &str = "json";

/// A log is compacted once its records past the snapshot exceed this many, or the number of
/// parts its entry names (receipts and parts sending), whichever is larger. A log that only
/// grows (each record a new part sending or acknowledged) never exceeds its entry, so an
/// upload's log is appended to, never compacted, whether the writer found its records one
/// by one or together. The file then
/// stays within about twice its entry plus this many records, and each compaction follows at
/// least as many appended records as it rewrites: O(1) amortized per record. 256 records are
/// about 25 KB.
pub(super) const COMPACT_MIN_RECORDS: usize = 256;

/// One line of a log.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Record {
    /// When it was written (Unix milliseconds).
    pub at: u64,
    /// The whole entry: the first line of a log, and only there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Box<JournalEntry>>,
    /// The session, when it changed (renewed upload credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Box<UploadSession>>,
    /// A part whose bytes started going out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending: Option<u32>,
    /// A part acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<PartReceipt>,
    /// Where the completion stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitState>,
}

/// The first line of a log, written from a borrowed entry.
#[derive(Serialize)]
struct Snapshot<'a> {
    at: u64,
    entry: &'a JournalEntry,
}

fn encode_error(e: serde_json::Error) -> Error {
    Error::new(ErrorKind::Io, format!("journal: cannot encode: {e}"))
}

/// Appends `entry` as a snapshot line to `out`.
pub(super) fn encode_snapshot(entry: &JournalEntry, out: &mut Vec<u8>) -> Result<()> {
    serde_json::to_writer(
        &mut *out,
        &Snapshot {
            at: entry.updated_at_ms,
            entry,
        },
    )
    .map_err(encode_error)?;
    out.push(b'\n');
    Ok(())
}

/// Appends `record` as a line to `out`.
pub(super) fn encode(record: &Record, out: &mut Vec<u8>) -> Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(encode_error)?;
    out.push(b'\n');
    Ok(())
}

/// An entry and the indexes that let a record apply in O(1).
#[derive(Debug)]
pub(super) struct State {
    /// The entry as the records so far make it.
    pub entry: JournalEntry,
    /// Per part index, where its receipt is in `entry.receipts`.
    receipt_at: HashMap<u32, usize>,
    /// The parts in `entry.sending`.
    sending: HashSet<u32>,
}

impl State {
    /// The state of `entry` before any record.
    pub fn new(entry: JournalEntry) -> State {
        let receipt_at = entry
            .receipts
            .iter()
            .enumerate()
            .map(|(i, r)| (r.index, i))
            .collect();
        let sending = entry.sending.iter().copied().collect();
        State {
            entry,
            receipt_at,
            sending,
        }
    }

    /// Applies one record.
    pub fn apply(&mut self, record: Record) {
        let entry = &mut self.entry;
        if let Some(session) = record.session {
            entry.session = *session;
        }
        if let Some(part) = record.sending {
            if self.sending.insert(part) {
                entry.sending.push(part);
            }
        }
        if let Some(receipt) = record.receipt {
            match self.receipt_at.get(&receipt.index) {
                Some(&i) => entry.receipts[i] = receipt,
                None => {
                    self.receipt_at.insert(receipt.index, entry.receipts.len());
                    entry.receipts.push(receipt);
                }
            }
        }
        if let Some(commit) = record.commit {
            // A completion sent again after its answer was recorded does not undo the answer.
            let downgrade =
                commit == CommitState::Sent && matches!(entry.commit, CommitState::Answered(_));
            if !downgrade {
                entry.commit = commit;
            }
        }
        entry.updated_at_ms = entry.updated_at_ms.max(record.at);
    }

    /// Parts the entry names: what a snapshot of it costs, in records.
    pub fn size(&self) -> usize {
        self.entry.receipts.len() + self.entry.sending.len()
    }

    /// Whether a log holding `tail` records past its snapshot is due for compaction.
    pub fn due(&self, tail: usize) -> bool {
        // Strictly more: with "at least", a log whose every record added a part was due as
        // soon as the writer wrote the records one by one (tail = size), and not when it
        // found them queued together: a compaction that depended on timing.
        tail > COMPACT_MIN_RECORDS.max(self.size())
    }
}

/// Replays a log: the entry it describes (receipts in plan order) and how many records
/// follow its snapshot. `None` when its first line is no snapshot.
pub(super) fn replay(bytes: &[u8]) -> Option<(JournalEntry, usize)> {
    let mut lines = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    let first: Record = serde_json::from_slice(lines.next()?).ok()?;
    let mut state = State::new(*first.entry?);
    let mut tail = 0;
    for line in lines {
        // A torn line (a crash mid-write) says nothing; the lines around it still do.
        let Ok(record) = serde_json::from_slice::<Record>(line) else {
            continue;
        };
        if record.entry.is_some() {
            continue;
        }
        state.apply(record);
        tail += 1;
    }
    let mut entry = state.entry;
    entry.receipts.sort_by_key(|r| r.index);
    Some((entry, tail))
}
