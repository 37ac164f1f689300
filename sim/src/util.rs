//! Small helpers every simulator uses: random ids, MD5 digests, poison-tolerant locks and
//! duration conversions.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use md5::{Digest, Md5};

/// Locks a mutex, recovering from poisoning: every mutation under the simulators' locks is
/// completed before anything that could panic (handlers do not unwrap or index unchecked), so
/// a poisoned lock can only come from a panicking test thread and still holds consistent data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh random lowercase hex string of `bytes` random bytes (`2 × bytes` characters).
pub(crate) fn random_hex(bytes: usize) -> String {
    let data: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(data)
}

/// The MD5 of `bytes`.
pub(crate) fn md5_raw(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}

/// The MD5 of `bytes` as 32 lowercase hex characters.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// `d` in milliseconds as an `i64`, saturating at `i64::MAX`.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
