//! Uploads one video to Shopee, Lazada and SMH at once from code, through the three simulated
//! marketplaces of the sandbox, and prints what each marketplace returned.
//!
//! ```text
//! cargo run -p marketmedia-examples --example fan_out [-- FILE]
//! ```
//!
//! With no FILE, a valid 12-second, 6 MiB sample MP4 is generated first. The source is
//! probed once and read once for every marketplace's digests; then the three uploads run
//! concurrently, and each succeeds or fails on its own.

use std::path::PathBuf;
use std::time::Duration;

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::{
    progress_channel, ChunkedVideoUploader, Completion, ProgressEvent, Stage, UploadDriver,
    UploadOptions,
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

    // Three simulators on free ports, and a provider for each with its test credentials.
    let sandbox = Sandbox::start().await?;
    let shopee = sandbox.shopee()?;
    let lazada = sandbox.lazada()?;
    let smh = sandbox.smh()?;
    let providers: [&dyn ChunkedVideoUploader; 3] = [&shopee, &lazada, &smh];

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

    // The upload's own fields: its title, and a cover on the sandbox's CDN (Lazada requires
    // both; the others ignore the cover).
    let driver = UploadDriver::new(UploadOptions {
        progress: Some(sink),
        meta: sandbox.upload_meta("Blue kettle"),
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
