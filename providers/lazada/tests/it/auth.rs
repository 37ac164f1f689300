//! Lazada's seller authorization on the wire, as the System API pages give it: the
//! authorization page, `/auth/token/create` and `/auth/token/refresh` on the auth host, signed
//! like every call and without `access_token`; refusals typed; a gateway call refused with
//! `IllegalAccessToken` refreshed once and sent again; two gateways of one seller sharing one
//! credential and one refresh.

use std::sync::Arc;

use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::recorder::{Recorded, WireRecorder};
use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::raw::signing::hmac_sha256;
use marketmedia_core::{CredentialStore, ErrorKind, MemoryStore, Refresher, TokenSource, Tokens};
use marketmedia_lazada::auth::{sellers, LazadaAuth, CREATE_TOKEN, REFRESH_TOKEN};
use marketmedia_lazada::{LazadaConfig, LazadaUploader, Region};
use serde_json::json;

const APP_KEY: &str = "100132";
const APP_SECRET: &str = "AS-auth-test-app-secret";

fn auth(base: &str) -> LazadaAuth {
    LazadaAuth::new(APP_KEY, APP_SECRET)
        .unwrap()
        .with_base_url(format!("{base}/rest"))
}

/// `UPPER(hex(HMAC-SHA256(app_secret, path + sorted k+v)))`, from the signing page.
fn sign(path: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sign").collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut base = path.to_owned();
    for (k, v) in pairs {
        base.push_str(k);
        base.push_str(v);
    }
    hex::encode_upper(hmac_sha256(APP_SECRET.as_bytes(), base.as_bytes()))
}

/// A signed form POST to `/rest` + `path` on the auth host, without `access_token`.
fn assert_token_call(r: &Recorded, path: &str) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/rest{path}"));
    assert!(r.query.is_empty(), "every parameter in the form body");
    let params = r.params();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("app_key"), Some(APP_KEY));
    assert_eq!(get("sign_method"), Some("sha256"));
    assert_eq!(get("access_token"), None);
    let ts: u64 = get("timestamp").unwrap().parse().unwrap();
    assert!(unix_millis().abs_diff(ts) < 5_000, "milliseconds, now");
    assert_eq!(get("sign").unwrap(), sign(path, &params));
}

pub(crate) fn token_answer(access: &str, refresh: &str) -> JunkAnswer {
    JunkAnswer::json(
        200,
        json!({
            "code": "0", "request_id": "r-1",
            "access_token": access, "refresh_token": refresh,
            "expires_in": 2_592_000, "refresh_expires_in": 15_552_000,
            "account_platform": "seller_center", "account": "seller@example.com", "country": "cb",
            "country_user_info_list": [
                {"country": "sg", "seller_id": "1001", "user_id": "10101", "short_code": "SG1"},
                {"country": "my", "seller_id": "2001", "user_id": "20101"}
            ],
        }),
    )
}

#[test]
fn the_authorization_page_is_the_documented_url() {
    let a = LazadaAuth::new(APP_KEY, APP_SECRET).unwrap();
    let url = a
        .authorization_url("https://example.com/lazada/cb", Some("sg"))
        .unwrap();
    let url = reqwest::Url::parse(&url).unwrap();
    assert_eq!(url.host_str(), Some("auth.lazada.com"));
    assert_eq!(url.path(), "/oauth/authorize");
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let expected = [
        ("response_type", "code"),
        ("force_auth", "true"),
        ("redirect_uri", "https://example.com/lazada/cb"),
        ("client_id", APP_KEY),
        ("country", "sg"),
    ];
    assert_eq!(
        q,
        expected.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
    );
    assert!(a.authorization_url("ftp://x", None).is_err());
    assert!(LazadaAuth::new(APP_KEY, "").is_err());
}

#[tokio::test]
async fn the_code_is_exchanged_on_the_auth_host() {
    let server = WireRecorder::start().await.unwrap();
    // The page's own sample: `country_user_info` keyed by country, `refresh_expires_in` a
    // string.
    server.always(JunkAnswer::json(
        200,
        json!({
            "code": "0", "expires_in": 10, "account_id": "7063844", "country": "sg",
            "country_user_info": {"sg": {"seller_id": "1001", "user_id": 10101},
                                  "my": {"seller_id": "2001", "user_id": 20101}},
            "account_platform": "seller_center", "access_token": "AT-first",
            "account": "xxx@126.com", "refresh_expires_in": "60", "refresh_token": "RT-first",
        }),
    ));
    let before = unix_millis();
    let tokens = auth(&server.base_url())
        .exchange_code("0_100132_2DL4DV3jcU1UOT7WGI1A4rY91")
        .await
        .unwrap();
    let sent = &server.received()[0];
    assert_token_call(sent, CREATE_TOKEN.path);
    assert_eq!(
        sent.form_value("code").as_deref(),
        Some("0_100132_2DL4DV3jcU1UOT7WGI1A4rY91")
    );
    assert_eq!(tokens.access_token.expose(), "AT-first");
    let access_end = tokens.access_expires_at_ms.unwrap();
    assert!(access_end >= before + 10_000 && access_end <= unix_millis() + 10_000);
    let refresh_end = tokens.refresh_expires_at_ms.unwrap();
    assert_eq!(refresh_end - tokens.obtained_at_ms, 60_000);
    let mut by_country = sellers(&tokens);
    by_country.sort();
    assert_eq!(
        by_country,
        [("my", "2001"), ("sg", "1001")].map(|(c, s)| (c.to_owned(), s.to_owned()))
    );
    assert_eq!(tokens.details["account"], "xxx@126.com");

    server.clear();
    let empty = auth(&server.base_url()).exchange_code(" ").await;
    assert_eq!(empty.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_refresh_sends_the_refresh_token_and_does_not_extend_it() {
    let server = WireRecorder::start().await.unwrap();
    server.always(token_answer("AT-2", "RT-2"));
    let a = auth(&server.base_url());
    let key = a.credential_key("seller@example.com").unwrap();
    assert_eq!(key.as_str(), "lazada/100132/seller@example.com");
    // The stored refresh token ends in ten days; the answer says 180: it still ends in ten.
    let ten_days = unix_millis() + 10 * 86_400_000;
    let current = Tokens {
        refresh_expires_at_ms: Some(ten_days),
        ..Tokens::new("AT-1", unix_millis()).with_refresh_token("RT-1", None)
    };
    let tokens = a.refresher().refresh(&key, Some(&current)).await.unwrap();
    let sent = &server.received()[0];
    assert_token_call(sent, REFRESH_TOKEN.path);
    assert_eq!(sent.form_value("refresh_token").as_deref(), Some("RT-1"));
    assert_eq!(tokens.refresh_expires_at_ms, Some(ten_days));
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose(), "RT-2");
    assert_eq!(
        sellers(&tokens).len(),
        2,
        "country_user_info_list is read too"
    );
}

#[tokio::test]
async fn refusals_and_failures_of_the_refresh_are_typed() {
    let server = WireRecorder::start().await.unwrap();
    let a = auth(&server.base_url());
    let cases = [
        (
            "IllegalRefreshToken",
            "The specified refresh token is invalid or expired",
            ErrorKind::Reauthorize,
        ),
        (
            "AUTH_TYPE_UNSUPPORTED",
            "appkey can only be authorized by market, not support refresh",
            ErrorKind::Reauthorize,
        ),
        (
            "IncompleteSignature",
            "The request signature does not conform to lazop standards",
            ErrorKind::Auth,
        ),
        ("InternalError", "busy", ErrorKind::Transient),
    ];
    for (code, message, kind) in cases {
        server.always(JunkAnswer::json(
            200,
            json!({"code": code, "type": "ISV", "message": message, "request_id": "x"}),
        ));
        let err = a.refresh(&"RT-secret-3".into()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{code}");
        assert!(!format!("{err} {err:?}").contains("RT-secret-3"));
    }
}

pub(crate) fn quota() -> JunkAnswer {
    JunkAnswer::json(
        200,
        json!({"code": "0", "request_id": "q", "capacity_size": 1000, "used_size": 10}),
    )
}

/// A gateway call with `token`, signed with it.
fn assert_gateway_call(r: &Recorded, token: &str) {
    let path = "/media/video/quota/get";
    assert_eq!(r.path, format!("/rest{path}"));
    assert_eq!(r.query("access_token"), Some(token));
    assert_eq!(r.query("sign").unwrap(), sign(path, &r.query));
}

async fn source(auth_base: &str, stored: Tokens) -> (TokenSource, Arc<MemoryStore>) {
    let a = auth(auth_base);
    let key = a.credential_key("seller@example.com").unwrap();
    let store = MemoryStore::shared();
    store.save(&key, &stored).await.unwrap();
    let source = TokenSource::builder(key, store.clone(), Arc::new(a.refresher()))
        .account("lazada-sg")
        .build();
    (source, store)
}

fn gateway(base: &str, region: Region, tokens: &TokenSource) -> LazadaUploader {
    let config = LazadaConfig::builder()
        .app_key(APP_KEY)
        .app_secret(APP_SECRET)
        .region(region)
        .token_source(tokens.clone())
        .base_url(format!("{base}/rest"))
        .build()
        .unwrap();
    LazadaUploader::new(config).unwrap()
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_the_call_sent_again() {
    let server = WireRecorder::start().await.unwrap();
    let fresh = Tokens::new("AT-old", unix_millis())
        .expiring_in(2_592_000)
        .with_refresh_token("RT-old", Some(15_552_000));
    let (tokens, _) = source(&server.base_url(), fresh).await;
    let sg = gateway(&server.base_url(), Region::Sg, &tokens);
    server.script(
        vec![
            JunkAnswer::json(
                200,
                json!({"type": "ISV", "code": "IllegalAccessToken",
                       "message": "The specified access token is invalid or expired", "request_id": "r"}),
            ),
            token_answer("AT-new", "RT-new"),
        ],
        quota(),
    );
    let quota = sg.quota().await.unwrap();
    assert_eq!(quota.remaining(), 990);
    let sent = server.received();
    assert_eq!(sent.len(), 3);
    assert_gateway_call(&sent[0], "AT-old");
    assert_token_call(&sent[1], REFRESH_TOKEN.path);
    assert_eq!(
        sent[1].form_value("refresh_token").as_deref(),
        Some("RT-old")
    );
    assert_gateway_call(&sent[2], "AT-new");
}

#[tokio::test]
async fn two_gateways_of_one_seller_share_one_refresh() {
    let auth_host = WireRecorder::start().await.unwrap();
    let sg_host = WireRecorder::start().await.unwrap();
    let my_host = WireRecorder::start().await.unwrap();
    // 30 days old but 20 minutes: inside the 30-minute margin Lazada's guide advises.
    let due = Tokens::new("AT-old", unix_millis() - (30 * 86_400 - 20 * 60) * 1000)
        .expiring_in(2_592_000)
        .with_refresh_token("RT-old", Some(15_552_000));
    let (tokens, store) = source(&auth_host.base_url(), due).await;
    auth_host.always(token_answer("AT-new", "RT-new"));
    sg_host.always(quota());
    my_host.always(quota());
    let sg = gateway(&sg_host.base_url(), Region::Sg, &tokens);
    let my = gateway(&my_host.base_url(), Region::My, &tokens);
    let (a, b) = tokio::join!(sg.quota(), my.quota());
    a.unwrap();
    b.unwrap();
    assert_eq!(
        auth_host.received().len(),
        1,
        "one refresh for both gateways"
    );
    assert_gateway_call(&sg_host.received()[0], "AT-new");
    assert_gateway_call(&my_host.received()[0], "AT-new");
    let key = tokens.key().unwrap();
    assert_eq!(
        store
            .load(key)
            .await
            .unwrap()
            .unwrap()
            .access_token
            .expose(),
        "AT-new"
    );

    // A refused refresh token: both gateways stop with the command to run.
    let (tokens, _) = source(
        &auth_host.base_url(),
        Tokens::new("AT-old", unix_millis() - (30 * 86_400 - 20 * 60) * 1000)
            .expiring_in(2_592_000)
            .with_refresh_token("RT-spent", None),
    )
    .await;
    auth_host.always(JunkAnswer::json(
        200,
        json!({"code": "IllegalRefreshToken", "type": "ISV",
               "message": "The specified refresh token is invalid or expired"}),
    ));
    let sg = gateway(&sg_host.base_url(), Region::Sg, &tokens);
    let err = sg.quota().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Reauthorize);
    assert!(
        err.to_string()
            .contains("marketmedia accounts authorize lazada-sg"),
        "{err}"
    );
}
