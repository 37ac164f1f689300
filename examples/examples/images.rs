//! Uploads the same product images to every marketplace of `marketmedia::registry()` at once
//! from code, through the sandbox (a simulator of each). Each marketplace's image rules (count,
//! size, format) are checked before its request, so a marketplace that cannot take an image
//! gets no request at all.
//!
//! ```text
//! cargo run -p marketmedia-examples --example images [-- IMAGE...]
//! ```
//!
//! With no IMAGE, a sample JPEG and PNG (real pictures: a provider may decode them to send
//! their dimensions) are generated in memory.

use marketmedia_cli::sandbox::Sandbox;
use marketmedia_core::images_overall;
use marketmedia_core::{upload_images_to_all, ImageSource, ImageUploader};
use marketmedia_sim::fixtures::{decodable_jpeg, decodable_png};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut images = Vec::new();
    for arg in std::env::args_os().skip(1) {
        images.push(ImageSource::read(arg.as_ref(), 50 * 1024 * 1024).await?);
    }
    if images.is_empty() {
        images.push(ImageSource::from_bytes(
            "front.jpg",
            decodable_jpeg(80_000)?,
        ));
        images.push(ImageSource::from_bytes("side.png", decodable_png(120_000)?));
    }

    // Every marketplace's simulator, and a client of each pointed at it.
    let sandbox = Sandbox::start().await?;
    let clients = sandbox.clients()?;
    let uploaders: Vec<&dyn ImageUploader> =
        clients.iter().map(|(_, c)| c.images().as_ref()).collect();

    let reports = upload_images_to_all(&uploaders, &images).await;
    for report in &reports {
        match &report.result {
            Ok(list) => {
                for (image, result) in images.iter().zip(list) {
                    match result {
                        Ok(up) => println!(
                            "{:>7}: {} -> {} {}",
                            report.platform,
                            image.file_name,
                            up.id,
                            up.urls.first().map(|u| u.url.as_str()).unwrap_or("")
                        ),
                        Err(e) => {
                            println!("{:>7}: {} refused: {e}", report.platform, image.file_name)
                        }
                    }
                }
            }
            Err(e) => println!("{:>7}: failed: {e}", report.platform),
        }
    }
    println!("overall: {:?}", images_overall(&reports));
    Ok(())
}
