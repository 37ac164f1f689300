//! Shopee's authorization calls on the wire, as the authorization guide gives them: the
//! signed authorization URL, `token/get` and `access_token/get` (partner-signed public
//! calls, JSON bodies, tokens at the top level of the answer), refusals typed, and a shop
//! call whose token Shopee refuses refreshed once and sent again.

use std::sync::Arc;

use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::recorder::{Recorded, WireRecorder};
use marketmedia_core::raw::http::unix_millis;
use marketmedia_core::raw::signing::hmac_sha256;
use marketmedia_core::{CredentialStore, ErrorKind, MemoryStore, TokenSource, Tokens};
use marketmedia_shopee::auth::{
    Grantee, ShopeeAuth, Subject, ACCESS_TOKEN_GET, AUTH_PARTNER, TOKEN_GET,
};
use marketmedia_shopee::{ShopeeConfig, ShopeeRegion, ShopeeUploader};
use serde_json::json;

const PARTNER_ID: u64 = 2_001_887;
const PARTNER_KEY: &str = "PK-auth-test-partner-key";
const SHOP_ID: u64 = 600_001;

fn auth(base: &str) -> ShopeeAuth {
    ShopeeAuth::new(PARTNER_ID, PARTNER_KEY, ShopeeRegion::Production)
        .unwrap()
        .with_base_url(base)
}

/// `hex(HMAC-SHA256(partner_key, base))`, computed here from the guide's formula.
fn sign(base: &str) -> String {
    hex::encode(hmac_sha256(PARTNER_KEY.as_bytes(), base.as_bytes()))
}

/// The request is a partner-signed public call to `path`, signed within a few seconds.
fn assert_public_signed(r: &Recorded, path: &str) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, path);
    assert_eq!(r.query("partner_id"), Some("2001887"));
    let ts = r.query("timestamp").unwrap();
    let now = unix_millis() / 1000;
    assert!(now.abs_diff(ts.parse().unwrap()) <= 5, "timestamp {ts}");
    assert_eq!(
        r.query("sign").unwrap(),
        sign(&format!("{PARTNER_ID}{path}{ts}"))
    );
    assert_eq!(
        r.query("access_token"),
        None,
        "public: no token in the query"
    );
    assert_eq!(r.query("shop_id"), None);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
}

pub(crate) fn token_answer(access: &str, refresh: &str) -> JunkAnswer {
    JunkAnswer::json(
        200,
        json!({
            "request_id": "r-1", "error": "", "message": "",
            "access_token": access, "refresh_token": refresh, "expire_in": 14400,
            "partner_id": PARTNER_ID, "shop_id": SHOP_ID,
        }),
    )
}

#[test]
fn the_authorization_url_is_signed_with_the_redirect() {
    let url = auth("https://partner.shopeemobile.com")
        .authorization_url("https://example.com/cb?x=1")
        .unwrap();
    let url = reqwest::Url::parse(&url).unwrap();
    assert_eq!(url.host_str(), Some("partner.shopeemobile.com"));
    assert_eq!(url.path(), AUTH_PARTNER);
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("partner_id").as_deref(), Some("2001887"));
    assert_eq!(
        get("redirect").as_deref(),
        Some("https://example.com/cb?x=1")
    );
    let ts = get("timestamp").unwrap();
    assert_eq!(
        get("sign").unwrap(),
        sign(&format!("{PARTNER_ID}/api/v2/shop/auth_partner{ts}"))
    );
    // Refused before any request.
    let bad = auth("http://127.0.0.1:1").authorization_url("not a url");
    assert_eq!(bad.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert!(ShopeeAuth::new(0, "k", ShopeeRegion::Production).is_err());
    assert!(ShopeeAuth::new(1, "", ShopeeRegion::Production).is_err());
}

#[tokio::test]
async fn the_code_is_exchanged_for_a_shop_and_for_a_main_account() {
    let server = WireRecorder::start().await.unwrap();
    server.always(token_answer("AT-first", "RT-first"));
    let before = unix_millis();
    let tokens = auth(&server.base_url())
        .exchange_code(" the-code ", Grantee::Shop(SHOP_ID))
        .await
        .unwrap();
    let after = unix_millis();
    let sent = &server.received()[0];
    assert_public_signed(sent, TOKEN_GET);
    assert_eq!(
        sent.json(),
        json!({ "code": "the-code", "partner_id": PARTNER_ID, "shop_id": SHOP_ID })
    );
    assert_eq!(tokens.access_token.expose(), "AT-first");
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose(), "RT-first");
    // Four hours from when the request was sent.
    let expires = tokens.access_expires_at_ms.unwrap();
    assert!(expires >= before + 14_400_000 && expires <= after + 14_400_000);
    assert_eq!(Subject::listed_in(&tokens), vec![Subject::Shop(SHOP_ID)]);

    server.clear();
    server.always(JunkAnswer::json(
        200,
        json!({
            "access_token": "AT-main", "refresh_token": "RT-main", "expire_in": 14400,
            "shop_id_list": [11, 12], "merchant_id_list": [7], "error": "", "message": "",
        }),
    ));
    let tokens = auth(&server.base_url())
        .exchange_code("c2", Grantee::MainAccount(31_219))
        .await
        .unwrap();
    assert_eq!(
        server.received()[0].json(),
        json!({ "code": "c2", "partner_id": PARTNER_ID, "main_account_id": 31219 })
    );
    assert_eq!(
        Subject::listed_in(&tokens),
        vec![Subject::Shop(11), Subject::Shop(12), Subject::Merchant(7)]
    );

    // An empty code is refused before any request; a refused code is Shopee's answer.
    server.clear();
    let empty = auth(&server.base_url())
        .exchange_code("  ", Grantee::Shop(SHOP_ID))
        .await;
    assert_eq!(empty.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_refresh_sends_the_refresh_token_for_the_shop_or_merchant() {
    let server = WireRecorder::start().await.unwrap();
    server.always(token_answer("AT-2", "RT-2"));
    let a = auth(&server.base_url());
    let tokens = a
        .refresh(&"RT-1".into(), Subject::Shop(SHOP_ID))
        .await
        .unwrap();
    let sent = &server.received()[0];
    assert_public_signed(sent, ACCESS_TOKEN_GET);
    assert_eq!(
        sent.json(),
        json!({ "refresh_token": "RT-1", "partner_id": PARTNER_ID, "shop_id": SHOP_ID })
    );
    assert_eq!(tokens.refresh_token.unwrap().expose(), "RT-2", "rotated");
    a.refresh(&"RT-2".into(), Subject::Merchant(9))
        .await
        .unwrap();
    assert_eq!(
        server.received()[1].json(),
        json!({ "refresh_token": "RT-2", "partner_id": PARTNER_ID, "merchant_id": 9 })
    );
    assert_eq!(
        a.credential_key(Subject::Merchant(9)).unwrap().as_str(),
        "shopee/2001887/merchant-9"
    );
}

#[tokio::test]
async fn refusals_and_failures_of_the_refresh_are_typed() {
    let server = WireRecorder::start().await.unwrap();
    let a = auth(&server.base_url());
    let cases = [
        (
            json!({"error": "error_auth", "message": "Invalid refresh_token.", "request_id": "x"}),
            ErrorKind::Reauthorize,
        ),
        (
            json!({"error": "error_param", "message": "refresh_token is expired", "request_id": "x"}),
            ErrorKind::Reauthorize,
        ),
        (
            json!({"error": "error_sign", "message": "Wrong sign.", "request_id": "x"}),
            ErrorKind::Auth,
        ),
        (
            json!({"error": "error_server", "message": "busy", "request_id": "x"}),
            ErrorKind::Transient,
        ),
    ];
    for (body, kind) in cases {
        server.always(JunkAnswer::json(200, body.clone()));
        let err = a
            .refresh(&"RT-secret-9".into(), Subject::Shop(SHOP_ID))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{body}");
        assert!(!format!("{err} {err:?}").contains("RT-secret-9"));
    }
    // A clock off by minutes is reported as such, and is no refusal.
    server.always(JunkAnswer::json(
        200,
        json!({"error": "error_param", "message": "Timestamp is expired.", "request_id": "x"}),
    ));
    let err = a
        .refresh(&"RT-1".into(), Subject::Shop(SHOP_ID))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.message().contains("clock"), "{err}");
    // An answer without tokens is not understood.
    server.always(JunkAnswer::json(200, json!({"error": "", "message": ""})));
    let err = a
        .refresh(&"RT-1".into(), Subject::Shop(SHOP_ID))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
}

pub(crate) fn shop_info() -> JunkAnswer {
    JunkAnswer::json(
        200,
        json!({"error": "", "message": "", "request_id": "r", "shop_name": "Demo", "region": "SG", "status": "NORMAL"}),
    )
}

/// An uploader of `SHOP_ID` with a managed source over `stored` tokens.
async fn uploader(base: &str, stored: Tokens) -> (ShopeeUploader, Arc<MemoryStore>) {
    let a = auth(base);
    let subject = Subject::Shop(SHOP_ID);
    let key = a.credential_key(subject).unwrap();
    let store = MemoryStore::shared();
    store.save(&key, &stored).await.unwrap();
    let source = TokenSource::builder(key, store.clone(), Arc::new(a.refresher(subject)))
        .account("shopee-sg")
        .build();
    let config = ShopeeConfig::builder()
        .partner_id(PARTNER_ID)
        .partner_key(PARTNER_KEY)
        .shop_id(SHOP_ID)
        .token_source(source)
        .base_url(base)
        .build()
        .unwrap();
    (ShopeeUploader::new(config).unwrap(), store)
}

fn assert_shop_call(r: &Recorded, token: &str) {
    let path = "/api/v2/shop/get_shop_info";
    assert_eq!(r.path, path);
    assert_eq!(r.query("access_token"), Some(token));
    let ts = r.query("timestamp").unwrap();
    assert_eq!(
        r.query("sign").unwrap(),
        sign(&format!("{PARTNER_ID}{path}{ts}{token}{SHOP_ID}")),
        "signed with the token it carries"
    );
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_the_call_sent_again() {
    let server = WireRecorder::start().await.unwrap();
    let fresh = Tokens::new("AT-old", unix_millis())
        .expiring_in(14_400)
        .with_refresh_token("RT-old", None);
    let (shopee, store) = uploader(&server.base_url(), fresh).await;
    server.script(
        vec![
            // Shopee's own spelling, as the community SDK meets it.
            JunkAnswer::json(
                200,
                json!({"error": "invalid_acceess_token", "message": "Invalid access_token.", "request_id": "r"}),
            ),
            token_answer("AT-new", "RT-new"),
        ],
        shop_info(),
    );
    let check = shopee.check_account().await.unwrap();
    assert_eq!(check.display_name.as_deref(), Some("Demo"));
    let sent = server.received();
    assert_eq!(sent.len(), 3);
    assert_shop_call(&sent[0], "AT-old");
    assert_public_signed(&sent[1], ACCESS_TOKEN_GET);
    assert_eq!(sent[1].json()["refresh_token"], "RT-old");
    assert_shop_call(&sent[2], "AT-new");
    // The new pair was committed.
    let key = auth(&server.base_url())
        .credential_key(Subject::Shop(SHOP_ID))
        .unwrap();
    let now = store.load(&key).await.unwrap().unwrap();
    assert_eq!(now.refresh_token.unwrap().expose(), "RT-new");

    // Refused again right after: one refresh, one more try, then the error.
    server.clear();
    server.script(
        vec![
            JunkAnswer::json(
                200,
                json!({"error": "error_auth", "message": "Invalid access_token."}),
            ),
            token_answer("AT-3", "RT-3"),
        ],
        JunkAnswer::json(
            200,
            json!({"error": "error_auth", "message": "Invalid access_token."}),
        ),
    );
    let err = shopee.check_account().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_before_the_call() {
    let server = WireRecorder::start().await.unwrap();
    // Four hours old but a minute: inside the 24-minute margin.
    let due = Tokens::new("AT-old", unix_millis() - (4 * 3600 - 60) * 1000)
        .expiring_in(14_400)
        .with_refresh_token("RT-old", None);
    let (shopee, _) = uploader(&server.base_url(), due).await;
    server.script(vec![token_answer("AT-new", "RT-new")], shop_info());
    shopee.check_account().await.unwrap();
    let sent = server.received();
    assert_eq!(sent.len(), 2, "no call with the old token");
    assert_eq!(sent[0].path, ACCESS_TOKEN_GET);
    assert_shop_call(&sent[1], "AT-new");

    // A refused refresh token stops with the command to run, naming the account.
    let server = WireRecorder::start().await.unwrap();
    let due = Tokens::new("AT-old", unix_millis() - (4 * 3600 - 60) * 1000)
        .expiring_in(14_400)
        .with_refresh_token("RT-spent", None);
    let (shopee, _) = uploader(&server.base_url(), due).await;
    server.always(JunkAnswer::json(
        200,
        json!({"error": "error_auth", "message": "Invalid refresh_token.", "request_id": "r"}),
    ));
    let err = shopee.check_account().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Reauthorize);
    let text = err.to_string();
    assert!(
        text.contains("marketmedia accounts authorize shopee-sg"),
        "{text}"
    );
    assert!(text.contains("shopee/2001887/shop-600001"), "{text}");
    assert!(!text.contains("RT-spent"));
    assert_eq!(server.received().len(), 1, "not retried");
}
