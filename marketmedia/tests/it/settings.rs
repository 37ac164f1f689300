//! Every registered marketplace's settings, from its declaration alone (no line here names a
//! marketplace): each key and each variable it declares, set, reaches the provider's built
//! configuration ([`Marketplace::read_back`]); a misspelt key is refused naming the closest;
//! a secret never shows in a `Debug`, an error or an account's description.

use std::collections::BTreeMap;

use marketmedia::raw::{Requirement, Setting, SettingKind};
use marketmedia::{Account, ConnectOptions, Marketplace, Registry, Settings};

/// A value a secret is given in these tests: distinct per key, so a leak names its source.
fn secret_value(market: &dyn Marketplace, s: &Setting) -> String {
    format!("sk-live-{}-{}-4f9a8b", market.name(), s.key)
}

/// The value a test gives `s`: its example, or a distinctive secret.
fn value(market: &dyn Marketplace, s: &Setting) -> String {
    if s.is_secret() {
        secret_value(market, s)
    } else {
        s.example.to_owned()
    }
}

/// The required settings of `market` (with their values), for a test of `key`: a setting
/// required unless `key` is given is left out, so that `key` is the one used. An
/// `access_token` is given too by marketplaces that take a `refresh_token` (Shopee, Lazada,
/// eBay: their tokens may instead come from a credential store, which `connect` is not
/// given here).
fn base(market: &dyn Marketplace, key: &str) -> Vec<(&'static str, String)> {
    let refreshes = market.settings().iter().any(|s| s.key == "refresh_token");
    market
        .settings()
        .iter()
        .filter(|s| match s.requirement {
            Requirement::Required => true,
            Requirement::Unless(other) => other != key,
            Requirement::Optional => refreshes && s.key == "access_token",
        })
        .map(|s| (s.key, value(market, s)))
        .collect()
}

/// Every secret value a test of `market` gives.
fn secrets(market: &dyn Marketplace) -> Vec<String> {
    market
        .settings()
        .iter()
        .filter(|s| s.is_secret())
        .map(|s| secret_value(market, s))
        .collect()
}

fn registry() -> Registry {
    let r = marketmedia::registry();
    assert!(
        !r.is_empty(),
        "no marketplace: this test would check nothing"
    );
    r
}

#[test]
fn every_declaration_is_complete_and_its_examples_are_read() {
    for market in registry().iter() {
        let name = market.name();
        assert!(!market.title().is_empty(), "{name}");
        assert!(!market.settings().is_empty(), "{name}");
        let mut keys = std::collections::BTreeSet::new();
        for s in market.settings() {
            assert!(keys.insert(s.key), "{name}: {} declared twice", s.key);
            assert!(!s.help.is_empty(), "{name}.{}: no help", s.key);
            assert!(!s.example.is_empty(), "{name}.{}: no example", s.key);
            assert!(
                s.key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}.{}: keys are lowercase with _",
                s.key
            );
            if let Requirement::Unless(other) = s.requirement {
                assert!(
                    market.settings().iter().any(|o| o.key == other),
                    "{name}.{} is required unless {other}, which is not declared",
                    s.key
                );
            }
            if let SettingKind::Choice(words) = s.kind {
                assert!(words.contains(&s.example), "{name}.{}", s.key);
            }
            let mut one = Settings::new(market.settings());
            one.set(s.key, &value(market.as_ref(), s), marketmedia::Origin::Code)
                .unwrap_or_else(|e| panic!("{name}.{}: its example is refused: {e}", s.key));
        }
    }
}

/// Each key, set in a map (as a config file gives it), and each variable, set in the
/// environment, reaches the configuration the marketplace builds.
#[test]
fn every_key_and_every_variable_reaches_the_provider() {
    for market in registry().iter() {
        let m = market.as_ref();
        for s in m.settings() {
            let mut pairs: BTreeMap<&str, String> = base(m, s.key).into_iter().collect();
            pairs.insert(s.key, value(m, s));
            let from_map = Settings::from_map(m.settings(), pairs.iter())
                .unwrap_or_else(|e| panic!("{}.{}: {e}", m.name(), s.key));
            let vars: BTreeMap<String, String> = pairs
                .iter()
                .map(|(k, v)| {
                    (
                        format!("{}{}", m.env_prefix(), k.to_ascii_uppercase()),
                        v.clone(),
                    )
                })
                .collect();
            let from_env =
                Settings::from_env_with(m.settings(), &m.env_prefix(), &|n| vars.get(n).cloned())
                    .unwrap_or_else(|e| panic!("{}.{}: {e}", m.name(), s.key));
            assert_eq!(from_map, from_env, "{}.{}", m.name(), s.key);
            let built = m
                .read_back(&from_map)
                .unwrap_or_else(|e| panic!("{}.{}: {e}", m.name(), s.key));
            assert_eq!(
                built.expose(s.key),
                from_map.expose(s.key),
                "{}.{} does not reach the provider (built: {built:?})",
                m.name(),
                s.key
            );
            // Its client builds too, and never shows a secret.
            let client = m
                .connect(&from_map, &ConnectOptions::default())
                .unwrap_or_else(|e| panic!("{}.{}: {e}", m.name(), s.key));
            let shown = format!(
                "{from_map:?} {built:?} {client:?} {:?}",
                m.account(&from_map)
            );
            for secret in secrets(m) {
                assert!(
                    !shown.contains(&secret),
                    "{}: {secret} in {shown}",
                    m.name()
                );
            }
        }
    }
}

#[test]
fn a_misspelt_key_is_refused_naming_the_closest() {
    for market in registry().iter() {
        let m = market.as_ref();
        for s in m.settings() {
            let typo = format!("{}{}", s.key, s.key.chars().last().unwrap_or('x'));
            let err = Settings::from_map(m.settings(), [(typo.as_str(), "1")]).unwrap_err();
            assert!(
                err.message().contains(&format!("did you mean `{}`", s.key)),
                "{}: {err}",
                m.name()
            );
        }
    }
}

/// Required settings missing, or a value its kind cannot read: the error names the key (or
/// the variable) and never a secret given beside it.
#[test]
fn errors_never_show_a_secret() {
    for market in registry().iter() {
        let m = market.as_ref();
        let required: Vec<&Setting> = m
            .settings()
            .iter()
            .filter(|s| s.requirement == Requirement::Required)
            .collect();
        // Every secret set, one required setting left out at a time.
        for left_out in &required {
            let vars: BTreeMap<String, String> = m
                .settings()
                .iter()
                .filter(|s| {
                    s.key != left_out.key
                        && (s.is_secret() || s.requirement != Requirement::Optional)
                })
                .map(|s| {
                    (
                        format!("MARKETMEDIA_ACCOUNT_SHOP_A_{}", s.env_key()),
                        value(m, s),
                    )
                })
                .chain([(
                    "MARKETMEDIA_ACCOUNT_SHOP_A_MARKETPLACE".to_owned(),
                    m.name().to_owned(),
                )])
                .collect();
            let err = Account::from_env_with(&registry(), "shop-a", &|n| vars.get(n).cloned())
                .expect_err("a required setting is missing");
            let text = format!("{err} {err:?}");
            assert!(
                text.contains(&format!(
                    "MARKETMEDIA_ACCOUNT_SHOP_A_{}",
                    left_out.env_key()
                )),
                "{}: {text}",
                m.name()
            );
            for secret in secrets(m) {
                assert!(!text.contains(&secret), "{}: {text}", m.name());
            }
        }
        // A number, a boolean or a URL that cannot be read: named, never quoted.
        for s in m.settings().iter().filter(|s| {
            matches!(
                s.kind,
                SettingKind::Number | SettingKind::Flag | SettingKind::Url | SettingKind::Choice(_)
            )
        }) {
            let err = Settings::from_map(m.settings(), [(s.key, "sk-live-not-a-value")])
                .expect_err("not a value of its kind");
            assert!(err.message().contains(s.key), "{}: {err}", m.name());
            assert!(!err.to_string().contains("sk-live"), "{}: {err}", m.name());
        }
    }
}

/// An account read from the environment (what the crate docs show): its `Debug`, its
/// description and its identity show no secret.
#[test]
fn an_account_from_the_environment_keeps_its_secrets() {
    for market in registry().iter() {
        let m = market.as_ref();
        let vars: BTreeMap<String, String> = base(m, "")
            .into_iter()
            .map(|(k, v)| {
                (
                    format!("MARKETMEDIA_ACCOUNT_SHOP_B_{}", k.to_ascii_uppercase()),
                    v,
                )
            })
            .chain([(
                "MARKETMEDIA_ACCOUNT_SHOP_B_MARKETPLACE".to_owned(),
                m.name().to_owned(),
            )])
            .collect();
        let account = Account::from_env_with(&registry(), "shop-b", &|n| vars.get(n).cloned())
            .unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        let shown = format!(
            "{account:?} {:?} {:?}",
            account.info().unwrap(),
            account.account_ref().unwrap()
        );
        for secret in secrets(m) {
            assert!(!shown.contains(&secret), "{}: {shown}", m.name());
        }
    }
}

/// A marketplace states its required per-upload fields twice: in its declaration (which the
/// command and batch check first, with their help texts) and in its uploader's rules (which
/// the driver checks before any request). The two lists are the same set.
#[test]
fn the_declared_upload_fields_are_the_ones_the_rules_require() {
    let mut compared = 0;
    for market in registry().iter() {
        let m = market.as_ref();
        let pairs = base(m, "");
        let settings = Settings::from_map(m.settings(), pairs.iter().map(|(k, v)| (*k, v)))
            .unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        let client = m
            .connect(&settings, &ConnectOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        let mut declared: Vec<&str> = m
            .upload_fields()
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        declared.sort_unstable();
        let mut required: Vec<&str> = client
            .video()
            .rules()
            .required_meta
            .iter()
            .map(|f| f.name())
            .collect();
        required.sort_unstable();
        assert_eq!(declared, required, "{}", m.name());
        compared += declared.len();
    }
    assert!(
        compared > 0,
        "no marketplace requires a field: nothing was compared"
    );
}
