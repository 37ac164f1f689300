//! TikTok Shop's token calls on the wire, as the pages and SDKs give them: the authorization
//! page with the service id, `token/get` and `token/refresh` as GETs on the auth host with the
//! app's key and secret, expiries read as timestamps, the refusals typed, and an upload
//! answered 105002 refreshed once and sent again, signed afresh.

use std::sync::Arc;

use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::recorder::WireRecorder;
use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::{
    CredentialStore, ErrorKind, ImageSource, ImageUploader, MemoryStore, TokenSource, Tokens,
};
use marketmedia_sim::fixtures::decodable_jpeg;
use marketmedia_tiktok::auth::TiktokAuth;
use marketmedia_tiktok::{signing, TiktokConfig, TiktokUploader};
use serde_json::json;

const APP_KEY: &str = "68xu9ks5p4i8";
const APP_SECRET: &str = "auth-test-app-secret";

fn token_answer(access: &str, refresh: &str, access_at: i64) -> JunkAnswer {
    JunkAnswer::json(
        200,
        json!({"code": 0, "message": "success", "request_id": "r1", "data": {
            "access_token": access, "access_token_expire_in": access_at,
            "refresh_token": refresh, "refresh_token_expire_in": 4_841_467_787i64,
            "open_id": "open-1", "seller_name": "Kettles", "seller_base_region": "MY",
            "user_type": 0, "granted_scopes": ["seller.product.basic"]}}),
    )
}

#[test]
fn the_authorization_page_takes_the_service_id() {
    let a = TiktokAuth::new(APP_KEY, APP_SECRET).unwrap();
    let err = a.authorization_url(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("service_id"), "{err}");
    let url = a
        .with_service_id("7310000000000000001")
        .authorization_url(Some("s1"))
        .unwrap();
    assert_eq!(
        url,
        "https://services.tiktokshop.com/open/authorize?service_id=7310000000000000001&state=s1"
    );
    assert!(TiktokAuth::new(APP_KEY, "").is_err());
    assert!(TiktokAuth::new("", APP_SECRET).is_err());
}

#[tokio::test]
async fn code_exchange_and_refresh_are_gets_on_the_auth_host() {
    let host = WireRecorder::start().await.unwrap();
    let auth = TiktokAuth::new(APP_KEY, APP_SECRET)
        .unwrap()
        .with_auth_host(&host.base_url());
    let now = (unix_millis() / 1000) as i64;
    host.always(token_answer("at-1", "rt-1", now + 604_800));
    let sent = unix_millis();
    let tokens = auth.exchange_code(" code-1 ").await.unwrap();
    let r = &host.received()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/api/v2/token/get")
    );
    let expected = [
        ("app_key", APP_KEY),
        ("app_secret", APP_SECRET),
        ("auth_code", "code-1"),
        ("grant_type", "authorized_code"),
    ];
    assert_eq!(
        r.query,
        expected.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
    );
    assert_eq!(tokens.access_token.expose(), "at-1");
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose(), "rt-1");
    // A timestamp, never later than stated: 7 days from the request, to the second.
    let at = tokens.access_expires_at_ms.unwrap();
    assert!(at <= (now as u64 + 604_800) * 1000, "{at}");
    assert!(at + 2000 >= sent + 604_800_000, "{at}");
    assert_eq!(tokens.details["open_id"], "open-1");

    host.clear();
    host.always(token_answer("at-2", "rt-2", now + 604_800));
    let refreshed = auth.refresh(&"rt-1".into()).await.unwrap();
    let r = &host.received()[0];
    assert_eq!(r.path, "/api/v2/token/refresh");
    assert_eq!(r.query("refresh_token"), Some("rt-1"));
    assert_eq!(r.query("grant_type"), Some("refresh_token"));
    assert_eq!(refreshed.refresh_token.as_ref().unwrap().expose(), "rt-2");

    for (code, kind) in [
        (36_004_001, ErrorKind::Reauthorize),
        (36_004_005, ErrorKind::Reauthorize),
        (106_001, ErrorKind::Auth),
        (36_009_003, ErrorKind::Transient),
    ] {
        host.always(JunkAnswer::json(
            200,
            json!({"code": code, "message": "no", "request_id": "r", "data": null}),
        ));
        let e = auth.refresh(&"rt-2".into()).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.code()),
            (kind, Some(code.to_string().as_str())),
            "{e}"
        );
    }
    host.always(token_answer("", "rt", now));
    assert_eq!(
        auth.exchange_code("c").await.unwrap_err().kind(),
        ErrorKind::Protocol
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_signed_again() {
    let api = WireRecorder::start().await.unwrap();
    let host = WireRecorder::start().await.unwrap();
    let auth = TiktokAuth::new(APP_KEY, APP_SECRET)
        .unwrap()
        .with_auth_host(&host.base_url());
    let now = (unix_millis() / 1000) as i64;
    host.always(token_answer("at-new", "rt-new", now + 604_800));
    let key = auth.credential_key("kettles").unwrap();
    let store = MemoryStore::shared();
    store
        .save(
            &key,
            &Tokens::new("at-old", unix_millis()).with_refresh_token("rt-old", None),
        )
        .await
        .unwrap();
    let source = TokenSource::builder(key, store, Arc::new(auth.refresher()))
        .account("tiktok-my")
        .build();
    let tiktok = TiktokUploader::new(
        TiktokConfig::builder()
            .app_key(APP_KEY)
            .app_secret(APP_SECRET)
            .token_source(source)
            .base_url(api.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    api.script(
        vec![JunkAnswer::json(
            401,
            json!({"code": 105_002, "message": "access token is expired, please refresh it",
                   "request_id": "r", "data": null}),
        )],
        JunkAnswer::json(
            200,
            json!({"code": 0, "message": "Success", "request_id": "r2", "data": {
                "uri": "tos-x/1", "url": "https://p/1\n", "width": 96, "height": 64,
                "use_case": "MAIN_IMAGE"}}),
        ),
    );
    let image = ImageSource::from_bytes("a.jpg", decodable_jpeg(8192).unwrap());
    let mut done = tiktok.upload_images(&[image]).await.unwrap();
    let uploaded = done.remove(0).unwrap();
    assert_eq!(uploaded.id, "tos-x/1");
    assert_eq!(uploaded.urls[0].url, "https://p/1");
    let sent = api.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header("x-tts-access-token"), Some("at-old"));
    assert_eq!(sent[1].header("x-tts-access-token"), Some("at-new"));
    for r in &sent {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/product/202309/images/upload")
        );
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary="));
        assert_eq!(r.query("app_key"), Some(APP_KEY));
        assert!(r.query("shop_cipher").is_none() && r.query("access_token").is_none());
        // The multipart body is not signed: path + sorted query only.
        let unsigned: Vec<(String, String)> = r
            .query
            .iter()
            .filter(|(k, _)| k != "sign")
            .cloned()
            .collect();
        let expected = signing::sign(APP_SECRET, &r.path, &unsigned, None);
        assert_eq!(r.query("sign"), Some(expected.as_str()));
    }
    assert_eq!(host.received().len(), 1);
}
