//! The journal's writer: a thread of its own per journaled upload, fed by a channel, so that
//! recording a step never blocks the async runtime. It takes everything that queued up while
//! it wrote, appends each session's new records in one write, flushes them to disk once
//! (`fdatasync`), then says how far it got; the driver waits for that only where a crash
//! would otherwise cost more than the parts in flight (see [`super::Journal`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use super::log::{self, Record, State};
use super::{Journal, JournalEntry};
use crate::error::{Error, ErrorKind, Result};

/// What the writer is asked to do, in order.
pub(super) enum Op {
    /// Start (or restart) a session's log with a snapshot of `entry`, and remove the files an
    /// earlier layout kept for the same session.
    Open(Box<JournalEntry>),
    /// Append a record to the log of the session `upload_id`.
    Append {
        /// The session's upload id.
        upload_id: String,
        /// What happened.
        record: Box<Record>,
    },
    /// Forget a session: its log and any earlier file of it. `entry` names it when the writer
    /// never opened it; `done` hears the outcome.
    Remove {
        /// The session's upload id.
        upload_id: String,
        /// The entry to remove when the writer holds no log of the session.
        entry: Option<Box<JournalEntry>>,
        /// Told whether the files are gone.
        done: Option<tokio::sync::oneshot::Sender<Result<()>>>,
    },
}

/// The handle the recorder holds: the channel to the writer and how far it got.
pub(super) struct Writer {
    /// The last sequence number sent, and the channel (one lock, so numbers follow the
    /// channel's order).
    queue: std::sync::Mutex<(u64, mpsc::Sender<(u64, Op)>)>,
    /// The last sequence number written and flushed (or that failed, with a warning).
    written: tokio::sync::watch::Receiver<u64>,
}

impl Writer {
    /// Starts the writer thread of `journal`.
    pub fn start(journal: Journal) -> Result<Writer> {
        let (tx, rx) = mpsc::channel();
        let (written_tx, written) = tokio::sync::watch::channel(0);
        std::thread::Builder::new()
            .name("marketmedia-journal".into())
            .spawn(move || run(&journal, &rx, &written_tx))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("journal: cannot start its writer: {e}"),
                )
                .with_source(e)
            })?;
        Ok(Writer {
            queue: std::sync::Mutex::new((0, tx)),
            written,
        })
    }

    /// Queues `op`; never blocks on the disk.
    pub fn send(&self, op: Op) {
        // Only this function takes the lock, and nothing in it panics.
        let mut queue = match self.queue.lock() {
            Ok(q) => q,
            Err(p) => p.into_inner(),
        };
        queue.0 += 1;
        let seq = queue.0;
        if queue.1.send((seq, op)).is_err() {
            tracing::warn!("the journal's writer stopped; the resume journal is not updated");
        }
    }

    /// Until everything queued so far is written and flushed (or its failure warned about).
    pub async fn written(&self) {
        let seq = match self.queue.lock() {
            Ok(q) => q.0,
            Err(p) => p.into_inner().0,
        };
        let mut written = self.written.clone();
        // An error: the writer thread is gone (it panicked); there is nothing to wait for.
        let _ = written.wait_for(|w| *w >= seq).await;
    }
}

/// One session's log, as the writer keeps it.
struct Log {
    path: PathBuf,
    state: State,
    /// Records in the file past its snapshot.
    tail: usize,
    /// Encoded records not written yet.
    pending: Vec<u8>,
    pending_records: usize,
    /// Write a snapshot instead of appending (a new log, or a failed write that may have
    /// left a torn line the next append would glue to).
    snapshot: bool,
    /// Remove the files earlier layouts kept for the session, after the snapshot.
    replaces_older: bool,
    /// The file, open at its end.
    file: Option<File>,
}

impl Log {
    /// Writes what is pending: appended and flushed, or the whole entry as a new snapshot
    /// when one is due.
    fn flush(&mut self, journal: &Journal) -> Result<()> {
        if self.snapshot || self.state.due(self.tail + self.pending_records) {
            self.file = None;
            let file = journal.write_snapshot(&self.path, &self.state.entry)?;
            self.file = Some(file);
            self.tail = 0;
            self.snapshot = false;
            if self.replaces_older {
                journal.remove_older_layouts(&self.state.entry)?;
                self.replaces_older = false;
            }
        } else if !self.pending.is_empty() {
            let file = match &mut self.file {
                Some(file) => file,
                None => self.file.insert(
                    std::fs::OpenOptions::new()
                        .append(true)
                        .open(&self.path)
                        .map_err(|e| super::io_error("open", &self.path, e))?,
                ),
            };
            file.write_all(&self.pending)
                .and_then(|()| file.sync_data())
                .map_err(|e| super::io_error("write", &self.path, e))?;
            journal
                .stats
                .appended
                .fetch_add(self.pending.len() as u64, Ordering::Relaxed);
            self.tail += self.pending_records;
        }
        self.pending.clear();
        self.pending_records = 0;
        Ok(())
    }
}

/// The writer thread: takes what queued up, applies it, writes each log once, flushes, and
/// reports the last sequence number done; ends when the recorder is dropped.
fn run(
    journal: &Journal,
    rx: &mpsc::Receiver<(u64, Op)>,
    written: &tokio::sync::watch::Sender<u64>,
) {
    let mut logs: HashMap<String, Log> = HashMap::new();
    while let Ok(first) = rx.recv() {
        #[cfg(test)]
        if let Some(gate) = &journal.gate {
            (gate.0)();
        }
        let mut last = first.0;
        apply(journal, &mut logs, first.1);
        while let Ok((seq, op)) = rx.try_recv() {
            last = seq;
            apply(journal, &mut logs, op);
        }
        for log in logs.values_mut() {
            if let Err(err) = log.flush(journal) {
                tracing::warn!(error = %err, "could not write the resume journal");
                log.snapshot = true;
                log.file = None;
            }
        }
        written.send_replace(last);
    }
}

fn apply(journal: &Journal, logs: &mut HashMap<String, Log>, op: Op) {
    match op {
        Op::Open(entry) => {
            let path = journal.log_path(&entry);
            logs.insert(
                entry.session.upload_id.clone(),
                Log {
                    path,
                    state: State::new(*entry),
                    tail: 0,
                    pending: Vec::new(),
                    pending_records: 0,
                    snapshot: true,
                    replaces_older: true,
                    file: None,
                },
            );
        }
        Op::Append { upload_id, record } => {
            let Some(log) = logs.get_mut(&upload_id) else {
                tracing::warn!("journal: a record for a session it never opened");
                return;
            };
            if !log.snapshot {
                if let Err(err) = log::encode(&record, &mut log.pending) {
                    tracing::warn!(error = %err, "could not write the resume journal");
                    log.snapshot = true;
                }
                log.pending_records += 1;
            }
            log.state.apply(*record);
        }
        Op::Remove {
            upload_id,
            entry,
            done,
        } => {
            let result = match (logs.remove(&upload_id), entry) {
                (Some(log), _) => journal.remove_entry(&log.state.entry),
                (None, Some(entry)) => journal.remove_entry(&entry),
                (None, None) => Ok(()),
            };
            match done {
                Some(done) => {
                    let _ = done.send(result);
                }
                None => {
                    if let Err(err) = result {
                        tracing::warn!(error = %err, "could not forget a session in the resume journal");
                    }
                }
            }
        }
    }
}
