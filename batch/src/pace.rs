//! How many uploads an account keeps in flight: a fixed number, or as many as its link takes.
//!
//! The adaptive pace climbs a hill. Each video upload has a fixed cost around its parts (the
//! open, the digests, the commit, the round trips of its first and last parts), during which
//! it sends little; small files are mostly that cost, large ones mostly parts. So the number
//! of uploads that fills a link depends on the files and on the link (its latency, its rate),
//! and no fixed number suits every catalog: the catalog benchmark measured 1.45× its
//! physical limit with 4 uploads per marketplace, 1.12× with 8 (`docs/benchmarks.md`).
//!
//! The pace measures the bytes the account's uploads put on the link (part bytes as the
//! connection takes them, and each image) over windows of at least [`WINDOW`] in which the
//! limit was reached (a window where the catalog could not fill the limit says nothing
//! about it). After a step up that raised the rate by at least [`GAIN`], it steps up again;
//! after one that did not, it steps back and holds for [`HOLD_WINDOWS`] windows before
//! probing again, as the rate may have been limited by the files of that moment. It never
//! steps below where it started: a rate that falls while the limit stays says something of
//! the files (smaller ones, a video processing), not of the limit, and fewer uploads never
//! carry more. Between `start` and [`PaceLimit::Adaptive`]'s `max`, which bounds the
//! worker's memory and the requests an account receives at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Uploads in flight an adaptive pace starts with.
pub const ADAPTIVE_START: usize = 6;
/// The most uploads in flight an adaptive pace reaches per account: the catalog benchmark's
/// worker stayed under 64 MiB at 12 per account on three accounts, and went over at 16.
pub const ADAPTIVE_MAX: usize = 12;
/// The shortest measuring window.
pub const WINDOW: Duration = Duration::from_secs(2);
/// The smallest rise of the rate (a share) that makes a step up worth it.
pub const GAIN: f64 = 0.05;
/// Windows a pace holds its limit after a step up that did not pay.
pub const HOLD_WINDOWS: u32 = 3;

/// How an account's uploads in flight are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaceLimit {
    /// Always this many (at least one).
    Fixed(usize),
    /// As many as raise the rate the link takes, from `start` up to `max`.
    Adaptive {
        /// The first limit.
        start: usize,
        /// The highest limit.
        max: usize,
    },
}

impl Default for PaceLimit {
    fn default() -> Self {
        PaceLimit::Adaptive {
            start: ADAPTIVE_START,
            max: ADAPTIVE_MAX,
        }
    }
}

impl std::fmt::Display for PaceLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PaceLimit::Fixed(n) => write!(f, "{n}"),
            PaceLimit::Adaptive { start, max } => {
                write!(f, "adaptive ({start} to start, up to {max})")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The limit went up at the start of the current window.
    Up,
    /// The limit went down, or stayed, at the start of the current window.
    Held,
}

#[derive(Debug)]
struct State {
    /// The lowest limit (an adaptive pace's start).
    floor: usize,
    limit: usize,
    in_flight: usize,
    /// When the current window started, and the counters then.
    window_start: Instant,
    bytes_at_start: u64,
    /// Whether the limit was reached during the current window.
    saturated: bool,
    /// The rate of the last window that counted, bytes per second.
    last_rate: Option<f64>,
    step: Step,
    hold: u32,
}

/// One account's pace: its limit, its uploads in flight and its meter. Shared by the worker's
/// claims (the limit) and its uploads (the meter).
#[derive(Debug)]
pub struct Pace {
    kind: PaceLimit,
    bytes: AtomicU64,
    state: Mutex<State>,
}

impl Pace {
    /// A pace limited as `kind` says.
    pub fn new(kind: PaceLimit) -> Arc<Pace> {
        let limit = match kind {
            PaceLimit::Fixed(n) => n.max(1),
            PaceLimit::Adaptive { start, max } => start.clamp(1, max.max(1)),
        };
        Arc::new(Pace {
            kind,
            bytes: AtomicU64::new(0),
            state: Mutex::new(State {
                floor: limit,
                limit,
                in_flight: 0,
                window_start: Instant::now(),
                bytes_at_start: 0,
                saturated: false,
                last_rate: None,
                step: Step::Held,
                hold: 0,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain numbers, consistent between statements: a panicking holder
        // leaves nothing half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.state().limit
    }

    /// Uploads in flight now.
    pub fn in_flight(&self) -> usize {
        self.state().in_flight
    }

    /// Counts `bytes` put on the account's link (part bytes taken by a connection, an image).
    pub fn carried(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A slot for one more upload, when fewer than the limit are in flight; the slot is
    /// given back when dropped.
    pub fn try_start(self: &Arc<Pace>) -> Option<PaceSlot> {
        let mut st = self.state();
        self.adjust(&mut st, Instant::now());
        if st.in_flight >= st.limit {
            st.saturated = true;
            return None;
        }
        st.in_flight += 1;
        if st.in_flight >= st.limit {
            st.saturated = true;
        }
        Some(PaceSlot {
            pace: Arc::clone(self),
        })
    }

    /// Ends the window when it is long enough, and moves the limit (adaptive only).
    fn adjust(&self, st: &mut State, now: Instant) {
        let PaceLimit::Adaptive { max, .. } = self.kind else {
            return;
        };
        let bytes = self.bytes.load(Ordering::Relaxed);
        let elapsed = now.saturating_duration_since(st.window_start);
        if elapsed < WINDOW {
            return;
        }
        let rate = bytes.saturating_sub(st.bytes_at_start) as f64 / elapsed.as_secs_f64();
        let counted = st.saturated;
        st.window_start = now;
        st.bytes_at_start = bytes;
        st.saturated = st.in_flight >= st.limit;
        if !counted {
            // The catalog did not fill the limit: this window says nothing of it.
            return;
        }
        let last = st.last_rate.replace(rate);
        let Some(last) = last else {
            // The first window: probe up.
            step_up(st, max);
            return;
        };
        match st.step {
            Step::Up if rate >= last * (1.0 + GAIN) => step_up(st, max),
            Step::Up => {
                // The step did not pay: back to where it was, and hold.
                st.limit = st.limit.saturating_sub(1).max(st.floor);
                st.step = Step::Held;
                st.hold = HOLD_WINDOWS;
            }
            Step::Held if st.hold > 0 => st.hold -= 1,
            Step::Held => step_up(st, max),
        }
    }
}

fn step_up(st: &mut State, max: usize) {
    if st.limit < max {
        st.limit += 1;
        st.step = Step::Up;
    } else {
        st.step = Step::Held;
        st.hold = HOLD_WINDOWS;
    }
}

/// One upload's place in its account's pace; given back when dropped.
#[derive(Debug)]
pub struct PaceSlot {
    pace: Arc<Pace>,
}

impl PaceSlot {
    /// The pace it belongs to (its meter).
    pub fn pace(&self) -> &Arc<Pace> {
        &self.pace
    }
}

impl Drop for PaceSlot {
    fn drop(&mut self) {
        let mut st = self.pace.state();
        st.in_flight = st.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a pace through windows on a simulated link: `rate_at(limit)` bytes per second
    /// carried, the limit always reached.
    fn run(pace: &Arc<Pace>, windows: usize, mut rate_at: impl FnMut(usize) -> f64) -> Vec<usize> {
        let mut now = Instant::now();
        let mut limits = Vec::new();
        {
            let mut st = pace.state();
            st.window_start = now;
        }
        for _ in 0..windows {
            let limit = pace.limit();
            // Fill the limit.
            let slots: Vec<_> = (0..limit).filter_map(|_| pace.try_start()).collect();
            assert_eq!(slots.len(), limit);
            let bytes = (rate_at(limit) * WINDOW.as_secs_f64()) as u64;
            for _ in 0..16 {
                pace.carried(bytes / 16);
            }
            now += WINDOW;
            let mut st = pace.state();
            pace.adjust(&mut st, now);
            drop(st);
            drop(slots);
            limits.push(pace.limit());
        }
        limits
    }

    #[test]
    fn a_fixed_pace_never_moves() {
        let pace = Pace::new(PaceLimit::Fixed(3));
        let limits = run(&pace, 20, |l| l as f64 * 1e6);
        assert!(limits.iter().all(|&l| l == 3), "{limits:?}");
        assert!(pace.try_start().is_some());
    }

    #[test]
    fn an_adaptive_pace_climbs_to_the_links_plateau_and_stays_near_it() {
        // Each upload carries 6 MB/s until the link's 40 MB/s: the plateau starts at 7.
        let pace = Pace::new(PaceLimit::default());
        let limits = run(&pace, 60, |l| (l as f64 * 6e6).min(40e6));
        let settled = &limits[20..];
        assert!(
            settled.iter().all(|&l| (6..=9).contains(&l)),
            "the limit should stay around the plateau's start (7): {limits:?}"
        );
        assert!(limits.iter().all(|&l| l <= ADAPTIVE_MAX));
    }

    #[test]
    fn an_adaptive_pace_on_a_narrow_link_stays_low() {
        // The link takes 10 MB/s whatever the uploads: no step up ever pays.
        let pace = Pace::new(PaceLimit::default());
        let limits = run(&pace, 40, |_| 10e6);
        assert!(
            limits[10..].iter().all(|&l| l <= ADAPTIVE_START + 1),
            "{limits:?}"
        );
    }

    #[test]
    fn a_falling_rate_never_takes_the_pace_below_its_start() {
        // The files get smaller and smaller: the rate falls whatever the limit.
        let pace = Pace::new(PaceLimit::default());
        let mut n = 0.0;
        let limits = run(&pace, 40, |_| {
            n += 1.0;
            40e6 / n
        });
        assert!(limits.iter().all(|&l| l >= ADAPTIVE_START), "{limits:?}");
    }

    #[test]
    fn a_window_the_catalog_could_not_fill_moves_nothing() {
        let pace = Pace::new(PaceLimit::default());
        let start = pace.limit();
        let mut now = Instant::now();
        pace.state().window_start = now;
        for _ in 0..10 {
            // One upload in flight, under the limit.
            let slot = pace.try_start();
            for _ in 0..16 {
                pace.carried(1_000_000);
            }
            now += WINDOW;
            let mut st = pace.state();
            pace.adjust(&mut st, now);
            drop(st);
            drop(slot);
        }
        assert_eq!(pace.limit(), start);
    }

    #[test]
    fn slots_are_given_back_and_the_limit_holds() {
        let pace = Pace::new(PaceLimit::Fixed(2));
        let a = pace.try_start().expect("a first slot");
        let _b = pace.try_start().expect("a second slot");
        assert!(pace.try_start().is_none(), "the limit is 2");
        drop(a);
        assert_eq!(pace.in_flight(), 1);
        assert!(pace.try_start().is_some());
    }
}
