//! A published request rate (eBay: 50 POST requests per 5 seconds per user), held across
//! every upload a client sends: a request waits for its turn rather than earn a 429.
//!
//! A sliding window of `requests` places. A request takes a place when it starts and holds it
//! until its answer has arrived; the place is free again one window after that answer. The
//! platform counts a request at some moment between the two (when its headers arrive, or its
//! body, which for a chunk of several MiB is a second later): the documents do not say which,
//! and answer-plus-window is the one choice under which no count the platform can make sees
//! more than `requests` in any window. (Counting from the start, a client was refused a few
//! 429s per catalog by a platform counting at the body's arrival.) It is a client's option
//! ([`crate::raw::http::ClientOptions::request_rate`]), like its limit of requests in flight,
//! so a batch of many uploads through one client shares one budget, and two clients (two
//! accounts) keep one each; within a client, per account it serves
//! ([`crate::raw::http::in_account`]), as the platforms publish their rates.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

// tokio's clock, so that a test with paused time sees the windows pass.
use tokio::time::Instant;

/// A request rate: at most `requests` requests in any window of `per`.
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
    /// When the answers of finished requests arrived, oldest first.
    answered: VecDeque<Instant>,
    /// Requests started and not yet answered: each holds a place.
    in_flight: usize,
}

/// Whether a request may start now.
#[derive(Debug, PartialEq, Eq)]
enum Turn {
    /// It took a place.
    Now,
    /// No place until then at the latest (the oldest answer leaves the window).
    After(Duration),
    /// Every place is held by a request in flight: until one is answered, and a window more.
    AfterAnAnswer,
}

impl Window {
    /// Takes a place now, or says how long to wait for the next one.
    fn take(&mut self, now: Instant) -> Turn {
        while let Some(&first) = self.answered.front() {
            if now.duration_since(first) >= self.rate.per {
                self.answered.pop_front();
            } else {
                break;
            }
        }
        if self.answered.len() + self.in_flight < self.rate.requests.max(1) as usize {
            self.in_flight += 1;
            return Turn::Now;
        }
        match self.answered.front() {
            Some(&first) => Turn::After((first + self.rate.per).saturating_duration_since(now)),
            None => Turn::AfterAnAnswer,
        }
    }

    /// A request holding a place was answered (or given up) at `now`.
    fn answered(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.answered.push_back(now);
    }
}

/// The window of one client (and account): its rate and the places its requests hold.
#[derive(Debug)]
pub(crate) struct RateWindow {
    window: Mutex<Window>,
    /// Signalled when a request is answered (a place starts its last window).
    answer: tokio::sync::Notify,
}

/// A place in the window, held by one request until its answer (dropped then).
#[derive(Debug)]
pub(crate) struct RatePlace<'a>(&'a RateWindow);

impl Drop for RatePlace<'_> {
    fn drop(&mut self) {
        self.0.lock().answered(Instant::now());
        self.0.answer.notify_waiters();
    }
}

impl RateWindow {
    /// A window holding requests to `rate`.
    pub(crate) fn new(rate: RequestRate) -> RateWindow {
        RateWindow {
            window: Mutex::new(Window {
                rate,
                answered: VecDeque::new(),
                in_flight: 0,
            }),
            answer: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        // A panic while holding this lock cannot leave the window half-updated.
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a request of `method` may start under the rate: its place, to hold until
    /// its answer has arrived (`None` at once when the method does not count).
    pub(crate) async fn wait_for_turn(&self, method: &str) -> Option<RatePlace<'_>> {
        loop {
            // Registered before looking, so an answer between the look and the wait wakes it.
            let answered = self.answer.notified();
            let turn = {
                let mut w = self.lock();
                if w.rate
                    .method
                    .is_some_and(|m| !m.eq_ignore_ascii_case(method))
                {
                    return None;
                }
                w.take(Instant::now())
            };
            match turn {
                Turn::Now => return Some(RatePlace(self)),
                Turn::After(d) => tokio::time::sleep(d.max(Duration::from_millis(1))).await,
                Turn::AfterAnAnswer => answered.await,
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
            answered: VecDeque::new(),
            in_flight: 0,
        }
    }

    #[test]
    fn a_place_is_free_a_window_after_its_answer_not_its_start() {
        let mut w = window(2, 1000);
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(w.take(t0), Turn::Now);
        assert_eq!(w.take(ms(100)), Turn::Now);
        // Both places held by requests in flight: only an answer can free one.
        assert_eq!(w.take(ms(400)), Turn::AfterAnAnswer);
        // The first is answered at 300 ms (a body that took its time), the second at 500.
        w.answered(ms(300));
        w.answered(ms(500));
        // A window after the first answer, not after the first start (1000 ms).
        assert_eq!(w.take(ms(1000)), Turn::After(Duration::from_millis(300)));
        assert_eq!(w.take(ms(1300)), Turn::Now);
        // The other place: the second answer's window ends at 1500.
        assert_eq!(w.take(ms(1300)), Turn::After(Duration::from_millis(200)));
        w.answered(ms(1350));
        assert_eq!(w.take(ms(1400)), Turn::After(Duration::from_millis(100)));
        assert_eq!(w.take(ms(1500)), Turn::Now);
    }

    #[test]
    fn a_zero_rate_still_lets_one_request_per_window() {
        let mut w = window(0, 50);
        let t0 = Instant::now();
        assert_eq!(w.take(t0), Turn::Now);
        assert_eq!(w.take(t0), Turn::AfterAnAnswer);
    }

    #[tokio::test]
    async fn a_request_in_flight_holds_its_place_until_answered() {
        let per = Duration::from_millis(50);
        let window = std::sync::Arc::new(RateWindow::new(RequestRate {
            requests: 1,
            per,
            method: None,
        }));
        let first = window.wait_for_turn("POST").await;
        assert!(first.is_some());
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let waiter = {
            let window = std::sync::Arc::clone(&window);
            tokio::spawn(async move {
                let _place = window.wait_for_turn("POST").await;
                let _ = tx.send(Instant::now());
            })
        };
        // Three windows pass while the first request is unanswered: the second still waits.
        tokio::time::sleep(3 * per).await;
        assert!(
            rx.try_recv().is_err(),
            "a place was given while all were held"
        );
        let answered = Instant::now();
        drop(first);
        let granted = rx.await.unwrap();
        waiter.await.unwrap();
        // Then one window after the answer (a lower bound only).
        assert!(granted.duration_since(answered) >= per);
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
            // Each answered at once.
            assert!(window.wait_for_turn("POST").await.is_some());
        }
        // GETs do not count.
        for _ in 0..10 {
            assert!(window.wait_for_turn("get").await.is_none());
        }
        // The fourth POST waits for the first one's window to pass (a lower bound only:
        // the machine may be slower, never faster).
        let _fourth = window.wait_for_turn("post").await;
        assert!(start.elapsed() >= per, "{:?}", start.elapsed());
    }
}
