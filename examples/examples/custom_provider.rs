//! A fourth, made-up marketplace — "Bazaar" — plugged in with the public API only, and proved
//! right by the shared conformance suite. Nothing in `marketmedia-core` changes.
//!
//! ```text
//! cargo run -p marketmedia-examples --example custom_provider
//! cargo test -p marketmedia-examples --example custom_provider   # what `cargo test` runs
//! ```
//!
//! Bazaar's protocol (the "platform" side lives in `bazaar_sim`, the client in `provider`):
//! - `POST /uploads {"file_name","size"}` → `{"upload_id"}`; files up to 8 MiB;
//! - `PUT /uploads/{id}/parts/{n}` with the raw bytes, parts numbered **from 1**, 64 KiB to
//!   1 MiB each → `{"etag"}` (hex MD5); sending a part again replaces it;
//! - `POST /uploads/{id}/complete {"parts":[{"n","etag"}]}` → `{"asset_id"}`, ready at once;
//! - `DELETE /uploads/{id}` cancels; every call needs `Authorization: Bearer <token>`;
//! - errors are `{"error": "<code>"}` with a meaningful HTTP status.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use marketmedia_conformance::suite::{self, Backend, Credentials};

const TOKEN: &str = "bazaar-test-token";
const MIB: u64 = 1 << 20;

/// The made-up platform: a tiny axum app, with a wire log the suite reads.
mod bazaar_sim {
    use super::*;
    use axum::body::Bytes;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, Method, StatusCode};
    use axum::routing::{post, put};
    use axum::{Json, Router};
    use marketmedia_sim::{serve, SimServer, WireLog, WireRecord};
    use serde_json::{json, Value};

    pub const MAX_FILE: u64 = 8 * MIB;

    #[derive(Default)]
    pub struct Upload {
        pub size: u64,
        pub parts: BTreeMap<u32, Bytes>,
        pub state: &'static str, // "open", "done", "cancelled"
        pub asset: Option<String>,
    }

    #[derive(Clone, Default)]
    pub struct BazaarSim {
        pub wire: WireLog,
        pub uploads: Arc<Mutex<HashMap<String, Upload>>>,
        pub assets: Arc<Mutex<HashMap<String, Bytes>>>,
    }

    type Answer = (StatusCode, Json<Value>);

    fn err(status: StatusCode, code: &str) -> Answer {
        (status, Json(json!({ "error": code })))
    }

    impl BazaarSim {
        pub async fn start(&self) -> std::io::Result<SimServer> {
            let app = Router::new()
                .route("/uploads", post(init))
                .route("/uploads/{id}", axum::routing::delete(cancel))
                .route("/uploads/{id}/parts/{n}", put(part))
                .route("/uploads/{id}/complete", post(complete))
                .with_state(self.clone());
            serve(app, ([127, 0, 0, 1], 0).into()).await
        }

        fn log(
            &self,
            call: &str,
            method: Method,
            params: &[(&str, String)],
            body: usize,
            a: &Answer,
        ) {
            self.wire.push(WireRecord {
                platform: "bazaar",
                call: call.into(),
                method: method.to_string(),
                path: String::new(),
                params: params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
                files: if call == "put_part" {
                    vec![("body".into(), body)]
                } else {
                    vec![]
                },
                body_len: body,
                status: a.0.as_u16(),
                error: a.1.get("error").and_then(Value::as_str).map(str::to_owned),
            });
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Upload>> {
            self.uploads.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    fn authorized(h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
    }

    async fn init(State(sim): State<BazaarSim>, h: HeaderMap, Json(body): Json<Value>) -> Answer {
        let size = body.get("size").and_then(Value::as_u64).unwrap_or(0);
        let a = if !authorized(&h) {
            err(StatusCode::UNAUTHORIZED, "unauthorized")
        } else if size == 0 || size > MAX_FILE {
            err(StatusCode::BAD_REQUEST, "file_too_large")
        } else {
            let id = format!("up{}", rand_id());
            sim.lock().insert(
                id.clone(),
                Upload {
                    size,
                    state: "open",
                    ..Upload::default()
                },
            );
            (StatusCode::OK, Json(json!({ "upload_id": id })))
        };
        sim.log("init", Method::POST, &[("size", size.to_string())], 0, &a);
        a
    }

    async fn part(
        State(sim): State<BazaarSim>,
        Path((id, n)): Path<(String, String)>,
        h: HeaderMap,
        body: Bytes,
    ) -> Answer {
        let len = body.len();
        let a = (|| {
            if !authorized(&h) {
                return err(StatusCode::UNAUTHORIZED, "unauthorized");
            }
            let Ok(number) = n.parse::<u32>() else {
                return err(StatusCode::BAD_REQUEST, "bad_part_number");
            };
            let mut uploads = sim.lock();
            let Some(u) = uploads.get_mut(&id).filter(|u| u.state != "cancelled") else {
                return err(StatusCode::NOT_FOUND, "no_such_upload");
            };
            if u.state == "done" {
                return err(StatusCode::CONFLICT, "already_completed");
            }
            if number == 0 || len as u64 > MIB {
                return err(StatusCode::BAD_REQUEST, "bad_part");
            }
            let etag = hex::encode(marketmedia_core::raw::md5(&body));
            u.parts.insert(number, body);
            (StatusCode::OK, Json(json!({ "etag": etag })))
        })();
        sim.log(
            "put_part",
            Method::PUT,
            &[("upload_id", id), ("n", n)],
            len,
            &a,
        );
        a
    }

    async fn complete(
        State(sim): State<BazaarSim>,
        Path(id): Path<String>,
        h: HeaderMap,
        Json(body): Json<Value>,
    ) -> Answer {
        let listed: Vec<(u32, String)> = body
            .get("parts")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((
                            p.get("n")?.as_u64()? as u32,
                            p.get("etag")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let a = (|| {
            if !authorized(&h) {
                return err(StatusCode::UNAUTHORIZED, "unauthorized");
            }
            let mut uploads = sim.lock();
            let Some(u) = uploads.get_mut(&id).filter(|u| u.state != "cancelled") else {
                return err(StatusCode::NOT_FOUND, "no_such_upload");
            };
            if u.state == "done" {
                return err(StatusCode::CONFLICT, "already_completed");
            }
            let mut file = Vec::new();
            for (i, (n, etag)) in listed.iter().enumerate() {
                match u.parts.get(n) {
                    Some(b)
                        if *n == i as u32 + 1
                            && hex::encode(marketmedia_core::raw::md5(b)) == *etag =>
                    {
                        file.extend_from_slice(b)
                    }
                    _ => return err(StatusCode::BAD_REQUEST, "parts_mismatch"),
                }
            }
            if file.len() as u64 != u.size {
                return err(StatusCode::BAD_REQUEST, "missing_part");
            }
            let asset = format!("asset-{id}");
            sim.assets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(asset.clone(), file.into());
            u.state = "done";
            u.asset = Some(asset.clone());
            (StatusCode::OK, Json(json!({ "asset_id": asset })))
        })();
        let numbers: Vec<u32> = listed.iter().map(|p| p.0).collect();
        let etags: Vec<String> = listed.iter().map(|p| p.1.clone()).collect();
        sim.log(
            "complete",
            Method::POST,
            &[
                ("upload_id", id),
                ("parts", serde_json::to_string(&numbers).unwrap_or_default()),
                ("etags", etags.join(",")),
            ],
            0,
            &a,
        );
        a
    }

    async fn cancel(State(sim): State<BazaarSim>, Path(id): Path<String>, h: HeaderMap) -> Answer {
        let a = (|| {
            if !authorized(&h) {
                return err(StatusCode::UNAUTHORIZED, "unauthorized");
            }
            let mut uploads = sim.lock();
            match uploads.get_mut(&id) {
                None => err(StatusCode::NOT_FOUND, "no_such_upload"),
                Some(u) if u.state == "done" => err(StatusCode::CONFLICT, "already_completed"),
                Some(u) => {
                    u.state = "cancelled";
                    u.parts.clear();
                    (StatusCode::OK, Json(json!({})))
                }
            }
        })();
        sim.log("cancel", Method::DELETE, &[("upload_id", id)], 0, &a);
        a
    }

    fn rand_id() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(1);
        N.fetch_add(1, Ordering::Relaxed)
    }
}

/// The provider: rules as data, the wire calls, and one error table.
mod provider {
    use super::*;
    use async_trait::async_trait;
    use marketmedia_core::raw::{
        CommitOutcome, InitOutcome, NumberingBase, Part, PartPlan, PartReceipt, PartSizeRule,
        SourceInfo, UploadRules, UploadSession,
    };
    use marketmedia_core::{
        Asset, ChunkedVideoUploader, Error, ErrorKind, ProcessingHandle, ProcessingStatus, Result,
    };
    use serde_json::{json, Value};

    pub struct BazaarUploader {
        base_url: String,
        token: String,
        http: reqwest::Client,
        rules: UploadRules,
    }

    impl BazaarUploader {
        pub fn new(base_url: String, token: &str) -> Self {
            BazaarUploader {
                base_url,
                token: token.to_owned(),
                http: reqwest::Client::new(),
                // Only what differs from a plain chunked upload; the rest is
                // `UploadRules::new`'s defaults.
                rules: UploadRules {
                    part_numbering: NumberingBase::One,
                    commit_numbering: Some(NumberingBase::One),
                    max_parts: 1000,
                    ..UploadRules::new(
                        "bazaar",
                        PartSizeRule::Range {
                            min: 64 * 1024,
                            max: MIB,
                            preferred: 256 * 1024,
                        },
                        bazaar_sim::MAX_FILE,
                    )
                },
            }
        }

        /// Bazaar's error codes, in one table.
        fn kind_for(code: &str, status: u16) -> ErrorKind {
            match code {
                "unauthorized" => ErrorKind::Auth,
                "no_such_upload" => ErrorKind::NotFound,
                "already_completed" => ErrorKind::Conflict,
                "file_too_large" | "bad_part" | "bad_part_number" | "missing_part"
                | "parts_mismatch" => ErrorKind::InvalidInput,
                _ if status >= 500 => ErrorKind::Transient,
                _ => ErrorKind::Rejected,
            }
        }

        async fn send(&self, call: &str, req: reqwest::RequestBuilder) -> Result<Value> {
            let net = |e: reqwest::Error| {
                Error::new(ErrorKind::Transient, e.to_string())
                    .with_platform("bazaar")
                    .with_call(call)
            };
            let resp = req.bearer_auth(&self.token).send().await.map_err(net)?;
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.map_err(net)?;
            match body.get("error").and_then(Value::as_str) {
                Some(code) => Err(Error::new(
                    Self::kind_for(code, status),
                    format!("Bazaar refused the call ({code})"),
                )
                .with_platform("bazaar")
                .with_call(call)
                .with_code(code)
                .with_http_status(status)),
                None => Ok(body),
            }
        }

        fn field(v: &Value, name: &str) -> Result<String> {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Error::protocol(format!("the answer has no {name}")).with_platform("bazaar")
                })
        }
    }

    #[async_trait]
    impl ChunkedVideoUploader for BazaarUploader {
        fn rules(&self) -> &UploadRules {
            &self.rules
        }

        async fn init(&self, source: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
            let body = json!({ "file_name": source.file_name, "size": source.size });
            let v = self
                .send(
                    "init",
                    self.http
                        .post(format!("{}/uploads", self.base_url))
                        .json(&body),
                )
                .await?;
            Ok(InitOutcome::Session(UploadSession {
                platform: "bazaar".into(),
                upload_id: Self::field(&v, "upload_id")?,
                plan: *plan,
                expires_at: None,
                started_at_ms: 0,
                data: Value::Null,
            }))
        }

        async fn put_part(&self, session: &UploadSession, part: &Part) -> Result<PartReceipt> {
            if part.index >= session.plan.count() {
                return Err(
                    Error::invalid_input(format!("part {} is past the plan", part.index))
                        .with_platform("bazaar"),
                );
            }
            let n = self.rules.part_numbering.wire(part.index);
            let url = format!("{}/uploads/{}/parts/{n}", self.base_url, session.upload_id);
            let v = self
                .send(
                    "put_part",
                    self.http
                        .put(url)
                        .header(reqwest::header::CONTENT_LENGTH, part.len())
                        .body(marketmedia_core::raw::http::part_body(part)),
                )
                .await?;
            Ok(PartReceipt {
                index: part.index,
                wire_number: n,
                size: part.len(),
                etag: Some(Self::field(&v, "etag")?),
            })
        }

        async fn commit(
            &self,
            session: &UploadSession,
            receipts: &[PartReceipt],
        ) -> Result<CommitOutcome> {
            let parts: Vec<Value> = receipts
                .iter()
                .map(|r| json!({ "n": r.wire_number, "etag": r.etag }))
                .collect();
            let url = format!("{}/uploads/{}/complete", self.base_url, session.upload_id);
            let v = self
                .send(
                    "complete",
                    self.http.post(url).json(&json!({ "parts": parts })),
                )
                .await?;
            Ok(CommitOutcome::Ready(Asset {
                platform: "bazaar".into(),
                id: Self::field(&v, "asset_id")?,
                urls: vec![],
                thumbnails: vec![],
                duration: None,
                size: Some(session.plan.file_size()),
                details: Value::Null,
            }))
        }

        async fn poll(&self, _: &ProcessingHandle) -> Result<ProcessingStatus> {
            Err(Error::new(
                ErrorKind::Unsupported,
                "Bazaar assets are ready at commit",
            ))
        }

        async fn cancel(&self, session: &UploadSession) -> Result<()> {
            let url = format!("{}/uploads/{}", self.base_url, session.upload_id);
            self.send("cancel", self.http.delete(url)).await.map(|_| ())
        }
    }
}

/// What the suite asks of the simulator, answered from its wire log and store.
struct BazaarHandle {
    sim: bazaar_sim::BazaarSim,
    _server: marketmedia_sim::SimServer,
}

impl suite::SimHandle for BazaarHandle {
    fn platform(&self) -> &str {
        "bazaar"
    }
    fn capabilities(&self) -> suite::SimCapabilities {
        suite::SimCapabilities {
            cancel_upload: true,
            completion_fields: vec!["upload_id".into(), "parts".into()],
            ..suite::SimCapabilities::default()
        }
    }
    fn wire(&self) -> &marketmedia_sim::WireLog {
        &self.sim.wire
    }
    fn part_number_field(&self) -> &str {
        "n"
    }
    fn parts_on_wire(&self, s: &marketmedia_core::raw::UploadSession) -> Vec<suite::WirePart> {
        let uploads = self.sim.uploads.lock().unwrap_or_else(|e| e.into_inner());
        let held = uploads.get(&s.upload_id);
        self.sim
            .wire
            .calls("put_part")
            .into_iter()
            .filter(|r| r.param("upload_id") == Some(s.upload_id.as_str()))
            .map(|r| {
                let n = r.param("n").unwrap_or_default().to_owned();
                let etag = held
                    .and_then(|u| u.parts.get(&n.parse().unwrap_or(0)))
                    .map(|b| hex::encode(marketmedia_core::raw::md5(b)));
                suite::WirePart {
                    number_as_sent: n,
                    size: r.body_len as u64,
                    accepted: r.error.is_none(),
                    error: r.error,
                    etag,
                }
            })
            .collect()
    }
    fn completion(
        &self,
        s: &marketmedia_core::raw::UploadSession,
    ) -> Option<suite::CompletionPayload> {
        let r = self
            .sim
            .wire
            .calls("complete")
            .into_iter()
            .rev()
            .find(|r| r.param("upload_id") == Some(s.upload_id.as_str()))?;
        Some(suite::CompletionPayload {
            part_numbers: r.param("parts").and_then(|p| serde_json::from_str(p).ok()),
            etags: r.param("etags").map(|e| {
                e.split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            fields: r.params.clone(),
            accepted: r.error.is_none(),
        })
    }
    fn assembled(&self, asset_id: &str) -> Option<bytes::Bytes> {
        self.sim
            .assets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(asset_id)
            .cloned()
    }
}

/// The cases Bazaar's suite run skips, each for a lack it declares (see the report's
/// reasons): the exact set, so that a new skip (or an expected one that runs) fails, as each
/// provider's `tests/it/conformance.rs` does with `assert_passed_skipping`.
const EXPECTED_SKIPS: &[&str] = &[
    // Rules: assets are ready at commit (`async_processing = false`), no instant upload.
    "processing_ready",
    "processing_failed",
    "instant_upload",
    // Simulator: `bazaar_sim` has no fault layer (nor a `Traffic` counter, nor session
    // expiry), which these cases need.
    "uploads_under_faults",
    "uploads_under_faults_on_every_call",
    "lost_commit_answer",
    "stalled_part_answer",
    "session_expiring_mid_upload",
    "parts_overlap_on_the_wire",
    "retry_after_is_waited",
];

/// Starts the Bazaar simulator and runs the whole conformance suite against the provider.
async fn run_suite() -> std::io::Result<suite::SuiteReport> {
    let sim = bazaar_sim::BazaarSim::default();
    let server = sim.start().await?;
    let base_url = server.base_url();
    println!("Bazaar simulator on {base_url}");
    let backend = Backend::new(
        BazaarHandle {
            sim,
            _server: server,
        },
        move |creds| {
            let token = match creds {
                Credentials::Valid => TOKEN,
                Credentials::Wrong => "not-the-token",
            };
            Ok(provider::BazaarUploader::new(base_url.clone(), token))
        },
    );
    Ok(suite::run_all(&backend).await)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run_suite().await?;
    println!("{report}");
    match report.problems(EXPECTED_SKIPS) {
        None => Ok(()),
        Some(problems) => Err(problems.into()),
    }
}

/// `cargo test` runs this example's test (`test = true` in `examples/Cargo.toml`), so a
/// Bazaar that fails a case or skips one it did not declare fails the workspace's tests.
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bazaar_passes_the_conformance_suite_skipping_exactly_its_lacks() {
        run_suite()
            .await
            .expect("the Bazaar simulator starts")
            .assert_passed_skipping(EXPECTED_SKIPS);
    }
}
