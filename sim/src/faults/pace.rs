//! Bandwidth pacing: a virtual-time token bucket with no burst allowance.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Paces bytes to `rate` bytes per second: each reservation is scheduled right after the
/// previous one, and the caller waits until its bytes would have gone through.
#[derive(Debug)]
pub(crate) struct Pacer {
    rate: u64,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// A pacer of `rate` bytes per second (at least 1).
    pub(crate) fn new(rate: u64) -> Self {
        Pacer {
            rate: rate.max(1),
            next: Mutex::new(None),
        }
    }

    /// Reserves `n` bytes and returns when they are through.
    pub(crate) fn reserve(&self, n: u64) -> Instant {
        let now = Instant::now();
        let cost = Duration::from_secs_f64(n as f64 / self.rate as f64);
        let mut next = crate::util::lock(&self.next);
        let start = next.map_or(now, |t| t.max(now));
        let end = start + cost;
        *next = Some(end);
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_queue_at_the_rate() {
        let p = Pacer::new(1000);
        let t0 = Instant::now();
        let first = p.reserve(500);
        let second = p.reserve(1000);
        assert!(first - t0 >= Duration::from_millis(500));
        assert!(first - t0 < Duration::from_millis(600));
        assert_eq!(second - first, Duration::from_secs(1));
    }
}
