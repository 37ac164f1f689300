//! SIGINT and SIGTERM for the commands that work for long (`upload`, `batch run`, `batch
//! work`): the first signal turns the driver's stop signal on, so every phase ends within the
//! grace ([`marketmedia_core::DEFAULT_STOP_GRACE`]) with the journal or the job store kept; a
//! second one exits at once with [`crate::exit::INTERRUPTED`] (what is on disk is already
//! safe: the journal's records are appended and flushed before the upload relies on them, and
//! a torn last line is skipped; the store is written in transactions).
//!
//! A last resort bounds the stop: should the command still be running
//! [`BACKSTOP_MARGIN`] after the grace, it exits as a second signal would, saying so.

use std::io::Write;
use std::time::Duration;

use marketmedia_core::{StopSignal, DEFAULT_STOP_GRACE};

/// How long after the grace a stopped command may still take to print its summary before it
/// is made to exit. Every phase ends within the grace; this only bounds what could not be
/// interrupted (a file read stuck on a network file system).
pub const BACKSTOP_MARGIN: Duration = Duration::from_secs(5);

/// Watches for SIGINT and SIGTERM while a command runs (see the [module docs](self)). Dropped,
/// it stops watching; the default handlers are not restored (the command is ending).
#[derive(Debug)]
pub struct StopOnSignal {
    rx: tokio::sync::watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl StopOnSignal {
    /// Starts watching. `what` is printed on stderr when the first signal comes: what the
    /// command does now.
    pub fn install(what: String) -> StopOnSignal {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut signals = Signals::new();
            signals.next().await;
            out_err(&format!("\nmarketmedia: stopping: {what}\n"));
            // The receiver lives as long as the command; a send to none is harmless.
            let _ = tx.send(true);
            let backstop = tokio::time::sleep(DEFAULT_STOP_GRACE + BACKSTOP_MARGIN);
            tokio::select! {
                () = signals.next() => out_err(
                    "\nmarketmedia: second signal: exiting now (the journal and the job store \
                     are already safe on disk)\n",
                ),
                () = backstop => out_err(&format!(
                    "\nmarketmedia: still not stopped {} s after the signal; exiting (the \
                     journal and the job store are safe on disk)\n",
                    (DEFAULT_STOP_GRACE + BACKSTOP_MARGIN).as_secs()
                )),
            }
            std::process::exit(crate::exit::INTERRUPTED);
        });
        StopOnSignal { rx, task }
    }

    /// The stop signal to give the driver ([`marketmedia_core::UploadOptions::stop`]).
    pub fn signal(&self) -> StopSignal {
        self.rx.clone()
    }

    /// Whether a signal came.
    pub fn stopped(&self) -> bool {
        *self.rx.borrow()
    }
}

impl Drop for StopOnSignal {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// SIGINT and SIGTERM as one stream of signals (Ctrl-C only where there is no SIGTERM).
struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            // Both handlers or neither: without them the default action (ending the
            // process at once) stays, which is still a stop.
            let streams = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Signals { streams }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next SIGINT or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        match self.streams.as_mut() {
            Some((int, term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Writes to stderr, ignoring a closed pipe.
fn out_err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}
