//! Uploads one video to every marketplace of `marketmedia::registry()` at once from code,
//! through the sandbox's simulators, and prints what each marketplace returned.
//!
//! ```text
//! cargo run -p marketmedia-examples --example fan_out [-- FILE]
//! ```
//!
//! With no FILE, a valid 12-second, 6 MiB sample MP4 is generated first. The source is
//! probed once and read once for every marketplace's digests; then the uploads run
//! concurrently, and each succeeds or fails on its own.

use std::path::PathBuf;
use std::time::Duration;

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::{
    progress_channel, ChunkedVideoUploader, Completion, ProgressEvent, Stage, UploadDriver,
    UploadMeta, UploadOptions,
};
use marketmedia_sim::fixtures::write_sample_mp4;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            let p = dir.path().join("kettle.mp4");
            write_sample_mp4(&p, Duration::from_secs(12), 6 * 1024 * 1024)?;
            println!("generated {} (6 MiB, 12 s)", p.display());
            p
        }
    };

    // A simulator of each marketplace on a free port, and a client of each with its test
    // credentials; a marketplace that requires a title gets one.
    let sandbox = Sandbox::start().await?;
    let mut clients = Vec::new();
    for market in sandbox.marketplaces() {
        let title_required = market
            .upload_fields()
            .iter()
            .any(|f| f.required && f.name == marketmedia::raw::TITLE);
        let settings: &[(&str, &str)] = if title_required {
            &[(marketmedia::raw::TITLE, "Blue kettle")]
        } else {
            &[]
        };
        clients.push(sandbox.client_with(market.name(), settings.iter().copied())?);
    }
    let providers: Vec<&dyn ChunkedVideoUploader> =
        clients.iter().map(|c| c.video().as_ref()).collect();

    // Stage changes as they happen, per marketplace.
    let (sink, mut events) = progress_channel();
    let printer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let ProgressEvent::Stage { platform, stage } = event {
                match stage {
                    Stage::Uploading {
                        parts, total_bytes, ..
                    } => {
                        println!("{platform:>7}: uploading {total_bytes} bytes in {parts} parts")
                    }
                    Stage::Processing(state) => println!("{platform:>7}: processing ({state})"),
                    other => println!("{platform:>7}: {other:?}"),
                }
            }
        }
    });

    // The upload's own fields: each client's per-upload defaults (the title set above, the
    // sandbox's cover), which a marketplace that does not take them ignores.
    let meta = clients
        .iter()
        .fold(UploadMeta::default(), |m, c| m.or(c.upload_defaults()));
    let driver = UploadDriver::new(UploadOptions {
        progress: Some(sink),
        meta,
        ..UploadOptions::default()
    });
    let report = driver.upload_to_all(&providers, &path).await;
    drop(driver);
    let _ = printer.await;

    println!();
    for market in &report.reports {
        match &market.result {
            Ok(outcome) => match &outcome.completion {
                Completion::Ready(asset) => println!(
                    "{:>7}: ready, id {} {}",
                    market.platform,
                    asset.id,
                    asset.urls.first().map(|u| u.url.as_str()).unwrap_or("")
                ),
                Completion::Processing(handle) => {
                    println!(
                        "{:>7}: still processing, poll {}",
                        market.platform, handle.id
                    )
                }
                Completion::CommittedIdUnknown { upload_id } => println!(
                    "{:>7}: committed as upload {upload_id}; the asset id is unknown",
                    market.platform
                ),
            },
            // `Display` of the core error: one line a seller can read.
            Err(e) => println!("{:>7}: failed: {e}", market.platform),
        }
    }
    println!("overall: {:?}", report.overall());
    Ok(())
}
