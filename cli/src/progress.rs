//! Live progress: one indicatif bar per marketplace, fed by the driver's progress events.
//!
//! A bar shows the stage while the source is checked and digested, then bytes, rate and ETA
//! while parts go out, then the platform's processing state (with a spinner) until the
//! asset is ready or the upload fails. Bars draw on stderr and only on a terminal.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use marketmedia_core::{ProgressEvent, ProgressSink, Stage};

/// The bars of one command.
#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn stage_style() -> ProgressStyle {
    style("{prefix:<7} {spinner} {msg}")
}

fn bytes_style() -> ProgressStyle {
    style(
        "{prefix:<7} [{bar:32}] {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} ETA {eta:<4} {msg}",
    )
}

fn done_style() -> ProgressStyle {
    style("{prefix:<7} {msg}")
}

impl Bars {
    /// One bar per platform, drawn on stderr (hidden when stderr is not a terminal).
    pub fn new(platforms: &[&str]) -> Arc<Bars> {
        Bars::with_target(platforms, ProgressDrawTarget::stderr())
    }

    /// One bar per platform, drawn on `target`.
    pub fn with_target(platforms: &[&str], target: ProgressDrawTarget) -> Arc<Bars> {
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
        Arc::new(Bars { multi, bars })
    }

    /// A progress sink updating these bars.
    pub fn sink(self: &Arc<Self>) -> ProgressSink {
        let bars = Arc::clone(self);
        Arc::new(move |event| bars.on_event(event))
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

    fn on_event(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Stage { platform, stage } => {
                if let Some(bar) = self.bars.get(&platform) {
                    on_stage(bar, stage);
                }
            }
            ProgressEvent::Bytes {
                platform, bytes, ..
            } => {
                if let Some(bar) = self.bars.get(&platform) {
                    bar.inc(bytes);
                }
            }
            ProgressEvent::Retry {
                platform,
                rolled_back,
                attempt,
                reason,
                ..
            } => {
                if let Some(bar) = self.bars.get(&platform) {
                    bar.set_position(bar.position().saturating_sub(rolled_back));
                    bar.set_message(format!("retry after attempt {attempt}: {reason}"));
                }
            }
            _ => {}
        }
    }
}

fn on_stage(bar: &ProgressBar, stage: Stage) {
    match stage {
        Stage::Preflight => bar.set_message("checking the file"),
        Stage::Digesting => bar.set_message("computing digests"),
        Stage::Initializing => bar.set_message("opening the upload"),
        Stage::Uploading {
            total_bytes,
            already_uploaded,
            ..
        } => {
            bar.disable_steady_tick();
            bar.set_style(bytes_style());
            bar.set_length(total_bytes);
            bar.set_position(already_uploaded);
            bar.reset_eta();
            bar.set_message("uploading");
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
            bar.finish_with_message("ready");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_an_upload_and_rolls_back_retries() {
        let bars = Bars::with_target(&["shopee"], ProgressDrawTarget::hidden());
        let sink = bars.sink();
        let stage = |stage| ProgressEvent::Stage {
            platform: "shopee".into(),
            stage,
        };
        sink(stage(Stage::Uploading {
            parts: 2,
            total_bytes: 100,
            already_uploaded: 0,
        }));
        sink(ProgressEvent::Bytes {
            platform: "shopee".into(),
            part: 0,
            bytes: 60,
        });
        sink(ProgressEvent::Retry {
            platform: "shopee".into(),
            part: Some(0),
            attempt: 1,
            rolled_back: 50,
            delay: Duration::ZERO,
            reason: "reset".into(),
        });
        let bar = &bars.bars["shopee"];
        assert_eq!((bar.position(), bar.length()), (10, Some(100)));
        sink(stage(Stage::Processing("TRANSCODING".into())));
        assert_eq!(bar.message(), "processing: TRANSCODING");
        sink(stage(Stage::Done));
        assert!(bar.is_finished());
        // Events for an unknown platform are ignored.
        sink(ProgressEvent::Bytes {
            platform: "other".into(),
            part: 0,
            bytes: 1,
        });
    }
}
