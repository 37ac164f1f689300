//! Tokens that expire, refresh and are revoked like the platforms' (issue 26), driven over
//! HTTP as any client would, every request signed by hand from the platforms' documents
//! (not with the providers' code): Shopee's code exchange and refresh (the old refresh token
//! spent), a main account's token serving its shops until each refreshes; Lazada's tokens
//! from the auth gateway valid on every country gateway, refreshing never extending the
//! authorization; eBay's two grants behind Basic auth; WeChat's stable token in normal and
//! force-refresh mode; each platform's expired- and invalid-token answers; the `/__sim/tokens`
//! control surface and the standalone JSON line. Expiry comes from the simulators' clock,
//! never from sleeping.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use marketmedia_sim::ebay::{
    EbaySim, EbaySimConfig, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_RU_NAME,
};
use marketmedia_sim::lazada::{
    codes as lazada_codes, seller_id_in, LazadaSim, LazadaSimConfig, GATEWAYS, LAZADA_TEST_APP_KEY,
    LAZADA_TEST_APP_SECRET,
};
use marketmedia_sim::shopee::{
    ShopeeSim, ShopeeSimConfig, TEST_ACCESS_TOKEN, TEST_MAIN_ACCOUNT_ID, TEST_PARTNER_ID,
    TEST_PARTNER_KEY, TEST_SHOP_ID, TEST_SHOP_ID_2,
};
use marketmedia_sim::smh::{SmhSim, SmhSimConfig};
use marketmedia_sim::tokens::{LifetimesPatch, Revoke, TokenReport};
use marketmedia_sim::wechat::{
    code as wechat_code, WechatSim, WechatSimConfig, TEST_APPID, TEST_APPSECRET,
};
use marketmedia_sim::SimServer;
use reqwest::Client;
use serde_json::{json, Value};
use sha2::Sha256;

const DAY: u64 = 86_400;

fn hmac_hex(key: &str, msg: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(msg.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

async fn control(http: &Client, method: &str, url: String, body: Option<Value>) -> (u16, Value) {
    let mut req = match method {
        "GET" => http.get(&url),
        "PUT" => http.put(&url),
        _ => http.post(&url),
    };
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn report(http: &Client, server: &SimServer) -> TokenReport {
    let (status, v) = control(
        http,
        "GET",
        format!("{}/__sim/tokens", server.base_url()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    serde_json::from_value(v).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Shopee: public-signed `auth/` calls, shop-signed `shop/get_shop_info`.

struct Shopee {
    sim: ShopeeSim,
    server: SimServer,
    http: Client,
}

impl Shopee {
    async fn start(config: ShopeeSimConfig) -> Self {
        let sim = ShopeeSim::new(config);
        let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Shopee {
            sim,
            server,
            http: Client::new(),
        }
    }

    /// A public-type POST: `sign = hex(HMAC-SHA256(partner_key, partner_id + path + timestamp))`.
    async fn auth_call(&self, path: &str, body: Value) -> (u16, Value) {
        let ts = self.sim.clock().now_secs().to_string();
        let pid = TEST_PARTNER_ID.to_string();
        let sign = hmac_hex(TEST_PARTNER_KEY, &format!("{pid}{path}{ts}"));
        let r = self
            .http
            .post(format!("{}{path}", self.server.base_url()))
            .query(&[
                ("partner_id", pid.as_str()),
                ("timestamp", &ts),
                ("sign", &sign),
            ])
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn exchange(&self, body: Value) -> (u16, Value) {
        self.auth_call("/api/v2/auth/token/get", body).await
    }

    async fn refresh(&self, refresh_token: &str, shop_id: u64) -> (u16, Value) {
        self.auth_call(
            "/api/v2/auth/access_token/get",
            json!({"refresh_token": refresh_token, "partner_id": TEST_PARTNER_ID, "shop_id": shop_id}),
        )
        .await
    }

    /// A shop-type GET: `partner_id + path + timestamp + access_token + shop_id`.
    async fn shop_info(&self, token: &str, shop_id: u64) -> (u16, Value) {
        let path = "/api/v2/shop/get_shop_info";
        let ts = self.sim.clock().now_secs().to_string();
        let pid = TEST_PARTNER_ID.to_string();
        let shop = shop_id.to_string();
        let sign = hmac_hex(TEST_PARTNER_KEY, &format!("{pid}{path}{ts}{token}{shop}"));
        let r = self
            .http
            .get(format!("{}{path}", self.server.base_url()))
            .query(&[
                ("partner_id", pid.as_str()),
                ("timestamp", &ts),
                ("sign", &sign),
                ("access_token", token),
                ("shop_id", &shop),
            ])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }
}

fn shopee_ok(r: &(u16, Value)) -> &Value {
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["error"], "", "{}", r.1);
    &r.1
}

fn shopee_err(r: &(u16, Value), error: &str, message: &str) {
    assert_eq!(
        (r.1["error"].as_str(), r.1["message"].as_str()),
        (Some(error), Some(message)),
        "{}",
        r.1
    );
    assert_eq!(r.0, 403);
}

#[tokio::test]
async fn shopee_code_exchange_then_refreshes_spend_each_refresh_token() {
    let s = Shopee::start(ShopeeSimConfig::default()).await;
    let shop = &s.sim.shops()[0];
    let r = s
        .exchange(json!({"code": shop.authorization_code, "partner_id": TEST_PARTNER_ID, "shop_id": TEST_SHOP_ID}))
        .await;
    let first = shopee_ok(&r).clone();
    assert_eq!(first["expire_in"], 4 * 3600);
    assert!(first["request_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert!(
        first.get("shop_id_list").is_none(),
        "a shop's own authorization: {first}"
    );
    let access = first["access_token"].as_str().unwrap().to_owned();
    let mut refresh = first["refresh_token"].as_str().unwrap().to_owned();
    // A code serves once, and only for the shop it was given for.
    shopee_err(
        &s.exchange(json!({"code": shop.authorization_code, "partner_id": TEST_PARTNER_ID, "shop_id": TEST_SHOP_ID}))
            .await,
        "error_auth",
        "Invalid code.",
    );
    let other = s
        .sim
        .authorization_code(&json!({"shop_id": TEST_SHOP_ID_2}))
        .unwrap();
    shopee_err(
        &s.exchange(
            json!({"code": other.code, "partner_id": TEST_PARTNER_ID, "shop_id": TEST_SHOP_ID}),
        )
        .await,
        "error_auth",
        "Invalid code.",
    );
    shopee_ok(&s.shop_info(&access, TEST_SHOP_ID).await);

    // Three refreshes: each answers a new pair; each refresh token presented is spent.
    let mut spent = Vec::new();
    for _ in 0..3 {
        let r = s.refresh(&refresh, TEST_SHOP_ID).await;
        let v = shopee_ok(&r);
        assert_eq!(v["partner_id"], TEST_PARTNER_ID);
        assert_eq!(v["shop_id"], TEST_SHOP_ID);
        assert_eq!(v["expire_in"], 4 * 3600);
        let next = v["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(next, refresh);
        shopee_ok(
            &s.shop_info(v["access_token"].as_str().unwrap(), TEST_SHOP_ID)
                .await,
        );
        spent.push(std::mem::replace(&mut refresh, next));
    }
    shopee_err(
        &s.refresh(&spent[1], TEST_SHOP_ID).await,
        "error_auth",
        "Invalid refresh_token.",
    );
    // A refresh token of one shop does not refresh another.
    shopee_err(
        &s.refresh(&refresh, TEST_SHOP_ID_2).await,
        "error_auth",
        "Invalid refresh_token.",
    );

    let report = report(&s.http, &s.server).await;
    let c = report.credential("shop:600001").unwrap();
    assert_eq!(
        (c.code_exchanges, c.refreshes, c.spent_refresh_token_uses),
        (1, 3, 1)
    );
    assert_eq!(
        c.sandbox_secrets.refresh_token.as_deref(),
        Some(refresh.as_str())
    );
    // Every rotated refresh token was used exactly once; the newest not yet.
    // (The initial refresh token was never used: the code gave this pair.)
    for t in &c.refresh_tokens {
        assert_eq!(t.uses, u64::from(spent.contains(&t.refresh_token)), "{t:?}");
    }
    assert_eq!(c.refresh_tokens.len(), 5);
    assert!(report.note.contains("fake platform"));

    // The wire log has both calls, public-signed, with their bodies.
    let wire = s.sim.wire().calls("auth/access_token/get");
    assert_eq!(wire.len(), 5);
    assert!(wire
        .iter()
        .all(|w| w.param("access_token").is_none() && w.param("sign").is_some()));
    assert_eq!(wire[3].error.as_deref(), Some("error_auth"));
}

#[tokio::test]
async fn shopee_expired_revoked_and_settable_lifetimes() {
    let s = Shopee::start(ShopeeSimConfig::default()).await;
    // Lifetimes in ms, for what is issued from now on.
    let (status, l) = control(
        &s.http,
        "PUT",
        s.url("/__sim/tokens/lifetimes"),
        Some(json!({"access_ms": 2000, "refresh_ms": 60_000})),
    )
    .await;
    assert_eq!(status, 200, "{l}");
    assert_eq!(
        (l["access_ms"].as_u64(), l["code_ms"].as_u64()),
        (Some(2000), Some(600_000))
    );
    let (status, _) = control(
        &s.http,
        "PUT",
        s.url("/__sim/tokens/lifetimes"),
        Some(json!({"access_ms": 0})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = control(
        &s.http,
        "PUT",
        s.url("/__sim/tokens/lifetimes"),
        Some(json!({"accessms": 5})),
    )
    .await;
    assert_eq!(status, 400);

    let (status, code) = control(
        &s.http,
        "POST",
        s.url("/__sim/tokens/code"),
        Some(json!({"shop_id": TEST_SHOP_ID_2})),
    )
    .await;
    assert_eq!(status, 200, "{code}");
    assert_eq!(code["expires_in"], 600);
    assert_eq!(code["credential"], "shop:600002");
    let r = s
        .exchange(
            json!({"code": code["code"], "partner_id": TEST_PARTNER_ID, "shop_id": TEST_SHOP_ID_2}),
        )
        .await;
    let pair = shopee_ok(&r).clone();
    assert_eq!(pair["expire_in"], 2);
    let access = pair["access_token"].as_str().unwrap().to_owned();
    shopee_ok(&s.shop_info(&access, TEST_SHOP_ID_2).await);
    s.sim.clock().advance(Duration::from_millis(2000));
    // Past its lifetime: Shopee's own answer (and spelling) for an expired token.
    shopee_err(
        &s.shop_info(&access, TEST_SHOP_ID_2).await,
        "invalid_acceess_token",
        "Invalid access_token.",
    );
    // The initial token was issued before the change: 4 hours.
    shopee_ok(&s.shop_info(TEST_ACCESS_TOKEN, TEST_SHOP_ID).await);

    let r = s
        .refresh(pair["refresh_token"].as_str().unwrap(), TEST_SHOP_ID_2)
        .await;
    let next = shopee_ok(&r).clone();
    let fresh = next["access_token"].as_str().unwrap().to_owned();
    shopee_ok(&s.shop_info(&fresh, TEST_SHOP_ID_2).await);
    // Revoked mid-run: refused as invalid at once.
    let (status, v) = control(
        &s.http,
        "POST",
        s.url("/__sim/tokens/revoke"),
        Some(json!({"access_token": fresh})),
    )
    .await;
    assert_eq!((status, &v["revoked"]), (200, &json!(1)));
    shopee_err(
        &s.shop_info(&fresh, TEST_SHOP_ID_2).await,
        "error_auth",
        "Invalid access_token.",
    );
    // A revoked refresh token: the seller must authorize again.
    let rt = next["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = control(
        &s.http,
        "POST",
        s.url("/__sim/tokens/revoke"),
        Some(json!({"refresh_token": rt})),
    )
    .await;
    assert_eq!(status, 200);
    shopee_err(
        &s.refresh(&rt, TEST_SHOP_ID_2).await,
        "error_auth",
        "Invalid refresh_token.",
    );
    let (status, _) = control(
        &s.http,
        "POST",
        s.url("/__sim/tokens/revoke"),
        Some(json!({"access_token": "nope"})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = control(
        &s.http,
        "POST",
        s.url("/__sim/tokens/revoke"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400);

    // A code lives 10 minutes.
    let code = s
        .sim
        .authorization_code(&json!({"shop_id": TEST_SHOP_ID}))
        .unwrap();
    s.sim.clock().advance(Duration::from_secs(600));
    shopee_err(
        &s.exchange(
            json!({"code": code.code, "partner_id": TEST_PARTNER_ID, "shop_id": TEST_SHOP_ID}),
        )
        .await,
        "error_auth",
        "Invalid code.",
    );
    let report = s.sim.tokens();
    let c = report.credential("shop:600002").unwrap();
    assert_eq!(
        (c.refused_expired, c.refused_invalid, c.refused_refreshes),
        (1, 1, 1)
    );
    assert_eq!(report.lifetimes.access_ms, 2000);
    // Timestamp skew is still a timestamp error, not a token one.
    let path = "/api/v2/auth/token/get";
    let ts = (s.sim.clock().now_secs() - 301).to_string();
    let sign = hmac_hex(TEST_PARTNER_KEY, &format!("{TEST_PARTNER_ID}{path}{ts}"));
    let r = s
        .http
        .post(s.url(path))
        .query(&[
            ("partner_id", TEST_PARTNER_ID.to_string()),
            ("timestamp", ts),
            ("sign", sign),
        ])
        .json(&json!({"code": "x", "partner_id": TEST_PARTNER_ID, "shop_id": TEST_SHOP_ID}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["error"].as_str(), v["message"].as_str()),
        (Some("error_param"), Some("Timestamp is expired."))
    );
}

#[tokio::test]
async fn shopee_main_account_token_serves_its_shops_until_each_refreshes() {
    let s = Shopee::start(ShopeeSimConfig::default()).await;
    let code = s
        .sim
        .authorization_code(&json!({"main_account_id": TEST_MAIN_ACCOUNT_ID}))
        .unwrap();
    assert_eq!(code.credential, "main_account:700001");
    let r = s
        .exchange(json!({"code": code.code, "partner_id": TEST_PARTNER_ID, "main_account_id": TEST_MAIN_ACCOUNT_ID}))
        .await;
    let main = shopee_ok(&r).clone();
    assert_eq!(main["shop_id_list"], json!([TEST_SHOP_ID, TEST_SHOP_ID_2]));
    assert_eq!(main["merchant_id_list"], json!([]));
    let access = main["access_token"].as_str().unwrap().to_owned();
    let refresh = main["refresh_token"].as_str().unwrap().to_owned();
    shopee_ok(&s.shop_info(&access, TEST_SHOP_ID).await);
    shopee_ok(&s.shop_info(&access, TEST_SHOP_ID_2).await);

    // The first refresh for shop 1 gives it tokens of its own; the shared token stops
    // serving shop 1 and still serves shop 2.
    let r = s.refresh(&refresh, TEST_SHOP_ID).await;
    let own = shopee_ok(&r).clone();
    shopee_ok(
        &s.shop_info(own["access_token"].as_str().unwrap(), TEST_SHOP_ID)
            .await,
    );
    shopee_err(
        &s.shop_info(&access, TEST_SHOP_ID).await,
        "error_auth",
        "Invalid access_token.",
    );
    shopee_ok(&s.shop_info(&access, TEST_SHOP_ID_2).await);
    shopee_err(
        &s.refresh(&refresh, TEST_SHOP_ID).await,
        "error_auth",
        "Invalid refresh_token.",
    );
    shopee_ok(&s.refresh(&refresh, TEST_SHOP_ID_2).await);
    shopee_err(
        &s.refresh(&refresh, TEST_SHOP_ID_2).await,
        "error_auth",
        "Invalid refresh_token.",
    );

    let report = s.sim.tokens();
    assert_eq!(
        report
            .credential("main_account:700001")
            .unwrap()
            .spent_refresh_token_uses,
        2
    );
    assert_eq!(report.credential("shop:600001").unwrap().refreshes, 1);
    assert_eq!(report.credential("shop:600002").unwrap().refreshes, 1);

    // The body must name the partner, and one of the ids.
    let r = s
        .exchange(json!({"code": "x", "partner_id": 1, "shop_id": TEST_SHOP_ID}))
        .await;
    assert_eq!(r.1["error"], "error_param");
    let r = s
        .exchange(json!({"code": "x", "partner_id": TEST_PARTNER_ID}))
        .await;
    assert_eq!(r.1["error"], "error_param");
}

#[tokio::test]
async fn shopee_refresh_faults_a_503_spends_nothing_a_lost_answer_spends_the_token() {
    use marketmedia_sim::faults::{scope, FaultKind, FaultProfile};
    let s = Shopee::start(ShopeeSimConfig::default()).await;
    let refresh = s.sim.shops()[0].refresh_token.clone();
    s.sim.faults().set(FaultProfile {
        calls: vec![scope::SHOPEE_REFRESH.into()],
        script: vec![FaultKind::Status503, FaultKind::LostResponse],
        plain_error_rate: 0.0,
        ..FaultProfile::default()
    });
    // Refused before it is processed, in Shopee's envelope: the token is not spent.
    let (status, v) = s.refresh(&refresh, TEST_SHOP_ID).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (503, Some("error_server")),
        "{v}"
    );
    // Processed, then the answer lost: the new pair never reached the client, and the token
    // it presented is spent, as it would be on the platform.
    let lost = s
        .http
        .post(s.url(scope::SHOPEE_REFRESH))
        .query(&{
            let ts = s.sim.clock().now_secs().to_string();
            let sign = hmac_hex(TEST_PARTNER_KEY, &format!("{TEST_PARTNER_ID}{}{ts}", scope::SHOPEE_REFRESH));
            [("partner_id", TEST_PARTNER_ID.to_string()), ("timestamp", ts), ("sign", sign)]
        })
        .json(&json!({"refresh_token": refresh, "partner_id": TEST_PARTNER_ID, "shop_id": TEST_SHOP_ID}))
        .send()
        .await;
    assert!(lost.is_err() || lost.unwrap().bytes().await.is_err());
    shopee_err(
        &s.refresh(&refresh, TEST_SHOP_ID).await,
        "error_auth",
        "Invalid refresh_token.",
    );
    let c = s.sim.tokens();
    let c = c.credential("shop:600001").unwrap();
    assert_eq!((c.refreshes, c.spent_refresh_token_uses), (1, 1));
}

#[tokio::test]
async fn shopee_reset_gives_back_the_initial_tokens() {
    let s = Shopee::start(ShopeeSimConfig::default()).await;
    let shop = s.sim.shops()[0].clone();
    shopee_ok(&s.refresh(&shop.refresh_token, TEST_SHOP_ID).await);
    shopee_err(
        &s.refresh(&shop.refresh_token, TEST_SHOP_ID).await,
        "error_auth",
        "Invalid refresh_token.",
    );
    s.sim
        .set_token_lifetimes(LifetimesPatch {
            access_ms: Some(5),
            ..Default::default()
        })
        .unwrap();
    let r = s.http.post(s.url("/__sim/reset")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = s.refresh(&shop.refresh_token, TEST_SHOP_ID).await;
    assert_eq!(
        shopee_ok(&r)["expire_in"],
        4 * 3600,
        "lifetimes back to the configuration"
    );
    assert_eq!(
        s.sim.tokens().credential("shop:600001").unwrap().refreshes,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Lazada: `sign = HEX(HMAC-SHA256(app_secret, api_path + k1v1k2v2…))`, keys sorted.

struct Lazada {
    sim: LazadaSim,
    server: SimServer,
    http: Client,
}

impl Lazada {
    async fn start(config: LazadaSimConfig) -> Self {
        let sim = LazadaSim::new(config);
        let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Lazada {
            sim,
            server,
            http: Client::new(),
        }
    }

    /// Signs `extra` plus the system parameters and sends them, form-encoded in a POST or in
    /// the query of a GET, to `base + api_path`.
    async fn call(&self, base: &str, api_path: &str, get: bool, extra: &[(&str, &str)]) -> Value {
        let mut params: BTreeMap<String, String> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        params.insert("app_key".into(), LAZADA_TEST_APP_KEY.into());
        params.insert(
            "timestamp".into(),
            self.sim.clock().now_millis().to_string(),
        );
        params.insert("sign_method".into(), "sha256".into());
        let mut msg = api_path.to_owned();
        for (k, v) in &params {
            msg.push_str(k);
            msg.push_str(v);
        }
        params.insert(
            "sign".into(),
            hmac_hex(LAZADA_TEST_APP_SECRET, &msg).to_uppercase(),
        );
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let url = format!("{base}{api_path}");
        let req = if get {
            self.http.get(format!("{url}?{}", form(&pairs)))
        } else {
            self.http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&pairs))
        };
        req.send().await.unwrap().json().await.unwrap()
    }

    fn auth(&self) -> String {
        LazadaSim::auth_base_url(&self.server)
    }

    async fn seller(&self, country: &str, token: &str) -> Value {
        let base = LazadaSim::gateway_base_url(&self.server, country);
        self.call(&base, "/seller/get", true, &[("access_token", token)])
            .await
    }
}

fn lazada_ok(v: &Value) -> &Value {
    assert_eq!(v["code"], "0", "{v}");
    v
}

#[tokio::test]
async fn lazada_code_for_one_seller_token_valid_on_every_gateway() {
    let lz = Lazada::start(LazadaSimConfig::default()).await;
    let creds = lz.sim.credentials();
    let v = lz
        .call(
            &lz.auth(),
            "/auth/token/create",
            false,
            &[("code", &creds.authorization_code)],
        )
        .await;
    let pair = lazada_ok(&v).clone();
    assert_eq!(pair["expires_in"], 30 * DAY);
    assert_eq!(pair["refresh_expires_in"], 180 * DAY);
    assert_eq!(
        (pair["country"].as_str(), pair["account_platform"].as_str()),
        (Some("cb"), Some("seller_center"))
    );
    assert_eq!(pair["account"], "seller@lazada-sim.invalid");
    let countries = pair["country_user_info"].as_array().unwrap();
    assert_eq!(countries.len(), 6);
    for (entry, country) in countries.iter().zip(GATEWAYS) {
        assert_eq!(entry["country"], country);
        assert_eq!(entry["seller_id"], seller_id_in(country).to_string());
    }
    // Once only.
    let again = lz
        .call(
            &lz.auth(),
            "/auth/token/create",
            true,
            &[("code", &creds.authorization_code)],
        )
        .await;
    assert_eq!(
        (again["code"].as_str(), again["message"].as_str()),
        (
            Some(lazada_codes::INVALID_CODE),
            Some("Invalid authorization code")
        )
    );

    // One token, two gateways, each answering its own seller id.
    let token = pair["access_token"].as_str().unwrap();
    let sg = lz.seller("sg", token).await;
    let my = lz.seller("my", token).await;
    assert_eq!(lazada_ok(&sg)["data"]["seller_id"], seller_id_in("sg"));
    assert_eq!(lazada_ok(&my)["data"]["seller_id"], seller_id_in("my"));
    // The token calls answer on the auth gateway only; signed like every call.
    let elsewhere = lz
        .call(
            &LazadaSim::rest_base_url(&lz.server),
            "/auth/token/create",
            false,
            &[("code", "x")],
        )
        .await;
    assert_eq!(elsewhere["code"], lazada_codes::INVALID_API_PATH);
    let r = lz
        .http
        .post(format!("{}/auth/token/create", lz.auth()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("app_key", LAZADA_TEST_APP_KEY),
            ("sign_method", "sha256"),
            ("timestamp", &lz.sim.clock().now_millis().to_string()),
            ("code", "x"),
            ("sign", "00"),
        ]))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], lazada_codes::INCOMPLETE_SIGNATURE);
    let wire = lz.sim.wire().calls("/auth/token/create");
    assert_eq!(wire.len(), 4);
    assert_eq!(wire[1].error.as_deref(), Some(lazada_codes::INVALID_CODE));
}

#[tokio::test]
async fn lazada_refreshing_never_extends_the_authorization() {
    let lz = Lazada::start(LazadaSimConfig::default()).await;
    let creds = lz.sim.credentials();
    lz.sim.clock().advance(Duration::from_secs(10 * DAY));
    let v = lz
        .call(
            &lz.auth(),
            "/auth/token/refresh",
            false,
            &[("refresh_token", &creds.refresh_token)],
        )
        .await;
    let one = lazada_ok(&v).clone();
    assert_eq!(one["expires_in"], 30 * DAY);
    let remaining = one["refresh_expires_in"].as_u64().unwrap();
    assert!(
        (170 * DAY - 5..=170 * DAY).contains(&remaining),
        "{remaining}"
    );
    assert_eq!(one["country_user_info_list"].as_array().unwrap().len(), 6);
    let token = one["access_token"].as_str().unwrap();
    lazada_ok(&lz.seller("th", token).await);

    lz.sim.clock().advance(Duration::from_secs(100 * DAY));
    let v = lz
        .call(
            &lz.auth(),
            "/auth/token/refresh",
            true,
            &[("refresh_token", one["refresh_token"].as_str().unwrap())],
        )
        .await;
    let two = lazada_ok(&v).clone();
    let remaining = two["refresh_expires_in"].as_u64().unwrap();
    assert!(
        (70 * DAY - 5..=70 * DAY).contains(&remaining),
        "{remaining}"
    );

    // Past its lifetime the access token is refused with Lazada's answer.
    lz.sim.clock().advance(Duration::from_secs(30 * DAY));
    let v = lz.seller("vn", two["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (v["code"].as_str(), v["message"].as_str()),
        (
            Some(lazada_codes::ILLEGAL_ACCESS_TOKEN),
            Some("The specified access token is invalid or expired")
        )
    );
    // Past 180 days of authorization, no refresh works: the seller authorizes again.
    lz.sim.clock().advance(Duration::from_secs(41 * DAY));
    let v = lz
        .call(
            &lz.auth(),
            "/auth/token/refresh",
            false,
            &[("refresh_token", two["refresh_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(
        (v["code"].as_str(), v["message"].as_str()),
        (
            Some(lazada_codes::ILLEGAL_REFRESH_TOKEN),
            Some("The specified refresh token is invalid or expired")
        )
    );
    let c = lz.sim.tokens();
    let seller = c.credential("seller:seller@lazada-sim.invalid").unwrap();
    assert_eq!(
        (
            seller.refreshes,
            seller.refused_expired,
            seller.refused_refreshes
        ),
        (2, 1, 1)
    );
    let missing = lz.call(&lz.auth(), "/auth/token/refresh", false, &[]).await;
    assert_eq!(missing["code"], lazada_codes::MISSING_PARAMETER);
}

// ---------------------------------------------------------------------------------------------
// eBay: `POST /identity/v1/oauth2/token`, form-encoded, `Authorization: Basic`.

struct Ebay {
    sim: EbaySim,
    server: SimServer,
    http: Client,
}

impl Ebay {
    async fn start(config: EbaySimConfig) -> Self {
        let sim = EbaySim::new(config);
        let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Ebay {
            sim,
            server,
            http: Client::new(),
        }
    }

    async fn token(&self, basic: Option<(&str, &str)>, pairs: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self
            .http
            .post(EbaySim::token_url(&self.server))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs));
        if let Some((id, secret)) = basic {
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            req = req.header("authorization", format!("Basic {b64}"));
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn app(&self, pairs: &[(&str, &str)]) -> (u16, Value) {
        self.token(Some((TEST_CLIENT_ID, TEST_CLIENT_SECRET)), pairs)
            .await
    }

    async fn get_video(&self, token: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!(
                "{}/video/nope",
                EbaySim::api_base_url(&self.server)
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

fn oauth_err(r: &(u16, Value), status: u16, error: &str) {
    assert_eq!(
        (r.0, r.1["error"].as_str()),
        (status, Some(error)),
        "{}",
        r.1
    );
}

#[tokio::test]
async fn ebay_grants_need_basic_auth_the_runame_and_a_fresh_code() {
    let e = Ebay::start(EbaySimConfig::default()).await;
    let account = e.sim.accounts()[0].clone();
    let code = account["authorization_code"].as_str().unwrap();
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", TEST_RU_NAME),
    ];
    oauth_err(&e.token(None, &grant).await, 401, "invalid_client");
    let wrong = e
        .token(Some((TEST_CLIENT_ID, "not-the-secret")), &grant)
        .await;
    oauth_err(&wrong, 401, "invalid_client");
    assert_eq!(wrong.1["error_description"], "client authentication failed");
    oauth_err(
        &e.token(Some(("someone-else", TEST_CLIENT_SECRET)), &grant)
            .await,
        401,
        "invalid_client",
    );
    oauth_err(
        &e.app(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "Other-RuName"),
        ])
        .await,
        400,
        "invalid_grant",
    );

    let (status, pair) = e.app(&grant).await;
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["token_type"], "User Access Token");
    assert_eq!(pair["expires_in"], 7200);
    assert_eq!(pair["refresh_token_expires_in"], 47_304_000);
    let again = e.app(&grant).await;
    oauth_err(&again, 400, "invalid_grant");
    assert_eq!(
        again.1["error_description"],
        "the provided authorization grant code is invalid or was issued to another client"
    );
    // The new token passes the Media API's check (the video is unknown, not the token).
    assert_eq!(
        e.get_video(pair["access_token"].as_str().unwrap()).await.0,
        404
    );

    // The refresh grant answers an access token only; the refresh token serves again.
    let refresh = pair["refresh_token"].as_str().unwrap();
    for _ in 0..2 {
        let (status, v) = e
            .app(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                (
                    "scope",
                    "https://api.ebay.com/oauth/api_scope/sell.inventory",
                ),
            ])
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            (v["token_type"].as_str(), v["expires_in"].as_u64()),
            (Some("User Access Token"), Some(7200))
        );
        assert!(v.get("refresh_token").is_none(), "{v}");
        assert_eq!(
            e.get_video(v["access_token"].as_str().unwrap()).await.0,
            404
        );
    }
    let bad = e
        .app(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "v^1.1#nope"),
        ])
        .await;
    oauth_err(&bad, 400, "invalid_grant");
    assert_eq!(
        bad.1["error_description"],
        "the provided authorization refresh token is invalid or was issued to another client"
    );
    oauth_err(
        &e.app(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            (
                "scope",
                "https://api.ebay.com/oauth/api_scope/sell.finances",
            ),
        ])
        .await,
        400,
        "invalid_scope",
    );
    oauth_err(
        &e.app(&[("grant_type", "password")]).await,
        400,
        "unsupported_grant_type",
    );
    oauth_err(
        &e.app(&[("grant_type", "refresh_token")]).await,
        400,
        "invalid_request",
    );
    // JSON is not the form the endpoint reads.
    let b64 = base64::engine::general_purpose::STANDARD
        .encode(format!("{TEST_CLIENT_ID}:{TEST_CLIENT_SECRET}"));
    let r = e
        .http
        .post(EbaySim::token_url(&e.server))
        .header("authorization", format!("Basic {b64}"))
        .json(&json!({"grant_type": "refresh_token", "refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The wire log names the client and never its secret.
    let wire = e.sim.wire().calls("oauthToken");
    assert!(wire
        .iter()
        .all(|w| !format!("{w:?}").contains(TEST_CLIENT_SECRET)));
    assert_eq!(
        wire[4].param("authorization"),
        Some(format!("Basic {TEST_CLIENT_ID}:***").as_str())
    );
    let report = e.sim.tokens();
    let user = report.credential("user:sim_ebay_seller").unwrap();
    assert_eq!((user.code_exchanges, user.refreshes), (1, 2));
    assert_eq!(report.refused_unknown, 1, "the made-up refresh token");
}

#[tokio::test]
async fn ebay_expired_and_revoked_tokens_get_ebays_answers() {
    let e = Ebay::start(EbaySimConfig::default()).await;
    let (status, _) = control(
        &e.http,
        "PUT",
        format!("{}/__sim/tokens/lifetimes", e.server.base_url()),
        Some(json!({"access_ms": 1500})),
    )
    .await;
    assert_eq!(status, 200);
    let refresh = e.sim.accounts()[0]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, v) = e
        .app(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(v["expires_in"], 1);
    let token = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(e.get_video(&token).await.0, 404);
    e.sim.clock().advance(Duration::from_millis(1500));
    let (status, body) = e.get_video(&token).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["errors"][0],
        json!({
            "errorId": 1001, "domain": "OAuth", "category": "REQUEST",
            "message": "Invalid access token",
            "longMessage": "Invalid access token. Check the value of the Authorization HTTP request header.",
        })
    );
    assert_eq!(
        e.sim
            .tokens()
            .credential("user:sim_ebay_seller")
            .unwrap()
            .refused_expired,
        1
    );
    // A revoked refresh token is refused: the user must consent again.
    let (status, _) = control(
        &e.http,
        "POST",
        format!("{}/__sim/tokens/revoke", e.server.base_url()),
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(status, 200);
    oauth_err(
        &e.app(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .await,
        400,
        "invalid_grant",
    );
    // And a whole account at once: codes too.
    let code = e.sim.authorization_code(&json!({})).unwrap();
    assert_eq!(code.expires_in, 299);
    e.sim
        .revoke_tokens(&Revoke {
            account: Some("user:sim_ebay_seller".into()),
            ..Default::default()
        })
        .unwrap();
    oauth_err(
        &e.app(&[
            ("grant_type", "authorization_code"),
            ("code", &code.code),
            ("redirect_uri", TEST_RU_NAME),
        ])
        .await,
        400,
        "invalid_grant",
    );
}

// ---------------------------------------------------------------------------------------------
// WeChat: `POST /cgi-bin/stable_token` JSON; a store call answers 40001/42001 on a bad token.

struct Wechat {
    sim: WechatSim,
    server: SimServer,
    http: Client,
}

impl Wechat {
    async fn start(config: WechatSimConfig) -> Self {
        let sim = WechatSim::new(config);
        let server = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Wechat {
            sim,
            server,
            http: Client::new(),
        }
    }

    async fn stable(&self, force: Option<bool>) -> Value {
        let mut body = json!({"grant_type": "client_credential", "appid": TEST_APPID, "secret": TEST_APPSECRET});
        if let Some(f) = force {
            body["force_refresh"] = json!(f);
        }
        self.post_stable(body).await
    }

    async fn post_stable(&self, body: Value) -> Value {
        self.http
            .post(format!("{}/cgi-bin/stable_token", self.server.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A store call's `errcode` with `token`: 0 means the token passed (the upload key is
    /// unknown, so the simulator's own "no such upload" comes back instead).
    async fn use_token(&self, token: &str) -> i64 {
        let v: Value = self
            .http
            .get(format!(
                "{}/shop/ec/basics/video/getplayinfo",
                self.server.base_url()
            ))
            .query(&[("access_token", token), ("video_upload_key", "nope")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match v["errcode"].as_i64().unwrap() {
            wechat_code::NO_SUCH_UPLOAD => 0,
            other => other,
        }
    }
}

fn token_of(v: &Value) -> String {
    assert!(v.get("errcode").is_none(), "{v}");
    v["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn wechat_stable_token_is_stable_then_renewed_with_five_minutes_of_overlap() {
    let w = Wechat::start(WechatSimConfig::default()).await;
    let first = w.stable(None).await;
    let a = token_of(&first);
    assert_eq!(first["expires_in"], 7200);
    w.sim.clock().advance(Duration::from_secs(1000));
    let again = w.stable(Some(false)).await;
    assert_eq!(token_of(&again), a, "normal mode answers the same token");
    let left = again["expires_in"].as_i64().unwrap();
    assert!((6199..=6200).contains(&left), "the remaining life: {left}");
    assert_eq!(w.use_token(&a).await, 0);

    // In its last five minutes a call gets a new token; both serve until the old one expires.
    w.sim
        .clock()
        .advance(Duration::from_secs(7200 - 1000 - 299));
    let renewed = w.stable(None).await;
    let b = token_of(&renewed);
    assert_ne!(a, b);
    assert_eq!(renewed["expires_in"], 7200);
    assert_eq!((w.use_token(&a).await, w.use_token(&b).await), (0, 0));
    assert_eq!(token_of(&w.stable(None).await), b);
    w.sim.clock().advance(Duration::from_secs(300));
    assert_eq!(w.use_token(&a).await, wechat_code::ACCESS_TOKEN_EXPIRED);
    assert_eq!(w.use_token(&b).await, 0);

    // The older call's tokens are isolated from the stable ones: fetching one leaves B alone.
    let r: Value = w
        .http
        .get(format!("{}/cgi-bin/token", w.server.base_url()))
        .query(&[
            ("grant_type", "client_credential"),
            ("appid", TEST_APPID),
            ("secret", TEST_APPSECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let legacy = token_of(&r);
    w.sim.clock().advance(Duration::from_secs(301));
    assert_eq!((w.use_token(&b).await, w.use_token(&legacy).await), (0, 0));
    // The initial test token belongs to `/cgi-bin/token`: replaced, it lasted 5 minutes more.
    assert_eq!(
        w.use_token(marketmedia_sim::wechat::TEST_ACCESS_TOKEN)
            .await,
        wechat_code::INVALID_CREDENTIAL
    );

    // Refusals in WeChat's codes.
    let v = w
        .post_stable(json!({"grant_type": "client_credential", "appid": TEST_APPID, "secret": "x"}))
        .await;
    assert_eq!(v["errcode"], wechat_code::INVALID_APPSECRET);
    let v = w.post_stable(json!({"grant_type": "client_credential", "appid": "wxother", "secret": TEST_APPSECRET})).await;
    assert_eq!(v["errcode"], wechat_code::INVALID_APPID);
    let v = w
        .post_stable(
            json!({"grant_type": "password", "appid": TEST_APPID, "secret": TEST_APPSECRET}),
        )
        .await;
    assert_eq!(v["errcode"], wechat_code::INVALID_GRANT_TYPE);
    let v: Value = w
        .http
        .get(format!("{}/cgi-bin/stable_token", w.server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errcode"], wechat_code::REQUIRE_POST);
    let report = w.sim.tokens();
    let stable = report.credential("app:wx5a1m0c0ffee0test").unwrap();
    assert_eq!((stable.refreshes, stable.refused_expired), (2, 1));
    assert_eq!(w.sim.wire().count("stable_token"), 8);
}

#[tokio::test]
async fn wechat_force_refresh_revokes_the_old_token_and_is_limited() {
    let w = Wechat::start(WechatSimConfig {
        stable_force_refresh_daily_limit: 2,
        ..WechatSimConfig::default()
    })
    .await;
    let a = token_of(&w.stable(None).await);
    let b = token_of(&w.stable(Some(true)).await);
    assert_ne!(a, b);
    assert_eq!(
        w.use_token(&a).await,
        wechat_code::INVALID_CREDENTIAL,
        "revoked at once"
    );
    // Within 30 s a force refresh does not refresh.
    w.sim.clock().advance(Duration::from_secs(10));
    assert_eq!(token_of(&w.stable(Some(true)).await), b);
    w.sim.clock().advance(Duration::from_secs(21));
    let c = token_of(&w.stable(Some(true)).await);
    assert_ne!(b, c);
    w.sim.clock().advance(Duration::from_secs(31));
    let v = w.stable(Some(true)).await;
    assert_eq!(v["errcode"], wechat_code::DAILY_QUOTA, "{v}");
    assert_eq!(
        token_of(&w.stable(None).await),
        c,
        "normal mode still answers"
    );
    w.sim.clock().advance(Duration::from_secs(DAY));
    let d = token_of(&w.stable(Some(true)).await);
    assert_ne!(c, d);
    let v = w.post_stable(json!({"grant_type": "client_credential", "appid": TEST_APPID, "secret": TEST_APPSECRET, "force_refresh": "yes"})).await;
    assert_eq!(v["errcode"], wechat_code::DATA_FORMAT);
    // Lifetimes: the renewal window must stay shorter than the token's life.
    assert!(w
        .sim
        .set_token_lifetimes(LifetimesPatch {
            access_ms: Some(200_000),
            ..Default::default()
        })
        .is_err());
    let l = w
        .sim
        .set_token_lifetimes(LifetimesPatch {
            access_ms: Some(4000),
            overlap_ms: Some(1000),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((l.access_ms, l.overlap_ms, l.refresh_ms), (4000, 1000, 0));
    assert!(w
        .sim
        .set_token_lifetimes(LifetimesPatch {
            refresh_ms: Some(1),
            ..Default::default()
        })
        .is_err());
    assert!(
        w.sim.authorization_code(&json!({})).is_err(),
        "WeChat has no codes"
    );
}

// ---------------------------------------------------------------------------------------------
// The control surface on SMH, and the standalone JSON line.

#[tokio::test]
async fn smh_sets_only_its_token_period_and_keeps_no_ledger() {
    let sim = SmhSim::new(SmhSimConfig::default());
    let servers = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let api = servers.api_base_url();
    let http = Client::new();
    let (status, _) = control(&http, "GET", format!("{api}/__sim/tokens"), None).await;
    assert_eq!(status, 404);
    let (status, v) = control(
        &http,
        "PUT",
        format!("{api}/__sim/tokens/lifetimes"),
        Some(json!({"access_ms": 600_000})),
    )
    .await;
    assert_eq!((status, &v["access_ms"]), (200, &json!(600_000)));
    assert_eq!(sim.config().token_lifetime, Duration::from_secs(600));
    let (status, _) = control(
        &http,
        "PUT",
        format!("{api}/__sim/tokens/lifetimes"),
        Some(json!({"refresh_ms": 1000})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, v) = control(&http, "GET", format!("{api}/__sim/tokens/lifetimes"), None).await;
    assert_eq!((status, &v["access_ms"]), (200, &json!(600_000)));
}

#[tokio::test]
async fn the_json_line_gives_each_account_a_refresh_token_and_a_code_that_work() {
    let running = marketmedia_sim::standalone::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let line = running.info();
    let http = Client::new();
    for platform in ["shopee", "lazada", "ebay"] {
        let accounts = line[platform]["accounts"].as_array().unwrap();
        assert!(!accounts.is_empty(), "{platform}");
        for a in accounts {
            assert!(
                a["refresh_token"].as_str().is_some_and(|t| !t.is_empty()),
                "{platform}: {a}"
            );
            assert!(
                a["authorization_code"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty()),
                "{platform}: {a}"
            );
        }
    }
    // The eBay account's code, exchanged by hand against the printed token URL.
    let ebay = &line["ebay"];
    let creds = &ebay["credentials"];
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        creds["client_id"].as_str().unwrap(),
        creds["client_secret"].as_str().unwrap()
    ));
    let r = http
        .post(ebay["token_url"].as_str().unwrap())
        .header("authorization", format!("Basic {b64}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            (
                "code",
                ebay["accounts"][0]["authorization_code"].as_str().unwrap(),
            ),
            ("redirect_uri", creds["ru_name"].as_str().unwrap()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Lazada's two accounts are one seller: one refresh token, one code, one auth gateway.
    let lz = &line["lazada"];
    assert_eq!(
        lz["accounts"][0]["refresh_token"],
        lz["accounts"][1]["refresh_token"]
    );
    assert!(lz["auth_base_url"]
        .as_str()
        .unwrap()
        .ends_with("/auth/rest"));
}
