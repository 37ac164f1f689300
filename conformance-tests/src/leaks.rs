//! Secret-leak checks for provider tests: capture everything a run logs (every crate, TRACE,
//! `log` records bridged — what a user with `RUST_LOG=trace` gets) and assert that no secret
//! value appears in it, nor in what the provider hands back.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use marketmedia_core::Error;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;

/// A shared in-memory log sink.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        // A panic while holding this lock cannot leave the bytes half-written.
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Runs `f` on a fresh current-thread runtime with every event and span at TRACE, from every
/// crate (`log` records bridged), written into a buffer; returns `f`'s output and the log.
///
/// # Panics
/// When the runtime cannot be built (a test harness failure, not a provider's).
pub fn captured<T>(f: impl Future<Output = T>) -> (T, String) {
    // Bridges `log` records (reqwest's) to tracing; once per process, so an error means
    // another test installed it already.
    let _ = tracing_log::LogTracer::init();
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a test runtime: {e}"),
    };
    let out = tracing::subscriber::with_default(subscriber, || rt.block_on(f));
    drop(rt);
    (out, buffer.text())
}

/// Panics, quoting the surroundings, when `text` contains any of `secrets`.
///
/// # Panics
/// On a leak: that is the point.
pub fn assert_clean<S: AsRef<str>>(secrets: &[S], what: &str, text: &str) {
    for secret in secrets {
        let secret = secret.as_ref();
        if secret.is_empty() {
            continue;
        }
        if let Some(at) = text.find(secret) {
            let mut from = at.saturating_sub(200);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            panic!(
                "{what} leaks {secret}: …{}…",
                &text[from..(at + secret.len()).min(text.len())]
            );
        }
    }
}

/// `Display` and `Debug` of an error and of every source under it.
pub fn describe(err: &Error) -> String {
    let mut text = format!("{err}\n{err:?}\n");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    text
}
