//! Accounts: every shop a seller runs, each with a name.
//!
//! An account is a name, a marketplace, its credentials, its API host, its country or site
//! and its options, as rclone's named remotes are (`[name]` with `type = …`). A seller has any
//! number per marketplace:
//!
//! ```toml
//! [accounts.shopee-sg]
//! marketplace = "shopee"
//! partner_id = 2001887
//! partner_key = "…"
//! shop_id = 600001
//! access_token = "…"
//! country = "sg"
//!
//! [accounts.lazada-my]
//! marketplace = "lazada"
//! app_key = "100132"
//! app_secret = "…"
//! access_token = "…"
//! country = "my"                 # the gateway api.lazada.com.my unless base_url says otherwise
//! seller_id = "1000123456"
//! ```
//!
//! The legacy `[shopee]`-style tables and the `MARKETMEDIA_<MARKETPLACE>_*` variables each
//! define one account named after the marketplace; `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>` sets a
//! key of a named account, or defines one with `MARKETMEDIA_ACCOUNT_<NAME>_MARKETPLACE`
//! (see [`crate::config`]).
//!
//! What must not change when a seller renames an account (resume, idempotence, assets,
//! request limits) is keyed by the account's **identity** on the platform, never its name:
//! see [`Account::identity`].

use marketmedia_core::{Error, Result};
use marketmedia_ebay::{EbayConfig, EbayEnvironment};
use marketmedia_lazada::LazadaConfig;
use marketmedia_shopee::ShopeeConfig;
use marketmedia_smh::SmhConfig;
use marketmedia_wechat::WechatConfig;
use serde::Serialize;

use crate::config::Config;
use crate::platform::Platform;

/// One configured account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its name: the table's (`[accounts.shopee-sg]`: `shopee-sg`), or the marketplace's for
    /// the legacy table and variables.
    pub name: String,
    /// Its marketplace.
    pub platform: Platform,
    /// Who the account is on the platform; resume, idempotence, assets and request limits
    /// are keyed by it:
    /// - Shopee: `shopee:<partner_id>:<shop_id>`;
    /// - Lazada: `lazada:<country>:<seller_id>` (or `lazada:<country>:app:<app_key>` when no
    ///   `seller_id` is set);
    /// - SMH: `smh:<library_id>:<space_id>`;
    /// - eBay: `ebay:<environment>:<user_id>` (`user` when none is set: the token names no
    ///   user up front);
    /// - WeChat: `wechat:<appid>` (`wechat:token` for a token without an AppID).
    ///
    /// Two accounts with one identity are a configuration error.
    pub identity: String,
    /// The country or site (Shopee's shop country, Lazada's country, eBay's site), when set.
    pub country: Option<String>,
    /// Where its settings came from: `config file`, `environment` or both.
    pub origin: &'static str,
    /// Defined by the legacy `[marketplace]` table or `MARKETMEDIA_<MARKETPLACE>_*`.
    pub legacy: bool,
    /// The prefix of its variables (`MARKETMEDIA_SHOPEE_`, `MARKETMEDIA_ACCOUNT_SHOPEE_SG_`).
    pub variables: String,
    /// This account's defaults for each upload's fields (Lazada: a named account's `title`
    /// and `cover_url`; eBay: `title` and `description`); the command's own (`--title`…)
    /// replace them.
    pub upload_defaults: marketmedia_core::UploadMeta,
    /// Shopee: whether the account chose its own media module (`module` under its table).
    pub own_module: bool,
    /// The provider configuration (credentials, host, options).
    pub settings: AccountSettings,
}

/// An account's provider configuration.
#[derive(Debug, Clone)]
pub enum AccountSettings {
    /// Shopee.
    Shopee(ShopeeConfig),
    /// Lazada.
    Lazada(LazadaConfig),
    /// SMH.
    Smh(SmhConfig),
    /// eBay.
    Ebay(EbayConfig),
    /// WeChat Channels Store.
    Wechat(WechatConfig),
}

impl Account {
    /// The API base URL requests go to (user info and query left out).
    pub fn endpoint(&self) -> String {
        let url = match &self.settings {
            AccountSettings::Shopee(c) => c.effective_base_url().to_owned(),
            AccountSettings::Lazada(c) => c.effective_base_url().to_owned(),
            AccountSettings::Smh(c) => c.base_url.clone(),
            AccountSettings::Ebay(c) => c.effective_base_url(),
            AccountSettings::Wechat(c) => c.effective_base_url().to_owned(),
        };
        marketmedia_core::redact_url(&url)
    }
}

/// Shopee's identity: the partner (app) and the shop.
pub fn shopee_identity(partner_id: u64, shop_id: u64) -> String {
    format!("shopee:{partner_id}:{shop_id}")
}

/// Lazada's identity: the seller in that country (one cross-border seller's token serves
/// several country gateways, each its own account).
pub fn lazada_identity(country: &str, seller_id: Option<&str>, app_key: &str) -> String {
    match seller_id {
        Some(seller) => format!("lazada:{country}:{seller}"),
        None => format!("lazada:{country}:app:{app_key}"),
    }
}

/// SMH's identity: the media library and the tenant space.
pub fn smh_identity(library_id: &str, space_id: &str) -> String {
    format!("smh:{library_id}:{space_id}")
}

/// eBay's identity: the environment and the user (a stable id the seller sets: the token
/// names no user up front).
pub fn ebay_identity(environment: EbayEnvironment, user_id: Option<&str>) -> String {
    let env = match environment {
        EbayEnvironment::Production => "production",
        EbayEnvironment::Sandbox => "sandbox",
    };
    format!("ebay:{env}:{}", user_id.unwrap_or("user"))
}

/// WeChat's identity: the store's app (its AppID).
pub fn wechat_identity(appid: Option<&str>) -> String {
    format!("wechat:{}", appid.unwrap_or("token"))
}

/// What tells two accounts of `platform` apart, for the error when two have one identity.
pub fn identity_hint(platform: Platform) -> &'static str {
    match platform {
        Platform::Shopee => "an account is its partner_id and shop_id; remove one",
        Platform::Lazada => {
            "a Lazada account is a seller in a country; set seller_id (from `marketmedia \
             accounts check`) on each, or give them different countries"
        }
        Platform::Smh => "an account is its library_id and space_id; remove one",
        Platform::Ebay => "set user_id (the eBay user's id, or any stable id you choose) on each",
        Platform::Wechat => "an account is its appid; set appid on each",
    }
}

/// One destination of a command: a configured account, or a marketplace's embedded
/// simulator.
#[derive(Debug, Clone, Copy)]
pub enum Chosen<'a> {
    /// A configured account.
    Account(&'a Account),
    /// The embedded simulator of a marketplace.
    Sandbox(Platform),
}

impl PartialEq for Chosen<'_> {
    /// Accounts are the same when their names are (names are unique).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Chosen::Account(a), Chosen::Account(b)) => a.name == b.name,
            (Chosen::Sandbox(a), Chosen::Sandbox(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Chosen<'_> {}

/// The destinations `--to` asks for.
///
/// - `--to` takes account names and marketplace names; a marketplace name means every
///   account of that marketplace. An account may be named like a marketplace only when it is
///   an account of that marketplace (the legacy `[shopee]` account is named `shopee`), so the
///   two readings never disagree: `--to shopee` is every Shopee account, that one included.
/// - Without `--to`: every configured account.
/// - The sandbox serves only when no account is configured at all, or with `--sandbox`
///   (`force_sandbox`): then `--to` takes marketplace names.
/// - Naming a marketplace that has no account, while others have, is an error saying how to
///   add one or to pass `--sandbox`.
pub fn choose<'a>(
    config: &'a Config,
    to: &[String],
    force_sandbox: bool,
) -> Result<Vec<Chosen<'a>>> {
    let sandbox = force_sandbox || config.accounts.is_empty();
    if sandbox {
        let mut platforms = Vec::new();
        for name in to {
            match name.parse::<Platform>() {
                Ok(p) => platforms.push(p),
                Err(_) => {
                    let why = if force_sandbox {
                        "with --sandbox, --to takes marketplace names"
                    } else {
                        "no account is configured"
                    };
                    return Err(Error::invalid_input(format!(
                        "--to {name}: {why} (shopee, lazada, smh, ebay, wechat)"
                    )));
                }
            }
        }
        return Ok(crate::platform::selection(&platforms)
            .into_iter()
            .map(Chosen::Sandbox)
            .collect());
    }
    if to.is_empty() {
        return Ok(config.accounts.iter().map(Chosen::Account).collect());
    }
    let mut chosen: Vec<Chosen<'a>> = Vec::new();
    let mut push = |c: Chosen<'a>| {
        if !chosen.contains(&c) {
            chosen.push(c);
        }
    };
    for name in to {
        let name = name.trim();
        if let Ok(platform) = name.parse::<Platform>() {
            let mut any = false;
            for a in config.accounts_of(platform) {
                any = true;
                push(Chosen::Account(a));
            }
            if !any {
                return Err(no_account(platform));
            }
        } else if let Some(a) = config.account(name) {
            push(Chosen::Account(a));
        } else {
            let closest = config
                .accounts
                .iter()
                .map(|a| (strsim::jaro_winkler(name, &a.name), a.name.as_str()))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| format!(" (did you mean {n}?)"))
                .unwrap_or_default();
            return Err(Error::invalid_input(format!(
                "--to {name}: no account or marketplace has this name{closest}; \
                 `marketmedia accounts` lists the accounts"
            )));
        }
    }
    Ok(chosen)
}

/// The error for a marketplace named in `--to` that has no account while others have.
pub fn no_account(platform: Platform) -> Error {
    Error::invalid_input(format!(
        "no {platform} account is configured: add one to the config file ([accounts.NAME] with \
         marketplace = \"{platform}\", or [{platform}]), or set the {}* variables; or pass \
         --sandbox to use the embedded simulators",
        platform.env_prefix()
    ))
    .with_platform(platform.name())
}

/// One account as `marketmedia accounts` prints it: never a credential's value.
#[derive(Debug, Clone, Serialize)]
pub struct AccountRecord {
    /// The account's name.
    pub account: String,
    /// Its marketplace.
    pub marketplace: String,
    /// The API host.
    pub host: String,
    /// The country or site, when set.
    pub country: Option<String>,
    /// Its identity on the platform (what resume, assets and limits are keyed by).
    pub identity: String,
    /// Where its settings come from.
    pub source: String,
}

impl AccountRecord {
    /// The record of `account`.
    pub fn of(account: &Account, file: Option<&std::path::Path>) -> AccountRecord {
        let table = if account.legacy {
            format!("[{}]", account.platform)
        } else {
            format!("[accounts.{}]", account.name)
        };
        let source = match account.origin {
            "environment" => format!("{}*", account.variables),
            "config file" => match file {
                Some(f) => format!("{table} of {}", f.display()),
                None => table,
            },
            _ => format!("{table} + {}*", account.variables),
        };
        AccountRecord {
            account: account.name.clone(),
            marketplace: account.platform.name().to_owned(),
            host: account.endpoint(),
            country: account.country.clone(),
            identity: account.identity.clone(),
            source,
        }
    }
}

/// `marketmedia accounts [check [NAME…]]`.
pub async fn command(config: &Config, args: crate::args::AccountsArgs) -> Result<i32> {
    match args.action {
        None => {
            list(config, args.json);
            Ok(crate::exit::SUCCESS)
        }
        Some(crate::args::AccountsAction::Check { names }) => {
            let options = args.timeouts.client_options();
            crate::check::check(config, &names, options, args.json).await
        }
    }
}

/// Prints the accounts: a table, or one JSON object per account.
fn list(config: &Config, json: bool) {
    let records: Vec<AccountRecord> = config
        .accounts
        .iter()
        .map(|a| AccountRecord::of(a, config.file.as_deref()))
        .collect();
    let mut out = String::new();
    if json {
        for r in &records {
            out.push_str(&serde_json::to_string(r).unwrap_or_default());
            out.push('\n');
        }
    } else if records.is_empty() {
        out.push_str(
            "No account is configured: uploads go to the embedded simulators. Add accounts to \
             the config file ([accounts.NAME] with marketplace = \"…\") or the environment \
             (docs/cli.md, Accounts).\n",
        );
    } else {
        let rows: Vec<Vec<String>> = records
            .iter()
            .map(|r| {
                vec![
                    r.account.clone(),
                    r.marketplace.clone(),
                    r.host.clone(),
                    r.country.clone().unwrap_or_else(|| "-".into()),
                    r.identity.clone(),
                    r.source.clone(),
                ]
            })
            .collect();
        out.push_str(&crate::report::table(
            &[
                "ACCOUNT",
                "MARKETPLACE",
                "HOST",
                "COUNTRY",
                "IDENTITY",
                "FROM",
            ],
            &rows,
        ));
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(file: &str, vars: &[(&str, &str)]) -> Result<Config> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let names: Vec<String> = vars.keys().cloned().collect();
        let lookup = |name: &str| vars.get(name).cloned();
        Config::resolve(
            crate::config::parse(file).map_err(Error::invalid_input)?,
            &lookup,
            &names,
        )
    }

    const THREE: &str = r#"
        [accounts.shopee-sg]
        marketplace = "shopee"
        partner_id = 2001887
        partner_key = "key-sg"
        shop_id = 600001
        access_token = "token-sg"
        country = "sg"

        [accounts.shopee-my]
        marketplace = "shopee"
        partner_id = 2001887
        partner_key = "key-sg"
        shop_id = 600002
        access_token = "token-my"
        country = "my"

        [accounts.lazada-th]
        marketplace = "lazada"
        app_key = "100132"
        app_secret = "app-secret"
        access_token = "seller-token"
        country = "th"
        seller_id = "1000123"
    "#;

    fn names(chosen: &[Chosen<'_>]) -> Vec<String> {
        chosen
            .iter()
            .map(|c| match c {
                Chosen::Account(a) => a.name.clone(),
                Chosen::Sandbox(p) => format!("sandbox:{p}"),
            })
            .collect()
    }

    #[test]
    fn three_accounts_with_their_identities_hosts_and_countries() {
        let c = config(THREE, &[]).unwrap();
        let got: Vec<(&str, &str, Option<&str>)> = c
            .accounts
            .iter()
            .map(|a| (a.name.as_str(), a.identity.as_str(), a.country.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("shopee-my", "shopee:2001887:600002", Some("my")),
                ("shopee-sg", "shopee:2001887:600001", Some("sg")),
                ("lazada-th", "lazada:th:1000123", Some("th")),
            ]
        );
        let lazada = c.account("lazada-th").unwrap();
        assert_eq!(lazada.endpoint(), "https://api.lazada.co.th/rest");
        let listed = format!("{:?}", AccountRecord::of(lazada, None));
        assert!(!listed.contains("seller-token") && !listed.contains("app-secret"));
    }

    #[test]
    fn targets_are_accounts_and_marketplaces() {
        let c = config(THREE, &[]).unwrap();
        assert_eq!(
            names(&choose(&c, &[], false).unwrap()),
            ["shopee-my", "shopee-sg", "lazada-th"]
        );
        let to = |list: &[&str]| {
            let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            choose(&c, &list, false).map(|c| names(&c))
        };
        assert_eq!(to(&["shopee"]).unwrap(), ["shopee-my", "shopee-sg"]);
        assert_eq!(
            to(&["lazada-th", "shopee-sg", "lazada"]).unwrap(),
            ["lazada-th", "shopee-sg"]
        );
        let err = to(&["smh"]).unwrap_err().to_string();
        assert!(
            err.contains("no smh account") && err.contains("--sandbox"),
            "{err}"
        );
        let err = to(&["shopee-sq"]).unwrap_err().to_string();
        assert!(err.contains("did you mean shopee-sg"), "{err}");
        // --sandbox: every simulator, whatever is configured.
        assert_eq!(choose(&c, &[], true).unwrap().len(), 5);
        // Nothing configured: the simulators serve.
        let none = config("", &[]).unwrap();
        assert_eq!(
            names(&choose(&none, &["lazada".into()], false).unwrap()),
            ["sandbox:lazada"]
        );
    }

    #[test]
    fn the_legacy_table_is_an_account_named_after_its_marketplace() {
        let file = format!(
            "[shopee]\npartner_id = 1\npartner_key = \"k\"\nshop_id = 2\naccess_token = \"t\"\n{THREE}"
        );
        let c = config(&file, &[]).unwrap();
        let shopee: Vec<&str> = c
            .accounts_of(Platform::Shopee)
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(shopee, ["shopee", "shopee-my", "shopee-sg"]);
        assert!(c.account("shopee").unwrap().legacy);
        // The marketplace name means all of them, the one named after it included.
        assert_eq!(
            names(&choose(&c, &["shopee".into()], false).unwrap()),
            ["shopee", "shopee-my", "shopee-sg"]
        );
    }

    #[test]
    fn named_accounts_from_the_environment_and_the_environment_wins() {
        let c = config(
            THREE,
            &[
                ("MARKETMEDIA_ACCOUNT_SHOPEE_SG_ACCESS_TOKEN", "env-token"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_MARKETPLACE", "lazada"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_APP_KEY", "100132"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_APP_SECRET", "s"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_ACCESS_TOKEN", "t"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_COUNTRY", "vn"),
            ],
        )
        .unwrap();
        let AccountSettings::Shopee(sg) = &c.account("shopee-sg").unwrap().settings else {
            panic!("not shopee")
        };
        assert_eq!(sg.access_token.expose(), "env-token");
        assert_eq!(
            c.account("shopee-sg").unwrap().origin,
            "config file + environment"
        );
        let vn = c.account("lazada-vn").unwrap();
        assert_eq!(vn.origin, "environment");
        assert_eq!(vn.identity, "lazada:vn:app:100132");
        assert_eq!(vn.endpoint(), "https://api.lazada.vn/rest");
    }

    #[test]
    fn config_errors_name_the_closest_key_and_the_missing_ones() {
        let err = crate::config::parse("[accounts.a]\nmarketplace = \"shopee\"\npartner_idd = 1\n")
            .unwrap_err();
        assert!(err.contains("did you mean `partner_id`"), "{err}");
        let err = crate::config::parse("[shopee]\nshop_idd = 1\n").unwrap_err();
        assert!(err.contains("did you mean `shop_id`"), "{err}");
        let err = config(
            "[accounts.a]\nmarketplace = \"shopee\"\npartner_id = 1\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("account a (shopee) is only partly configured"),
            "{err}"
        );
        assert!(err.contains("MARKETMEDIA_ACCOUNT_A_PARTNER_KEY"), "{err}");
        // Two accounts of one seller on one app in one country, no seller id: refused.
        let two = "[accounts.a]\nmarketplace = \"lazada\"\napp_key = \"k\"\napp_secret = \"s\"\naccess_token = \"t\"\n\
                   [accounts.b]\nmarketplace = \"lazada\"\napp_key = \"k\"\napp_secret = \"s\"\naccess_token = \"u\"\n";
        let err = config(two, &[]).unwrap_err().to_string();
        assert!(err.contains("set seller_id"), "{err}");
        // An account named like another marketplace.
        let err = config(
            "[accounts.lazada]\nmarketplace = \"ebay\"\naccess_token = \"t\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("named like another marketplace"), "{err}");
    }

    #[test]
    fn unknown_account_variables_are_warned_about_with_the_closest() {
        let c = config(THREE, &[]).unwrap();
        let w = crate::config::unknown_env_warnings(
            [
                "MARKETMEDIA_ACCOUNT_SHOPEE_SG_SHOP_ID".to_owned(),
                "MARKETMEDIA_ACCOUNT_SHOPEE_SG_SHOPID".to_owned(),
            ],
            &c.env_names,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("did you mean MARKETMEDIA_ACCOUNT_SHOPEE_SG_SHOP_ID"),
            "{w:?}"
        );
    }
}
