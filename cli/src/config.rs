//! Accounts from the environment and a TOML config file, read through each marketplace's
//! own declaration of its settings ([`marketmedia_core::Marketplace::settings`]): this module
//! names no marketplace.
//!
//! Every setting of a marketplace has an environment variable,
//! `MARKETMEDIA_<MARKETPLACE>_<KEY>`, and a key of the same name in lowercase under the
//! marketplace's table of the config file; a named account's are
//! `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>` and its `[accounts.NAME]` table (see
//! [`crate::accounts`]). A variable that is set and not empty wins over the file. A
//! marketplace with none of its settings anywhere is *not configured*: the command uploads to
//! the embedded simulator instead (see [`crate::sandbox`]). One with some settings but not
//! all the required ones is an error, so a typo never silently sends a seller's video to a
//! sandbox.
//!
//! ```toml
//! [<marketplace>]              # its own account, named after it
//! <key> = "…"
//!
//! [accounts.<name>]            # any number of named accounts per marketplace
//! marketplace = "<marketplace>"
//! <key> = "…"
//! ```
//!
//! `docs/cli.md` lists every key of every marketplace (its tables are checked against the
//! declarations by the tests). Secrets are held in [`Secret`](marketmedia_core::Secret)s from
//! the moment they are read: no `Debug`, `Display` or error message of this crate shows them,
//! and a value written with the wrong type is reported by its key and line, never quoted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use marketmedia_core::raw::{
    account_env_prefix, closest, env_name, Origin, Setting, SettingKind, ACCOUNT_ENV_PREFIX,
};
use marketmedia_core::{Error, Marketplace, Registry, Result, Settings};
use marketmedia_sim::standalone::SimulatorEntry;
use toml::Spanned;

use crate::accounts::Account;
use crate::Setup;

/// Environment variable naming the config file (same as `--config`).
pub const CONFIG_ENV: &str = "MARKETMEDIA_CONFIG";

/// The `MARKETMEDIA_*` variables read outside the command line's parser and the
/// marketplaces' settings: the config loader's, the resume journal's, the credential
/// store's keys (`docs/security.md`), and the test hook of the PostgreSQL credential store
/// (documented in `docs/batch.md`).
pub const OTHER_ENV: &[&str] = &[
    CONFIG_ENV,
    "MARKETMEDIA_JOURNAL_DIR",
    marketmedia_batch::credentials::seal::KEY_VARIABLE,
    marketmedia_batch::credentials::seal::NEW_KEY_VARIABLE,
    marketmedia_batch::credentials::postgres::KILL_POINT_ENV,
];

/// Every `MARKETMEDIA_*` variable the command reads, sorted: [`OTHER_ENV`], every
/// registered marketplace's `MARKETMEDIA_<MARKETPLACE>_<KEY>`, and the `env` of every
/// argument of every subcommand (`MARKETMEDIA_BATCH_STORE`, `MARKETMEDIA_SIM_SEED`, …), taken
/// from clap's own definition of the command line. Nothing here is a second list: the
/// marketplaces' variables come from their declarations.
pub fn known_env(registry: &Registry) -> Vec<String> {
    let mut names: Vec<String> = OTHER_ENV.iter().map(|&n| n.to_owned()).collect();
    for market in registry.iter() {
        let prefix = market.env_prefix();
        names.extend(
            market
                .settings()
                .iter()
                .map(|s| format!("{prefix}{}", s.env_key())),
        );
    }
    names.extend(command_env(&crate::args::command(registry)));
    names.sort();
    names.dedup();
    names
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
    registry: &Registry,
    names: impl IntoIterator<Item = String>,
    accounts: &[(String, String)],
) -> Vec<String> {
    let mut known: Vec<String> = known_env(registry);
    for (name, market) in accounts {
        known.push(format!("{ACCOUNT_ENV_PREFIX}{name}_MARKETPLACE"));
        if let Some(m) = registry.get(market) {
            for s in m.settings() {
                known.push(format!("{ACCOUNT_ENV_PREFIX}{name}_{}", s.env_key()));
            }
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
            let closest = closest(&name, known.iter().map(String::as_str)).unwrap_or(CONFIG_ENV);
            format!("warning: {name} is not a variable marketmedia reads (did you mean {closest}?)")
        })
        .collect()
}

/// Prints [`unknown_env_warnings`] on stderr.
pub fn warn_unknown_env(
    registry: &Registry,
    names: impl IntoIterator<Item = String>,
    accounts: &[(String, String)],
) {
    for w in unknown_env_warnings(registry, names, accounts) {
        eprintln!("{w}");
    }
}

/// Looks up an environment variable (a closure, so tests need not touch the process's).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process's environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// One value of the config file, as text, with its line.
#[derive(Debug, Clone)]
pub struct FileValue {
    /// The value as text (a number's digits, `true` or `false`, a string as written).
    pub text: String,
    /// Its line (1-based).
    pub line: usize,
}

/// One table of the config file: its values by key (checked against the marketplace's
/// declarations: known keys, the right types).
#[derive(Debug, Clone, Default)]
pub struct FileTable {
    /// Key → value.
    pub values: BTreeMap<&'static str, FileValue>,
}

/// The config file as written, checked against the registered marketplaces.
#[derive(Debug, Default, Clone)]
pub struct ConfigFile {
    /// The marketplaces' own tables (`[<marketplace>]`), by marketplace name.
    pub tables: BTreeMap<&'static str, FileTable>,
    /// `[accounts.NAME]`: named accounts, any number per marketplace, with their
    /// marketplace's name.
    pub accounts: BTreeMap<String, (&'static str, FileTable)>,
}

/// The resolved configuration: the registered marketplaces, every configured account (none:
/// the sandbox serves), and what the marketplaces' own tables set for all their accounts
/// and their simulators (the shared settings, and the command line's flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// The marketplaces the command knows.
    pub registry: Registry,
    /// The simulators its sandbox starts.
    pub simulators: Vec<SimulatorEntry>,
    /// Every configured account, in the registry's order of marketplaces, then the legacy
    /// account (named after its marketplace) first, then by name.
    pub accounts: Vec<Account>,
    /// By marketplace name: the values its own table (`[<marketplace>]`,
    /// `MARKETMEDIA_<MARKETPLACE>_*`)
    /// gives its shared settings ([`Setting::shared`]) and the command line's flags
    /// ([`Setting::command_line`]); every account of the marketplace that does not set its
    /// own takes them, and so does its simulator in the sandbox.
    pub shared: BTreeMap<&'static str, Settings>,
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// The environment names of the named accounts and their marketplaces (`<NAME>`,
    /// `<marketplace>`), to tell their `MARKETMEDIA_ACCOUNT_*` variables from typos.
    pub env_names: Vec<(String, String)>,
}

impl Config {
    /// No account: the sandbox serves every marketplace of `setup`.
    pub fn empty(setup: &Setup) -> Config {
        let registry = setup.registry.clone();
        let shared = registry
            .iter()
            .map(|m| (m.name(), Settings::new(m.settings())))
            .collect();
        Config {
            registry,
            simulators: setup.simulators.clone(),
            accounts: Vec::new(),
            shared,
            file: None,
            env_names: Vec::new(),
        }
    }

    /// Whether `marketplace` has an account configured.
    pub fn is_configured(&self, marketplace: &str) -> bool {
        self.accounts.iter().any(|a| a.market.name() == marketplace)
    }

    /// The account named `name`.
    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The accounts of `marketplace`, in order.
    pub fn accounts_of<'a>(&'a self, marketplace: &'a str) -> impl Iterator<Item = &'a Account> {
        self.accounts
            .iter()
            .filter(move |a| a.market.name() == marketplace)
    }

    /// The marketplaces and simulators of this configuration.
    pub fn setup(&self) -> Setup {
        Setup {
            registry: self.registry.clone(),
            simulators: self.simulators.clone(),
        }
    }

    /// The marketplace's shared settings (see [`Config::shared`]).
    pub fn shared_of(&self, market: &dyn Marketplace) -> Settings {
        self.shared
            .get(market.name())
            .cloned()
            .unwrap_or_else(|| Settings::new(market.settings()))
    }

    /// The configuration from `explicit` (or `$MARKETMEDIA_CONFIG`, or the default path when
    /// it exists) and the environment, whose variable names are `names`.
    pub fn load(
        setup: &Setup,
        explicit: Option<&Path>,
        env: EnvLookup<'_>,
        names: &[String],
    ) -> Result<Config> {
        let registry = &setup.registry;
        let (file, path) = match explicit {
            Some(path) => (read_file(registry, path)?, Some(path.to_owned())),
            None => match default_path().filter(|p| p.is_file()) {
                Some(path) => (read_file(registry, &path)?, Some(path)),
                None => (ConfigFile::default(), None),
            },
        };
        let mut config = Config::resolve(setup, file, env, names)?;
        config.file = path;
        Ok(config)
    }

    /// Merges a parsed file with the environment. For every key the environment wins when
    /// set and not empty: `MARKETMEDIA_<MARKETPLACE>_<KEY>` over `[<marketplace>]`, and
    /// `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>` over `[accounts.<name>]`. An account is defined by
    /// its table, or by `MARKETMEDIA_ACCOUNT_<NAME>_MARKETPLACE` alone (`names` are the
    /// environment's variable names, searched for these).
    pub fn resolve(
        setup: &Setup,
        mut file: ConfigFile,
        env: EnvLookup<'_>,
        names: &[String],
    ) -> Result<Config> {
        let registry = &setup.registry;
        let mut config = Config::empty(setup);
        let mut accounts: Vec<Account> = Vec::new();
        // The marketplaces' own tables and variables: the shared settings, and one account
        // each, named after the marketplace.
        for market in registry.iter() {
            let table = file.tables.remove(market.name()).unwrap_or_default();
            let source = Source::legacy(market.as_ref());
            let own = source.read(&table, env)?;
            config
                .shared
                .insert(market.name(), own.filtered(|s| s.shared));
            let own = own.filtered(|s| !s.shared);
            if own.configures() {
                accounts.push(source.account(market, own)?);
            }
        }
        // Named accounts: the file's tables, then those the environment alone defines.
        let mut sections: BTreeMap<String, (Arc<dyn Marketplace>, FileTable)> = BTreeMap::new();
        for (name, (market, table)) in file.accounts {
            let market = registry.find(market)?.clone();
            check_account_name(registry, &name, market.as_ref())?;
            sections.insert(name, (market, table));
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
            let market = registry
                .find(&value)
                .map_err(|e| Error::invalid_input(format!("{var}: {}", e.message())))?
                .clone();
            match by_env.get(n) {
                Some(name) => {
                    let in_file = sections.get(name).map(|(m, _)| m.name());
                    if in_file != Some(market.name()) {
                        return Err(Error::invalid_input(format!(
                            "{var} says {}, but [accounts.{name}] of the config file says {}: \
                             an account has one marketplace",
                            market.name(),
                            in_file.unwrap_or("another")
                        )));
                    }
                }
                None => {
                    let name = n.to_ascii_lowercase().replace('_', "-");
                    check_account_name(registry, &name, market.as_ref())?;
                    sections.insert(name, (market, FileTable::default()));
                }
            }
        }
        for (name, (market, table)) in sections {
            config
                .env_names
                .push((env_name(&name), market.name().to_owned()));
            let source = Source::named(market.as_ref(), &name);
            let own = source.read(&table, env)?;
            let account = source.account(&market, own)?;
            if accounts.iter().any(|a| a.name == account.name) {
                return Err(Error::invalid_input(format!(
                    "two accounts are named {name}: [{0}] (or the {1}* variables) and \
                     [accounts.{name}]; rename the second",
                    market.name(),
                    market.env_prefix()
                )));
            }
            accounts.push(account);
        }
        config.accounts = accounts;
        config.refresh()?;
        Ok(config)
    }

    /// Applies the shared settings to every account that does not set its own, orders the
    /// accounts, and works out their identities again (refusing two with one identity).
    fn refresh(&mut self) -> Result<()> {
        for a in &mut self.accounts {
            let shared = self
                .shared
                .get(a.market.name())
                .cloned()
                .unwrap_or_else(|| Settings::new(a.market.settings()));
            // Shared values never win over the account's own; the command line's do.
            a.settings.fill_from(&shared, Origin::Shared);
            let flags = shared.filtered(|_| true);
            for key in shared.keys() {
                if shared.origin(key) == Some(Origin::CommandLine) {
                    if let Some(v) = flags.expose(key) {
                        a.settings.set(key, v, Origin::CommandLine)?;
                    }
                }
            }
            a.describe()?;
        }
        let registry = self.registry.clone();
        let order = |a: &Account| registry.position(a.market.name()).unwrap_or(usize::MAX);
        self.accounts
            .sort_by(|a, b| (order(a), !a.legacy, &a.name).cmp(&(order(b), !b.legacy, &b.name)));
        // Two accounts with one identity would share sessions, limits and assets.
        for (i, a) in self.accounts.iter().enumerate() {
            if let Some(b) = self.accounts[..i].iter().find(|b| b.identity == a.identity) {
                return Err(Error::invalid_input(format!(
                    "accounts {} and {} are the same {} account ({}): {}",
                    b.name,
                    a.name,
                    a.market.name(),
                    a.identity,
                    a.market.identity_hint()
                )));
            }
        }
        Ok(())
    }

    /// Sets `key` of `marketplace` from the command line (`--<marketplace>-<key> VALUE`): for the
    /// sandbox and every account of the marketplace, their own choices included.
    pub fn set_from_command_line(
        &mut self,
        marketplace: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let market = self.registry.find(marketplace)?.clone();
        let flag = market
            .settings()
            .iter()
            .find(|s| s.key == key)
            .map(|s| format!("--{}", s.flag_name(market.name())))
            .unwrap_or_else(|| key.to_owned());
        let shared = self
            .shared
            .entry(market.name())
            .or_insert_with(|| Settings::new(market.settings()));
        shared
            .set(key, value, Origin::CommandLine)
            .map_err(|e| Error::invalid_input(e.message().replace(&format!("`{key}`"), &flag)))?;
        for a in self
            .accounts
            .iter_mut()
            .filter(|a| a.market.name() == market.name())
        {
            a.settings.set(key, value, Origin::CommandLine)?;
        }
        self.refresh()
    }
}

/// An account name is letters, digits, `-`, `_` and `.`; one named like a marketplace must be
/// an account of that marketplace (so `--to <marketplace>` never means two different
/// things).
fn check_account_name(registry: &Registry, name: &str, market: &dyn Marketplace) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(Error::invalid_input(format!(
            "account name {name:?}: use letters, digits, -, _ and . only"
        )));
    }
    if let Some(other) = registry.get(name) {
        if other.name() != market.name() {
            return Err(Error::invalid_input(format!(
                "account {name} is a {} account named like another marketplace: rename it \
                 (--to {name} would mean every {} account)",
                market.name(),
                other.name()
            )));
        }
    }
    Ok(())
}

/// Where one account's settings are read from: its table and its variables' prefix.
struct Source<'a> {
    market: &'a dyn Marketplace,
    /// `MARKETMEDIA_<MARKETPLACE>_` or `MARKETMEDIA_ACCOUNT_<NAME>_`.
    prefix: String,
    /// The account's name when it is a named one.
    account: Option<String>,
}

impl<'a> Source<'a> {
    /// The marketplace's own table and variables.
    fn legacy(market: &'a dyn Marketplace) -> Self {
        Source {
            market,
            prefix: market.env_prefix(),
            account: None,
        }
    }

    /// A named account's.
    fn named(market: &'a dyn Marketplace, name: &str) -> Self {
        Source {
            market,
            prefix: account_env_prefix(name),
            account: Some(name.to_owned()),
        }
    }

    fn table(&self) -> String {
        match &self.account {
            Some(name) => format!("accounts.{name}"),
            None => self.market.name().to_owned(),
        }
    }

    /// Every declared setting: its variable when set and not empty, else the file's value.
    fn read(&self, table: &FileTable, env: EnvLookup<'_>) -> Result<Settings> {
        let mut s = Settings::new(self.market.settings());
        for decl in self.market.settings() {
            let var = format!("{}{}", self.prefix, decl.env_key());
            let from_env = env(&var).filter(|v| {
                if decl.is_secret() {
                    !v.is_empty()
                } else {
                    !v.trim().is_empty()
                }
            });
            match (from_env, table.values.get(decl.key)) {
                (Some(v), _) => s
                    .set(decl.key, &v, Origin::Environment)
                    .map_err(|e| renamed(e, decl.key, &var, self.market.name()))?,
                (None, Some(v)) => s.set(decl.key, &v.text, Origin::File).map_err(|e| {
                    let key = format!("{}.{}", self.table(), decl.key);
                    renamed(
                        e,
                        decl.key,
                        &format!("line {}: {key}", v.line),
                        self.market.name(),
                    )
                })?,
                (None, None) => {}
            }
        }
        Ok(s)
    }

    /// The account these settings make: every required one must be set.
    fn account(&self, market: &Arc<dyn Marketplace>, own: Settings) -> Result<Account> {
        let missing = own.missing();
        if !missing.is_empty() {
            let vars: Vec<String> = missing
                .iter()
                .map(|s| format!("{}{}", self.prefix, s.env_key()))
                .collect();
            let keys: Vec<&str> = missing.iter().map(|s| s.key).collect();
            let who = match &self.account {
                Some(name) => format!("account {name} ({})", market.name()),
                None => market.name().to_owned(),
            };
            return Err(Error::invalid_input(format!(
                "{who} is only partly configured: set {} (or {} under [{}] in the config file)",
                vars.join(", "),
                keys.join(", "),
                self.table()
            ))
            .with_platform(market.name()));
        }
        let (from_file, from_env) =
            own.keys()
                .fold((false, false), |(f, e), k| match own.origin(k) {
                    Some(Origin::File) => (true, e),
                    Some(Origin::Environment) => (f, true),
                    _ => (f, e),
                });
        let origin = match (from_file, from_env) {
            (true, true) => "config file + environment",
            (false, true) => "environment",
            _ => "config file",
        };
        let mut account = Account {
            name: self
                .account
                .clone()
                .unwrap_or_else(|| market.name().to_owned()),
            market: market.clone(),
            identity: String::new(),
            country: None,
            endpoint: String::new(),
            pre_accounts_key: None,
            origin,
            legacy: self.account.is_none(),
            variables: self.prefix.clone(),
            settings: own,
        };
        account.describe()?;
        Ok(account)
    }
}

/// `e`'s message with `` `key` `` read as `name` (a variable, or a file's line and key).
fn renamed(e: Error, key: &str, name: &str, market: &str) -> Error {
    Error::invalid_input(e.message().replace(&format!("`{key}`"), name)).with_platform(market)
}

/// `config.toml` in the user's config directory (`~/.config/marketmedia/config.toml` on
/// Linux, `~/Library/Application Support/marketmedia/config.toml` on macOS,
/// `%APPDATA%\marketmedia\config.toml` on Windows).
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("marketmedia").join("config.toml"))
}

/// Reads, parses and checks a config file; an error is reported on one line with its line
/// number.
pub fn read_file(registry: &Registry, path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid_input(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    parse(registry, &text)
        .map_err(|m| Error::invalid_input(format!("config file {}: {m}", path.display())))
}

/// One table of the file as written: values with their places.
type RawTable = BTreeMap<String, Spanned<toml::Value>>;

/// The file as written: the marketplaces' tables and `[accounts.*]`, each value with its
/// place.
#[derive(Default)]
struct RawFile {
    accounts: BTreeMap<String, Spanned<RawTable>>,
    tables: BTreeMap<String, Spanned<RawTable>>,
}

impl<'de> serde::Deserialize<'de> for RawFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // By hand rather than with `#[serde(flatten)]`, which buffers values and so loses
        // the places `Spanned` records.
        struct Tables;
        impl<'de> serde::de::Visitor<'de> for Tables {
            type Value = RawFile;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tables of settings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<RawFile, A::Error> {
                let mut file = RawFile::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "accounts" {
                        file.accounts = map.next_value()?;
                    } else {
                        let table = map.next_value()?;
                        file.tables.insert(key, table);
                    }
                }
                Ok(file)
            }
        }
        d.deserialize_map(Tables)
    }
}

/// Parses config file text and checks it against the registered marketplaces: every table
/// a marketplace's (or `[accounts.NAME]` with a `marketplace`), every key one it declares,
/// every value of the type it takes. The error is one line, naming the line and the key
/// (`<marketplace>.<key>`) and never the value written there: a mistyped secret must not be
/// echoed to a terminal or a log.
pub fn parse(registry: &Registry, text: &str) -> std::result::Result<ConfigFile, String> {
    let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
    let raw: RawFile = serde::Deserialize::deserialize(toml::Deserializer::new(text)).map_err(
        |e: toml::de::Error| {
            let message = without_values(&e.message().trim().replace('\n', " "));
            match e.span() {
                Some(span) => format!("line {}: {message}", line_of(span.start)),
                None => message,
            }
        },
    )?;
    let tables: Vec<&str> = std::iter::once("accounts")
        .chain(registry.names())
        .collect();
    let unknown_table = |name: &str, at: usize| {
        let hint = closest(name, tables.iter().copied())
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        let all: Vec<String> = tables.iter().map(|t| format!("`{t}`")).collect();
        format!(
            "line {}: unknown table `{name}`{hint}; the tables here are {}",
            line_of(at),
            all.join(", ")
        )
    };
    let mut file = ConfigFile::default();
    for (name, table) in raw.tables {
        let span = table.span();
        let Some(market) = registry.get(&name) else {
            return Err(unknown_table(&name, span.start));
        };
        let checked = check_table(market.as_ref(), &name, table.into_inner(), &line_of)?;
        file.tables.insert(market.name(), checked);
    }
    for (name, table) in raw.accounts {
        let at = line_of(table.span().start);
        let mut table = table.into_inner();
        let names = registry.names().join(", ");
        let Some(market) = table.remove("marketplace") else {
            return Err(format!(
                "line {at}: [accounts.{name}] has no marketplace: add marketplace = \"…\" \
                 (one of {names})"
            ));
        };
        let line = line_of(market.span().start);
        let market = match market.into_inner() {
            toml::Value::String(s) => registry.get(&s).ok_or_else(|| {
                format!(
                    "line {line}: accounts.{name}.marketplace: unknown marketplace; expected \
                     one of {names}"
                )
            })?,
            other => {
                return Err(format!(
                    "line {line}: accounts.{name}.marketplace: expected a string, found {}",
                    other.type_str()
                ))
            }
        };
        let checked = check_table(
            market.as_ref(),
            &format!("accounts.{name}"),
            table,
            &line_of,
        )?;
        file.accounts.insert(name, (market.name(), checked));
    }
    Ok(file)
}

/// The values of one table, each a key `market` declares, of its type.
fn check_table(
    market: &dyn Marketplace,
    table: &str,
    values: RawTable,
    line_of: &dyn Fn(usize) -> usize,
) -> std::result::Result<FileTable, String> {
    let mut out = FileTable::default();
    let mut scratch = Settings::new(market.settings());
    for (key, value) in values {
        let line = line_of(value.span().start);
        let Some(decl) = market.settings().iter().find(|s| s.key == key) else {
            return Err(format!("line {line}: {}", scratch.unknown(&key).message()));
        };
        let text = toml_text(decl, value.get_ref()).map_err(|found| {
            format!(
                "line {line}: {table}.{key}: expected {}, found {found}",
                decl.kind.expected()
            )
        })?;
        scratch.set(decl.key, &text, Origin::File).map_err(|e| {
            format!(
                "line {line}: {}",
                e.message()
                    .replace(&format!("`{key}`"), &format!("{table}.{key}"))
            )
        })?;
        out.values.insert(decl.key, FileValue { text, line });
    }
    Ok(out)
}

/// A value of the file as the text its setting reads, or the kind of value found instead.
fn toml_text(decl: &Setting, value: &toml::Value) -> std::result::Result<String, &'static str> {
    match (decl.kind, value) {
        (SettingKind::Number, toml::Value::Integer(i)) => Ok(i.to_string()),
        (SettingKind::Flag, toml::Value::Boolean(b)) => Ok(b.to_string()),
        (SettingKind::Number | SettingKind::Flag, other) => Err(other.type_str()),
        (_, toml::Value::String(s)) => Ok(s.clone()),
        (_, other) => Err(other.type_str()),
    }
}

/// A deserializer's message without the value it quotes: anything quoted (in backticks or
/// double quotes) is left out.
fn without_values(message: &str) -> String {
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
