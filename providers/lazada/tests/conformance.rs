//! The shared conformance suite against the Lazada simulator.

use marketmedia_conformance::suite::{self, adapters::LazadaHandle, Backend, Credentials};
use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region, VideoOptions};
use marketmedia_sim::lazada as sim;

#[tokio::test]
async fn lazada_passes_the_conformance_suite() {
    let handle = LazadaHandle::start_fast().await.unwrap();
    let base_url = handle.base_url();
    let backend = Backend::new(handle, move |creds| {
        let secret = match creds {
            Credentials::Valid => sim::LAZADA_TEST_APP_SECRET,
            Credentials::Wrong => "not-the-app-secret",
        };
        // 1 MiB blocks keep the suite fast (the 100 MiB maximum is 100 blocks).
        let config = LazadaConfig::new(
            sim::LAZADA_TEST_APP_KEY,
            secret,
            sim::LAZADA_TEST_ACCESS_TOKEN,
            Region::Sg,
        )
        .with_base_url(&base_url)
        .with_block_size(1 << 20);
        Ok(
            LazadaUploader::new(config)?.with_video_options(VideoOptions::new(
                "Conformance",
                "https://example.com/cover.jpg",
            )),
        )
    });
    suite::run_all(&backend).await.assert_passed();
}
