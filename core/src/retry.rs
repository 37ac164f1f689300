//! Retry and polling policies: when to try again and how long to wait, in one place.

use std::time::Duration;

use rand::Rng;

use crate::error::Error;

/// Exponential backoff with jitter and a cap, honouring `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial_delay: Duration,
    /// Growth factor between attempts.
    pub multiplier: f64,
    /// Longest delay between two attempts (a longer `Retry-After` is still honoured up to
    /// `max_retry_after`).
    pub max_delay: Duration,
    /// Longest `Retry-After` the driver agrees to wait; beyond it the error is returned.
    pub max_retry_after: Duration,
    /// Whether to randomise delays ("equal jitter": half fixed, half random).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_delay: Duration::from_millis(200),
            multiplier: 2.0,
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// How long to wait after `attempt` (1-based) failed with `err`, or `None` to give up.
    pub fn next_delay(&self, attempt: u32, err: &Error) -> Option<Duration> {
        if !err.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        let exp = self.multiplier.powi(attempt.saturating_sub(1) as i32);
        let base = self.initial_delay.mul_f64(exp.min(1e6)).min(self.max_delay);
        let mut delay = if self.jitter {
            let half = base / 2;
            half + rand::thread_rng().gen_range(Duration::ZERO..=half)
        } else {
            base
        };
        if let Some(after) = err.retry_after() {
            if after > self.max_retry_after {
                return None;
            }
            delay = delay.max(after);
        }
        Some(delay)
    }
}

/// Progressive delays for polling asynchronous processing, up to a deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPolicy {
    /// Delay before the second poll (the first goes right after the commit).
    pub initial_delay: Duration,
    /// Growth factor.
    pub multiplier: f64,
    /// Longest delay.
    pub max_delay: Duration,
    /// Give up polling after this long (the upload stays valid; poll later with the handle).
    pub deadline: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            initial_delay: Duration::from_millis(500),
            multiplier: 1.5,
            max_delay: Duration::from_secs(15),
            deadline: Duration::from_secs(15 * 60),
        }
    }
}

impl PollPolicy {
    /// The delay before poll number `n` (0-based). The first poll goes right after the commit
    /// (a short video may be ready at once, and the answer costs one request); then
    /// `initial_delay`, growing by `multiplier` up to `max_delay`.
    pub fn delay(&self, n: u32) -> Duration {
        let Some(n) = n.checked_sub(1) else {
            return Duration::ZERO;
        };
        let exp = self.multiplier.powi(n.min(64) as i32);
        self.initial_delay.mul_f64(exp.min(1e6)).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn backoff_grows_caps_and_stops() {
        let p = RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        };
        let e = Error::new(ErrorKind::Transient, "x");
        assert_eq!(p.next_delay(1, &e), Some(Duration::from_millis(200)));
        assert_eq!(p.next_delay(2, &e), Some(Duration::from_millis(400)));
        assert_eq!(p.next_delay(5, &e), Some(Duration::from_millis(3200)));
        assert_eq!(p.next_delay(6, &e), None);
        let big = RetryPolicy {
            max_attempts: 100,
            jitter: false,
            ..RetryPolicy::default()
        };
        assert_eq!(big.next_delay(40, &e), Some(Duration::from_secs(10)));
    }

    /// `never()` retries nothing, not even an error made to be retried (a mutant returning
    /// the default policy, 6 attempts, survived the suite before this test).
    #[test]
    fn never_retries_even_a_retryable_error() {
        let p = RetryPolicy::never();
        assert_eq!(p.max_attempts, 1);
        let transient = Error::new(ErrorKind::Transient, "x");
        assert!(transient.is_retryable());
        assert_eq!(p.next_delay(1, &transient), None);
        let limited =
            Error::new(ErrorKind::RateLimited, "x").with_retry_after(Duration::from_millis(1));
        assert_eq!(p.next_delay(1, &limited), None);
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        let p = RetryPolicy::default();
        assert_eq!(p.next_delay(1, &Error::new(ErrorKind::Auth, "x")), None);
    }

    /// A `Retry-After` of exactly `max_retry_after` is still waited (the limit is the longest
    /// wait agreed to, not the first refused); one millisecond more is refused.
    #[test]
    fn retry_after_at_the_limit_is_waited() {
        let p = RetryPolicy {
            max_retry_after: Duration::from_secs(30),
            ..RetryPolicy::default()
        };
        let at = Error::new(ErrorKind::RateLimited, "x").with_retry_after(Duration::from_secs(30));
        assert_eq!(p.next_delay(1, &at), Some(Duration::from_secs(30)));
        let over = Error::new(ErrorKind::RateLimited, "x")
            .with_retry_after(Duration::from_secs(30) + Duration::from_millis(1));
        assert_eq!(p.next_delay(1, &over), None);
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = RetryPolicy::default();
        let e = Error::new(ErrorKind::RateLimited, "x").with_retry_after(Duration::from_secs(3));
        assert!(p.next_delay(1, &e).unwrap() >= Duration::from_secs(3));
        let too_long =
            Error::new(ErrorKind::RateLimited, "x").with_retry_after(Duration::from_secs(3600));
        assert_eq!(p.next_delay(1, &too_long), None);
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let p = RetryPolicy::default();
        let e = Error::new(ErrorKind::Transient, "x");
        for _ in 0..100 {
            let d = p.next_delay(3, &e).unwrap();
            assert!(d >= Duration::from_millis(400) && d <= Duration::from_millis(800));
        }
    }

    #[test]
    fn poll_delays_progress_to_a_cap() {
        let p = PollPolicy::default();
        assert_eq!(p.delay(0), Duration::ZERO);
        assert_eq!(p.delay(1), Duration::from_millis(500));
        assert!(p.delay(2) > p.delay(1));
        assert_eq!(p.delay(50), Duration::from_secs(15));
    }
}
