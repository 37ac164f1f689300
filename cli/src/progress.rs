//! Live progress: one indicatif bar per marketplace, fed by the driver's progress events.
//!
//! A bar shows the stage while the source is checked and digested, then bytes, rate and ETA
//! while parts go out, then the platform's processing state (with a spinner) until the
//! asset is ready or the upload fails. Bars draw on stderr and only on a terminal, within
//! its width (long messages end with `…`).
//!
//! ## Truthful bytes
//! A part's bytes are handed to the connection long before the platform reads them (the
//! operating system buffers megabytes per connection), so counting hand-offs shows a bar
//! racing ahead, then freezing. The bar follows instead what the platform has *taken*:
//! the bytes of acknowledged parts, plus, for a part in flight, an estimate at 85 % of the
//! rate the last acknowledged part went at (never more than the part's bytes handed off).
//! The shown position glides toward that figure (no jumps), never above it, and goes back
//! when a retry drops a part's bytes. Rate and ETA are measured over the last
//! [`RATE_WINDOW`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use marketmedia_core::{human_size, ProgressEvent, ProgressSink, Stage};

/// The window rate and ETA are measured over.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);
/// How often the bars move.
const TICK: Duration = Duration::from_millis(100);
/// How fast the shown position closes the gap to the estimate (time constant).
const GLIDE: Duration = Duration::from_millis(400);
/// The share of the last part's rate credited to a part in flight.
const CAUTION: f64 = 0.85;

/// One part in flight.
#[derive(Debug)]
struct InFlight {
    started: Instant,
    handed_off: u64,
}

/// What is known of one marketplace's bytes.
#[derive(Debug, Default)]
struct Track {
    uploading: bool,
    total: u64,
    /// Bytes the platform holds: already there (resume) plus acknowledged parts.
    taken: u64,
    in_flight: HashMap<u32, InFlight>,
    /// Bytes per second one part went at, from the last acknowledged part.
    part_rate: Option<f64>,
    shown: f64,
    last_tick: Option<Instant>,
    samples: VecDeque<(Instant, f64)>,
    /// `resumed, 5 of 8 parts already sent`, on a resumed upload.
    resumed: Option<String>,
    /// The last retry, and when.
    retry: Option<(Instant, String)>,
}

impl Track {
    /// Bytes the platform has taken, as far as can be known now.
    fn estimate(&self, now: Instant) -> f64 {
        let in_flight: f64 = self
            .in_flight
            .values()
            .map(|p| match self.part_rate {
                Some(rate) => {
                    let credited = rate * CAUTION * now.duration_since(p.started).as_secs_f64();
                    credited.min(p.handed_off as f64)
                }
                None => 0.0,
            })
            .sum();
        (self.taken as f64 + in_flight).min(self.total as f64)
    }

    /// Moves the shown position toward the estimate; returns it.
    fn tick(&mut self, now: Instant) -> u64 {
        let target = self.estimate(now);
        let dt = self
            .last_tick
            .map(|t| now.duration_since(t).as_secs_f64())
            .unwrap_or(0.0);
        self.last_tick = Some(now);
        if target <= self.shown {
            self.shown = target;
        } else {
            let step = (target - self.shown) * (dt / GLIDE.as_secs_f64()).min(1.0);
            self.shown = if target - self.shown - step < 1.0 {
                target
            } else {
                self.shown + step
            };
        }
        self.samples.push_back((now, self.shown));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        self.shown as u64
    }

    /// Bytes per second over the window, once it spans a second.
    fn rate(&self) -> Option<f64> {
        let (t0, b0) = self.samples.front()?;
        let (t1, b1) = self.samples.back()?;
        let span = t1.duration_since(*t0).as_secs_f64();
        (span >= 1.0).then(|| (b1 - b0).max(0.0) / span)
    }

    fn message(&self, now: Instant) -> String {
        let speed = match self.rate() {
            Some(rate) if rate >= 1.0 => {
                let left = (self.total as f64 - self.shown).max(0.0);
                format!(
                    "{}/s ETA {}",
                    human_size(rate as u64),
                    eta(Duration::from_secs_f64(left / rate))
                )
            }
            Some(_) => "stalled".to_owned(),
            None => "measuring".to_owned(),
        };
        let mut text = speed;
        if let Some(resumed) = &self.resumed {
            text.push_str(&format!(" · {resumed}"));
        }
        if let Some((at, why)) = &self.retry {
            if now.duration_since(*at) < Duration::from_secs(10) {
                text.push_str(&format!(" · {why}"));
            }
        }
        text
    }
}

/// `45s`, `3m05s`, `1h02m`.
fn eta(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The bars of one command.
#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    tracks: Mutex<HashMap<String, Track>>,
    bar_width: usize,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn stage_style() -> ProgressStyle {
    style("{prefix:<7} {spinner} {wide_msg}")
}

fn bytes_style(bar_width: usize) -> ProgressStyle {
    style(&format!(
        "{{prefix:<7}} [{{bar:{bar_width}}}] {{bytes:>10}}/{{total_bytes:<10}} {{wide_msg}}"
    ))
}

fn done_style() -> ProgressStyle {
    style("{prefix:<7} {wide_msg}")
}

impl Bars {
    /// One bar per platform, drawn on stderr (hidden when stderr is not a terminal).
    pub fn new(platforms: &[&str]) -> Arc<Bars> {
        Bars::with_target(platforms, ProgressDrawTarget::stderr())
    }

    /// One bar per platform, drawn on `target`.
    pub fn with_target(platforms: &[&str], target: ProgressDrawTarget) -> Arc<Bars> {
        // The bar takes what the other columns leave of the terminal, within 10..=40.
        let width = console::Term::stderr()
            .size_checked()
            .map(|(_, w)| usize::from(w))
            .unwrap_or(80);
        let bar_width = width.saturating_sub(60).clamp(10, 40);
        let multi = MultiProgress::with_draw_target(target);
        let bars = platforms
            .iter()
            .map(|name| {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(stage_style());
                bar.set_prefix(name.to_string());
                bar.set_message("waiting");
                bar.enable_steady_tick(Duration::from_millis(120));
                (name.to_string(), bar)
            })
            .collect();
        let bars = Arc::new(Bars {
            multi,
            bars,
            tracks: Mutex::new(HashMap::new()),
            bar_width,
        });
        let weak: Weak<Bars> = Arc::downgrade(&bars);
        // Moves the bars between events; ends when the bars are dropped.
        std::thread::spawn(move || loop {
            std::thread::sleep(TICK);
            match weak.upgrade() {
                Some(bars) => bars.tick(Instant::now()),
                None => break,
            }
        });
        bars
    }

    /// A progress sink updating these bars.
    pub fn sink(self: &Arc<Self>) -> ProgressSink {
        let bars = Arc::clone(self);
        Arc::new(move |event| bars.on_event(event))
    }

    /// The bytes `platform`'s bar shows now.
    pub fn position(&self, platform: &str) -> Option<u64> {
        self.bars.get(platform).map(|b| b.position())
    }

    /// The message `platform`'s bar shows now.
    pub fn message(&self, platform: &str) -> Option<String> {
        self.bars.get(platform).map(|b| b.message())
    }

    /// Stops every bar still running (leaving its last line on screen).
    pub fn finish(&self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
        // Nothing useful to do if the terminal refuses the final redraw.
        let _ = self.multi.clear();
    }

    fn tracks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Track>> {
        // A panic while holding the lock leaves at worst a stale figure on a bar.
        self.tracks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tick(&self, now: Instant) {
        let mut tracks = self.tracks();
        for (platform, track) in tracks.iter_mut().filter(|(_, t)| t.uploading) {
            if let Some(bar) = self.bars.get(platform) {
                bar.set_position(track.tick(now));
                bar.set_message(track.message(now));
            }
        }
    }

    fn on_event(&self, event: ProgressEvent) {
        let now = Instant::now();
        match event {
            ProgressEvent::Stage { platform, stage } => {
                if let Some(bar) = self.bars.get(&platform) {
                    let mut tracks = self.tracks();
                    let track = tracks.entry(platform).or_default();
                    self.on_stage(bar, track, stage, now);
                }
            }
            ProgressEvent::Bytes {
                platform,
                part,
                bytes,
            } => {
                let mut tracks = self.tracks();
                if let Some(track) = tracks.get_mut(&platform) {
                    let p = track.in_flight.entry(part).or_insert(InFlight {
                        started: now,
                        handed_off: 0,
                    });
                    p.handed_off += bytes;
                }
            }
            ProgressEvent::PartDone {
                platform,
                part,
                size,
            } => {
                let mut tracks = self.tracks();
                if let Some(track) = tracks.get_mut(&platform) {
                    if let Some(p) = track.in_flight.remove(&part) {
                        let secs = now.duration_since(p.started).as_secs_f64();
                        if secs > 0.0 {
                            track.part_rate = Some(size as f64 / secs);
                        }
                    }
                    track.taken = (track.taken + size).min(track.total);
                }
            }
            ProgressEvent::Retry {
                platform,
                part,
                attempt,
                reason,
                ..
            } => {
                let mut tracks = self.tracks();
                if let Some(track) = tracks.get_mut(&platform) {
                    // The part's bytes are sent again from its start: the estimate drops.
                    if let Some(part) = part {
                        track.in_flight.remove(&part);
                    }
                    let why = format!("retry after attempt {attempt}: {reason}");
                    track.retry = Some((now, why.clone()));
                    if let Some(bar) = self.bars.get(&platform) {
                        if track.uploading {
                            bar.set_position(track.tick(now));
                            bar.set_message(track.message(now));
                        } else {
                            bar.set_message(why);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn on_stage(&self, bar: &ProgressBar, track: &mut Track, stage: Stage, now: Instant) {
        if track.uploading && !matches!(stage, Stage::Uploading { .. } | Stage::Resumed { .. }) {
            // Every part is acknowledged (or the upload ended): show what the platform holds.
            track.uploading = false;
            track.shown = track.taken as f64;
            bar.set_position(track.taken);
        }
        match stage {
            Stage::Preflight => bar.set_message("checking the file"),
            Stage::Digesting => bar.set_message("computing digests"),
            Stage::Initializing => bar.set_message("opening the upload"),
            Stage::Resumed { parts_done, parts } => {
                let text = format!(
                    "resumed, {parts_done} of {} already sent",
                    marketmedia_core::count(u64::from(parts), "part", "parts")
                );
                track.resumed = Some(text.clone());
                bar.set_message(text);
            }
            Stage::Uploading {
                total_bytes,
                already_uploaded,
                ..
            } => {
                track.uploading = true;
                track.total = total_bytes;
                track.taken = already_uploaded.min(total_bytes);
                track.in_flight.clear();
                track.shown = track.taken as f64;
                track.samples.clear();
                track.last_tick = None;
                bar.disable_steady_tick();
                bar.set_style(bytes_style(self.bar_width));
                bar.set_length(total_bytes);
                bar.set_position(track.tick(now));
                bar.set_message(track.message(now));
            }
            Stage::Committing => {
                bar.set_style(stage_style());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar.set_message("committing");
            }
            Stage::Processing(state) => {
                bar.set_style(stage_style());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar.set_message(format!("processing: {state}"));
            }
            Stage::Done => {
                bar.set_style(done_style());
                bar.finish_with_message(match &track.resumed {
                    Some(r) => format!("ready ({r})"),
                    None => "ready".to_owned(),
                });
            }
            Stage::Failed(_) => {
                bar.set_style(done_style());
                bar.abandon_with_message("failed");
            }
            Stage::Cancelled => {
                bar.set_style(done_style());
                bar.abandon_with_message("failed (upload session cancelled)");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploading(total: u64, already: u64) -> ProgressEvent {
        ProgressEvent::Stage {
            platform: "demo".into(),
            stage: Stage::Uploading {
                parts: 2,
                total_bytes: total,
                already_uploaded: already,
            },
        }
    }

    #[test]
    fn follows_acknowledged_bytes_glides_and_rolls_back_retries() {
        let bars = Bars::with_target(&["demo"], ProgressDrawTarget::hidden());
        let t0 = Instant::now();
        bars.on_event(uploading(100, 0));
        // Handed off is not taken: the bar stays put.
        bars.on_event(ProgressEvent::Bytes {
            platform: "demo".into(),
            part: 0,
            bytes: 50,
        });
        bars.tick(t0 + Duration::from_millis(100));
        assert_eq!(bars.tracks()["demo"].shown as u64, 0);
        bars.on_event(ProgressEvent::PartDone {
            platform: "demo".into(),
            part: 0,
            size: 50,
        });
        // It glides to the acknowledged 50, never beyond.
        let mut last = 0;
        for i in 2..30 {
            let p = bars.tracks().get_mut("demo").unwrap().tick(t0 + TICK * i);
            assert!(p >= last && p <= 50, "{p}");
            last = p;
        }
        assert_eq!(last, 50);
        // A part in flight is credited at the last part's rate, and a retry takes it back.
        bars.on_event(ProgressEvent::Bytes {
            platform: "demo".into(),
            part: 1,
            bytes: 50,
        });
        std::thread::sleep(Duration::from_millis(30));
        let now = Instant::now();
        let before = bars.tracks()["demo"].estimate(now);
        assert!(before > 50.0, "{before}");
        bars.on_event(ProgressEvent::Retry {
            platform: "demo".into(),
            part: Some(1),
            attempt: 1,
            rolled_back: 50,
            delay: Duration::ZERO,
            reason: "reset".into(),
        });
        assert_eq!(bars.tracks()["demo"].estimate(now), 50.0);
        assert!(bars.position("demo").unwrap() <= 50);
        assert!(bars
            .message("demo")
            .unwrap()
            .contains("retry after attempt 1"));
    }

    #[test]
    fn a_resumed_upload_says_so_and_shows_the_real_stage() {
        let bars = Bars::with_target(&["demo"], ProgressDrawTarget::hidden());
        let sink = bars.sink();
        let stage = |stage| ProgressEvent::Stage {
            platform: "demo".into(),
            stage,
        };
        sink(stage(Stage::Digesting));
        sink(stage(Stage::Resumed {
            parts_done: 5,
            parts: 8,
        }));
        sink(uploading(800, 500));
        let message = bars.message("demo").unwrap();
        assert!(!message.contains("digests"), "{message}");
        assert!(
            message.contains("resumed, 5 of 8 parts already sent"),
            "{message}"
        );
        assert_eq!(bars.position("demo"), Some(500));
        sink(stage(Stage::Processing("TRANSCODING".into())));
        assert_eq!(bars.message("demo").unwrap(), "processing: TRANSCODING");
        sink(stage(Stage::Done));
        assert!(bars.bars["demo"].is_finished());
        // Events for an unknown platform are ignored.
        sink(ProgressEvent::Bytes {
            platform: "other".into(),
            part: 0,
            bytes: 1,
        });
    }

    #[test]
    fn rate_and_eta_come_from_the_window() {
        let mut t = Track {
            uploading: true,
            total: 10 * 1024 * 1024,
            ..Track::default()
        };
        let t0 = Instant::now();
        for i in 0..=20u32 {
            t.taken = u64::from(i) * 100 * 1024;
            t.tick(t0 + TICK * i);
        }
        let message = t.message(t0 + TICK * 20);
        assert!(message.contains("KiB/s ETA"), "{message}");
        assert_eq!(eta(Duration::from_secs(185)), "3m05s");
    }
}
