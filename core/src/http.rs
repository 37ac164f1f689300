//! HTTP plumbing every provider shares: the client, one traced request, status mapping,
//! `Retry-After`, JSON decoding and streaming part bodies. Nothing platform-specific.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;

use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::error::{Error, ErrorKind, Result};
pub use crate::rate::RequestRate;
use crate::uploader::Part;

/// The user agent every provider sends.
pub const USER_AGENT: &str = concat!("marketmedia/", env!("CARGO_PKG_VERSION"));

/// Timeouts of a client ([`ClientOptions::timeouts`]).
///
/// `connect` bounds each connection attempt (TCP and TLS). The progress-based deadlines of
/// every call are the client's [`Watchdog`] ([`ClientOptions::watchdog`]), on by default.
/// `read_idle` is reqwest's fixed read timeout (from the start of a request to its answer,
/// then between reads of the answer): it is applied only when the watchdog is off or when
/// it is shorter than the watchdog's `idle`, because it would also cut a big part on a slow
/// link that is still moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// Connecting to the host (TCP and TLS). Default 10 s.
    pub connect: Duration,
    /// No byte read for this long fails the attempt (see above). Default 60 s.
    pub read_idle: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        HttpTimeouts {
            connect: Duration::from_secs(10),
            read_idle: Duration::from_secs(60),
        }
    }
}

/// The deadlines of every call a client sends ([`ClientOptions::watchdog`]): on by default
/// with these values, changed (or turned off) per client. Together with the client's connect
/// timeout
/// ([`HttpTimeouts::connect`]) they bound every call: a silent server is detected within
/// seconds, a server that drips its answer (or takes the request a byte at a time) is given up
/// on by the low-speed limit, and a call with a small answer by its answer deadline, while a
/// big part on a slow link may take as long as it keeps moving (up to `total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchdog {
    /// Waiting for the answer to begin once the request, its whole body included, is handed
    /// to the connection. Default 20 s.
    pub first_byte: Duration,
    /// No progress for this long fails the attempt: no byte of a streamed request body taken
    /// by the connection, no byte of the answer read. Default 30 s.
    pub idle: Duration,
    /// One call in all, from sending the request to the answer's last byte, however much
    /// progress it makes. Default 30 min (a 5 GiB SMH part at 3 MiB/s; the platforms'
    /// other calls take well under a minute).
    pub total: Duration,
    /// The whole answer of a call that is not a part upload (token, init, commit, poll,
    /// cancel, image uploads: [`CallMeta::part`] is `None`), counted from when its request
    /// body has been sent: the server's work before its first byte and the reading of an
    /// answer of a few KiB. Never shorter than `first_byte` (a shorter value is raised to
    /// it). Default 60 s: the 20 s first-byte wait, then 40 s to read what is at most a few
    /// KiB, which a link of 1 KiB/s reads in seconds; a part's deadline is `total`.
    pub answer: Duration,
    /// The low-speed limit while a body flows, in either direction (see [`LowSpeed`]);
    /// `None` turns it off. Default 1 KiB/s over 30 s.
    pub low_speed: Option<LowSpeed>,
}

impl Default for Watchdog {
    fn default() -> Self {
        Watchdog {
            first_byte: Duration::from_secs(20),
            idle: Duration::from_secs(30),
            total: Duration::from_secs(30 * 60),
            answer: Duration::from_secs(60),
            low_speed: Some(LowSpeed::default()),
        }
    }
}

/// A low-speed limit, as curl's `--speed-limit` and `--speed-time`: while a request body is
/// being taken by the connection, or an answer body is being read, fewer than
/// `bytes_per_sec` bytes a second over the last `window` end the attempt
/// ([`CallLimit::TooSlow`], [`ErrorKind::Transient`]: retried like any network fault). It
/// does not apply while the server works before the first byte of its answer (a server may
/// hash a large file at a commit): that wait is [`Watchdog::first_byte`]'s.
///
/// The default, 1 KiB/s over 30 s, is a tenth of the slowest uplink still in use (EDGE's
/// 10–20 KB/s): a real slow link moves a part at many times that pace, and the bursts in
/// which the kernel takes a body (half a send buffer at a time) come far more often than
/// once in 30 s at any such pace. A server that drips a byte every few seconds moves a few
/// bytes in 30 s. The window is the idle timeout's, so "nothing for 30 s" and "almost
/// nothing for 30 s" end an attempt alike.
///
/// A request body is measured as the connection takes it, so the kernel's socket buffers
/// (up to a few MiB) take its first MiBs at once: a server that takes a body slower than
/// the limit is seen by it only once those buffers are full, and a body they swallow whole
/// counts as sent, its answer then awaited within [`Watchdog::first_byte`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowSpeed {
    /// The slowest acceptable average pace over `window`, in bytes per second.
    pub bytes_per_sec: u64,
    /// How long the pace must stay under `bytes_per_sec` to end the attempt.
    pub window: Duration,
}

impl Default for LowSpeed {
    fn default() -> Self {
        LowSpeed {
            bytes_per_sec: 1024,
            window: Duration::from_secs(30),
        }
    }
}

impl LowSpeed {
    /// The fewest bytes a window must move.
    fn floor(&self) -> u64 {
        (self.bytes_per_sec as f64 * self.window.as_secs_f64()).ceil() as u64
    }
}

/// Measures a body's pace against a [`LowSpeed`] limit from samples of the bytes moved so far.
#[derive(Debug)]
struct SpeedMeter {
    limit: LowSpeed,
    started: Instant,
    /// `(when, bytes moved by then)`, oldest first; the oldest is at least a window old once
    /// the body has flowed that long.
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl SpeedMeter {
    fn new(limit: LowSpeed, now: Instant, moved: u64) -> SpeedMeter {
        let mut samples = std::collections::VecDeque::new();
        samples.push_back((now, moved));
        SpeedMeter {
            limit,
            started: now,
            samples,
        }
    }

    /// Records that `moved` bytes have moved by `now`; `true` when the last window moved
    /// fewer bytes than the limit asks.
    fn too_slow(&mut self, now: Instant, moved: u64) -> bool {
        self.samples.push_back((now, moved));
        let Some(edge) = now.checked_sub(self.limit.window) else {
            return false;
        };
        // Keep the newest sample at least a window old as the baseline.
        while self.samples.len() > 1 && self.samples[1].0 <= edge {
            self.samples.pop_front();
        }
        if now.duration_since(self.started) < self.limit.window {
            return false;
        }
        match self.samples.front() {
            Some(&(at, base)) if at <= edge => moved.saturating_sub(base) < self.limit.floor(),
            _ => false,
        }
    }

    /// How often to take a sample: a tenth of the window, between 10 ms and 1 s.
    fn tick(limit: &LowSpeed) -> Duration {
        (limit.window / 10).clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// The largest answer body a client reads unless its options say otherwise
/// ([`ClientOptions::max_answer_bytes`]): 4 MiB. Every call of the platforms answers JSON or
/// XML of a few KiB (an image list of nine URLs is under 4 KiB), so 4 MiB is a thousand
/// times the largest expected answer and still keeps a fan-out of dozens of calls in flight
/// far from memory trouble.
pub const DEFAULT_MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;

/// The limits of one call: its deadlines (`None`: none but the client's own timeouts) and
/// the largest answer body it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// First-byte, idle and total deadlines.
    pub watchdog: Option<Watchdog>,
    /// The largest answer body read, in bytes.
    pub max_answer_bytes: u64,
}

impl Default for CallLimits {
    /// The default [`Watchdog`] and [`DEFAULT_MAX_ANSWER_BYTES`].
    fn default() -> Self {
        CallLimits {
            watchdog: Some(Watchdog::default()),
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        }
    }
}

/// Which limit ended a call: the source of the [`Error`] [`HttpClient::send`] returns then, so a caller
/// can tell them apart ([`CallLimit::of`]). Timeouts are [`ErrorKind::Transient`] (worth
/// retrying), an answer over the limit is [`ErrorKind::Protocol`] (it would be as long again).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallLimit {
    /// No answer began within this long of sending the whole request.
    FirstByte(Duration),
    /// The server took no byte of the request body for this long.
    RequestStalled(Duration),
    /// The server sent no byte of its answer for this long.
    AnswerStalled(Duration),
    /// The call as a whole took longer than this.
    Deadline(Duration),
    /// The answer body is (or says it is) longer than this many bytes.
    AnswerTooLarge {
        /// The call's limit in bytes.
        limit: u64,
    },
    /// A body (the request's or the answer's) moved slower than this limit over its window:
    /// the peer drips.
    TooSlow(LowSpeed),
    /// The answer of a call with a small answer was not complete this long after the
    /// request was sent ([`Watchdog::answer`]).
    AnswerDeadline(Duration),
}

impl CallLimit {
    /// The limit that ended the call `err` reports, if one did.
    pub fn of(err: &Error) -> Option<CallLimit> {
        std::error::Error::source(err)?
            .downcast_ref::<CallLimit>()
            .copied()
    }
}

impl std::fmt::Display for CallLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallLimit::FirstByte(d) => write!(
                f,
                "no answer within {} s of sending the request (the server is silent)",
                d.as_secs_f64()
            ),
            CallLimit::RequestStalled(d) => write!(
                f,
                "the server took no byte of the request for {} s",
                d.as_secs_f64()
            ),
            CallLimit::AnswerStalled(d) => {
                write!(f, "the answer stalled for {} s", d.as_secs_f64())
            }
            CallLimit::Deadline(d) => write!(
                f,
                "the call took longer than its {} s deadline",
                d.as_secs_f64()
            ),
            CallLimit::AnswerTooLarge { limit } => write!(
                f,
                "the answer is longer than this call's limit of {limit} bytes"
            ),
            CallLimit::TooSlow(limit) => write!(
                f,
                "fewer than {} bytes/s moved over {} s (the peer is dripping)",
                limit.bytes_per_sec,
                limit.window.as_secs_f64()
            ),
            CallLimit::AnswerDeadline(d) => write!(
                f,
                "the answer was not complete {} s after the request was sent",
                d.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for CallLimit {}

/// How a client talks HTTP: its timeouts, the deadlines and answer cap of each call, how
/// many requests it keeps in flight and at what rate it starts them. Each provider
/// configuration takes one (`options(..)` on its builder) and its client applies it to every
/// request it sends; two clients in one process (two accounts, or one account tuned two
/// ways) keep their own. The defaults are the values the library always used.
///
/// ```
/// use std::time::Duration;
/// use marketmedia_core::ClientOptions;
/// // A shop whose partner allows fewer requests at once, with a shorter answer deadline.
/// let mut options = ClientOptions::default().with_request_limit(4);
/// if let Some(w) = options.watchdog.as_mut() {
///     w.answer = Duration::from_secs(30);
/// }
/// assert_eq!(options.request_limit, 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Connect and fixed read timeouts ([`HttpTimeouts`]).
    pub timeouts: HttpTimeouts,
    /// The progress-based deadlines and low-speed limit of every call ([`Watchdog`], on by
    /// default); `None` leaves only `timeouts`.
    pub watchdog: Option<Watchdog>,
    /// The largest answer body read, in bytes (at least 1; default
    /// [`DEFAULT_MAX_ANSWER_BYTES`]): a longer one fails the call with
    /// [`CallLimit::AnswerTooLarge`].
    pub max_answer_bytes: u64,
    /// Requests in flight at once, shared by every upload through the client (at least 1;
    /// default [`DEFAULT_REQUEST_LIMIT`]), so a batch does not trip the platform's limits.
    /// Counted per account the client serves ([`in_account`]).
    pub request_limit: usize,
    /// The platform's published request rate, if the client should hold to it (e.g. eBay's
    /// 50 POST per 5 s); default none. Counted per account, as `request_limit`.
    pub request_rate: Option<RequestRate>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeouts: HttpTimeouts::default(),
            watchdog: Some(Watchdog::default()),
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            request_limit: DEFAULT_REQUEST_LIMIT,
            request_rate: None,
        }
    }
}

impl ClientOptions {
    /// These options with other timeouts.
    pub fn with_timeouts(mut self, timeouts: HttpTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// These options with other deadlines (`None`: none but the timeouts).
    pub fn with_watchdog(mut self, watchdog: Option<Watchdog>) -> Self {
        self.watchdog = watchdog;
        self
    }

    /// These options with another answer cap.
    pub fn with_max_answer_bytes(mut self, bytes: u64) -> Self {
        self.max_answer_bytes = bytes.max(1);
        self
    }

    /// These options with another limit of requests in flight.
    pub fn with_request_limit(mut self, requests: usize) -> Self {
        self.request_limit = requests.max(1);
        self
    }

    /// These options holding requests to `rate` (`None`: no rate).
    pub fn with_request_rate(mut self, rate: Option<RequestRate>) -> Self {
        self.request_rate = rate;
        self
    }

    /// The limits of each call these options give.
    pub fn call_limits(&self) -> CallLimits {
        CallLimits {
            watchdog: self.watchdog,
            max_answer_bytes: self.max_answer_bytes.max(1),
        }
    }
}

/// A provider's HTTP client: a keep-alive connection pool with our user agent and the
/// [`ClientOptions`] it was built with, which bound every request it sends
/// ([`HttpClient::send`]): deadlines, answer cap, requests in flight and request rate. Cheap
/// to clone; clones share the pool and the budgets (two uploaders built with one client
/// share its limits).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    options: ClientOptions,
    budgets: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<Budget>>>>,
}

/// One account's budget within a client: its requests in flight and its rate window.
struct Budget {
    in_flight: Arc<Semaphore>,
    rate: Option<crate::rate::RateWindow>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with these options: keep-alive pool, connect timeout, our user agent, and
    /// the fixed read timeout where the watchdog does not cover it ([`HttpTimeouts`]).
    pub fn new(options: ClientOptions) -> Result<HttpClient> {
        let timeouts = options.timeouts;
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(32)
            .tcp_nodelay(true);
        match options.watchdog {
            Some(w) if timeouts.read_idle >= w.idle => {}
            _ => builder = builder.read_timeout(timeouts.read_idle),
        }
        let client = builder.build().map_err(|e| {
            Error::new(ErrorKind::Unsupported, "could not build the HTTP client").with_source(e)
        })?;
        Ok(HttpClient {
            client,
            options,
            budgets: Default::default(),
        })
    }

    /// The options it was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// A request to `url` with `method`, to send with [`HttpClient::send`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: impl reqwest::IntoUrl,
    ) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// A `GET` to `url`.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client.get(url)
    }

    /// A `POST` to `url`.
    pub fn post(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client.post(url)
    }

    /// A `PUT` to `url`.
    pub fn put(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client.put(url)
    }

    /// A `DELETE` to `url`.
    pub fn delete(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client.delete(url)
    }

    /// The running account's budget ([`in_account`]; the unnamed one outside any).
    fn budget(&self) -> Arc<Budget> {
        let account = current_account().map(|a| a.to_string()).unwrap_or_default();
        // A panic while holding this lock cannot leave the map half-updated.
        let mut map = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(account).or_insert_with(|| {
            Arc::new(Budget {
                in_flight: Arc::new(Semaphore::new(self.options.request_limit.max(1))),
                rate: self.options.request_rate.map(crate::rate::RateWindow::new),
            })
        }))
    }

    /// Sends one request inside a `request` span (platform, call, part, HTTP status,
    /// duration), and reads the whole answer. The URL is never logged: query strings carry
    /// tokens and signatures. Transport failures become [`ErrorKind::Transient`].
    ///
    /// The call waits for its turn under the client's request rate and for a slot among its
    /// requests in flight, then is bounded by its [`ClientOptions`]: the connect timeout,
    /// the [`Watchdog`]'s first-byte, idle, answer and total deadlines and its low-speed
    /// limit, and the answer cap. A call that hits one fails with the [`CallLimit`] as its
    /// source.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        meta: CallMeta<'_>,
    ) -> Result<RawResponse> {
        let limits = self.options.call_limits();
        call(request, meta, limits, Some(self.budget())).await
    }
}

/// When an attempt last made progress, how many request body bytes the connection took, and
/// whether (and when) its request body is all sent.
#[derive(Debug)]
struct Clock {
    start: Instant,
    /// Milliseconds from `start` to the last progress.
    last_ms: std::sync::atomic::AtomicU64,
    /// Request body bytes taken by the connection.
    taken: std::sync::atomic::AtomicU64,
    body_done: std::sync::atomic::AtomicBool,
    /// Milliseconds from `start` to the end of the request body (valid once `body_done`).
    body_done_ms: std::sync::atomic::AtomicU64,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            start: Instant::now(),
            last_ms: std::sync::atomic::AtomicU64::new(0),
            taken: std::sync::atomic::AtomicU64::new(0),
            body_done: std::sync::atomic::AtomicBool::new(false),
            body_done_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn progress(&self) {
        self.last_ms
            .fetch_max(self.ms(), std::sync::atomic::Ordering::Relaxed);
    }

    fn took(&self, n: u64) {
        self.taken
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    fn taken(&self) -> u64 {
        self.taken.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn since_progress(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(std::sync::atomic::Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    fn finish_body(&self) {
        self.progress();
        if !self.body_done() {
            self.body_done_ms
                .store(self.ms(), std::sync::atomic::Ordering::Relaxed);
            self.body_done
                .store(true, std::sync::atomic::Ordering::Release);
        }
    }

    fn body_done(&self) -> bool {
        self.body_done.load(std::sync::atomic::Ordering::Acquire)
    }

    /// When the request body was all sent, once it was.
    fn body_done_at(&self) -> Option<Instant> {
        self.body_done().then(|| {
            self.start
                + Duration::from_millis(
                    self.body_done_ms.load(std::sync::atomic::Ordering::Relaxed),
                )
        })
    }
}

/// `body` as a stream that marks progress on `clock` each time the connection takes a chunk,
/// and the body as sent after its last byte (`len` when known) or its end.
fn watched_body(body: reqwest::Body, len: Option<u64>, clock: Arc<Clock>) -> reqwest::Body {
    use futures::StreamExt;
    let mut taken = 0u64;
    let end_clock = Arc::clone(&clock);
    let chunks = http_body_util::BodyDataStream::new(body)
        .inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                taken += bytes.len() as u64;
                clock.took(bytes.len() as u64);
                if len.is_some_and(|l| taken >= l) {
                    clock.finish_body();
                } else {
                    clock.progress();
                }
            }
        })
        .chain(futures::stream::poll_fn(move |_| {
            end_clock.finish_body();
            std::task::Poll::Ready(None)
        }));
    reqwest::Body::wrap_stream(chunks)
}

/// Which call a request is, for tracing and errors. Holds no secret.
#[derive(Debug, Clone, Copy)]
pub struct CallMeta<'a> {
    /// Platform name.
    pub platform: &'a str,
    /// The platform's name for the call.
    pub call: &'a str,
    /// The part index, for part uploads.
    pub part: Option<u32>,
}

/// A complete answer: status, headers and body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl RawResponse {
    /// Decodes the body as JSON, or a [`ErrorKind::Protocol`] error naming the call.
    pub fn json<T: DeserializeOwned>(&self, meta: &CallMeta<'_>) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let snippet: String = String::from_utf8_lossy(&self.body)
                .chars()
                .take(160)
                .collect();
            Error::protocol(format!(
                "could not decode the answer ({e}); it began with {snippet:?}"
            ))
            .with_platform(meta.platform)
            .with_call(meta.call)
            .with_http_status(self.status)
            .with_source(e)
        })
    }

    /// The `Retry-After` the server sent, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }
}

/// Parses `Retry-After` given in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate_parse(value)?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Minimal IMF-fixdate parser (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form servers send.
/// Fields out of range (day 1–31, year 1970–9999, 00:00:00–23:59:60) are no date: the
/// header comes from the server and must never overflow the arithmetic below.
fn httpdate_parse(s: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    if !(1..=31).contains(&day) {
        return None;
    }
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: i64 = parts[3].parse().ok()?;
    if !(1970..=9999).contains(&year) {
        return None;
    }
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + (hms[0] * 3600 + hms[1] * 60 + hms[2]) as i64;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// The kind an HTTP status means when the body says nothing more precise.
pub fn kind_for_status(status: u16) -> Option<ErrorKind> {
    match status {
        200..=299 => None,
        401 | 403 => Some(ErrorKind::Auth),
        404 => Some(ErrorKind::NotFound),
        408 => Some(ErrorKind::Transient),
        409 => Some(ErrorKind::Conflict),
        413 => Some(ErrorKind::InvalidInput),
        429 => Some(ErrorKind::RateLimited),
        500..=599 => Some(ErrorKind::Transient),
        _ => Some(ErrorKind::Rejected),
    }
}

/// Requests in flight per account a client serves, across every upload through it, unless
/// its options say otherwise ([`ClientOptions::request_limit`]).
pub const DEFAULT_REQUEST_LIMIT: usize = 16;

tokio::task_local! {
    /// The identity of the account whose requests are being sent ([`in_account`]).
    static ACCOUNT: std::sync::Arc<str>;
}

/// Runs `future` with every request it sends through a client ([`HttpClient::send`])
/// counted against `identity`'s share of that client's limit of requests in flight and
/// request rate: a client used for two accounts keeps a budget each (the platforms document
/// their limits per shop, user or app, never per marketplace: see `docs/platforms/`).
/// Requests sent outside any account share the client's unnamed budget. The account travels
/// with the future (a task-local value), so providers need not know it.
pub async fn in_account<F: std::future::Future>(identity: &str, future: F) -> F::Output {
    ACCOUNT.scope(std::sync::Arc::from(identity), future).await
}

/// The identity [`in_account`] set for the running future, if any.
pub fn current_account() -> Option<std::sync::Arc<str>> {
    ACCOUNT.try_with(std::sync::Arc::clone).ok()
}

/// One call with these limits, outside any client's budget of requests in flight and
/// request rate: for a request built with another client (tests, a custom provider that
/// keeps its own). Providers send through [`HttpClient::send`].
pub async fn send_limited(
    request: reqwest::RequestBuilder,
    meta: CallMeta<'_>,
    limits: CallLimits,
) -> Result<RawResponse> {
    call(request, meta, limits, None).await
}

/// One call: its turn under the budget's rate and a slot among its requests in flight (when
/// sent by a client), then one attempt within `limits`.
async fn call(
    request: reqwest::RequestBuilder,
    meta: CallMeta<'_>,
    limits: CallLimits,
    budget: Option<Arc<Budget>>,
) -> Result<RawResponse> {
    let span = tracing::debug_span!(
        "request",
        platform = meta.platform,
        call = meta.call,
        part = meta.part,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    // The method, for a platform whose published rate counts only some (eBay: POSTs).
    let (client, built) = request.build_split();
    let built = built.map_err(|_| {
        // reqwest's message may quote the URL, whose query can carry a token: not shown.
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{}: {}: the request could not be built",
                meta.platform, meta.call
            ),
        )
    })?;
    let method = built.method().as_str().to_owned();
    let request = reqwest::RequestBuilder::from_parts(client, built);
    async move {
        // The client's request rate, if it holds to one, then a slot among its requests in
        // flight (the semaphore is never closed, so acquiring cannot fail).
        // The rate's place is held until the answer has arrived (dropped with this block).
        let mut _permit = None;
        let mut _place = None;
        if let Some(budget) = &budget {
            if let Some(rate) = &budget.rate {
                _place = rate.wait_for_turn(&method).await;
            }
            _permit = Arc::clone(&budget.in_flight).acquire_owned().await.ok();
        }
        let started = Instant::now();
        let attempt = attempt(request, limits, meta.part.is_none());
        let result = match limits.watchdog {
            Some(w) => match tokio::time::timeout(w.total, attempt).await {
                Ok(r) => r,
                Err(_) => Err(Failure::Limit(CallLimit::Deadline(w.total))),
            },
            None => attempt.await,
        };
        let span = tracing::Span::current();
        span.record("duration_ms", started.elapsed().as_millis() as u64);
        match result {
            Ok(raw) => {
                span.record("status", raw.status);
                tracing::debug!("answered");
                Ok(raw)
            }
            Err(Failure::Http(err)) => {
                tracing::debug!(error = %without_url(&err), "transport failure");
                Err(transport_error(err, &meta))
            }
            Err(Failure::Limit(limit)) => {
                tracing::debug!(error = %limit, "limit reached");
                Err(limit_error(limit, &meta))
            }
            Err(Failure::TooLarge { status, limit }) => {
                tracing::debug!(status, limit, "answer over the limit");
                Err(limit_error(CallLimit::AnswerTooLarge { limit }, &meta)
                    .with_http_status(status))
            }
        }
    }
    .instrument(span)
    .await
}

/// The error for a call `limit` ended.
fn limit_error(limit: CallLimit, meta: &CallMeta<'_>) -> Error {
    let (kind, message) = match limit {
        CallLimit::AnswerTooLarge { .. } => (ErrorKind::Protocol, limit.to_string()),
        CallLimit::TooSlow(_) => (
            ErrorKind::Transient,
            format!("the transfer was too slow: {limit}"),
        ),
        _ => (
            ErrorKind::Transient,
            format!("the request timed out: {limit}"),
        ),
    };
    Error::new(kind, message)
        .with_platform(meta.platform)
        .with_call(meta.call)
        .with_source(limit)
}

/// One attempt: the request sent and the answer read, within `limits` (but the total
/// deadline, which [`send_limited`] puts around it). `small_answer`: the call is not a part
/// upload, so [`Watchdog::answer`] bounds its answer.
async fn attempt(
    request: reqwest::RequestBuilder,
    limits: CallLimits,
    small_answer: bool,
) -> std::result::Result<RawResponse, Failure> {
    let Some(timeouts) = limits.watchdog else {
        let response = request.send().await.map_err(Failure::Http)?;
        return read_answer(response, limits.max_answer_bytes, None).await;
    };
    let (client, built) = request.build_split();
    let mut request = built.map_err(Failure::Http)?;
    let clock = Arc::new(Clock::new());
    let len = request
        .headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match request.body_mut().take() {
        Some(body) if body.as_bytes().is_none() => {
            *request.body_mut() = Some(watched_body(body, len, Arc::clone(&clock)));
        }
        other => {
            *request.body_mut() = other;
            clock.finish_body();
        }
    }
    let answer = small_answer.then(|| timeouts.answer.max(timeouts.first_byte));
    // The request body's pace, measured from the first byte the connection takes.
    let mut meter: Option<SpeedMeter> = None;
    let mut pending = std::pin::pin!(client.execute(request));
    let response = loop {
        let now = Instant::now();
        let done = clock.body_done();
        let limit = if done {
            timeouts.first_byte
        } else {
            timeouts.idle
        };
        let idle = clock.since_progress();
        if idle >= limit {
            return Err(Failure::Limit(if done {
                CallLimit::FirstByte(limit)
            } else {
                CallLimit::RequestStalled(limit)
            }));
        }
        let mut wait = limit - idle;
        if let (Some(answer), Some(sent)) = (answer, clock.body_done_at()) {
            let due = sent + answer;
            if now >= due {
                return Err(Failure::Limit(CallLimit::AnswerDeadline(answer)));
            }
            wait = wait.min(due - now);
        }
        if let (false, Some(low)) = (done, timeouts.low_speed) {
            let taken = clock.taken();
            if meter.is_none() && taken > 0 {
                meter = Some(SpeedMeter::new(low, now, taken));
            }
            if let Some(meter) = meter.as_mut() {
                if meter.too_slow(now, taken) {
                    return Err(Failure::Limit(CallLimit::TooSlow(low)));
                }
            }
            wait = wait.min(SpeedMeter::tick(&low));
        }
        if let Ok(r) = tokio::time::timeout(wait, &mut pending).await {
            break r.map_err(Failure::Http)?;
        }
    };
    let watch = AnswerWatch {
        idle: timeouts.idle,
        low_speed: timeouts.low_speed,
        deadline: answer.map(|a| (clock.body_done_at().unwrap_or_else(Instant::now) + a, a)),
    };
    read_answer(response, limits.max_answer_bytes, Some(watch)).await
}

/// The limits on reading an answer's body.
#[derive(Debug, Clone, Copy)]
struct AnswerWatch {
    /// No byte for this long ends it.
    idle: Duration,
    /// The low-speed limit, measured from the answer's head.
    low_speed: Option<LowSpeed>,
    /// When the whole answer must be in, and the deadline that says so.
    deadline: Option<(Instant, Duration)>,
}

/// Reads the answer's body, at most `max` bytes (refused up front when its `Content-Length`
/// says more), within `watch` when given.
async fn read_answer(
    mut response: reqwest::Response,
    max: u64,
    watch: Option<AnswerWatch>,
) -> std::result::Result<RawResponse, Failure> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let too_large = Failure::TooLarge { status, limit: max };
    let declared = response.content_length();
    if declared.is_some_and(|n| n > max) {
        return Err(too_large);
    }
    // Reserve what the server declared (within the limit), or a little.
    let reserve = declared.unwrap_or(8 * 1024).min(max);
    let mut body = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
    let head_at = Instant::now();
    let mut last = head_at;
    let mut meter = watch
        .and_then(|w| w.low_speed)
        .map(|low| SpeedMeter::new(low, head_at, 0));
    loop {
        let next = match watch {
            Some(w) => loop {
                let now = Instant::now();
                if let Some((due, limit)) = w.deadline {
                    if now >= due {
                        return Err(Failure::Limit(CallLimit::AnswerDeadline(limit)));
                    }
                }
                let quiet = now.duration_since(last);
                if quiet >= w.idle {
                    return Err(Failure::Limit(CallLimit::AnswerStalled(w.idle)));
                }
                let mut wait = w.idle - quiet;
                if let Some((due, _)) = w.deadline {
                    wait = wait.min(due - now);
                }
                if let Some(meter) = meter.as_mut() {
                    if meter.too_slow(now, body.len() as u64) {
                        return Err(Failure::Limit(CallLimit::TooSlow(meter.limit)));
                    }
                    wait = wait.min(SpeedMeter::tick(&meter.limit));
                }
                // `chunk` keeps what it read when the wait ends first: nothing is lost.
                if let Ok(r) = tokio::time::timeout(wait, response.chunk()).await {
                    last = Instant::now();
                    break r;
                }
            },
            None => response.chunk().await,
        };
        match next.map_err(Failure::Http)? {
            Some(chunk) => {
                if (body.len() + chunk.len()) as u64 > max {
                    return Err(too_large);
                }
                body.extend_from_slice(&chunk);
            }
            None => break,
        }
    }
    Ok(RawResponse {
        status,
        headers,
        body: Bytes::from(body),
    })
}

/// Why an attempt failed in [`HttpClient::send`].
enum Failure {
    /// reqwest's error (connect, read timeout, broken connection, …).
    Http(reqwest::Error),
    /// A deadline of the watchdog.
    Limit(CallLimit),
    /// The answer (with this status) is longer than the limit.
    TooLarge {
        /// The answer's HTTP status.
        status: u16,
        /// The call's limit.
        limit: u64,
    },
}

/// A reqwest error's text without the URL (which may carry a token or signature).
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), url.path());
    }
    text
}

fn transport_error(err: reqwest::Error, meta: &CallMeta<'_>) -> Error {
    // A part body that failed because the source could not be read is no network failure:
    // retrying cannot help.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    while let Some(c) = cause {
        // `io::Error::source` skips the error it wraps, so look inside it too.
        let wrapped = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        let read = c
            .downcast_ref::<crate::chunks::SourceReadError>()
            .or_else(|| wrapped.and_then(|w| w.downcast_ref::<crate::chunks::SourceReadError>()));
        if let Some(read) = read {
            return Error::new(ErrorKind::Io, read.to_string())
                .with_platform(meta.platform)
                .with_call(meta.call);
        }
        cause = c.source();
    }
    let what = if err.is_timeout() {
        "the request timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "the connection broke while transferring"
    } else {
        "the request failed"
    };
    let message = format!("{what}: {}", without_url(&err));
    Error::new(ErrorKind::Transient, message)
        .with_platform(meta.platform)
        .with_call(meta.call)
        .with_source(err.without_url())
}

/// A streaming body for a part: its chunks ([`Part::chunks`]: zero-copy slices of bytes in
/// memory, or pooled chunks read from the source file one ahead of the connection), each
/// reported through [`Part::report_sent`] as it is handed to the connection.
pub fn part_body(part: &Part) -> reqwest::Body {
    use futures::StreamExt;
    let reporter = part.clone();
    let chunks = part.chunks().inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            reporter.report_sent(bytes.len() as u64);
        }
    });
    reqwest::Body::wrap_stream(chunks)
}

/// A multipart file field streaming `part`, with a known length.
pub fn part_file_field(
    part: &Part,
    file_name: impl Into<String>,
    mime: &str,
) -> Result<reqwest::multipart::Part> {
    reqwest::multipart::Part::stream_with_length(part_body(part), part.len())
        .file_name(file_name.into())
        .mime_str(mime)
        .map_err(|e| Error::invalid_input(format!("bad MIME type {mime}")).with_source(e))
}

/// Unix time in seconds.
pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Unix time in milliseconds.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        assert_eq!(
            httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
        // Out-of-range fields are no date (they used to overflow and panic).
        for bad in [
            "Sun, 00 Jan 0 00:44183840210675510:15795713661069021016 GMT",
            "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
            "Sun, 99999999999 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
        ] {
            assert_eq!(httpdate_parse(bad), None, "{bad}");
        }
    }

    /// A part whose source file ends before the part does fails as the source's fault
    /// (`Io`, not retried), not as a broken connection.
    #[tokio::test]
    async fn a_source_that_shrank_is_an_io_error_not_a_network_one() {
        use std::io::Write;
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                });
            }
        });
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[1u8; 1000]).unwrap();
        let file = std::sync::Arc::new(std::fs::File::open(f.path()).unwrap());
        // The plan says 600 KiB; the file holds 1000 bytes.
        let part = Part::from_file(0, file, 0, 600 * 1024, Some([0; 16]));
        let client = reqwest::Client::new();
        let request = client
            .put(format!("http://{addr}/part"))
            .header(reqwest::header::CONTENT_LENGTH, part.len())
            .body(part_body(&part));
        let meta = CallMeta {
            platform: "test",
            call: "put_part",
            part: Some(0),
        };
        let err = send_limited(request, meta, CallLimits::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("shorter"), "{err}");
    }

    /// One call within `watchdog` and the default answer cap.
    async fn send_with(
        request: reqwest::RequestBuilder,
        meta: CallMeta<'_>,
        watchdog: Option<Watchdog>,
    ) -> Result<RawResponse> {
        let limits = CallLimits {
            watchdog,
            ..CallLimits::default()
        };
        send_limited(request, meta, limits).await
    }

    fn quick(first_byte_ms: u64, idle_ms: u64) -> Option<Watchdog> {
        Some(Watchdog {
            first_byte: Duration::from_millis(first_byte_ms),
            idle: Duration::from_millis(idle_ms),
            total: Duration::from_secs(60),
            ..Watchdog::default()
        })
    }

    const META: CallMeta<'static> = CallMeta {
        platform: "test",
        call: "put_part",
        part: Some(0),
    };

    /// A server that accepts and never answers is given up on after `first_byte`, not after
    /// a minute.
    #[tokio::test]
    async fn a_silent_server_fails_after_the_first_byte_timeout() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                    std::future::pending::<()>().await;
                });
            }
        });
        let client = reqwest::Client::new();
        let started = Instant::now();
        let request = client.post(format!("http://{addr}/init")).body("{}");
        let err = send_with(request, META, quick(300, 300)).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
        assert!(err.to_string().contains("no answer within 0.3 s"), "{err}");
    }

    /// A server that takes the body slowly but steadily is never cut by `idle`, however long
    /// the body takes; one that stops taking it is cut after `idle`.
    ///
    /// Measured on progress, as the watchdog does: the test stamps each chunk when the
    /// connection takes it from the body (the watchdog's progress events) and checks that the
    /// slow body was still being taken more than `idle` after its first chunk, so an idle
    /// deadline counted from the start would have cut it.
    ///
    /// The client's progress comes in bursts: the kernel wakes a writer when half of its send
    /// buffer (autotuned up to 4 MiB on Linux) is free again, so the pause between two chunks
    /// taken is about 2 MiB at the server's pace. The server reads at 32 MiB/s on average
    /// (a pause of about 60 ms, `idle` being 1 s) and makes up a late wake-up by reading on at
    /// once, so CPU load does not stretch those pauses; its receive buffer is fixed (so the
    /// body is not swallowed by a buffer autotuned to tens of MiB); the first-byte deadline,
    /// not under test here, is a minute.
    #[tokio::test]
    async fn idle_is_measured_on_progress_not_from_the_start() {
        use futures::StreamExt;
        use std::sync::Mutex;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        const IDLE: Duration = Duration::from_secs(1);
        /// The server's average pace, in bytes per second.
        const RATE: f64 = 32.0 * 1024.0 * 1024.0;
        const READ: usize = 256 * 1024;
        const CHUNK: usize = 64 * 1024;
        /// Taken over about 1.9 s at `RATE` after the first 4 MiB fill the send buffer.
        const SLOW: usize = 64 * 1024 * 1024;
        /// Much more than the buffers on the way can hold.
        const STALLED: usize = 32 * 1024 * 1024;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(256 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(8).unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; READ];
                    let mut seen = Vec::new();
                    let head_end = loop {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    if String::from_utf8_lossy(&seen[..head_end]).contains("/stall") {
                        // Took the head and perhaps a little more; nothing from now on.
                        std::future::pending::<()>().await;
                    }
                    let started = tokio::time::Instant::now();
                    let mut body = seen.len() - head_end;
                    while body < SLOW {
                        let due = started + Duration::from_secs_f64(body as f64 / RATE);
                        tokio::time::sleep_until(due).await;
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => body += n,
                        }
                    }
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                });
            }
        });
        let client = reqwest::Client::new();
        let watchdog = Some(Watchdog {
            first_byte: Duration::from_secs(60),
            idle: IDLE,
            total: Duration::from_secs(600),
            ..Watchdog::default()
        });
        // A body of `len` bytes whose chunks are stamped when the connection takes them.
        let body = |len: usize, taken: Arc<Mutex<Vec<Instant>>>| {
            let chunk = Bytes::from(vec![7u8; CHUNK]);
            let chunks = futures::stream::iter(0..len / CHUNK).map(move |_| {
                taken.lock().unwrap().push(Instant::now());
                Ok::<_, std::io::Error>(chunk.clone())
            });
            reqwest::Body::wrap_stream(chunks)
        };

        let taken = Arc::new(Mutex::new(Vec::new()));
        let slow = client
            .put(format!("http://{addr}/slow"))
            .header(reqwest::header::CONTENT_LENGTH, SLOW)
            .body(body(SLOW, Arc::clone(&taken)));
        let raw = send_with(slow, META, watchdog).await.unwrap();
        assert_eq!(raw.status, 200);
        let taken = taken.lock().unwrap().clone();
        assert_eq!(taken.len(), SLOW / CHUNK);
        let span = taken[taken.len() - 1] - taken[0];
        let longest = taken.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(
            span > IDLE,
            "the body was taken within {span:?} (longest pause {longest:?}), not over more \
             than idle ({IDLE:?}): too fast to prove it"
        );

        let taken = Arc::new(Mutex::new(Vec::new()));
        let stalled = client
            .put(format!("http://{addr}/stall"))
            .header(reqwest::header::CONTENT_LENGTH, STALLED)
            .body(body(STALLED, Arc::clone(&taken)));
        let err = send_with(stalled, META, watchdog).await.unwrap_err();
        let cut = Instant::now();
        assert_eq!(
            CallLimit::of(&err),
            Some(CallLimit::RequestStalled(IDLE)),
            "{err}"
        );
        assert!(
            err.to_string().contains("took no byte of the request"),
            "{err}"
        );
        let taken = taken.lock().unwrap().clone();
        assert!(
            !taken.is_empty() && taken.len() < STALLED / CHUNK,
            "{} of {} chunks taken: the stall must come in the middle of the body",
            taken.len(),
            STALLED / CHUNK
        );
        // The watchdog's clock counts whole milliseconds.
        let quiet = cut - taken[taken.len() - 1];
        assert!(
            quiet + Duration::from_millis(2) >= IDLE,
            "cut {quiet:?} after the last progress"
        );
    }

    /// A library user who sets nothing still gets deadlines, an answer limit and a limit of
    /// requests in flight, and no rate.
    #[test]
    fn deadlines_and_the_answer_limit_are_on_by_default() {
        let options = ClientOptions::default();
        assert_eq!(options.call_limits(), CallLimits::default());
        assert_eq!(options.watchdog, Some(Watchdog::default()));
        assert_eq!(options.max_answer_bytes, DEFAULT_MAX_ANSWER_BYTES);
        assert_eq!(options.request_limit, DEFAULT_REQUEST_LIMIT);
        assert_eq!(options.request_rate, None);
        assert_eq!(options.timeouts, HttpTimeouts::default());
    }

    /// The defaults `docs/cli.md` gives and the CLI's flags take from here (the reasons are
    /// on [`Watchdog`] and [`LowSpeed`]): changing one is changing the docs.
    #[test]
    fn the_default_limits_are_the_documented_ones() {
        assert_eq!(
            Watchdog::default(),
            Watchdog {
                first_byte: Duration::from_secs(20),
                idle: Duration::from_secs(30),
                total: Duration::from_secs(1800),
                answer: Duration::from_secs(60),
                low_speed: Some(LowSpeed {
                    bytes_per_sec: 1024,
                    window: Duration::from_secs(30),
                }),
            }
        );
        assert_eq!(LowSpeed::default().floor(), 30 * 1024);
    }

    /// The meter judges whole windows only, against the bytes moved within the last one.
    #[test]
    fn the_speed_meter_judges_the_last_window() {
        let limit = LowSpeed {
            bytes_per_sec: 100,
            window: Duration::from_secs(1),
        };
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut meter = SpeedMeter::new(limit, t0, 0);
        // Less than a window of flow: never too slow, however little moved.
        assert!(!meter.too_slow(at(500), 0));
        // A window with 50 bytes: too slow.
        assert!(meter.too_slow(at(1000), 50));
        // A fast stretch: 1000 bytes in the last window.
        assert!(!meter.too_slow(at(1500), 600));
        assert!(!meter.too_slow(at(2000), 1050));
        // Then a drip: the last window (1.5 s → 2.5 s) moved 450 bytes, still enough; the
        // next one (2 s → 3 s) moved 2.
        assert!(!meter.too_slow(at(2500), 1051));
        assert!(meter.too_slow(at(3000), 1052));
    }

    fn dripping(low: LowSpeed) -> Option<Watchdog> {
        Some(Watchdog {
            first_byte: Duration::from_secs(5),
            idle: Duration::from_secs(5),
            total: Duration::from_secs(60),
            answer: Duration::from_secs(30),
            low_speed: Some(low),
        })
    }

    /// A server that answers its head at once, then a byte every 50 ms, is given up on one
    /// low-speed window after the head (not at the idle or total deadline), as a typed,
    /// retryable error naming the call.
    #[tokio::test]
    async fn a_dripping_answer_is_given_up_on_by_the_low_speed_limit() {
        let addr = dripping_server(b"x", Duration::from_millis(50)).await;
        let client = reqwest::Client::new();
        let low = LowSpeed {
            bytes_per_sec: 100,
            window: Duration::from_millis(300),
        };
        let started = Instant::now();
        let request = client.get(format!("http://{addr}/drip"));
        let err = send_with(request, META, dripping(low)).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(CallLimit::of(&err), Some(CallLimit::TooSlow(low)), "{err}");
        assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
        assert!(err.is_retryable());
        assert_eq!(err.call(), Some("put_part"));
        assert!(err.to_string().contains("dripping"), "{err}");
        assert!(
            took >= low.window && took < Duration::from_secs(2),
            "given up after {took:?}"
        );
    }

    /// A small answer that keeps up the low-speed pace still ends at its answer deadline,
    /// counted from the request; a part's answer has no such deadline.
    #[tokio::test]
    async fn a_small_answer_ends_at_its_answer_deadline() {
        // 20 bytes every 20 ms: 1000 B/s, ten times the low-speed limit.
        let addr = dripping_server(&[b' '; 20], Duration::from_millis(20)).await;
        let client = reqwest::Client::new();
        let low = LowSpeed {
            bytes_per_sec: 100,
            window: Duration::from_millis(200),
        };
        let watchdog = Watchdog {
            first_byte: Duration::from_millis(300),
            answer: Duration::from_millis(600),
            total: Duration::from_millis(1500),
            ..dripping(low).unwrap()
        };
        let init = CallMeta {
            platform: "test",
            call: "init",
            part: None,
        };
        let started = Instant::now();
        let request = client.get(format!("http://{addr}/init"));
        let err = send_with(request, init, Some(watchdog)).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(
            CallLimit::of(&err),
            Some(CallLimit::AnswerDeadline(Duration::from_millis(600))),
            "{err}"
        );
        assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
        assert_eq!(err.call(), Some("init"));
        assert!(
            took >= Duration::from_millis(600) && took < Duration::from_millis(1400),
            "{took:?}"
        );
        // The same answer to a part runs on to the total deadline.
        let request = client.get(format!("http://{addr}/part"));
        let err = send_with(request, META, Some(watchdog)).await.unwrap_err();
        assert_eq!(
            CallLimit::of(&err),
            Some(CallLimit::Deadline(Duration::from_millis(1500))),
            "{err}"
        );
    }

    /// A server that takes the request body a trickle at a time is given up on by the
    /// low-speed limit while the body is sent, before the idle deadline.
    #[tokio::test]
    async fn a_server_taking_the_body_slowly_is_given_up_on() {
        use tokio::io::AsyncReadExt;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(8).unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // 1 KiB every 50 ms: 20 KiB/s.
                    let mut buf = vec![0u8; 1024];
                    while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                });
            }
        });
        let client = reqwest::Client::new();
        let low = LowSpeed {
            bytes_per_sec: 1024 * 1024,
            window: Duration::from_millis(300),
        };
        const LEN: usize = 64 * 1024 * 1024;
        let chunk = Bytes::from(vec![7u8; 64 * 1024]);
        let chunks = futures::stream::iter(0..LEN / chunk.len())
            .map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
        use futures::StreamExt;
        let request = client
            .put(format!("http://{addr}/part"))
            .header(reqwest::header::CONTENT_LENGTH, LEN)
            .body(reqwest::Body::wrap_stream(chunks));
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            Duration::from_secs(10),
            send_with(request, META, dripping(low)),
        )
        .await
        .expect("the slow body was never given up on");
        let err = outcome.unwrap_err();
        assert_eq!(CallLimit::of(&err), Some(CallLimit::TooSlow(low)), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    /// A server that works longer than the low-speed window before its first answer byte (a
    /// commit hashing a large file) is not cut by it: that wait is the first-byte deadline's.
    #[tokio::test]
    async fn the_low_speed_limit_waits_for_the_first_answer_byte() {
        use tokio::io::AsyncWriteExt;
        let addr = serve_with(|mut socket| async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
        })
        .await;
        let client = reqwest::Client::new();
        let low = LowSpeed {
            bytes_per_sec: 1024 * 1024,
            window: Duration::from_millis(200),
        };
        let commit = CallMeta {
            platform: "test",
            call: "commit",
            part: None,
        };
        let request = client.post(format!("http://{addr}/commit")).body("{}");
        let raw = send_with(request, commit, dripping(low)).await.unwrap();
        assert_eq!(raw.body.as_ref(), b"ok");
    }

    /// Serves every connection with `answer` after reading the request head.
    /// A server that answers every request with a head announcing 100,000 bytes, then
    /// `chunk` every `every` for as long as the client reads.
    async fn dripping_server(chunk: &'static [u8], every: Duration) -> std::net::SocketAddr {
        use tokio::io::AsyncWriteExt;
        serve_with(move |mut socket| async move {
            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n";
            if socket.write_all(head).await.is_err() {
                return;
            }
            while socket.write_all(chunk).await.is_ok() {
                tokio::time::sleep(every).await;
            }
        })
        .await
    }

    async fn serve_with<F, Fut>(answer: F) -> std::net::SocketAddr
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let answer = Arc::clone(&answer);
                tokio::spawn(async move {
                    let mut head = vec![0u8; 4096];
                    if matches!(socket.read(&mut head).await, Ok(n) if n > 0) {
                        answer(socket).await;
                    }
                });
            }
        });
        addr
    }

    /// A server that drips its answer a byte every 20 ms keeps every idle timeout happy;
    /// the call's total deadline ends it, as a typed timeout.
    #[tokio::test]
    async fn a_dripping_answer_ends_at_the_total_deadline() {
        let addr = dripping_server(b"x", Duration::from_millis(20)).await;
        let client = reqwest::Client::new();
        let watchdog = Watchdog {
            first_byte: Duration::from_millis(500),
            idle: Duration::from_millis(500),
            total: Duration::from_millis(700),
            ..Watchdog::default()
        };
        let request = client.get(format!("http://{addr}/drip"));
        // Bounded even when the deadline is missing (100,000 bytes would take half an hour).
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            send_with(request, META, Some(watchdog)),
        )
        .await;
        let err = outcome
            .expect("the call outlived its deadline")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
        assert_eq!(
            CallLimit::of(&err),
            Some(CallLimit::Deadline(Duration::from_millis(700))),
            "{err}"
        );
        assert!(err.to_string().contains("deadline"), "{err}");
    }

    /// A 200 answer whose body never ends (here: 32 MiB, then silence) fails at the call's
    /// answer limit, having buffered at most the limit; one whose `Content-Length` is over the
    /// limit fails before a byte of its body is read.
    #[tokio::test]
    async fn an_endless_answer_fails_at_the_answer_limit() {
        use std::sync::atomic::{AtomicU64, Ordering};
        use tokio::io::AsyncWriteExt;
        let written = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&written);
        let addr = serve_with(move |mut socket| {
            let counter = Arc::clone(&counter);
            async move {
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n";
                if socket.write_all(head).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                for _ in 0..512 {
                    if socket.write_all(&chunk).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
                std::future::pending::<()>().await;
            }
        })
        .await;
        let client = reqwest::Client::new();
        let limits = CallLimits {
            watchdog: quick(2000, 1000),
            max_answer_bytes: 1024 * 1024,
        };
        let request = client.get(format!("http://{addr}/endless"));
        let err = send_limited(request, META, limits).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
        assert!(!err.is_retryable());
        assert_eq!(
            CallLimit::of(&err),
            Some(CallLimit::AnswerTooLarge { limit: 1024 * 1024 }),
            "{err}"
        );
        assert_eq!(err.http_status(), Some(200));
        assert!(err.to_string().contains("1048576 bytes"), "{err}");
        // The server could write what the sockets buffer, no more: the client stopped reading.
        let sent = written.load(Ordering::Relaxed);
        assert!(sent < 16 * 1024 * 1024, "{sent} bytes written");

        // Declared too long: refused on the headers.
        let declared = serve_with(|mut socket| async move {
            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 5000000000\r\n\r\n";
            if socket.write_all(head).await.is_ok() {
                std::future::pending::<()>().await;
            }
        })
        .await;
        let request = client.get(format!("http://{declared}/declared"));
        let err = send_limited(request, META, limits).await.unwrap_err();
        assert_eq!(
            CallLimit::of(&err),
            Some(CallLimit::AnswerTooLarge { limit: 1024 * 1024 }),
            "{err}"
        );
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(kind_for_status(200), None);
        assert_eq!(kind_for_status(429), Some(ErrorKind::RateLimited));
        assert_eq!(kind_for_status(503), Some(ErrorKind::Transient));
        assert_eq!(kind_for_status(403), Some(ErrorKind::Auth));
        assert_eq!(kind_for_status(409), Some(ErrorKind::Conflict));
    }
}
