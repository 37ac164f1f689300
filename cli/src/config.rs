//! Credentials and endpoints: environment variables, then a TOML config file.
//!
//! Every setting has an environment variable, `MARKETMEDIA_<PLATFORM>_<KEY>`, and a key of
//! the same name in lowercase under the platform's table of the config file. A variable
//! that is set and not empty wins over the file. A marketplace with none of its settings
//! anywhere is *not configured*: the command uploads to the embedded simulator instead
//! (see [`crate::sandbox`]). A marketplace with some settings but not all the required ones
//! is an error, so a typo never silently sends a seller's video to a sandbox.
//!
//! ```toml
//! [shopee]
//! partner_id = 2001887
//! partner_key = "…"
//! shop_id = 600001
//! access_token = "…"
//! region = "production"          # production | test | china | brazil
//! module = "media_space"         # media_space (default) | media: v2.media_space or v2.media
//! # base_url = "http://127.0.0.1:8650"
//!
//! [lazada]
//! app_key = "100132"
//! app_secret = "…"
//! access_token = "…"
//! region = "sg"                  # sg | my | th | vn | ph | id
//! title = "Blue kettle"          # the video's title (Lazada requires one)
//! cover_url = "https://…/c.jpg"  # the video's cover (Lazada requires one)
//!
//! [smh]
//! library_id = "…"
//! library_secret = "…"           # or access_token = "…"
//! space_id = "-"
//! directory = "products/2024"
//! storage_scheme = "https"       # http for a local simulator
//! # base_url = "https://{library_id}.api.tencentsmh.cn" (the default: the library's own domain)
//! # allow_plain_http = true       # only for a local simulator: SMH refuses plain HTTP
//! # grants = "upload_file"        # the token permissions (add create_directory to create directories)
//!
//! [ebay]
//! access_token = "…"             # the user's OAuth token (scope sell.inventory)
//! environment = "production"     # production | sandbox
//! # title = "Blue kettle"        # the video's title (default: the file name)
//! # description = "…"
//! # base_url = "http://127.0.0.1:8654/commerce/media/v1_beta"
//! [wechat]
//! appid = "wx…"
//! appsecret = "…"                # or access_token = "…" (a token from elsewhere)
//! scene = "product"              # product (162) | after_sale (173)
//! # base_url = "https://api.weixin.qq.com"
//! ```
//!
//! Secrets are held in [`Secret`]s from the moment they are read: no `Debug`, `Display` or
//! error message of this crate shows them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use marketmedia_core::{Error, Result, Secret};
use marketmedia_ebay::{EbayConfig, EbayEnvironment};
use marketmedia_lazada::{LazadaConfig, Region as LazadaRegion};
use marketmedia_shopee::{ShopeeConfig, ShopeeModule, ShopeeRegion};
use marketmedia_smh::{SmhConfig, StorageScheme};
use marketmedia_wechat::{VideoScene, WechatConfig};
use serde::Deserialize;

use crate::accounts::{Account, AccountSettings};
use crate::platform::Platform;

/// Environment variable naming the config file (same as `--config`).
pub const CONFIG_ENV: &str = "MARKETMEDIA_CONFIG";

/// The `MARKETMEDIA_*` variables read outside the command line's parser: the config loader's
/// and the resume journal's. [`known_env`] adds those clap reads (`#[arg(env = …)]`).
pub const KNOWN_ENV: &[&str] = &[
    CONFIG_ENV,
    "MARKETMEDIA_JOURNAL_DIR",
    "MARKETMEDIA_SHOPEE_PARTNER_ID",
    "MARKETMEDIA_SHOPEE_PARTNER_KEY",
    "MARKETMEDIA_SHOPEE_SHOP_ID",
    "MARKETMEDIA_SHOPEE_ACCESS_TOKEN",
    "MARKETMEDIA_SHOPEE_REGION",
    "MARKETMEDIA_SHOPEE_MODULE",
    "MARKETMEDIA_SHOPEE_COUNTRY",
    "MARKETMEDIA_SHOPEE_BASE_URL",
    "MARKETMEDIA_LAZADA_APP_KEY",
    "MARKETMEDIA_LAZADA_APP_SECRET",
    "MARKETMEDIA_LAZADA_ACCESS_TOKEN",
    "MARKETMEDIA_LAZADA_REGION",
    "MARKETMEDIA_LAZADA_COUNTRY",
    "MARKETMEDIA_LAZADA_SELLER_ID",
    "MARKETMEDIA_LAZADA_BASE_URL",
    "MARKETMEDIA_LAZADA_TITLE",
    "MARKETMEDIA_LAZADA_COVER_URL",
    "MARKETMEDIA_SMH_LIBRARY_ID",
    "MARKETMEDIA_SMH_LIBRARY_SECRET",
    "MARKETMEDIA_SMH_ACCESS_TOKEN",
    "MARKETMEDIA_SMH_SPACE_ID",
    "MARKETMEDIA_SMH_DIRECTORY",
    "MARKETMEDIA_SMH_BASE_URL",
    "MARKETMEDIA_SMH_STORAGE_SCHEME",
    "MARKETMEDIA_SMH_ALLOW_PLAIN_HTTP",
    "MARKETMEDIA_SMH_GRANTS",
    "MARKETMEDIA_EBAY_ACCESS_TOKEN",
    "MARKETMEDIA_EBAY_ENVIRONMENT",
    "MARKETMEDIA_EBAY_SITE",
    "MARKETMEDIA_EBAY_USER_ID",
    "MARKETMEDIA_EBAY_BASE_URL",
    "MARKETMEDIA_EBAY_TITLE",
    "MARKETMEDIA_EBAY_DESCRIPTION",
    "MARKETMEDIA_WECHAT_APPID",
    "MARKETMEDIA_WECHAT_APPSECRET",
    "MARKETMEDIA_WECHAT_ACCESS_TOKEN",
    "MARKETMEDIA_WECHAT_SCENE",
    "MARKETMEDIA_WECHAT_BASE_URL",
];

/// Every `MARKETMEDIA_*` variable the command reads, sorted: [`KNOWN_ENV`] and the `env` of
/// every argument of every subcommand (`MARKETMEDIA_BATCH_STORE`, `MARKETMEDIA_SIM_SEED`, …),
/// taken from clap's own definition of the command line, so an argument given an `env` is
/// known without being written in a second list.
pub fn known_env() -> &'static [String] {
    static KNOWN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KNOWN.get_or_init(|| {
        let mut names: Vec<String> = KNOWN_ENV.iter().map(|&n| n.to_owned()).collect();
        names.extend(command_env(
            &<crate::args::Cli as clap::CommandFactory>::command(),
        ));
        names.sort();
        names.dedup();
        names
    })
}

/// The environment variables the arguments of `cmd` and of its subcommands, at any depth,
/// are read from (clap's `env`).
pub fn command_env(cmd: &clap::Command) -> Vec<String> {
    let mut names: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    for sub in cmd.get_subcommands() {
        names.extend(command_env(sub));
    }
    names
}

/// A warning for each variable named `MARKETMEDIA_*` that the command does not read (a typo
/// would otherwise silently send an upload to the sandbox), naming the closest known one
/// ([`known_env`], and the named accounts' variables). `accounts` are the named accounts'
/// environment names and marketplaces ([`Config::env_names`]):
/// `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>` is read when `<NAME>` is one of them and `<KEY>` one of
/// its marketplace's keys (or `MARKETPLACE`). Only names are looked at, never values.
pub fn unknown_env_warnings(
    names: impl IntoIterator<Item = String>,
    accounts: &[(String, Platform)],
) -> Vec<String> {
    let mut known: Vec<String> = known_env().to_vec();
    for (name, platform) in accounts {
        known.push(format!("{ACCOUNT_ENV_PREFIX}{name}_MARKETPLACE"));
        for key in keys(*platform) {
            known.push(format!("{ACCOUNT_ENV_PREFIX}{name}_{key}"));
        }
    }
    let mut names: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with("MARKETMEDIA_") && !known.contains(n))
        // Declares an account; a bad marketplace in it is an error of its own.
        .filter(|n| !(n.starts_with(ACCOUNT_ENV_PREFIX) && n.ends_with("_MARKETPLACE")))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let closest = known
                .iter()
                .map(|k| (strsim::jaro_winkler(&name, k), k.as_str()))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, k)| k)
                .unwrap_or(CONFIG_ENV);
            format!("warning: {name} is not a variable marketmedia reads (did you mean {closest}?)")
        })
        .collect()
}

/// Prints [`unknown_env_warnings`] on stderr.
pub fn warn_unknown_env(names: impl IntoIterator<Item = String>, accounts: &[(String, Platform)]) {
    for w in unknown_env_warnings(names, accounts) {
        eprintln!("{w}");
    }
}

/// Looks up an environment variable (a closure, so tests need not touch the process's).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process's environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The config file as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[shopee]`.
    pub shopee: Option<ShopeeSection>,
    /// `[lazada]`.
    pub lazada: Option<LazadaSection>,
    /// `[smh]`.
    pub smh: Option<SmhSection>,
    /// `[wechat]`.
    pub wechat: Option<WechatSection>,
    /// `[ebay]`.
    pub ebay: Option<EbaySection>,
    /// `[accounts.NAME]`: named accounts, any number per marketplace (see
    /// [`crate::accounts`]).
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountSection>,
}

/// `[accounts.NAME]` of the config file: `marketplace = "…"` and that marketplace's keys
/// (the same as its legacy table's).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "marketplace", rename_all = "lowercase")]
pub enum AccountSection {
    /// `marketplace = "shopee"`.
    Shopee(ShopeeSection),
    /// `marketplace = "lazada"`.
    Lazada(LazadaSection),
    /// `marketplace = "smh"`.
    Smh(SmhSection),
    /// `marketplace = "ebay"`.
    Ebay(EbaySection),
    /// `marketplace = "wechat"`.
    Wechat(WechatSection),
}

impl AccountSection {
    /// The marketplace the section names.
    pub fn platform(&self) -> Platform {
        match self {
            AccountSection::Shopee(_) => Platform::Shopee,
            AccountSection::Lazada(_) => Platform::Lazada,
            AccountSection::Smh(_) => Platform::Smh,
            AccountSection::Ebay(_) => Platform::Ebay,
            AccountSection::Wechat(_) => Platform::Wechat,
        }
    }

    /// An empty section of `platform` (an account defined by the environment only).
    pub fn empty(platform: Platform) -> AccountSection {
        match platform {
            Platform::Shopee => AccountSection::Shopee(ShopeeSection::default()),
            Platform::Lazada => AccountSection::Lazada(LazadaSection::default()),
            Platform::Smh => AccountSection::Smh(SmhSection::default()),
            Platform::Ebay => AccountSection::Ebay(EbaySection::default()),
            Platform::Wechat => AccountSection::Wechat(WechatSection::default()),
        }
    }
}

/// `[ebay]` of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbaySection {
    /// The user's OAuth access token.
    pub access_token: Option<Secret>,
    /// `production` or `sandbox`.
    pub environment: Option<String>,
    /// A base URL overriding the environment's (include `/commerce/media/v1_beta`).
    pub base_url: Option<String>,
    /// The eBay site the seller sells on (`EBAY_US`, `EBAY_DE`…): shown, not sent (the Media
    /// API is not per site).
    pub site: Option<String>,
    /// The eBay user's id, or any stable id you choose: the account's identity (the token
    /// names no user up front). Default: `user`, so two eBay accounts need one each.
    pub user_id: Option<String>,
    /// Default video title (else the file name).
    pub title: Option<String>,
    /// Default video description.
    pub description: Option<String>,
}

/// `[shopee]` of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopeeSection {
    /// Partner (app) id.
    pub partner_id: Option<u64>,
    /// Partner key.
    pub partner_key: Option<Secret>,
    /// Shop id.
    pub shop_id: Option<u64>,
    /// The shop's access token.
    pub access_token: Option<Secret>,
    /// `production`, `test`, `china` or `brazil`: the API host.
    pub region: Option<String>,
    /// The shop's country or site (`sg`, `my`, `br`…): shown, not sent (the shop id says it).
    pub country: Option<String>,
    /// `media_space` (default) or `media`: which of Shopee's media modules the calls go to.
    pub module: Option<String>,
    /// A host overriding the region's.
    pub base_url: Option<String>,
}

/// `[lazada]` of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LazadaSection {
    /// App key.
    pub app_key: Option<String>,
    /// App secret.
    pub app_secret: Option<Secret>,
    /// The seller's access token.
    pub access_token: Option<Secret>,
    /// The seller's country: `sg`, `my`, `th`, `vn`, `ph` or `id` (its gateway is the
    /// default host).
    pub country: Option<String>,
    /// The former name of `country`.
    pub region: Option<String>,
    /// The seller's id in that country (`/seller/get`'s `seller_id`): the account's identity
    /// with the country. Default: the app key, so two sellers on one app need one each.
    pub seller_id: Option<String>,
    /// A gateway overriding the region's (include `/rest`).
    pub base_url: Option<String>,
    /// Default video title.
    pub title: Option<String>,
    /// Default video cover URL.
    pub cover_url: Option<String>,
}

/// `[smh]` of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmhSection {
    /// Media library id.
    pub library_id: Option<String>,
    /// Library secret (tokens are fetched and renewed with it).
    pub library_secret: Option<Secret>,
    /// A ready access token, instead of the library secret.
    pub access_token: Option<Secret>,
    /// Tenant space (`-` for single-tenant libraries).
    pub space_id: Option<String>,
    /// Target directory (`a/b`, must exist).
    pub directory: Option<String>,
    /// API host overriding the public one.
    pub base_url: Option<String>,
    /// `https` (default) or `http` (local simulator).
    pub storage_scheme: Option<String>,
    /// Allow plain `http://` (a local simulator only: SMH refuses plain HTTP).
    pub allow_plain_http: Option<bool>,
    /// Permissions asked for with each token, comma-separated (default `upload_file`).
    pub grants: Option<String>,
}

/// `[wechat]` of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSection {
    /// The store's AppID (tokens are fetched with it and the AppSecret).
    pub appid: Option<String>,
    /// The store's AppSecret.
    pub appsecret: Option<Secret>,
    /// A ready access token, instead of the AppID and AppSecret.
    pub access_token: Option<Secret>,
    /// `product` (162, the default) or `after_sale` (173).
    pub scene: Option<String>,
    /// API host overriding `https://api.weixin.qq.com`.
    pub base_url: Option<String>,
}

/// The resolved configuration: every configured account (none: the sandbox serves), the
/// Shopee media module for the sandbox, and Lazada's legacy title and cover defaults.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Every configured account, in [`Platform::ALL`] order, then the legacy account (named
    /// after its marketplace) first, then by name.
    pub accounts: Vec<Account>,
    /// Shopee's media module for the sandbox and for accounts that set none
    /// (`MARKETMEDIA_SHOPEE_MODULE`, `module` under `[shopee]`, `--shopee-module`).
    pub shopee_module: ShopeeModule,
    /// Lazada video title from `MARKETMEDIA_LAZADA_TITLE` or `[lazada]`: every Lazada
    /// account's default.
    pub lazada_title: Option<String>,
    /// Lazada cover URL from `MARKETMEDIA_LAZADA_COVER_URL` or `[lazada]`.
    pub lazada_cover_url: Option<String>,
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// The environment names of the accounts (`SHOPEE_SG` for `shopee-sg`), to tell their
    /// `MARKETMEDIA_ACCOUNT_*` variables from typos.
    pub env_names: Vec<(String, Platform)>,
}

impl Config {
    /// Whether `platform` has an account configured.
    pub fn is_configured(&self, platform: Platform) -> bool {
        self.accounts.iter().any(|a| a.platform == platform)
    }

    /// The account named `name`.
    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The accounts of `platform`, in order.
    pub fn accounts_of(&self, platform: Platform) -> impl Iterator<Item = &Account> {
        self.accounts.iter().filter(move |a| a.platform == platform)
    }

    /// The configuration from `explicit` (or `$MARKETMEDIA_CONFIG`, or the default path when
    /// it exists) and the environment, whose variable names are `names`.
    pub fn load(explicit: Option<&Path>, env: EnvLookup<'_>, names: &[String]) -> Result<Config> {
        let (file, path) = match explicit {
            Some(path) => (read_file(path)?, Some(path.to_owned())),
            None => match default_path().filter(|p| p.is_file()) {
                Some(path) => (read_file(&path)?, Some(path)),
                None => (ConfigFile::default(), None),
            },
        };
        let mut config = Config::resolve(file, env, names)?;
        config.file = path;
        Ok(config)
    }

    /// Merges a parsed file with the environment. For every key the environment wins when
    /// set and not empty: `MARKETMEDIA_<MARKETPLACE>_<KEY>` over `[<marketplace>]`, and
    /// `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>` over `[accounts.<name>]`. An account is defined by
    /// its table, or by `MARKETMEDIA_ACCOUNT_<NAME>_MARKETPLACE` alone (`names` are the
    /// environment's variable names, searched for these).
    pub fn resolve(file: ConfigFile, env: EnvLookup<'_>, names: &[String]) -> Result<Config> {
        let lazada_section = file.lazada.clone().unwrap_or_default();
        let mut lz = Lookup::legacy(Platform::Lazada, env);
        let lazada_title = lz.text("TITLE", lazada_section.title.clone());
        let lazada_cover_url = lz.text("COVER_URL", lazada_section.cover_url.clone());
        let shopee_section = file.shopee.clone().unwrap_or_default();
        // The module alone does not make Shopee configured: it also selects the sandbox's.
        let mut sp = Lookup::legacy(Platform::Shopee, env);
        let shopee_module = match sp.text("MODULE", shopee_section.module.clone()) {
            Some(name) => parse_shopee_module(&name)?,
            None => ShopeeModule::default(),
        };
        let mut accounts = Vec::new();
        // The legacy tables and variables: one account each, named after the marketplace.
        let legacy = [
            AccountSection::Shopee(shopee_section),
            AccountSection::Lazada(lazada_section),
            AccountSection::Smh(file.smh.unwrap_or_default()),
            AccountSection::Ebay(file.ebay.unwrap_or_default()),
            AccountSection::Wechat(file.wechat.unwrap_or_default()),
        ];
        for section in legacy {
            let platform = section.platform();
            let lookup = Lookup::legacy(platform, env);
            if let Some(account) = resolve_account(platform.name(), section, lookup)? {
                accounts.push(account);
            }
        }
        // Named accounts: the file's tables, then those the environment alone defines.
        let mut sections: BTreeMap<String, AccountSection> = BTreeMap::new();
        let mut env_names: Vec<(String, Platform)> = Vec::new();
        for (name, section) in file.accounts {
            check_account_name(&name, section.platform())?;
            sections.insert(name, section);
        }
        let by_env: BTreeMap<String, String> =
            sections.keys().map(|n| (env_name(n), n.clone())).collect();
        if by_env.len() != sections.len() {
            return Err(Error::invalid_input(
                "two accounts of the config file have the same environment name (names are \
                 compared in capitals, with - and . read as _): rename one",
            ));
        }
        for var in names {
            let Some(n) = var
                .strip_prefix(ACCOUNT_ENV_PREFIX)
                .and_then(|r| r.strip_suffix("_MARKETPLACE"))
            else {
                continue;
            };
            let Some(value) = env(var).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let platform: Platform = value
                .parse()
                .map_err(|e: Error| Error::invalid_input(format!("{var}: {}", e.message())))?;
            match by_env.get(n) {
                Some(name) => {
                    let file_platform = sections.get(name).map(AccountSection::platform);
                    if file_platform != Some(platform) {
                        return Err(Error::invalid_input(format!(
                            "{var} says {platform}, but [accounts.{name}] of the config file \
                             says {}: an account has one marketplace",
                            file_platform.map(|p| p.name()).unwrap_or("another")
                        )));
                    }
                }
                None => {
                    let name = n.to_ascii_lowercase().replace('_', "-");
                    check_account_name(&name, platform)?;
                    sections.insert(name, AccountSection::empty(platform));
                }
            }
        }
        for (name, section) in sections {
            let platform = section.platform();
            env_names.push((env_name(&name), platform));
            let lookup = Lookup::named(platform, &name, env);
            if let Some(account) = resolve_account(&name, section, lookup)? {
                if accounts.iter().any(|a: &Account| a.name == account.name) {
                    return Err(Error::invalid_input(format!(
                        "two accounts are named {name}: [{platform}] (or the \
                         {}* variables) and [accounts.{name}]; rename the second",
                        platform.env_prefix()
                    )));
                }
                accounts.push(account);
            }
        }
        accounts.sort_by(|a, b| {
            (a.platform, !a.legacy, &a.name).cmp(&(b.platform, !b.legacy, &b.name))
        });
        // Two accounts with one identity would share sessions, limits and assets.
        for (i, a) in accounts.iter().enumerate() {
            if let Some(b) = accounts[..i].iter().find(|b| b.identity == a.identity) {
                return Err(Error::invalid_input(format!(
                    "accounts {} and {} are the same {} account ({}): {}",
                    b.name,
                    a.name,
                    a.platform,
                    a.identity,
                    crate::accounts::identity_hint(a.platform)
                )));
            }
        }
        let mut config = Config {
            accounts,
            shopee_module: ShopeeModule::default(),
            lazada_title,
            lazada_cover_url,
            file: None,
            env_names,
        };
        config.set_shopee_module(shopee_module);
        Ok(config)
    }

    /// `[lazada]`'s (or `MARKETMEDIA_LAZADA_*`'s) title and cover: the defaults of every
    /// Lazada upload the command and the account leave without.
    pub fn lazada_defaults(&self) -> marketmedia_core::UploadMeta {
        let mut fields = marketmedia_core::UploadMeta::default();
        fields.title = self.lazada_title.clone();
        fields.cover_url = self.lazada_cover_url.clone();
        fields
    }

    /// Selects Shopee's media module (and its file limit) for the sandbox and for every Shopee
    /// account that does not choose its own.
    pub fn set_shopee_module(&mut self, module: ShopeeModule) {
        self.shopee_module = module;
        for a in &mut self.accounts {
            if let AccountSettings::Shopee(c) = &mut a.settings {
                if !a.own_module {
                    c.module = module;
                    c.max_file_bytes = module.default_max_file_bytes();
                }
            }
        }
    }

    /// Selects Shopee's media module for the sandbox and every Shopee account, their own
    /// choices included (`--shopee-module`).
    pub fn force_shopee_module(&mut self, module: ShopeeModule) {
        for a in &mut self.accounts {
            a.own_module = false;
        }
        self.set_shopee_module(module);
    }
}

/// The prefix of the variables of named accounts: `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>`.
pub const ACCOUNT_ENV_PREFIX: &str = "MARKETMEDIA_ACCOUNT_";

/// The `<NAME>` of an account's variables: capitals, with `-` and `.` read as `_`.
pub fn env_name(account: &str) -> String {
    account
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// An account name is letters, digits, `-`, `_` and `.`; one named like a marketplace must be
/// an account of that marketplace (so `--to shopee` never means two different things).
fn check_account_name(name: &str, platform: Platform) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(Error::invalid_input(format!(
            "account name {name:?}: use letters, digits, -, _ and . only"
        )));
    }
    if let Ok(other) = name.parse::<Platform>() {
        if other != platform {
            return Err(Error::invalid_input(format!(
                "account {name} is a {platform} account named like another marketplace: \
                 rename it (--to {name} would mean every {other} account)"
            )));
        }
    }
    Ok(())
}

/// The keys of each marketplace's table, as their variables spell them.
pub fn keys(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Shopee => &[
            "PARTNER_ID",
            "PARTNER_KEY",
            "SHOP_ID",
            "ACCESS_TOKEN",
            "REGION",
            "COUNTRY",
            "MODULE",
            "BASE_URL",
        ],
        Platform::Lazada => &[
            "APP_KEY",
            "APP_SECRET",
            "ACCESS_TOKEN",
            "COUNTRY",
            "REGION",
            "SELLER_ID",
            "BASE_URL",
            "TITLE",
            "COVER_URL",
        ],
        Platform::Smh => &[
            "LIBRARY_ID",
            "LIBRARY_SECRET",
            "ACCESS_TOKEN",
            "SPACE_ID",
            "DIRECTORY",
            "BASE_URL",
            "STORAGE_SCHEME",
            "ALLOW_PLAIN_HTTP",
            "GRANTS",
        ],
        Platform::Ebay => &[
            "ACCESS_TOKEN",
            "ENVIRONMENT",
            "SITE",
            "USER_ID",
            "BASE_URL",
            "TITLE",
            "DESCRIPTION",
        ],
        Platform::Wechat => &["APPID", "APPSECRET", "ACCESS_TOKEN", "SCENE", "BASE_URL"],
    }
}

/// A Shopee module name (`media_space` or `media`), or an error naming the choices.
pub fn parse_shopee_module(name: &str) -> Result<ShopeeModule> {
    name.parse()
        .map_err(|m: String| Error::invalid_input(m).with_platform(Platform::Shopee.name()))
}

/// `config.toml` in the user's config directory (`~/.config/marketmedia/config.toml` on
/// Linux, `~/Library/Application Support/marketmedia/config.toml` on macOS,
/// `%APPDATA%\marketmedia\config.toml` on Windows).
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("marketmedia").join("config.toml"))
}

/// Reads and parses a config file; a syntax error is reported on one line with its line number.
pub fn read_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid_input(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    parse(&text).map_err(|m| Error::invalid_input(format!("config file {}: {m}", path.display())))
}

/// Parses config file text; the error is one line, naming the line and the key
/// (`shopee.partner_key`) and never the value written there: a mistyped secret must not be
/// echoed to a terminal or a log.
pub fn parse(text: &str) -> std::result::Result<ConfigFile, String> {
    // serde_path_to_error records the key being read when the error happens; toml's own
    // message says only what was found and what was expected.
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(
        |e: serde_path_to_error::Error<toml::de::Error>| {
            let key = e.path().to_string();
            let inner = e.inner();
            let message = without_values(&inner.message().trim().replace('\n', " "));
            let message = if key.is_empty() || key == "." {
                message
            } else {
                format!("{key}: {message}")
            };
            match inner.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: {message}")
                }
                None => message,
            }
        },
    )
}

/// A deserializer's message without the value it quotes: serde's `invalid type: integer
/// `5`, expected a string` becomes `invalid type integer, expected a string`; anything
/// else quoted (in backticks or double quotes) but key names is left out.
fn without_values(message: &str) -> String {
    for prefix in ["invalid type", "invalid value"] {
        if let Some(rest) = message
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix(": "))
        {
            if let Some((found, expected)) = rest.split_once(", expected ") {
                // `integer `5``, `string "x"`, `boolean `true``: the kind is before the quote.
                let kind = found.split(['`', '"', '\'']).next().unwrap_or("").trim();
                return format!("{prefix}: found {kind}, expected {expected}");
            }
        }
    }
    if message.starts_with("unknown field") {
        // Only key names are quoted.
        return with_closest_key(message);
    }
    if message.starts_with("missing field") {
        return message.to_owned();
    }
    if message.starts_with("unknown variant") {
        if let Some((_, expected)) = message.split_once(", expected ") {
            return format!("unknown value, expected {expected}");
        }
    }
    // Anything else: drop what is quoted.
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '`' || c == '"' => {
                quote = Some(c);
                out.push('…');
            }
            None => out.push(c),
        }
    }
    out
}

/// serde's `unknown field `x`, expected one of `a`, `b`` with the closest of the keys
/// named first: `unknown key `x` (did you mean `a`?); the keys here are `a`, `b``.
fn with_closest_key(message: &str) -> String {
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let Some((unknown, expected)) = quoted.split_first() else {
        return message.to_owned();
    };
    let closest = expected
        .iter()
        .map(|k| (strsim::jaro_winkler(unknown, k), *k))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, key)) => {
            let all: Vec<String> = expected.iter().map(|k| format!("`{k}`")).collect();
            format!(
                "unknown key `{unknown}` (did you mean `{key}`?); the keys here are {}",
                all.join(", ")
            )
        }
        None => message.to_owned(),
    }
}

/// Reads one account's settings (the environment's, else the file's), noting which were
/// present, where they came from, and which required ones are missing.
struct Lookup<'a> {
    platform: Platform,
    env: EnvLookup<'a>,
    /// `MARKETMEDIA_SHOPEE_` or `MARKETMEDIA_ACCOUNT_SHOPEE_SG_`.
    prefix: String,
    /// The account's name when it is a named one.
    account: Option<String>,
    present: bool,
    from_file: bool,
    from_env: bool,
    missing: Vec<String>,
}

impl<'a> Lookup<'a> {
    /// The legacy account: `[platform]` and `MARKETMEDIA_<PLATFORM>_*`.
    fn legacy(platform: Platform, env: EnvLookup<'a>) -> Self {
        Lookup {
            platform,
            env,
            prefix: platform.env_prefix().to_owned(),
            account: None,
            present: false,
            from_file: false,
            from_env: false,
            missing: Vec::new(),
        }
    }

    /// A named account: `[accounts.name]` and `MARKETMEDIA_ACCOUNT_<NAME>_*`; declared, so
    /// configured even before any key is read.
    fn named(platform: Platform, name: &str, env: EnvLookup<'a>) -> Self {
        Lookup {
            prefix: format!("{ACCOUNT_ENV_PREFIX}{}_", env_name(name)),
            account: Some(name.to_owned()),
            present: true,
            ..Lookup::legacy(platform, env)
        }
    }

    fn var(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn table(&self) -> String {
        match &self.account {
            Some(name) => format!("accounts.{name}"),
            None => self.platform.name().to_owned(),
        }
    }

    fn env_value(&mut self, key: &str) -> Option<String> {
        let v = (self.env)(&self.var(key)).filter(|v| !v.trim().is_empty());
        self.from_env |= v.is_some();
        v
    }

    /// The value of `KEY`: the environment's when set and not empty, else the file's.
    fn text(&mut self, key: &str, file: Option<String>) -> Option<String> {
        let value = match self.env_value(key) {
            Some(v) => Some(v.trim().to_owned()),
            None => {
                let v = file
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| v.trim().to_owned());
                self.from_file |= v.is_some();
                v
            }
        };
        self.present |= value.is_some();
        value
    }

    fn secret(&mut self, key: &str, file: Option<Secret>) -> Option<Secret> {
        let value = match (self.env)(&self.var(key)).filter(|v| !v.is_empty()) {
            Some(v) => {
                self.from_env = true;
                Some(Secret::new(v))
            }
            None => {
                let v = file.filter(|s| !s.is_empty());
                self.from_file |= v.is_some();
                v
            }
        };
        self.present |= value.is_some();
        value
    }

    fn number(&mut self, key: &str, file: Option<u64>) -> Result<Option<u64>> {
        match self.env_value(key) {
            Some(v) => {
                self.present = true;
                v.trim().parse().map(Some).map_err(|_| {
                    Error::invalid_input(format!("{} must be a number, not {v:?}", self.var(key)))
                        .with_platform(self.platform.name())
                })
            }
            None => {
                self.present |= file.is_some();
                self.from_file |= file.is_some();
                Ok(file)
            }
        }
    }

    fn require<T>(&mut self, key: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.missing.push(key.to_owned());
        }
        value
    }

    /// `Ok(false)` when nothing was set (not configured), `Ok(true)` when everything required
    /// was, an error naming what is missing otherwise.
    fn finish(&self) -> Result<bool> {
        if !self.present {
            return Ok(false);
        }
        if self.missing.is_empty() {
            return Ok(true);
        }
        let vars: Vec<String> = self.missing.iter().map(|k| self.var(k)).collect();
        let keys: Vec<String> = self.missing.iter().map(|k| k.to_lowercase()).collect();
        let who = match &self.account {
            Some(name) => format!("account {name} ({})", self.platform),
            None => self.platform.to_string(),
        };
        Err(Error::invalid_input(format!(
            "{who} is only partly configured: set {} (or {} under [{}] in the config file)",
            vars.join(", "),
            keys.join(", "),
            self.table()
        ))
        .with_platform(self.platform.name()))
    }

    /// Where the settings came from, for `marketmedia accounts`.
    fn origin(&self) -> &'static str {
        match (self.from_file, self.from_env) {
            (true, true) => "config file + environment",
            (false, true) => "environment",
            _ => "config file",
        }
    }
}

/// One account's settings, resolved.
struct Resolved {
    settings: AccountSettings,
    identity: String,
    country: Option<String>,
    upload_defaults: marketmedia_core::UploadMeta,
    own_module: bool,
}

impl Resolved {
    fn new(settings: AccountSettings, identity: String) -> Resolved {
        Resolved {
            settings,
            identity,
            country: None,
            upload_defaults: marketmedia_core::UploadMeta::default(),
            own_module: false,
        }
    }
}

fn resolve_account(
    name: &str,
    section: AccountSection,
    mut l: Lookup<'_>,
) -> Result<Option<Account>> {
    let resolved = match section {
        AccountSection::Shopee(s) => shopee(s, &mut l)?,
        AccountSection::Lazada(s) => lazada(s, &mut l)?,
        AccountSection::Smh(s) => smh(s, &mut l)?,
        AccountSection::Ebay(s) => ebay(s, &mut l)?,
        AccountSection::Wechat(s) => wechat(s, &mut l)?,
    };
    Ok(resolved.map(|r| Account {
        name: name.to_owned(),
        platform: l.platform,
        identity: r.identity,
        country: r.country,
        origin: l.origin(),
        legacy: l.account.is_none(),
        variables: l.prefix.clone(),
        upload_defaults: r.upload_defaults,
        own_module: r.own_module,
        settings: r.settings,
    }))
}

fn shopee(section: ShopeeSection, l: &mut Lookup<'_>) -> Result<Option<Resolved>> {
    let partner_id = l.number("PARTNER_ID", section.partner_id)?;
    let partner_key = l.secret("PARTNER_KEY", section.partner_key);
    let shop_id = l.number("SHOP_ID", section.shop_id)?;
    let access_token = l.secret("ACCESS_TOKEN", section.access_token);
    let region = l.text("REGION", section.region);
    let base_url = l.text("BASE_URL", section.base_url);
    let partner_id = l.require("PARTNER_ID", partner_id);
    let partner_key = l.require("PARTNER_KEY", partner_key);
    let shop_id = l.require("SHOP_ID", shop_id);
    let access_token = l.require("ACCESS_TOKEN", access_token);
    if !l.finish()? {
        return Ok(None);
    }
    let (Some(partner_id), Some(partner_key), Some(shop_id), Some(access_token)) =
        (partner_id, partner_key, shop_id, access_token)
    else {
        return Ok(None);
    };
    // Read after `finish`: alone, the country and the module configure nothing.
    let country = l.text("COUNTRY", section.country);
    let module = if l.account.is_some() {
        l.text("MODULE", section.module)
    } else {
        None
    };
    let mut config = ShopeeConfig::builder()
        .partner_id(partner_id)
        .partner_key(partner_key)
        .shop_id(shop_id)
        .access_token(access_token);
    if let Some(region) = region {
        let region: ShopeeRegion = region
            .parse()
            .map_err(|m: String| Error::invalid_input(m).with_platform(Platform::Shopee.name()))?;
        config = config.region(region);
    }
    if let Some(url) = base_url {
        config = config.base_url(check_url(l, &url)?);
    }
    let own_module = match module {
        Some(m) => {
            config = config.module(parse_shopee_module(&m)?);
            true
        }
        None => false,
    };
    let identity = crate::accounts::shopee_identity(partner_id, shop_id);
    let mut r = Resolved::new(AccountSettings::Shopee(config.build()?), identity);
    r.country = country.map(|c| c.to_ascii_lowercase());
    r.own_module = own_module;
    Ok(Some(r))
}

fn lazada(section: LazadaSection, l: &mut Lookup<'_>) -> Result<Option<Resolved>> {
    let app_key = l.text("APP_KEY", section.app_key);
    let app_secret = l.secret("APP_SECRET", section.app_secret);
    let access_token = l.secret("ACCESS_TOKEN", section.access_token);
    let country = l.text("COUNTRY", section.country);
    let region = l.text("REGION", section.region);
    let base_url = l.text("BASE_URL", section.base_url);
    let app_key = l.require("APP_KEY", app_key);
    let app_secret = l.require("APP_SECRET", app_secret);
    let access_token = l.require("ACCESS_TOKEN", access_token);
    if !l.finish()? {
        return Ok(None);
    }
    let (Some(app_key), Some(app_secret), Some(access_token)) = (app_key, app_secret, access_token)
    else {
        return Ok(None);
    };
    let seller_id = l.text("SELLER_ID", section.seller_id);
    // The legacy account's title and cover are `Config::lazada_title`; a named account's own.
    let (title, cover_url) = if l.account.is_some() {
        (
            l.text("TITLE", section.title),
            l.text("COVER_URL", section.cover_url),
        )
    } else {
        (None, None)
    };
    let country: LazadaRegion = match (country, region) {
        (Some(c), Some(r)) if !c.eq_ignore_ascii_case(&r) => {
            return Err(Error::invalid_input(format!(
                "[{}]: country = {c:?} and region = {r:?} differ; region is the former name of \
                 country, keep one",
                l.table()
            ))
            .with_platform(Platform::Lazada.name()))
        }
        (Some(c), _) | (None, Some(c)) => c.parse()?,
        (None, None) => LazadaRegion::Sg,
    };
    let mut config = LazadaConfig::builder()
        .app_key(app_key.clone())
        .app_secret(app_secret)
        .access_token(access_token)
        .region(country);
    if let Some(url) = base_url {
        config = config.base_url(check_url(l, &url)?);
    }
    let identity = crate::accounts::lazada_identity(country.code(), seller_id.as_deref(), &app_key);
    let mut r = Resolved::new(AccountSettings::Lazada(config.build()?), identity);
    r.country = Some(country.code().to_owned());
    r.upload_defaults.title = title;
    r.upload_defaults.cover_url = cover_url;
    Ok(Some(r))
}

fn smh(section: SmhSection, l: &mut Lookup<'_>) -> Result<Option<Resolved>> {
    let library_id = l.text("LIBRARY_ID", section.library_id);
    let library_secret = l.secret("LIBRARY_SECRET", section.library_secret);
    let access_token = l.secret("ACCESS_TOKEN", section.access_token);
    let space_id = l.text("SPACE_ID", section.space_id);
    let directory = l.text("DIRECTORY", section.directory);
    let base_url = l.text("BASE_URL", section.base_url);
    let scheme = l.text("STORAGE_SCHEME", section.storage_scheme);
    let plain_http = l.text(
        "ALLOW_PLAIN_HTTP",
        section.allow_plain_http.map(|b| b.to_string()),
    );
    let grants = l.text("GRANTS", section.grants);
    let library_id = l.require("LIBRARY_ID", library_id);
    if library_secret.is_none() && access_token.is_none() {
        l.missing.push("LIBRARY_SECRET".into());
    }
    if !l.finish()? {
        return Ok(None);
    }
    let Some(library_id) = library_id else {
        return Ok(None);
    };
    let config = SmhConfig::builder().library_id(library_id);
    // The secret wins over a ready token (it can renew tokens).
    let mut config = match (library_secret, access_token) {
        (Some(secret), _) => config.library_secret(secret),
        (None, Some(token)) => config.access_token(token),
        (None, None) => return Ok(None),
    };
    if let Some(space) = space_id {
        config = config.space(space);
    }
    if let Some(dir) = directory {
        config = config.directory(dir);
    }
    if let Some(url) = base_url {
        config = config.base_url(check_url(l, &url)?);
    }
    if let Some(scheme) = scheme {
        config = config.storage_scheme(match scheme.to_ascii_lowercase().as_str() {
            "https" => StorageScheme::Https,
            "http" => StorageScheme::Http,
            other => {
                return Err(Error::invalid_input(format!(
                    "the SMH storage scheme must be http or https, not {other:?}"
                ))
                .with_platform(Platform::Smh.name()))
            }
        });
    }
    if let Some(allow) = plain_http {
        config = config.allow_plain_http(matches!(
            allow.to_ascii_lowercase().as_str(),
            "true" | "1" | "yes"
        ));
    }
    if let Some(grants) = grants {
        config = config.grants(
            grants
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned),
        );
    }
    let config = config.build()?;
    let identity = crate::accounts::smh_identity(&config.library_id, &config.space_id);
    Ok(Some(Resolved::new(AccountSettings::Smh(config), identity)))
}

fn ebay(section: EbaySection, l: &mut Lookup<'_>) -> Result<Option<Resolved>> {
    let access_token = l.secret("ACCESS_TOKEN", section.access_token);
    let environment = l.text("ENVIRONMENT", section.environment);
    let base_url = l.text("BASE_URL", section.base_url);
    let access_token = l.require("ACCESS_TOKEN", access_token);
    if !l.finish()? {
        return Ok(None);
    }
    let Some(access_token) = access_token else {
        return Ok(None);
    };
    let mut config = EbayConfig::builder().access_token(access_token);
    if let Some(e) = environment {
        let e: EbayEnvironment = e
            .parse()
            .map_err(|m: String| Error::invalid_input(m).with_platform(Platform::Ebay.name()))?;
        config = config.environment(e);
    }
    if let Some(url) = base_url {
        config = config.base_url(check_url(l, &url)?);
    }
    // Title and description alone do not configure eBay (as Lazada's title and cover); they
    // are the account's defaults for each upload's.
    let title = l.text("TITLE", section.title);
    let description = l.text("DESCRIPTION", section.description);
    let config = config.build()?;
    let site = l.text("SITE", section.site);
    let user = l.text("USER_ID", section.user_id);
    let identity = crate::accounts::ebay_identity(config.environment, user.as_deref());
    let mut r = Resolved::new(AccountSettings::Ebay(config), identity);
    r.country = site.map(|s| s.to_ascii_uppercase());
    r.upload_defaults.title = title;
    r.upload_defaults.description = description;
    Ok(Some(r))
}

fn wechat(section: WechatSection, l: &mut Lookup<'_>) -> Result<Option<Resolved>> {
    let appid = l.text("APPID", section.appid);
    let appsecret = l.secret("APPSECRET", section.appsecret);
    let access_token = l.secret("ACCESS_TOKEN", section.access_token);
    let scene = l.text("SCENE", section.scene);
    let base_url = l.text("BASE_URL", section.base_url);
    if access_token.is_none() {
        l.require("APPID", appid.as_ref());
        l.require("APPSECRET", appsecret.as_ref());
    }
    if !l.finish()? {
        return Ok(None);
    }
    let identity = crate::accounts::wechat_identity(appid.as_deref());
    let mut config = match (access_token, appid, appsecret) {
        (Some(token), _, _) => WechatConfig::builder().access_token(token),
        (None, Some(appid), Some(secret)) => WechatConfig::builder().appid(appid).appsecret(secret),
        _ => return Ok(None),
    };
    if let Some(scene) = scene {
        config = config.scene(
            scene
                .parse::<VideoScene>()
                .map_err(|m| Error::invalid_input(m).with_platform(Platform::Wechat.name()))?,
        );
    }
    if let Some(url) = base_url {
        config = config.base_url(check_url(l, &url)?);
    }
    Ok(Some(Resolved::new(
        AccountSettings::Wechat(config.build()?),
        identity,
    )))
}

/// Refuses a base URL that is not http(s), without echoing anything after the host (a URL
/// may carry credentials in its query or user info).
fn check_url(l: &Lookup<'_>, url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_owned())
    } else {
        Err(Error::invalid_input(format!(
            "{}BASE_URL (base_url under [{}]) must start with http:// or https://",
            l.prefix,
            l.table()
        ))
        .with_platform(l.platform.name()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The legacy account's provider configuration, as the tests written before accounts
    /// read it.
    impl Config {
        fn legacy(&self, platform: Platform) -> Option<&AccountSettings> {
            self.accounts
                .iter()
                .find(|a| a.legacy && a.platform == platform)
                .map(|a| &a.settings)
        }
        fn shopee(&self) -> Option<ShopeeConfig> {
            match self.legacy(Platform::Shopee)? {
                AccountSettings::Shopee(c) => Some(c.clone()),
                _ => None,
            }
        }
        fn lazada(&self) -> Option<LazadaConfig> {
            match self.legacy(Platform::Lazada)? {
                AccountSettings::Lazada(c) => Some(c.clone()),
                _ => None,
            }
        }
        fn smh(&self) -> Option<SmhConfig> {
            match self.legacy(Platform::Smh)? {
                AccountSettings::Smh(c) => Some(c.clone()),
                _ => None,
            }
        }
        fn ebay(&self) -> Option<EbayConfig> {
            match self.legacy(Platform::Ebay)? {
                AccountSettings::Ebay(c) => Some(c.clone()),
                _ => None,
            }
        }
    }

    /// Every variable the loader asks for is one `unknown_env_warnings` knows, so setting it
    /// never draws a "not a variable marketmedia reads" warning.
    #[test]
    fn every_variable_read_is_a_known_one() {
        let asked = std::sync::Mutex::new(Vec::new());
        let lookup = |name: &str| {
            asked.lock().unwrap().push(name.to_owned());
            None
        };
        Config::resolve(ConfigFile::default(), &lookup, &[]).unwrap();
        let asked = asked.into_inner().unwrap();
        for platform in Platform::ALL {
            assert!(
                asked.iter().any(|n| n.starts_with(platform.env_prefix())),
                "nothing read for {platform}: {asked:?}"
            );
        }
        for name in &asked {
            assert!(
                KNOWN_ENV.contains(&name.as_str()),
                "{name} is read but not known"
            );
        }
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn resolve(file: &str, vars: &[(&str, &str)]) -> Result<Config> {
        let vars = env(vars);
        let names: Vec<String> = vars.keys().cloned().collect();
        let lookup = |name: &str| vars.get(name).cloned();
        Config::resolve(parse(file).map_err(Error::invalid_input)?, &lookup, &names)
    }

    /// A mistyped secret is reported by its key and the type expected, never by its value.
    #[test]
    fn a_parse_error_names_the_key_not_the_value() {
        let file = "[shopee]\npartner_id = 1\npartner_key = 98765432123456789\n";
        let err = parse(file).unwrap_err();
        assert!(!err.contains("98765432123456789"), "{err}");
        assert!(!err.contains("9876"), "{err}");
        assert!(err.contains("shopee.partner_key"), "{err}");
        assert!(err.contains("expected a string"), "{err}");
        assert!(err.contains("line 3"), "{err}");

        // A secret written where a number goes, and a string where a boolean goes.
        let file = "[shopee]\npartner_id = \"sk-live-4f9a8b7c6d5e\"\n";
        let err = parse(file).unwrap_err();
        assert!(!err.contains("sk-live"), "{err}");
        assert!(err.contains("shopee.partner_id"), "{err}");
        let file = "[smh]\nallow_plain_http = \"sk-live-4f9a8b7c6d5e\"\n";
        let err = parse(file).unwrap_err();
        assert!(!err.contains("sk-live"), "{err}");
        assert!(err.contains("smh.allow_plain_http"), "{err}");
        assert!(err.contains("expected a boolean"), "{err}");
    }

    #[test]
    fn ebay_from_the_file_and_the_environment() {
        let c = resolve(
            "[ebay]\naccess_token = \"file-token\"\nenvironment = \"sandbox\"\ntitle = \"Kettle\"\n",
            &[("MARKETMEDIA_EBAY_ACCESS_TOKEN", "env-token")],
        )
        .unwrap();
        let e = c.ebay().unwrap();
        assert_eq!(e.access_token.expose(), "env-token");
        assert_eq!(
            e.effective_base_url(),
            "https://apim.sandbox.ebay.com/commerce/media/v1_beta"
        );
        let account = c.accounts_of(Platform::Ebay).next().unwrap();
        assert_eq!(account.upload_defaults.title.as_deref(), Some("Kettle"));
        assert!(!format!("{e:?}").contains("env-token"));
        let only_title = resolve("", &[("MARKETMEDIA_EBAY_TITLE", "Kettle")]).unwrap();
        assert!(only_title.ebay().is_none());
        assert!(resolve("[ebay]\nenvironment = \"sandbox\"\n", &[]).is_err());
        assert!(resolve(
            "[ebay]\naccess_token = \"t\"\nenvironment = \"mars\"\n",
            &[]
        )
        .is_err());
    }

    #[test]
    fn nothing_set_means_sandbox_everywhere() {
        let c = resolve("", &[]).unwrap();
        assert!(Platform::ALL.iter().all(|p| !c.is_configured(*p)));
    }

    #[test]
    fn environment_wins_over_the_file() {
        let file = r#"
            [shopee]
            partner_id = 1
            partner_key = "file-key"
            shop_id = 2
            access_token = "file-token"
            base_url = "http://file.invalid"
        "#;
        let c = resolve(
            file,
            &[
                ("MARKETMEDIA_SHOPEE_PARTNER_ID", "77"),
                ("MARKETMEDIA_SHOPEE_BASE_URL", "http://127.0.0.1:9/"),
            ],
        )
        .unwrap();
        let s = c.shopee().unwrap();
        assert_eq!(s.partner_id, 77);
        assert_eq!(s.partner_key.expose(), "file-key");
        assert_eq!(s.effective_base_url(), "http://127.0.0.1:9");
        assert!(c.lazada().is_none() && c.smh().is_none());
    }

    #[test]
    fn the_shopee_module_comes_from_the_environment_or_the_file() {
        let file = r#"
            [shopee]
            partner_id = 1
            partner_key = "k"
            shop_id = 2
            access_token = "t"
            module = "media"
        "#;
        let c = resolve(file, &[]).unwrap();
        assert_eq!(c.shopee_module, ShopeeModule::Media);
        let s = c.shopee().unwrap();
        assert_eq!(s.module, ShopeeModule::Media);
        assert_eq!(s.max_file_bytes, 1 << 30);
        let c = resolve(file, &[("MARKETMEDIA_SHOPEE_MODULE", "media_space")]).unwrap();
        assert_eq!(c.shopee().unwrap().module, ShopeeModule::MediaSpace);
        // Alone, the module selects the sandbox's and configures nothing.
        let c = resolve("", &[("MARKETMEDIA_SHOPEE_MODULE", "media")]).unwrap();
        assert_eq!(c.shopee_module, ShopeeModule::Media);
        assert!(!c.is_configured(Platform::Shopee));
        let err = resolve("", &[("MARKETMEDIA_SHOPEE_MODULE", "video")]).unwrap_err();
        assert!(err.to_string().contains("media_space, media"), "{err}");
        let c = resolve("", &[]).unwrap();
        assert_eq!(c.shopee_module, ShopeeModule::MediaSpace);
    }

    #[test]
    fn partly_configured_is_an_error_naming_the_missing_variables_not_the_secrets() {
        let err = resolve(
            "",
            &[
                ("MARKETMEDIA_LAZADA_APP_KEY", "k"),
                ("MARKETMEDIA_LAZADA_APP_SECRET", "very-secret-value"),
            ],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("MARKETMEDIA_LAZADA_ACCESS_TOKEN"), "{text}");
        assert!(!text.contains("very-secret-value"), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn smh_takes_a_secret_or_a_token_and_a_scheme() {
        let c = resolve(
            "[smh]\nlibrary_id = \"lib\"\naccess_token = \"tok\"\nstorage_scheme = \"http\"\nallow_plain_http = true\n",
            &[],
        )
        .unwrap();
        let smh = c.smh().unwrap();
        assert_eq!(smh.storage_scheme, StorageScheme::Http);
        // The builder checks the account when the file is read: plain HTTP needs its key.
        let err = resolve(
            "[smh]\nlibrary_id = \"lib\"\naccess_token = \"tok\"\nstorage_scheme = \"http\"\n",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("plain HTTP"), "{err}");
        assert!(!format!("{smh:?}").contains("tok\""));
        assert!(resolve("[smh]\nlibrary_id = \"lib\"\n", &[]).is_err());
    }

    #[test]
    fn smh_plain_http_and_grants_are_explicit_keys() {
        let c = resolve(
            "[smh]\nlibrary_id = \"smhlib\"\nlibrary_secret = \"s\"\n",
            &[],
        )
        .unwrap();
        let smh = c.smh().unwrap();
        assert_eq!(smh.base_url, "https://smhlib.api.tencentsmh.cn");
        assert!(!smh.allow_plain_http);
        assert_eq!(smh.grants, vec!["upload_file".to_string()]);
        let c = resolve(
            "[smh]\nlibrary_id = \"lib\"\nlibrary_secret = \"s\"\nbase_url = \"http://127.0.0.1:9\"\nstorage_scheme = \"http\"\nallow_plain_http = true\ngrants = \"upload_file, create_directory\"\n",
            &[],
        )
        .unwrap();
        let smh = c.smh().unwrap();
        assert!(smh.allow_plain_http);
        assert_eq!(smh.grants, vec!["upload_file", "create_directory"]);
        assert!(smh.validate().is_ok());
    }

    #[test]
    fn lazada_title_and_cover_alone_do_not_configure_lazada() {
        let c = resolve(
            "",
            &[
                ("MARKETMEDIA_LAZADA_TITLE", "Kettle"),
                ("MARKETMEDIA_LAZADA_COVER_URL", "https://x.invalid/c.jpg"),
            ],
        )
        .unwrap();
        assert!(c.lazada().is_none());
        assert_eq!(c.lazada_title.as_deref(), Some("Kettle"));
    }

    #[test]
    fn file_errors_are_one_line_with_a_line_number() {
        let err = parse("[shopee]\npartner_id = 1\nbogus = 2\n").unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
        assert!(!err.contains('\n'));
        let err = parse("[shopee]\npartner_id = \"x\"\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
    }
}
