//! Every registered marketplace's settings through the command (no line here names a
//! marketplace): each key of a config file table and each variable, set, reaches the
//! provider the account is built with; a misspelt key in the file is refused and a misspelt
//! variable warned about, each naming the closest; a secret never shows in `Debug`, an error
//! or `marketmedia accounts`.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use marketmedia::raw::{Requirement, Setting, SettingKind};
use marketmedia::Marketplace;
use marketmedia_cli::config::{parse, unknown_env_warnings, Config};
use marketmedia_cli::Setup;

const BIN: &str = env!("CARGO_BIN_EXE_marketmedia");

fn secret_value(market: &dyn Marketplace, s: &Setting) -> String {
    format!("sk-live-{}-{}-77c1", market.name(), s.key)
}

fn value(market: &dyn Marketplace, s: &Setting) -> String {
    if s.is_secret() {
        secret_value(market, s)
    } else {
        s.example.to_owned()
    }
}

/// `s = value` as a config file writes it.
fn toml_line(s: &Setting, value: &str) -> String {
    match s.kind {
        SettingKind::Number | SettingKind::Flag => format!("{} = {value}\n", s.key),
        _ => format!("{} = {:?}\n", s.key, value),
    }
}

/// The required settings of `market`, leaving out those `key` stands in for; for a
/// marketplace with none (eBay: an access token or the app's keys and a refresh token, or
/// tokens stored by `accounts authorize`), its first setting that configures an account.
fn base(market: &dyn Marketplace, key: &str) -> Vec<&'static Setting> {
    let required: Vec<&'static Setting> = market
        .settings()
        .iter()
        .filter(|s| match s.requirement {
            Requirement::Required => true,
            Requirement::Unless(other) => other != key,
            Requirement::Optional => false,
        })
        .collect();
    if !required.is_empty() {
        return required;
    }
    market
        .settings()
        .iter()
        .filter(|s| s.configures && !s.shared && s.key != key)
        .take(1)
        .collect()
}

fn resolve(file: &str, vars: &BTreeMap<String, String>) -> marketmedia::Result<Config> {
    let setup = Setup::default();
    let names: Vec<String> = vars.keys().cloned().collect();
    let parsed = parse(&setup.registry, file).map_err(marketmedia::Error::invalid_input)?;
    Config::resolve(&setup, parsed, &|n| vars.get(n).cloned(), &names)
}

/// What the account's provider is built with, for `key`.
fn reached(config: &Config, account: &str, key: &str) -> Option<String> {
    let a = config.account(account).expect("the account is configured");
    let built = a
        .market
        .read_back(&a.settings)
        .expect("its provider builds");
    built.expose(key).map(str::to_owned)
}

#[test]
fn every_key_of_a_table_and_every_variable_reaches_the_provider() {
    let registry = Setup::default().registry;
    assert!(!registry.is_empty());
    for market in registry.iter() {
        let m = market.as_ref();
        let name = m.name();
        for s in m.settings() {
            let v = value(m, s);
            let required: String = base(m, s.key)
                .iter()
                .filter(|b| b.key != s.key)
                .map(|b| toml_line(b, &value(m, b)))
                .collect();
            // A named account's table, and the marketplace's own table.
            let named = format!(
                "[accounts.acct]\nmarketplace = \"{name}\"\n{required}{}",
                toml_line(s, &v)
            );
            let c = resolve(&named, &BTreeMap::new())
                .unwrap_or_else(|e| panic!("{name}.{}: {e}", s.key));
            let want = c
                .account("acct")
                .unwrap()
                .settings
                .expose(s.key)
                .map(str::to_owned);
            assert!(want.is_some(), "{name}.{}: not read from the file", s.key);
            assert_eq!(reached(&c, "acct", s.key), want, "{name}.{} (file)", s.key);
            let legacy = format!("[{name}]\n{required}{}", toml_line(s, &v));
            let c = resolve(&legacy, &BTreeMap::new())
                .unwrap_or_else(|e| panic!("{name}.{}: {e}", s.key));
            assert_eq!(
                reached(&c, name, s.key),
                want,
                "{name}.{} ([{name}])",
                s.key
            );
            // The variables, the marketplace's and a named account's.
            let mut vars: BTreeMap<String, String> = base(m, s.key)
                .iter()
                .map(|b| (format!("{}{}", m.env_prefix(), b.env_key()), value(m, b)))
                .collect();
            vars.insert(format!("{}{}", m.env_prefix(), s.env_key()), v.clone());
            let c = resolve("", &vars).unwrap_or_else(|e| panic!("{name}.{}: {e}", s.key));
            assert_eq!(
                reached(&c, name, s.key),
                want,
                "{name}.{} (variable)",
                s.key
            );
            let vars: BTreeMap<String, String> = vars
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.replacen(&m.env_prefix(), "MARKETMEDIA_ACCOUNT_ACCT_", 1),
                        v,
                    )
                })
                .chain([(
                    "MARKETMEDIA_ACCOUNT_ACCT_MARKETPLACE".to_owned(),
                    name.to_owned(),
                )])
                .collect();
            let c = resolve("", &vars).unwrap_or_else(|e| panic!("{name}.{}: {e}", s.key));
            assert_eq!(
                reached(&c, "acct", s.key),
                want,
                "{name}.{} (account variable)",
                s.key
            );
        }
    }
}

#[test]
fn a_misspelt_key_is_refused_and_a_misspelt_variable_warned_about_with_the_closest() {
    let setup = Setup::default();
    let registry = &setup.registry;
    for market in registry.iter() {
        let name = market.name();
        for s in market.settings() {
            let typo = format!("{}{}", s.key, s.key.chars().last().unwrap_or('x'));
            for table in [
                format!("[{name}]"),
                format!("[accounts.a]\nmarketplace = \"{name}\""),
            ] {
                let err = parse(registry, &format!("{table}\n{typo} = \"1\"\n")).unwrap_err();
                assert!(
                    err.contains(&format!("did you mean `{}`", s.key)) && err.starts_with("line "),
                    "{name}: {err}"
                );
            }
            let var = format!("{}{}", market.env_prefix(), s.env_key());
            let typo = format!("{var}{}", var.chars().last().unwrap_or('X'));
            let w = unknown_env_warnings(registry, [typo.clone()], &[]);
            assert_eq!(
                w,
                [format!(
                    "warning: {typo} is not a variable marketmedia reads (did you mean {var}?)"
                )]
            );
            // A named account's variable: its marketplace's keys.
            let var = format!("MARKETMEDIA_ACCOUNT_SHOP_A_{}", s.env_key());
            let typo = format!("{var}{}", var.chars().last().unwrap_or('X'));
            let w = unknown_env_warnings(
                registry,
                [var.clone(), typo.clone()],
                &[("SHOP_A".to_owned(), name.to_owned())],
            );
            assert_eq!(w.len(), 1, "{w:?}");
            assert!(w[0].contains(&format!("did you mean {var}?")), "{w:?}");
        }
    }
}

/// A config file with an account of every registered marketplace, every secret set: the
/// accounts' list (table and JSON), their `Debug` and a partly configured account's error
/// show no secret.
#[test]
fn no_secret_in_accounts_debug_or_errors() {
    let registry = Setup::default().registry;
    let mut file = String::new();
    let mut secrets = Vec::new();
    for market in registry.iter() {
        let m = market.as_ref();
        file.push_str(&format!(
            "[accounts.acct-{}]\nmarketplace = \"{}\"\n",
            m.name(),
            m.name()
        ));
        for s in m
            .settings()
            .iter()
            .filter(|s| s.requirement != Requirement::Optional || s.is_secret())
        {
            file.push_str(&toml_line(s, &value(m, s)));
        }
        secrets.extend(
            m.settings()
                .iter()
                .filter(|s| s.is_secret())
                .map(|s| secret_value(m, s)),
        );
    }
    assert!(!secrets.is_empty());
    let config = resolve(&file, &BTreeMap::new()).unwrap();
    assert_eq!(config.accounts.len(), registry.len());
    let debug = format!("{config:?}");
    for secret in &secrets {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &file).unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .env_clear()
            .env("HOME", dir.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for json in [false, true] {
        let mut args = vec!["accounts", "--config", path.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for market in registry.iter() {
            assert!(
                shown.contains(&format!("acct-{}", market.name())),
                "{shown}"
            );
        }
        for secret in &secrets {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
    // Partly configured: every secret given, one required key missing.
    for market in registry.iter() {
        let m = market.as_ref();
        let Some(required) = m
            .settings()
            .iter()
            .find(|s| s.requirement == Requirement::Required)
        else {
            continue;
        };
        let mut partial = format!("[accounts.part]\nmarketplace = \"{}\"\n", m.name());
        for s in m
            .settings()
            .iter()
            .filter(|s| s.is_secret() && s.key != required.key)
        {
            partial.push_str(&toml_line(s, &value(m, s)));
        }
        std::fs::write(&path, &partial).unwrap();
        let out = run(&["accounts", "--config", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("only partly configured"), "{stderr}");
        assert!(
            stderr.contains(&format!("MARKETMEDIA_ACCOUNT_PART_{}", required.env_key())),
            "{stderr}"
        );
        for secret in &secrets {
            assert!(!stderr.contains(secret), "{secret} in {stderr}");
        }
    }
}
