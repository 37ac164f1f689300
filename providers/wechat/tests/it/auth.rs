//! WeChat's stable token on the wire, as getStableAccessToken gives it: a JSON POST to
//! `/cgi-bin/stable_token` in normal mode (never `force_refresh`), kept until four minutes
//! before it expires, fetched once for many calls, and again once when a store call answers
//! 42001 or 40001.

use marketmedia_conformance::junk::JunkAnswer;
use marketmedia_conformance::recorder::{Recorded, WireRecorder};
use marketmedia_core::raw::http::{ClientOptions, HttpClient};
use marketmedia_core::{ChunkedVideoUploader, ErrorKind, ProcessingHandle};
use marketmedia_wechat::auth::{credential_key, WechatRefresher};
use marketmedia_wechat::{WechatConfig, WechatUploader};
use serde_json::json;

const APPID: &str = "wx-auth-test";
const APPSECRET: &str = "AS-wechat-auth-secret";

fn assert_stable_token(r: &Recorded) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/cgi-bin/stable_token");
    assert!(r.query.is_empty(), "nothing in the URL");
    assert_eq!(
        r.json(),
        json!({"grant_type": "client_credential", "appid": APPID, "secret": APPSECRET,
               "force_refresh": false})
    );
}

fn token(t: &str, expires_in: u64) -> JunkAnswer {
    JunkAnswer::json(200, json!({"access_token": t, "expires_in": expires_in}))
}

fn play_info() -> JunkAnswer {
    JunkAnswer::json(
        200,
        json!({"errcode": 0, "errmsg": "ok", "data": {"url": "https://v/1"}}),
    )
}

fn handle() -> ProcessingHandle {
    ProcessingHandle {
        platform: "wechat".into(),
        id: "key-1".into(),
        data: serde_json::Value::Null,
    }
}

fn uploader(base: &str) -> WechatUploader {
    WechatUploader::new(
        WechatConfig::builder()
            .appid(APPID)
            .appsecret(APPSECRET)
            .base_url(base)
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_stable_token_is_fetched_once_for_many_calls() {
    let server = WireRecorder::start().await.unwrap();
    server.script(vec![token("AT-1", 7200)], play_info());
    let wechat = uploader(&server.base_url());
    for _ in 0..3 {
        wechat.poll(&handle()).await.unwrap();
    }
    let sent = server.received();
    assert_eq!(sent.len(), 4);
    assert_stable_token(&sent[0]);
    for call in &sent[1..] {
        assert_eq!(call.path, "/shop/ec/basics/video/getplayinfo");
        assert_eq!(call.query("access_token"), Some("AT-1"));
    }
}

#[tokio::test]
async fn a_token_at_the_end_of_its_life_is_fetched_again_before_the_next_call() {
    let server = WireRecorder::start().await.unwrap();
    // `expires_in` is what is left of the token's life: 0 is due at once.
    server.script(vec![token("AT-1", 0)], play_info());
    let wechat = uploader(&server.base_url());
    wechat.poll(&handle()).await.unwrap();
    server.script(vec![token("AT-2", 7200)], play_info());
    wechat.poll(&handle()).await.unwrap();
    let sent = server.received();
    assert_eq!(sent.len(), 4);
    assert_stable_token(&sent[0]);
    assert_eq!(sent[1].query("access_token"), Some("AT-1"));
    assert_stable_token(&sent[2]);
    assert_eq!(sent[3].query("access_token"), Some("AT-2"));
}

#[tokio::test]
async fn an_expired_answer_fetches_once_and_sends_again() {
    for code in [42001, 40001] {
        let server = WireRecorder::start().await.unwrap();
        server.script(
            vec![
                token("AT-1", 7200),
                JunkAnswer::json(
                    200,
                    json!({"errcode": code, "errmsg": "access_token expired rid: 1-2-3"}),
                ),
                token("AT-2", 7200),
            ],
            play_info(),
        );
        let wechat = uploader(&server.base_url());
        wechat.poll(&handle()).await.unwrap();
        let sent = server.received();
        assert_eq!(sent.len(), 4, "{code}");
        assert_eq!(sent[1].query("access_token"), Some("AT-1"));
        assert_stable_token(&sent[2]);
        assert_eq!(sent[3].query("access_token"), Some("AT-2"));
    }
}

#[tokio::test]
async fn a_wrong_secret_is_an_auth_error_without_a_secret() {
    let server = WireRecorder::start().await.unwrap();
    server.always(JunkAnswer::json(
        200,
        json!({"errcode": 40125, "errmsg": "invalid appsecret rid: 6-7-8"}),
    ));
    let refresher = WechatRefresher::new(
        HttpClient::new(ClientOptions::default()).unwrap(),
        server.base_url(),
        APPID,
        APPSECRET.into(),
    );
    let err = refresher.fetch().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(!format!("{err} {err:?} {refresher:?}").contains(APPSECRET));
    let err = uploader(&server.base_url())
        .poll(&handle())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(server.received().len(), 2, "not retried");
    assert_eq!(
        credential_key(APPID).unwrap().as_str(),
        "wechat/wx-auth-test/app"
    );
}
