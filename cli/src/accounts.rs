//! Accounts: every shop a seller runs, each with a name.
//!
//! An account is a name, a marketplace, its credentials, its API host, its country or site
//! and its options, as rclone's named remotes are (`[name]` with `type = …`). A seller has any
//! number per marketplace:
//!
//! ```toml
//! [accounts.<name>]
//! marketplace = "<marketplace>"
//! <its keys: credentials, host, country…>
//! ```
//!
//! (`docs/cli.md`, "Accounts", has a worked example and every marketplace's keys.)
//!
//! The marketplaces' own tables (`[<marketplace>]`) and the `MARKETMEDIA_<MARKETPLACE>_*` variables each
//! define one account named after the marketplace; `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>` sets a
//! key of a named account, or defines one with `MARKETMEDIA_ACCOUNT_<NAME>_MARKETPLACE`
//! (see [`crate::config`]).
//!
//! What must not change when a seller renames an account (resume, idempotence, assets,
//! request limits) is keyed by the account's **identity** on the platform, never its name:
//! see [`Account::identity`].

use std::sync::Arc;

use marketmedia_core::{Error, Marketplace, Result, Settings};
use serde::Serialize;

use crate::config::Config;

/// One configured account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its name: the table's (`[accounts.<name>]`: `<name>`), or the marketplace's for
    /// the legacy table and variables.
    pub name: String,
    /// Its marketplace.
    pub market: Arc<dyn Marketplace>,
    /// Who the account is on the platform; resume, idempotence, assets and request limits
    /// are keyed by it (each marketplace says how it is made, `Marketplace::account`; the
    /// table in `docs/cli.md`, "Accounts", is generated from them). Two accounts with one
    /// identity are a configuration error.
    pub identity: String,
    /// The country or site, when set.
    pub country: Option<String>,
    /// The API base URL requests go to, redacted (no user info, no query values).
    pub endpoint: String,
    /// The key a release before accounts used for it (a shop id, an app key…).
    pub pre_accounts_key: Option<String>,
    /// Where its settings came from: `config file`, `environment` or both.
    pub origin: &'static str,
    /// Defined by the legacy `[marketplace]` table or `MARKETMEDIA_<MARKETPLACE>_*`.
    pub legacy: bool,
    /// The prefix of its variables (`MARKETMEDIA_<MARKETPLACE>_`, `MARKETMEDIA_ACCOUNT_<NAME>_`).
    pub variables: String,
    /// Its settings: its own, the marketplace's shared ones it does not set, and the command
    /// line's.
    pub settings: Settings,
}

impl Account {
    /// Works out its identity, country and endpoint from its settings (the marketplace
    /// checks them).
    pub fn describe(&mut self) -> Result<()> {
        let info = self.market.account(&self.settings)?;
        self.identity = info.identity;
        self.country = info.country;
        self.endpoint = marketmedia_core::redact_url(&info.endpoint);
        self.pre_accounts_key = info.pre_accounts_key;
        Ok(())
    }

    /// The account as a library user holds it.
    pub fn to_core(&self) -> marketmedia_core::Account {
        marketmedia_core::Account::new(&self.name, self.market.clone(), self.settings.clone())
    }
}

/// One destination of a command: a configured account, or a marketplace's embedded
/// simulator.
#[derive(Debug, Clone)]
pub enum Chosen<'a> {
    /// A configured account.
    Account(&'a Account),
    /// The embedded simulator of a marketplace.
    Sandbox(Arc<dyn Marketplace>),
}

impl PartialEq for Chosen<'_> {
    /// Accounts are the same when their names are (names are unique).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Chosen::Account(a), Chosen::Account(b)) => a.name == b.name,
            (Chosen::Sandbox(a), Chosen::Sandbox(b)) => a.name() == b.name(),
            _ => false,
        }
    }
}

impl Eq for Chosen<'_> {}

/// The destinations `--to` asks for.
///
/// - `--to` takes account names and marketplace names; a marketplace name means every
///   account of that marketplace. An account may be named like a marketplace only when it is
///   an account of that marketplace (the account of a marketplace's own table is named after
///   it), so the two readings never disagree: `--to <marketplace>` is every account of it,
///   that one included.
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
        let mut wanted = Vec::new();
        for name in to {
            match config.registry.get(name) {
                Some(m) => wanted.push(m.name()),
                None => {
                    let why = if force_sandbox {
                        "with --sandbox, --to takes marketplace names"
                    } else {
                        "no account is configured"
                    };
                    return Err(Error::invalid_input(format!(
                        "--to {name}: {why} ({})",
                        config.registry.names().join(", ")
                    )));
                }
            }
        }
        return Ok(config
            .registry
            .iter()
            .filter(|m| wanted.is_empty() || wanted.contains(&m.name()))
            .map(|m| Chosen::Sandbox(m.clone()))
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
        if let Some(market) = config.registry.get(name) {
            let mut any = false;
            for a in config.accounts_of(market.name()) {
                any = true;
                push(Chosen::Account(a));
            }
            if !any {
                return Err(no_account(market.as_ref()));
            }
        } else if let Some(a) = config.account(name) {
            push(Chosen::Account(a));
        } else {
            let closest = marketmedia_core::raw::closest(
                name,
                config.accounts.iter().map(|a| a.name.as_str()),
            )
            .map(|n| format!(" (did you mean {n}?)"))
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
pub fn no_account(market: &dyn Marketplace) -> Error {
    let name = market.name();
    Error::invalid_input(format!(
        "no {name} account is configured: add one to the config file ([accounts.NAME] with \
         marketplace = \"{name}\", or [{name}]), or set the {}* variables; or pass \
         --sandbox to use the embedded simulators",
        market.env_prefix()
    ))
    .with_platform(name)
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
    /// Its credential and the stored tokens' expiries (never a token).
    #[serde(flatten)]
    pub tokens: crate::tokens::Expiries,
}

impl AccountRecord {
    /// The record of `account`.
    pub fn of(account: &Account, file: Option<&std::path::Path>) -> AccountRecord {
        let table = if account.legacy {
            format!("[{}]", account.market.name())
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
            marketplace: account.market.name().to_owned(),
            host: account.endpoint.clone(),
            country: account.country.clone(),
            identity: account.identity.clone(),
            source,
            tokens: crate::tokens::Expiries::default(),
        }
    }
}

/// `marketmedia accounts [check [NAME…] | authorize NAME | rekey]`.
pub async fn command(config: &Config, args: crate::args::AccountsArgs) -> Result<i32> {
    match args.action {
        None => {
            let expiries = crate::tokens::expiries(config, args.store.as_deref()).await?;
            list(config, &expiries, args.json);
            Ok(crate::exit::SUCCESS)
        }
        Some(crate::args::AccountsAction::Authorize(a)) => {
            crate::tokens::authorize(config, a).await
        }
        Some(crate::args::AccountsAction::Move(a)) => {
            crate::tokens::move_to_shared(config, a).await
        }
        Some(crate::args::AccountsAction::Rekey(a)) => crate::tokens::rekey(a).await,
        Some(crate::args::AccountsAction::Check { names }) => {
            let options = args.timeouts.client_options();
            crate::check::check(config, &names, options, args.json).await
        }
    }
}

/// Prints the accounts: a table, or one JSON object per account; then a warning for each
/// authorization that ends within 7 days.
fn list(config: &Config, expiries: &[crate::tokens::Expiries], json: bool) {
    let now = marketmedia_core::raw::http::unix_millis();
    let records: Vec<AccountRecord> = config
        .accounts
        .iter()
        .zip(expiries)
        .map(|(a, e)| {
            let mut r = AccountRecord::of(a, config.file.as_deref());
            r.tokens = e.clone();
            r
        })
        .collect();
    let warnings: Vec<String> = records
        .iter()
        .filter_map(|r| crate::tokens::warning(&r.account, &r.tokens, now))
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
                    token_cell(&r.tokens, r.tokens.access_expires_at_ms, now),
                    token_cell(&r.tokens, r.tokens.refresh_expires_at_ms, now),
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
                "ACCESS TOKEN",
                "REFRESH TOKEN",
                "FROM",
            ],
            &rows,
        ));
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    for w in warnings {
        eprintln!("marketmedia: {w}");
    }
}

/// An expiry cell: `-` when nothing is stored (a fixed access token, or a marketplace
/// without refresh).
fn token_cell(e: &crate::tokens::Expiries, at: Option<u64>, now: u64) -> String {
    if let Some(to) = &e.moved_to {
        return format!("moved to {to}");
    }
    if !e.stored {
        return "-".into();
    }
    crate::tokens::when(at, now)
}
