//! A made-up marketplace — "Bazaar" — plugged in with the public API only: proved right by the
//! shared conformance suite, then registered like the bundled ones, so that the `marketmedia`
//! command, its sandbox and its batch engine take it with no line naming it. Nothing in
//! `marketmedia-core` or `marketmedia-cli` changes.
//!
//! ```text
//! cargo run -p marketmedia-examples --example custom_provider            # the suite
//! cargo run -p marketmedia-examples --example custom_provider -- upload  # marketmedia, with Bazaar
//! cargo test -p marketmedia-examples --example custom_provider   # what `cargo test` runs
//! ```
//!
//! Bazaar's protocol (the "platform" side lives in `bazaar_sim`, the client in `provider`,
//! its declaration in `marketplace`):
//! - `POST /uploads {"file_name","size"}` → `{"upload_id"}`; files up to 8 MiB;
//! - `PUT /uploads/{id}/parts/{n}` with the raw bytes, parts numbered **from 1**, 64 KiB to
//!   1 MiB each → `{"etag"}` (hex MD5); sending a part again replaces it;
//! - `POST /uploads/{id}/complete {"parts":[{"n","etag"}]}` → `{"asset_id"}`, ready at once;
//! - `DELETE /uploads/{id}` cancels;
//! - `POST /images?name=…` with the raw bytes (JPEG or PNG, up to 1 MiB) → `{"image_id","url"}`;
//! - `GET /shop` → `{"shop"}`, the shop the token belongs to;
//! - every call needs `Authorization: Bearer <token>`; errors are `{"error": "<code>"}` with a
//!   meaningful HTTP status.

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
        pub images: Arc<Mutex<HashMap<String, Bytes>>>,
    }

    type Answer = (StatusCode, Json<Value>);

    fn err(status: StatusCode, code: &str) -> Answer {
        (status, Json(json!({ "error": code })))
    }

    impl BazaarSim {
        pub async fn start(&self, addr: std::net::SocketAddr) -> std::io::Result<SimServer> {
            let app = Router::new()
                .route("/uploads", post(init))
                .route("/uploads/{id}", axum::routing::delete(cancel))
                .route("/uploads/{id}/parts/{n}", put(part))
                .route("/uploads/{id}/complete", post(complete))
                .route("/images", post(image))
                .route("/shop", axum::routing::get(shop))
                .with_state(self.clone());
            serve(app, addr).await
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

    async fn image(
        State(sim): State<BazaarSim>,
        axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
        h: HeaderMap,
        body: Bytes,
    ) -> Answer {
        let len = body.len();
        let jpeg_or_png = body.starts_with(&[0xFF, 0xD8, 0xFF]) || body.starts_with(b"\x89PNG");
        let a = if !authorized(&h) {
            err(StatusCode::UNAUTHORIZED, "unauthorized")
        } else if len == 0 || len as u64 > MIB || !jpeg_or_png {
            err(StatusCode::BAD_REQUEST, "bad_image")
        } else {
            let id = format!("img{}", rand_id());
            sim.images
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone(), body);
            let url = format!("https://cdn.bazaar.invalid/{id}");
            (StatusCode::OK, Json(json!({ "image_id": id, "url": url })))
        };
        let name = q.get("name").cloned().unwrap_or_default();
        sim.log("upload_image", Method::POST, &[("name", name)], len, &a);
        a
    }

    async fn shop(State(sim): State<BazaarSim>, h: HeaderMap) -> Answer {
        let a = if authorized(&h) {
            (StatusCode::OK, Json(json!({ "shop": "Bazaar test shop" })))
        } else {
            err(StatusCode::UNAUTHORIZED, "unauthorized")
        };
        sim.log("shop", Method::GET, &[], 0, &a);
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
        AccountCheck, CheckAccount, CommitOutcome, ImageRules, ImageSource, ImageUploader,
        InitOutcome, MediaFormat, NumberingBase, Part, PartPlan, PartReceipt, PartSizeRule,
        SourceInfo, UploadRules, UploadSession, UploadedImage,
    };
    use marketmedia_core::{
        Asset, AssetUrl, ChunkedVideoUploader, Error, ErrorKind, ProcessingHandle,
        ProcessingStatus, Result,
    };
    use serde_json::{json, Value};

    pub struct BazaarUploader {
        base_url: String,
        token: String,
        http: reqwest::Client,
        rules: UploadRules,
        image_rules: ImageRules,
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
                image_rules: ImageRules {
                    platform: "bazaar".into(),
                    max_images: None,
                    max_bytes: MIB,
                    formats: vec![MediaFormat::Jpeg, MediaFormat::Png],
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
                | "parts_mismatch" | "bad_image" => ErrorKind::InvalidInput,
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

    #[async_trait]
    impl ImageUploader for BazaarUploader {
        fn image_rules(&self) -> &ImageRules {
            &self.image_rules
        }

        /// One request per image, each with its own result.
        async fn upload_images(
            &self,
            images: &[ImageSource],
        ) -> Result<Vec<Result<UploadedImage>>> {
            let mut out = Vec::with_capacity(images.len());
            for img in images {
                let req = self
                    .http
                    .post(format!("{}/images", self.base_url))
                    .query(&[("name", img.file_name.as_str())])
                    .body(img.data.clone());
                out.push(self.send("upload_image", req).await.and_then(|v| {
                    Ok(UploadedImage {
                        platform: "bazaar".into(),
                        id: Self::field(&v, "image_id")?,
                        urls: vec![AssetUrl {
                            region: None,
                            url: Self::field(&v, "url")?,
                        }],
                        details: Value::Null,
                    })
                }));
            }
            Ok(out)
        }
    }

    #[async_trait]
    impl CheckAccount for BazaarUploader {
        /// `GET /shop`: the token's shop.
        async fn check_account(&self) -> Result<AccountCheck> {
            let v = self
                .send("shop", self.http.get(format!("{}/shop", self.base_url)))
                .await?;
            Ok(AccountCheck {
                call: "GET /shop".into(),
                display_name: Some(Self::field(&v, "shop")?),
                ..AccountCheck::default()
            })
        }
    }
}

/// Bazaar as a marketplace: its account settings, declared once, how they become a client,
/// and its simulator for the sandbox. Registering this is all the `marketmedia` command, the
/// sandbox and the batch engine need to know about Bazaar.
mod marketplace {
    use super::*;
    use marketmedia_core::raw::{
        AccountInfo, Client, ConnectOptions, Marketplace, Origin, Result, Setting, Settings,
    };
    use marketmedia_sim::standalone::{SimulatorEntry, StartFuture, StartOptions, Started};

    /// A Bazaar account: `[accounts.NAME]` with `marketplace = "bazaar"`, `[bazaar]`, or
    /// `MARKETMEDIA_BAZAAR_*` (`MARKETMEDIA_ACCOUNT_<NAME>_*`).
    pub static SETTINGS: &[Setting] = &[
        Setting::url("base_url", "the Bazaar API host")
            .required()
            .example("http://127.0.0.1:8660"),
        Setting::secret("token", "the shop's bearer token")
            .required()
            .example("bazaar-token"),
        Setting::text("shop", "the shop's name on Bazaar: the account's identity")
            .default("shop")
            .refining()
            .example("kettles"),
    ];

    /// Bazaar, as an application registers it.
    pub struct Bazaar;

    impl Marketplace for Bazaar {
        fn name(&self) -> &'static str {
            "bazaar"
        }
        fn title(&self) -> &'static str {
            "Bazaar"
        }
        fn settings(&self) -> &'static [Setting] {
            SETTINGS
        }
        fn account(&self, s: &Settings) -> Result<AccountInfo> {
            s.check_required("bazaar")?;
            Ok(AccountInfo::new(
                format!("bazaar:{}", s.text("shop").unwrap_or("shop")),
                s.text("base_url").unwrap_or_default(),
            ))
        }
        fn connect(&self, s: &Settings, _: &ConnectOptions) -> Result<Client> {
            s.check_required("bazaar")?;
            let base_url = s.text("base_url").unwrap_or_default().to_owned();
            let token = s.secret("token").map(|t| t.expose()).unwrap_or_default();
            Ok(Client::new(provider::BazaarUploader::new(base_url, token)))
        }
        fn read_back(&self, s: &Settings) -> Result<Settings> {
            // The client keeps the host and the token as given; the shop names the account.
            let mut out = s.filtered(|d| d.key != "shop");
            let identity = self.account(s)?.identity;
            if let Some(shop) = identity
                .strip_prefix("bazaar:")
                .filter(|_| s.is_set("shop"))
            {
                out.set("shop", shop, Origin::Code)?;
            }
            Ok(out)
        }
        fn sandbox(&self, published: &serde_json::Value) -> Result<Settings> {
            let mut s = Settings::new(SETTINGS);
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            s.set("base_url", &text(&published["base_url"]), Origin::Sandbox)?;
            s.set(
                "token",
                &text(&published["credentials"]["token"]),
                Origin::Sandbox,
            )?;
            Ok(s)
        }
        fn identity_pattern(&self) -> &'static str {
            "bazaar:<shop>"
        }
    }

    /// The Bazaar simulator, serving, as the sandbox sees a simulator.
    struct Running {
        sim: bazaar_sim::BazaarSim,
        _server: marketmedia_sim::SimServer,
    }

    impl marketmedia_sim::standalone::Simulator for Running {
        fn name(&self) -> &str {
            "bazaar"
        }
        fn faults(&self) -> Option<&marketmedia_sim::FaultHandle> {
            None // no fault layer
        }
        fn wire(&self) -> &marketmedia_sim::WireLog {
            &self.sim.wire
        }
        fn sessions(&self) -> Vec<marketmedia_sim::control::SessionStanding> {
            use marketmedia_sim::control::{SessionStanding, Standing};
            let uploads = self.sim.uploads.lock().unwrap_or_else(|e| e.into_inner());
            uploads
                .iter()
                .map(|(id, u)| SessionStanding {
                    id: id.clone(),
                    standing: match u.state {
                        "done" => Standing::Completed,
                        "cancelled" => Standing::Cancelled,
                        _ => Standing::Open,
                    },
                    parts: u.parts.len() as u64,
                })
                .collect()
        }
        fn stored_video(&self, asset_id: &str) -> Option<bytes::Bytes> {
            let assets = self.sim.assets.lock().unwrap_or_else(|e| e.into_inner());
            assets.get(asset_id).cloned()
        }
        fn as_any(&self) -> &dyn std::any::Any {
            &self.sim
        }
    }

    fn start(addrs: Vec<std::net::SocketAddr>, _: StartOptions) -> StartFuture {
        Box::pin(async move {
            let sim = bazaar_sim::BazaarSim::default();
            let server = sim.start(addrs[0]).await?;
            let entry = serde_json::json!({
                "base_url": server.base_url(),
                "credentials": { "token": TOKEN },
            });
            Ok(Started {
                simulator: Box::new(Running {
                    sim,
                    _server: server,
                }),
                entry,
            })
        })
    }

    /// Bazaar's simulator, as the sandbox starts it.
    pub const SIMULATOR: SimulatorEntry = SimulatorEntry {
        name: "bazaar",
        title: "Bazaar",
        ports: 1,
        start,
    };

    /// The `marketmedia` command's marketplaces and simulators, Bazaar's added.
    pub fn setup() -> marketmedia_cli::Setup {
        marketmedia_cli::Setup::default().with_marketplace(Bazaar, Some(SIMULATOR))
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
    let server = sim.start(([127, 0, 0, 1], 0).into()).await?;
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // With arguments, this program is the `marketmedia` command with Bazaar registered:
    // `… --example custom_provider -- upload` uploads to every marketplace, Bazaar's
    // simulator included; `-- accounts`, `-- batch run …` and the rest work the same.
    if std::env::args_os().len() > 1 {
        std::process::exit(marketmedia_cli::main_with(marketplace::setup()));
    }
    let report = tokio::runtime::Runtime::new()?.block_on(run_suite())?;
    println!("{report}");
    match report.problems(EXPECTED_SKIPS) {
        None => Ok(()),
        Some(problems) => Err(problems.into()),
    }
}

/// `cargo test` runs this example's tests (`test = true` in `examples/Cargo.toml`), so a
/// Bazaar that fails a case or skips one it did not declare fails the workspace's tests, and
/// so does a marketplace of the registry that the command, its sandbox or its batch engine
/// cannot take without naming it.
#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use marketmedia_cli::accounts::choose;
    use marketmedia_cli::config::{self, Config};
    use marketmedia_cli::targets::{Targets, VideoMeta};
    use marketmedia_core::{
        AccountUpload, Completion, ImageSource, ImageUploader, PollPolicy, ProcessingStatus,
        UploadDriver, UploadOptions,
    };

    #[tokio::test]
    async fn bazaar_passes_the_conformance_suite_skipping_exactly_its_lacks() {
        run_suite()
            .await
            .expect("the Bazaar simulator starts")
            .assert_passed_skipping(EXPECTED_SKIPS);
    }

    fn driver() -> UploadDriver {
        UploadDriver::new(UploadOptions {
            wait_for_processing: false,
            poll: PollPolicy {
                initial_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                deadline: Duration::from_secs(30),
                ..PollPolicy::default()
            },
            ..UploadOptions::default()
        })
    }

    /// The command knows Bazaar from its declaration alone: `--help` names it, its keys are
    /// a config file's, its variables draw no warning, and its account has its identity.
    #[test]
    fn the_command_reads_bazaar_from_its_declaration() {
        let setup = marketplace::setup();
        let registry = &setup.registry;
        let help = marketmedia_cli::args::command(registry)
            .render_long_help()
            .to_string();
        assert!(help.contains("Bazaar"), "{help}");
        let file = config::parse(
            registry,
            "[accounts.bz]\nmarketplace = \"bazaar\"\nbase_url = \"http://127.0.0.1:1\"\ntoken = \"t0k\"\nshop = \"kettles\"\n",
        )
        .unwrap();
        let c = Config::resolve(&setup, file, &|_| None, &[]).unwrap();
        let bz = c.account("bz").unwrap();
        assert_eq!(bz.identity, "bazaar:kettles");
        assert!(!format!("{bz:?}").contains("t0k"));
        let err = config::parse(registry, "[bazaar]\ntokn = \"t\"\n").unwrap_err();
        assert!(err.contains("did you mean `token`"), "{err}");
        let names = ["MARKETMEDIA_BAZAAR_TOKEN".to_owned()];
        assert!(config::unknown_env_warnings(registry, names, &[]).is_empty());
    }

    /// The suite-level smoke for every marketplace of the command's registry, Bazaar
    /// included, through the command's own pieces and with no line naming a marketplace:
    /// the sandbox starts each one's simulator and builds its client from its published
    /// entry; a video goes up (its bytes checked on the simulator's side), its status is
    /// asked until ready, two images go up, and a catalog of one product runs through the
    /// batch engine to `done` on every marketplace.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_registered_marketplace_takes_upload_images_status_and_batch() {
        let setup = marketplace::setup();
        let registry = setup.registry.clone();
        assert!(registry.get("bazaar").is_some());
        let dir = tempfile::tempdir().unwrap();
        let video = dir.path().join("kettle.mp4");
        marketmedia_sim::fixtures::write_sample_mp4(&video, Duration::from_secs(12), 3 * MIB)
            .unwrap();
        let source = std::fs::read(&video).unwrap();

        // The sandbox: every marketplace, a client each.
        let config = Config::empty(&setup);
        let chosen = choose(&config, &[], true).unwrap();
        let meta = VideoMeta {
            sandbox_title: "kettle".into(),
            ..VideoMeta::default()
        };
        let targets = Targets::build(&chosen, &config, &meta).await.unwrap();
        let names: Vec<&str> = targets.targets.iter().map(|t| t.platform()).collect();
        assert_eq!(names, registry.names());
        let sandbox = targets.sandbox().expect("the sandbox serves");

        // Upload, then status until ready.
        let runnable: Vec<AccountUpload<'_>> = targets
            .targets
            .iter()
            .map(|t| {
                AccountUpload::new(t.account_ref(), t.client.video().as_ref()).with_meta(t.meta())
            })
            .collect();
        let driver = driver();
        let report = driver.upload_to_accounts(&runnable, &video, None).await;
        for (t, r) in targets.targets.iter().zip(&report.reports) {
            let outcome = r
                .result
                .as_ref()
                .unwrap_or_else(|e| panic!("{}: {e}", t.platform()));
            let asset = match &outcome.completion {
                Completion::Ready(asset) => asset.clone(),
                Completion::Processing(handle) => {
                    let status = t.client.video().poll(handle).await.unwrap();
                    assert!(
                        !matches!(status, ProcessingStatus::Failed { .. }),
                        "{}: {status:?}",
                        t.platform()
                    );
                    match driver.wait_ready(t.client.video().as_ref(), handle).await {
                        Ok(Completion::Ready(asset)) => asset,
                        other => panic!("{}: {other:?}", t.platform()),
                    }
                }
                Completion::CommittedIdUnknown { .. } => {
                    panic!("{}: no answer was lost", t.platform())
                }
            };
            let held = sandbox.stored_video(t.platform(), &asset);
            assert!(
                held.as_deref() == Some(&source[..]),
                "{}: the simulator does not hold the source's bytes",
                t.platform()
            );
        }

        // Images.
        let images = [
            ImageSource::from_bytes(
                "front.jpg",
                marketmedia_sim::fixtures::decodable_jpeg(40_000).unwrap(),
            ),
            ImageSource::from_bytes(
                "side.png",
                marketmedia_sim::fixtures::decodable_png(60_000).unwrap(),
            ),
        ];
        let uploaders: Vec<&dyn ImageUploader> = targets
            .targets
            .iter()
            .map(|t| t.client.images().as_ref())
            .collect();
        let reports = marketmedia_core::upload_images_to_all(&uploaders, &images).await;
        for r in &reports {
            let list = r
                .result
                .as_ref()
                .unwrap_or_else(|e| panic!("{}: {e}", r.platform));
            assert_eq!(list.len(), 2, "{}", r.platform);
            assert!(list.iter().all(|i| i.is_ok()), "{}: {list:?}", r.platform);
        }

        // A catalog: one product with a video and an image, to every marketplace.
        std::fs::write(dir.path().join("front.jpg"), &images[0].data).unwrap();
        let manifest = dir.path().join("catalog.csv");
        std::fs::write(&manifest, "sku,video,images\nK1,kettle.mp4,front.jpg\n").unwrap();
        let worker = marketmedia_cli::batch::WorkerArgs {
            uploads_per_market: Some(2),
            tasks: 8,
            lease_secs: 30,
            attempts: 3,
            json: true,
            auth_poll_ms: 5000,
            auth_wait_secs: 60,
        };
        let (markets, _batch_targets) =
            marketmedia_cli::batch::markets(&config, true, &worker, None)
                .await
                .unwrap();
        let store =
            marketmedia_batch::store::open(&dir.path().join("jobs.sqlite").display().to_string())
                .await
                .unwrap();
        let planned = marketmedia_batch::plan(&manifest, &markets, Some((store.as_ref(), "smoke")))
            .await
            .unwrap();
        assert!(planned.problems.is_empty(), "{:?}", planned.problems);
        let options = marketmedia_batch::WorkOptions {
            idle_poll: Duration::from_millis(20),
            max_wait: Duration::from_secs(10),
            upload: UploadOptions {
                poll: driver.options().poll.clone(),
                ..UploadOptions::default()
            },
            ..marketmedia_batch::WorkOptions::default()
        };
        let done = marketmedia_batch::Worker::new(store.clone(), markets, options)
            .run()
            .await
            .unwrap();
        assert_eq!(done.failed, 0, "{done:?}");
        let counts = store.counts(Some("smoke")).await.unwrap();
        for name in registry.names() {
            let finished: u64 = counts
                .iter()
                .filter(|c| c.marketplace == name && c.state == marketmedia_batch::TaskState::Done)
                .map(|c| c.tasks)
                .sum();
            assert_eq!(finished, 2, "{name}: a video and an image done: {counts:?}");
        }
    }
}
