//! eBay's OAuth calls on the wire, as the OAuth guides give them: the consent URL, the
//! `authorization_code` and `refresh_token` grants (form-encoded, Basic auth), `invalid_grant`
//! as a refusal, and a Media API call answered 401 / 1001 refreshed once and sent again.

use std::sync::Arc;

use base64::Engine;
use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::recorder::{Recorded, WireRecorder};
use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::{CredentialStore, ErrorKind, MemoryStore, TokenSource, Tokens};
use marketmedia_ebay::auth::{EbayAuth, SELL_INVENTORY_SCOPE, TOKEN_PATH};
use marketmedia_ebay::{EbayConfig, EbayEnvironment, EbayUploader};
use serde_json::json;

const CLIENT_ID: &str = "MyApp-PRD-1234";
const CLIENT_SECRET: &str = "CS-auth-test-cert-id";
const RU_NAME: &str = "My_Company-MyApp-PRD-abcdef";

fn auth(host: &str) -> EbayAuth {
    EbayAuth::new(
        CLIENT_ID,
        CLIENT_SECRET,
        RU_NAME,
        EbayEnvironment::Production,
    )
    .unwrap()
    .with_token_host(host)
}

/// A form POST to the token path, with Basic `client_id:client_secret`.
fn assert_token_call(r: &Recorded) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, TOKEN_PATH);
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        r.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(r.query.is_empty());
}

#[test]
fn the_consent_url_names_the_app_runame_and_scope() {
    let a = EbayAuth::new(CLIENT_ID, CLIENT_SECRET, RU_NAME, EbayEnvironment::Sandbox).unwrap();
    let url = reqwest::Url::parse(&a.authorization_url(Some("s1")).unwrap()).unwrap();
    assert_eq!(url.host_str(), Some("auth.sandbox.ebay.com"));
    assert_eq!(url.path(), "/oauth2/authorize");
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let expected = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", RU_NAME),
        ("response_type", "code"),
        ("scope", SELL_INVENTORY_SCOPE),
        ("state", "s1"),
    ];
    assert_eq!(
        q,
        expected.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
    );
    let prod = EbayAuth::new(
        CLIENT_ID,
        CLIENT_SECRET,
        RU_NAME,
        EbayEnvironment::Production,
    )
    .unwrap()
    .authorization_url(None)
    .unwrap();
    assert!(
        prod.starts_with("https://auth.ebay.com/oauth2/authorize?"),
        "{prod}"
    );
    assert!(EbayAuth::new(CLIENT_ID, "", RU_NAME, EbayEnvironment::Production).is_err());
}

#[tokio::test]
async fn the_code_is_exchanged_with_the_runame() {
    let server = WireRecorder::start().await.unwrap();
    server.always(JunkAnswer::json(
        200,
        json!({"access_token": "AT-first", "expires_in": 7200, "refresh_token": "RT-first",
               "refresh_token_expires_in": 47_304_000, "token_type": "User Access Token"}),
    ));
    let before = unix_millis();
    // Pasted as it stands in the accept URL: URL-encoded.
    let tokens = auth(&server.base_url())
        .exchange_code("v%5E1.1%23i%5E1%23abc")
        .await
        .unwrap();
    let sent = &server.received()[0];
    assert_token_call(sent);
    assert_eq!(
        sent.form(),
        [
            ("grant_type", "authorization_code"),
            ("code", "v^1.1#i^1#abc"),
            ("redirect_uri", RU_NAME),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(tokens.access_token.expose(), "AT-first");
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose(), "RT-first");
    let end = tokens.access_expires_at_ms.unwrap();
    assert!(end >= before + 7_200_000 && end <= unix_millis() + 7_200_000);
    assert_eq!(
        tokens.refresh_expires_at_ms.unwrap() - tokens.obtained_at_ms,
        47_304_000_000
    );
}

#[tokio::test]
async fn a_refresh_keeps_the_refresh_token_and_invalid_grant_is_a_refusal() {
    let server = WireRecorder::start().await.unwrap();
    server.always(JunkAnswer::json(
        200,
        json!({"access_token": "AT-2", "expires_in": 7200, "token_type": "User Access Token"}),
    ));
    let a = auth(&server.base_url());
    let key = a.credential_key("jane").unwrap();
    // Expired long ago.
    let current = Tokens::new("AT-1", 0)
        .expiring_in(7200)
        .with_refresh_token("RT-long", Some(47_304_000));
    let store = MemoryStore::shared();
    store.save(&key, &current).await.unwrap();
    let source = TokenSource::builder(key.clone(), store.clone(), Arc::new(a.refresher())).build();
    assert_eq!(source.access_token().await.unwrap().expose(), "AT-2");
    let sent = &server.received()[0];
    assert_token_call(sent);
    assert_eq!(
        sent.form(),
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", "RT-long"),
            ("scope", SELL_INVENTORY_SCOPE),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let stored = store.load(&key).await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().expose(), "RT-long", "kept");

    let cases = [
        (
            400,
            json!({"error": "invalid_grant", "error_description": "the provided authorization refresh token is invalid or was issued to another client"}),
            ErrorKind::Reauthorize,
        ),
        (
            401,
            json!({"error": "invalid_client", "error_description": "client authentication failed"}),
            ErrorKind::Auth,
        ),
        (503, json!({}), ErrorKind::Transient),
    ];
    for (status, body, kind) in cases {
        server.always(JunkAnswer::json(status, body.clone()));
        let err = a.refresh(&"RT-secret-5".into()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{body}");
        assert!(!format!("{err} {err:?}").contains("RT-secret-5"));
        assert!(!format!("{err} {err:?}").contains(CLIENT_SECRET));
    }
}

#[tokio::test]
async fn a_401_1001_is_refreshed_once_and_the_call_sent_again() {
    let api = WireRecorder::start().await.unwrap();
    let identity = WireRecorder::start().await.unwrap();
    let a = auth(&identity.base_url());
    let key = a.credential_key("jane").unwrap();
    let store = MemoryStore::shared();
    store
        .save(
            &key,
            &Tokens::new("AT-old", unix_millis())
                .expiring_in(7200)
                .with_refresh_token("RT-long", None),
        )
        .await
        .unwrap();
    let source = TokenSource::builder(key, store, Arc::new(a.refresher()))
        .account("ebay-us")
        .build();
    let ebay = EbayUploader::new(
        EbayConfig::builder()
            .token_source(source)
            .base_url(format!("{}/commerce/media/v1_beta", api.base_url()))
            .build()
            .unwrap(),
    )
    .unwrap();
    identity.always(JunkAnswer::json(
        200,
        json!({"access_token": "AT-new", "expires_in": 7200, "token_type": "User Access Token"}),
    ));
    api.script(
        vec![JunkAnswer::json(
            401,
            json!({"errors": [{"errorId": 1001, "domain": "OAuth", "category": "REQUEST",
                "message": "Invalid access token",
                "longMessage": "Invalid access token. Check the value of the Authorization HTTP request header."}]}),
        )],
        JunkAnswer::json(200, json!({"videoId": "v1", "status": "LIVE", "title": "t"})),
    );
    let handle = marketmedia_core::ProcessingHandle {
        platform: "ebay".into(),
        id: "v1".into(),
        data: serde_json::Value::Null,
    };
    use marketmedia_core::ChunkedVideoUploader;
    ebay.poll(&handle).await.unwrap();
    let calls = api.received();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].header("authorization"), Some("Bearer AT-old"));
    assert_eq!(calls[1].header("authorization"), Some("Bearer AT-new"));
    assert_eq!(identity.received().len(), 1);
}
