//! A client's limit of requests in flight, its own and per account, measured at a local
//! server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use marketmedia_core::raw::http::{self, CallMeta, ClientOptions, HttpClient};
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

async fn burst(client: &HttpClient, url: &str, n: usize) {
    let calls = (0..n).map(|_| {
        let request = client.get(url);
        async move {
            let meta = CallMeta {
                platform: "limit-test",
                call: "probe",
                part: None,
            };
            client.send(request, meta).await.unwrap()
        }
    });
    futures::future::join_all(calls).await;
}

/// Two clients of one marketplace in one process, at once: each keeps its own limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_keep_their_own_limits_of_requests_in_flight() {
    let (strict_url, strict_peak) = server().await;
    let (loose_url, loose_peak) = server().await;
    let strict = HttpClient::new(ClientOptions::default().with_request_limit(2)).unwrap();
    let loose = HttpClient::new(ClientOptions::default()).unwrap();
    futures::join!(burst(&strict, &strict_url, 8), burst(&loose, &loose_url, 8));
    assert_eq!(strict_peak.load(Ordering::SeqCst), 2);
    // The default (16) leaves all 8 at once.
    assert_eq!(loose_peak.load(Ordering::SeqCst), 8);
}

/// One client serving two accounts keeps a budget each; a clone shares its budgets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_budget_is_per_account_and_shared_by_its_clones() {
    let (url, peak) = server().await;
    let client = HttpClient::new(ClientOptions::default().with_request_limit(2)).unwrap();
    futures::join!(
        http::in_account("shop-1", burst(&client, &url, 6)),
        http::in_account("shop-2", burst(&client, &url, 6)),
    );
    assert_eq!(peak.load(Ordering::SeqCst), 4, "2 per account");

    let (url, peak) = server().await;
    let clone = client.clone();
    futures::join!(burst(&client, &url, 6), burst(&clone, &url, 6));
    assert_eq!(
        peak.load(Ordering::SeqCst),
        2,
        "one budget for a client and its clone"
    );
}
