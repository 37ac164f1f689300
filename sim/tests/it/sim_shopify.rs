//! The Shopify simulator over HTTP, as any client sees it: the token, the version, GraphQL
//! validation (by the schema), stagedUploadsCreate's checks, the staged host's checks of the
//! signed form (order, values, signature, file last), size and content type, the PUT target,
//! expiry on the sim clock, the attach mutations and the status, the throttle's answer.

use std::time::Duration;

use marketmedia_sim::shopify::{ShopifyRunning, ShopifySim, ShopifySimConfig, TEST_ACCESS_TOKEN};
use serde_json::{json, Value};

struct Env {
    running: ShopifyRunning,
    http: reqwest::Client,
}

async fn env(config: ShopifySimConfig) -> Env {
    let running = ShopifySim::new(config)
        .launch(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
    Env {
        running,
        http: reqwest::Client::new(),
    }
}

const STAGE: &str = "mutation s($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) { stagedTargets { url resourceUrl parameters { name value } } userErrors { field message } } }";
const FILE_CREATE: &str = "mutation f($files: [FileCreateInput!]!) { fileCreate(files: $files) { files { id fileStatus } userErrors { field message code } } }";
const NODE: &str = "query n($id: ID!) { node(id: $id) { id ... on Video { status fileStatus mediaErrors { code } } } }";

impl Env {
    async fn gql_as(
        &self,
        token: &str,
        version: &str,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let r = self
            .http
            .post(format!(
                "{}/admin/api/{version}/graphql.json",
                self.running.base_url()
            ))
            .header("X-Shopify-Access-Token", token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .gql_as(TEST_ACCESS_TOKEN, "2026-10", query, variables)
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn stage(&self, size: u64, method: &str) -> Value {
        let body = self
            .gql(
                STAGE,
                json!({"input": [{"resource": "VIDEO", "filename": "k.mp4", "mimeType": "video/mp4",
                    "fileSize": size.to_string(), "httpMethod": method}]}),
            )
            .await;
        body["data"]["stagedUploadsCreate"]["stagedTargets"][0].clone()
    }

    /// A POST form of `fields` (in this order) then the file, unless `file_first`.
    async fn post(
        &self,
        target: &Value,
        fields: &[(String, String)],
        file: Vec<u8>,
    ) -> (u16, String) {
        let mut form = reqwest::multipart::Form::new();
        for (n, v) in fields {
            form = form.text(n.clone(), v.clone());
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(file).file_name("k.mp4"),
        );
        let r = self
            .http
            .post(target["url"].as_str().unwrap())
            .multipart(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

fn params(target: &Value) -> Vec<(String, String)> {
    target["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn tokens_versions_and_documents_are_checked() {
    let e = env(ShopifySimConfig::default()).await;
    let (status, body) = e
        .gql_as("shpat_wrong", "2026-10", "{ shop { name } }", json!({}))
        .await;
    assert_eq!(status, 401);
    assert!(body["errors"].as_str().unwrap().contains("Invalid API key"));
    let (status, _) = e
        .gql_as(
            TEST_ACCESS_TOKEN,
            "latest-ish",
            "{ shop { name } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let body = e.gql("{ shop { name myshopifyDomain } }", json!({})).await;
    assert_eq!(
        body["data"]["shop"]["myshopifyDomain"],
        "sim-kettles.myshopify.com"
    );
    assert!(body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"].is_number());
    // The schema refuses unknown fields and bad enum values.
    let body = e.gql("{ shop { nope } }", json!({})).await;
    assert!(body["errors"][0]["message"].as_str().is_some(), "{body}");
    let body = e
        .gql(
            STAGE,
            json!({"input": [{"resource": "MOVIE", "filename": "k.mp4", "mimeType": "video/mp4"}]}),
        )
        .await;
    assert!(body["errors"][0]["message"].as_str().is_some(), "{body}");
}

#[tokio::test]
async fn staged_uploads_create_checks_its_input() {
    let e = env(ShopifySimConfig::default()).await;
    for (input, field) in [
        (
            json!({"resource": "VIDEO", "filename": "k.mp4", "mimeType": "video/mp4"}),
            "fileSize",
        ),
        (
            json!({"resource": "VIDEO", "filename": "k.mp4", "mimeType": "video/mp4", "fileSize": "1000000001"}),
            "fileSize",
        ),
        (
            json!({"resource": "VIDEO", "filename": "k.mp4", "mimeType": "image/png", "fileSize": "10"}),
            "mimeType",
        ),
        (
            json!({"resource": "IMAGE", "filename": " ", "mimeType": "image/png"}),
            "filename",
        ),
    ] {
        let body = e.gql(STAGE, json!({"input": [input]})).await;
        let errors = &body["data"]["stagedUploadsCreate"]["userErrors"];
        assert_eq!(errors[0]["field"][2], field, "{body}");
        assert!(body["data"]["stagedUploadsCreate"]["stagedTargets"].is_null());
    }
}

#[tokio::test]
async fn the_staged_host_checks_the_signed_form_size_and_expiry() {
    let e = env(ShopifySimConfig::default()).await;
    let target = e.stage(10, "POST").await;
    let fields = params(&target);
    assert_eq!(fields[0].0, "Content-Type");
    assert!(fields.iter().any(|(n, _)| n == "x-goog-signature"));

    // Out of order.
    let mut swapped = fields.clone();
    swapped.swap(0, 1);
    let (status, body) = e.post(&target, &swapped, vec![1; 10]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<Code>InvalidArgument</Code>"), "{body}");
    // A value changed (the content type), and a forged signature.
    let mut changed = fields.clone();
    changed[0].1 = "video/quicktime".into();
    let (status, _) = e.post(&target, &changed, vec![1; 10]).await;
    assert_eq!(status, 400);
    let mut forged = fields.clone();
    let policy = forged.iter().position(|(n, _)| n == "policy").unwrap();
    forged[policy].1.push('A');
    let sig = forged
        .iter()
        .position(|(n, _)| n == "x-goog-signature")
        .unwrap();
    let (status, _) = e.post(&target, &forged, vec![1; 10]).await;
    assert_eq!(status, 400, "a changed policy differs from the issued one");
    forged = fields.clone();
    forged[sig].1 = "00".into();
    let (status, _) = e.post(&target, &forged, vec![1; 10]).await;
    assert_eq!(status, 400);
    // The file after a field.
    let (status, _) = e
        .http
        .post(target["url"].as_str().unwrap())
        .multipart({
            let mut f = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(vec![1; 10]).file_name("k.mp4"),
            );
            for (n, v) in &fields {
                f = f.text(n.clone(), v.clone());
            }
            f
        })
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 400);
    // Sizes: exactly the signed fileSize.
    let (status, body) = e.post(&target, &fields, vec![1; 11]).await;
    assert_eq!(status, 400);
    assert!(body.contains("EntityTooLarge"), "{body}");
    let (status, body) = e.post(&target, &fields, vec![1; 9]).await;
    assert!(status == 400 && body.contains("EntityTooSmall"), "{body}");
    // Right: 201, and again (a re-sent file replaces it).
    let (status, body) = e.post(&target, &fields, vec![7; 10]).await;
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("<PostResponse>"));
    let (status, _) = e.post(&target, &fields, vec![7; 10]).await;
    assert_eq!(status, 201);
    let resource = target["resourceUrl"].as_str().unwrap();
    assert_eq!(
        e.running.sim.staged_bytes(resource).unwrap().as_ref(),
        &[7u8; 10]
    );

    // Expired on the sim clock.
    let late = e.stage(10, "POST").await;
    e.running.sim.clock().advance(Duration::from_secs(3601));
    let (status, body) = e.post(&late, &params(&late), vec![1; 10]).await;
    assert!(status == 400 && body.contains("ExpiredToken"), "{body}");
}

#[tokio::test]
async fn a_put_target_takes_its_parameters_as_headers() {
    let e = env(ShopifySimConfig::default()).await;
    let target = e.stage(4, "PUT").await;
    assert_eq!(
        params(&target)[0],
        ("content_type".into(), "video/mp4".into())
    );
    let url = target["url"].as_str().unwrap();
    let send = |ct: &'static str| {
        e.http
            .put(url)
            .header("Content-Type", ct)
            .header("acl", "private")
            .body(vec![3u8; 4])
            .send()
    };
    assert_eq!(send("video/webm").await.unwrap().status().as_u16(), 400);
    assert_eq!(send("video/mp4").await.unwrap().status().as_u16(), 200);
    let forged = url.replace("X-Goog-Signature=", "X-Goog-Signature=0");
    let r = e
        .http
        .put(forged)
        .header("Content-Type", "video/mp4")
        .header("acl", "private")
        .body(vec![3u8; 4])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn attached_media_go_through_the_states_and_unsent_files_fail() {
    let e = env(ShopifySimConfig {
        processing_delay: Duration::from_secs(10),
        ..ShopifySimConfig::default()
    })
    .await;
    let target = e.stage(10, "POST").await;
    let (status, _) = e.post(&target, &params(&target), vec![5; 10]).await;
    assert_eq!(status, 201);
    let unsent = e.stage(10, "POST").await;
    let body = e
        .gql(
            FILE_CREATE,
            json!({"files": [
                {"originalSource": target["resourceUrl"], "contentType": "VIDEO", "alt": "kettle"},
                {"originalSource": unsent["resourceUrl"], "contentType": "VIDEO"},
            ]}),
        )
        .await;
    let files = &body["data"]["fileCreate"]["files"];
    assert_eq!(files[0]["fileStatus"], "UPLOADED", "{body}");
    let (sent, never) = (files[0]["id"].clone(), files[1]["id"].clone());
    let status = |id: Value| {
        let e = &e;
        async move { e.gql(NODE, json!({"id": id})).await["data"]["node"].clone() }
    };
    e.running.sim.clock().advance(Duration::from_secs(6));
    assert_eq!(status(sent.clone()).await["status"], "PROCESSING");
    e.running.sim.clock().advance(Duration::from_secs(5));
    assert_eq!(status(sent).await["status"], "READY");
    let failed = status(never).await;
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(
        failed["mediaErrors"][0]["code"],
        "GENERIC_FILE_DOWNLOAD_FAILURE"
    );
    // A video needs a staged URL.
    let body = e
        .gql(FILE_CREATE, json!({"files": [{"originalSource": "https://example.com/v.mp4", "contentType": "VIDEO"}]}))
        .await;
    assert_eq!(
        body["data"]["fileCreate"]["userErrors"][0]["code"], "INVALID",
        "{body}"
    );
}

#[tokio::test]
async fn the_throttle_answers_as_documented_and_refills() {
    let e = env(ShopifySimConfig {
        bucket_size: 20.0,
        restore_rate: 1.0,
        ..ShopifySimConfig::default()
    })
    .await;
    e.running.sim.set_throttled(true);
    let body = e.gql("{ shop { name } }", json!({})).await;
    assert_eq!(body["errors"][0]["message"], "Throttled");
    assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
    assert!(body["extensions"]["cost"]["actualQueryCost"].is_null());
    assert!(body.get("data").is_none() || body["data"].is_null());
    e.running.sim.set_throttled(false);
    // Two mutations of 10 points empty a 20-point bucket; it refills at 1 point a second.
    let stage =
        json!({"input": [{"resource": "IMAGE", "filename": "a.png", "mimeType": "image/png"}]});
    let mut codes = Vec::new();
    for _ in 0..3 {
        let body = e.gql(STAGE, stage.clone()).await;
        codes.push(
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .map(str::to_owned),
        );
    }
    assert_eq!(codes, vec![None, None, Some("THROTTLED".to_owned())]);
    e.running.sim.clock().advance(Duration::from_secs(10));
    let body = e.gql(STAGE, stage).await;
    assert!(body["errors"].is_null(), "{body}");
}
