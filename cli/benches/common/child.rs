//! A child process measured by a benchmark: its peak resident set, sampled until it exits.

use std::process::{Child, ExitStatus};
use std::time::Duration;

/// `VmHWM` of a live process, in KiB (`None` once it is gone, or without `/proc`).
pub fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Waits for `child`, reading its `VmHWM` every `every`: its exit status and the highest
/// reading, in KiB.
pub fn wait_sampling_peak(child: &mut Child, every: Duration) -> (ExitStatus, u64) {
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Some(kib) = peak_kib(pid) {
            peak = peak.max(kib);
        }
        match child.try_wait().expect("wait for the child") {
            Some(status) => return (status, peak),
            None => std::thread::sleep(every),
        }
    }
}
