//! A published request rate (eBay: 50 POST requests per 5 seconds per user), held across
//! every upload a client sends: a request waits for its turn rather than earn a 429.
//!
//! A sliding window: at most `requests` starts within any `per`. It is a client's option
//! ([`crate::raw::http::ClientOptions::request_rate`]), like its limit of requests in flight,
//! so a batch of many uploads through one client shares one budget, and two clients (two
//! accounts) keep one each; within a client, per account it serves
//! ([`crate::raw::http::in_account`]), as the platforms publish their rates.

use std::collections::VecDeque;
use std::sync::Mutex;
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

/// The window of one client (and account): its rate and the starts it counts.
#[derive(Debug)]
pub(crate) struct RateWindow(Mutex<Window>);

impl RateWindow {
    /// A window holding requests to `rate`.
    pub(crate) fn new(rate: RequestRate) -> RateWindow {
        RateWindow(Mutex::new(Window {
            rate,
            starts: VecDeque::new(),
        }))
    }

    /// Waits until a request of `method` may start under the rate (at once when the method
    /// does not count).
    pub(crate) async fn wait_for_turn(&self, method: &str) {
        loop {
            let wait = {
                // A panic while holding this lock cannot leave the window half-updated.
                let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
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
        let per = Duration::from_millis(300);
        let window = RateWindow::new(RequestRate {
            requests: 3,
            per,
            method: Some("POST"),
        });
        let start = Instant::now();
        for _ in 0..3 {
            window.wait_for_turn("POST").await;
        }
        // GETs do not count.
        for _ in 0..10 {
            window.wait_for_turn("get").await;
        }
        // The fourth POST waits for the first one's window to pass (a lower bound only:
        // the machine may be slower, never faster).
        window.wait_for_turn("post").await;
        assert!(start.elapsed() >= per, "{:?}", start.elapsed());
    }
}
