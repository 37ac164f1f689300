//! The process-wide limit of requests in flight per marketplace, measured at a local server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use marketmedia_core::raw::http::{self, CallMeta, HttpTimeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every request after 50 ms, recording the most requests it held at once.
async fn server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&peak);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (now, peak) = (Arc::clone(&now), Arc::clone(&peak));
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if sock.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/"), seen)
}

async fn burst(platform: &'static str, url: &str, n: usize) {
    let client = http::build_client(HttpTimeouts::default()).unwrap();
    let calls = (0..n).map(|_| {
        let request = client.get(url);
        async move {
            let meta = CallMeta {
                platform,
                call: "probe",
                part: None,
            };
            http::send(request, meta).await.unwrap()
        }
    });
    futures::future::join_all(calls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_per_marketplace_are_capped_process_wide() {
    let (url, peak) = server().await;
    http::set_request_limit("limit-test", 2);
    burst("limit-test", &url, 8).await;
    assert_eq!(peak.load(Ordering::SeqCst), 2);

    // Another marketplace has its own budget (the default, 16).
    let (url, peak) = server().await;
    burst("limit-test-other", &url, 8).await;
    assert_eq!(peak.load(Ordering::SeqCst), 8);
}
