//! A published request rate per marketplace (eBay: 50 POST requests per 5 seconds per
//! user), held across every upload of the process: a request waits for its turn rather than
//! earn a 429.
//!
//! A sliding window: at most `requests` starts within any `per`. It is process-wide, like
//! the limit of requests in flight, so a batch of many uploads shares one budget; and per
//! account ([`crate::raw::http::in_account`]), as the platforms publish their rates (eBay's is
//! per user: each eBay account has its own window).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

// tokio's clock, so that a test with paused time sees the windows pass.
use tokio::time::Instant;

/// A request rate: at most `requests` request starts in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRate {
    /// Requests allowed in one window (at least 1).
    pub requests: u32,
    /// The window.
    pub per: Duration,
    /// Only requests of this HTTP method count (eBay counts POSTs); `None`: every request.
    pub method: Option<&'static str>,
}

#[derive(Debug)]
struct Window {
    rate: RequestRate,
    starts: VecDeque<Instant>,
}

impl Window {
    /// Takes a slot now, or says how long to wait for the next one.
    fn take(&mut self, now: Instant) -> Option<Duration> {
        while let Some(&first) = self.starts.front() {
            if now.duration_since(first) >= self.rate.per {
                self.starts.pop_front();
            } else {
                break;
            }
        }
        if self.starts.len() < self.rate.requests.max(1) as usize {
            self.starts.push_back(now);
            return None;
        }
        // The window is full, so it has a first start.
        let first = self.starts.front().copied().unwrap_or(now);
        Some((first + self.rate.per).saturating_duration_since(now))
    }
}

/// The rate set per marketplace, and a window per (marketplace, account).
#[derive(Default)]
struct Windows {
    rates: HashMap<String, RequestRate>,
    windows: HashMap<(String, String), Arc<Mutex<Window>>>,
}

fn windows() -> &'static Mutex<Windows> {
    static WINDOWS: OnceLock<Mutex<Windows>> = OnceLock::new();
    WINDOWS.get_or_init(Default::default)
}

/// Holds `platform`'s requests to `rate` in this process, shared by every upload; `None`
/// removes the limit. Requests already waiting keep the window they started with.
pub fn set_request_rate(platform: &str, rate: Option<RequestRate>) {
    // A panic while holding this lock cannot leave the map half-updated.
    let mut map = windows().lock().unwrap_or_else(|e| e.into_inner());
    match rate {
        Some(rate) => {
            map.rates.insert(platform.to_owned(), rate);
        }
        None => {
            map.rates.remove(platform);
        }
    }
    map.windows.retain(|(p, _), _| p != platform);
}

/// The rate set for `platform`, if any.
pub fn request_rate(platform: &str) -> Option<RequestRate> {
    let map = windows().lock().unwrap_or_else(|e| e.into_inner());
    map.rates.get(platform).copied()
}

/// Waits until a request of `method` to `platform` may start under its rate, in the window
/// of the running account ([`crate::raw::http::in_account`]; at once when no rate is set or
/// the method does not count).
pub async fn wait_for_turn(platform: &str, method: &str) {
    let account = crate::http::current_account()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let window = {
        let mut map = windows().lock().unwrap_or_else(|e| e.into_inner());
        let Some(rate) = map.rates.get(platform).copied() else {
            return;
        };
        Arc::clone(
            map.windows
                .entry((platform.to_owned(), account))
                .or_insert_with(|| {
                    Arc::new(Mutex::new(Window {
                        rate,
                        starts: VecDeque::new(),
                    }))
                }),
        )
    };
    loop {
        let wait = {
            let mut w = window.lock().unwrap_or_else(|e| e.into_inner());
            if w.rate
                .method
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                return;
            }
            w.take(Instant::now())
        };
        match wait {
            None => return,
            Some(d) => tokio::time::sleep(d.max(Duration::from_millis(1))).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(requests: u32, per_ms: u64) -> Window {
        Window {
            rate: RequestRate {
                requests,
                per: Duration::from_millis(per_ms),
                method: None,
            },
            starts: VecDeque::new(),
        }
    }

    #[test]
    fn a_full_window_waits_for_its_oldest_start_to_leave() {
        let mut w = window(2, 1000);
        let t0 = Instant::now();
        assert_eq!(w.take(t0), None);
        assert_eq!(w.take(t0 + Duration::from_millis(100)), None);
        assert_eq!(
            w.take(t0 + Duration::from_millis(400)),
            Some(Duration::from_millis(600))
        );
        // Once the first start is a window old, a slot is free again, and only one.
        assert_eq!(w.take(t0 + Duration::from_millis(1000)), None);
        assert_eq!(
            w.take(t0 + Duration::from_millis(1000)),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn a_zero_rate_still_lets_one_request_per_window() {
        let mut w = window(0, 50);
        let t0 = Instant::now();
        assert_eq!(w.take(t0), None);
        assert!(w.take(t0).is_some());
    }

    #[tokio::test]
    async fn requests_over_the_rate_wait_and_other_methods_do_not() {
        let platform = "rate-test-platform";
        let per = Duration::from_millis(300);
        set_request_rate(
            platform,
            Some(RequestRate {
                requests: 3,
                per,
                method: Some("POST"),
            }),
        );
        let start = Instant::now();
        for _ in 0..3 {
            wait_for_turn(platform, "POST").await;
        }
        // GETs do not count.
        for _ in 0..10 {
            wait_for_turn(platform, "get").await;
        }
        // The fourth POST waits for the first one's window to pass (a lower bound only:
        // the machine may be slower, never faster).
        wait_for_turn(platform, "post").await;
        assert!(start.elapsed() >= per, "{:?}", start.elapsed());
        assert_eq!(request_rate(platform).map(|r| r.requests), Some(3));
        set_request_rate(platform, None);
        assert_eq!(request_rate(platform), None);
    }
}
