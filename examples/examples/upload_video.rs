//! Uploads a video to Shopee through the in-process Shopee simulator, printing progress and
//! the final URLs.
//!
//! ```text
//! cargo run -p marketmedia-examples --example upload_video [-- FILE]
//! ```
//!
//! With no FILE, a valid 25 MB, 25-second sample MP4 is generated first.

use std::path::PathBuf;
use std::time::Duration;

use marketmedia::shopee::{ShopeeConfig, ShopeeUploader};
use marketmedia_core::{progress_channel, ProgressEvent, Stage, UploadDriver, UploadOptions};
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::shopee::{self, ShopeeSim, ShopeeSimConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            let p = dir.path().join("sample.mp4");
            write_sample_mp4(&p, Duration::from_secs(25), 25 * 1024 * 1024)?;
            println!("generated {} (25 MB, 25 s)", p.display());
            p
        }
    };

    let sim = ShopeeSim::new(ShopeeSimConfig::default());
    let server = sim.start("127.0.0.1:0".parse()?).await?;
    println!("Shopee simulator on {}", server.base_url());
    let shopee = ShopeeUploader::new(
        ShopeeConfig::builder()
            .partner_id(shopee::TEST_PARTNER_ID)
            .partner_key(shopee::TEST_PARTNER_KEY)
            .shop_id(shopee::TEST_SHOP_ID)
            .access_token(shopee::TEST_ACCESS_TOKEN)
            .base_url(server.base_url())
            .build()?,
    )?;

    let (sink, mut events) = progress_channel();
    let printer = tokio::spawn(async move {
        let (mut sent, mut total, mut last_tenth) = (0i64, 0u64, -1i64);
        while let Some(event) = events.recv().await {
            match event {
                ProgressEvent::Stage { stage, .. } => {
                    if let Stage::Uploading { total_bytes, .. } = stage {
                        total = total_bytes;
                    }
                    println!("stage: {stage:?}");
                }
                ProgressEvent::Bytes { bytes, .. } => sent += bytes as i64,
                ProgressEvent::Retry {
                    rolled_back,
                    reason,
                    ..
                } => {
                    sent -= rolled_back as i64;
                    println!("retrying: {reason}");
                }
                _ => {}
            }
            if total > 0 {
                let tenth = sent * 10 / total as i64;
                if tenth != last_tenth {
                    last_tenth = tenth;
                    println!("uploaded {:>3}%", tenth * 10);
                }
            }
        }
    });

    let driver = UploadDriver::new(UploadOptions {
        progress: Some(sink),
        ..UploadOptions::default()
    });
    let result = driver.upload_file(&shopee, &path).await;
    drop(driver);
    let _ = printer.await;
    let outcome = result?;
    let asset = outcome.asset().ok_or("still processing")?;
    println!("video {} is ready:", asset.id);
    for url in &asset.urls {
        println!("  {} {}", url.region.as_deref().unwrap_or("-"), url.url);
    }
    println!(
        "{} bytes in {} parts, {} retries, {} ms",
        outcome.stats.bytes_sent,
        outcome.stats.parts_sent,
        outcome.stats.retries,
        outcome.stats.elapsed_ms
    );
    Ok(())
}
