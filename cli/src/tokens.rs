//! Tokens that refresh themselves (`docs/tokens.md`): the credential store every command of
//! this machine shares, the token sources of one process, `marketmedia accounts authorize`,
//! and the expiries `marketmedia accounts` shows.
//!
//! - The store is `credentials.sqlite` in the user's data directory, beside the batch job
//!   store (`~/.local/share/marketmedia/credentials.sqlite` on Linux), created `0600`
//!   ([`marketmedia_batch::credentials::SqliteCredentialStore`]). `upload`, `images`,
//!   `status`, `accounts check` and `batch` open it when an account's credential has tokens
//!   there or its settings give a `refresh_token`; accounts with only a fixed `access_token`
//!   never touch it.
//! - The tokens in it are sealed (`docs/security.md`) under the key of
//!   `MARKETMEDIA_SECRET_KEY` or of `secret.key` beside it (created `0600` on first use);
//!   `marketmedia accounts rekey` ([`rekey`]) re-seals them under a new key.
//! - The embedded sandbox keeps its simulators' tokens in a store of its own, in memory: its
//!   simulators live only in this process, so their tokens must never mix with a real
//!   credential's, nor with another sandbox's.
//! - A process has one token source per credential ([`CredentialSources`]), shared by every
//!   account that points to it.
//! - With a PostgreSQL job store (`batch … --store postgres://…`) the credentials live in
//!   that database ([`marketmedia_batch::credentials::PgCredentialStore`]), shared by every
//!   worker: one source of truth per credential. `accounts authorize NAME --store
//!   postgres://…` stores there, and `accounts move NAME --to postgres://…` moves a
//!   credential there from this machine's file, leaving a tombstone in the file.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use marketmedia_batch::credentials::seal::{Rekey, Sealer, SecretKey, NEW_KEY_VARIABLE};
use marketmedia_batch::credentials::{PgCredentialStore, SqliteCredentialStore, FILE_NAME};
use marketmedia_batch::store::redact_location;
use marketmedia_core::{
    Authorization, CredentialSources, CredentialStore, Error, ErrorKind, Result, Secret,
};

use crate::accounts::Account;
use crate::config::Config;

/// Where the machine's credential store is: `credentials.sqlite` in the user's data
/// directory (beside `batch.sqlite`).
pub fn store_path() -> PathBuf {
    crate::batch::default_store().with_file_name(FILE_NAME)
}

/// Opens (creating, `0600`) the machine's credential store.
pub async fn open_store() -> Result<Arc<SqliteCredentialStore>> {
    Ok(Arc::new(SqliteCredentialStore::open(&store_path()).await?))
}

/// Whether `location` names a shared (PostgreSQL) store.
pub fn is_shared(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Opens the shared credential store of the PostgreSQL job store at `url`.
pub async fn open_shared(url: &str) -> Result<Arc<PgCredentialStore>> {
    if !is_shared(url) {
        return Err(Error::invalid_input(format!(
            "{} is not a shared store: credentials are shared through a PostgreSQL job store \
             (postgres://…); this machine's own store needs no option",
            redact_location(url)
        )));
    }
    Ok(Arc::new(
        PgCredentialStore::connect(url, Sealer::new(shared_key()?)).await?,
    ))
}

/// The key of the shared store: `MARKETMEDIA_SECRET_KEY` (what workers on several machines
/// share), else this machine's key file beside its own store (created on first use: enough
/// for the workers of one machine). Never stored in the database.
fn shared_key() -> Result<SecretKey> {
    SecretKey::load(&SqliteCredentialStore::key_dir(&store_path()), true)
}

/// With a shared store: fails when `account`'s credential is still in this machine's store
/// and not in the shared one, so that it is not seeded there again from the configuration
/// (its refresh token may be spent already) while the file holds the live pair.
pub async fn check_not_local_only(account: &Account, shared: &PgCredentialStore) -> Result<()> {
    let Some(key) = account.market.credential_key(&account.settings)? else {
        return Ok(());
    };
    if !store_path().exists() || shared.load(&key).await?.is_some() {
        return Ok(());
    }
    let local = open_store().await?;
    if local.moved_to(&key).await?.is_some() || local.load(&key).await?.is_none() {
        return Ok(());
    }
    Err(Error::invalid_input(format!(
        "credential {key} of account {name} is in this machine's credential store ({}), not \
         in the shared one ({}): move it first with `marketmedia accounts move {name} --to \
         URL`, so that one store refreshes it",
        store_path().display(),
        shared.location(),
        name = account.name,
    ))
    .with_platform(account.market.name()))
}

/// Every [`CredentialSources`] this process made, so that the exit status can say that a
/// platform refused a credential's refresh ([`crate::exit::REAUTHORIZE`]).
static SOURCES: Mutex<Vec<Arc<CredentialSources>>> = Mutex::new(Vec::new());

/// Token sources over `store`, remembered for [`refused_accounts`].
pub fn sources(store: Arc<dyn CredentialStore>) -> Arc<CredentialSources> {
    let sources = Arc::new(CredentialSources::new(store));
    SOURCES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(sources.clone());
    sources
}

/// The accounts whose credential a platform refused to refresh in this process.
pub fn refused_accounts() -> Vec<String> {
    let mut all: Vec<String> = SOURCES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .flat_map(|s| s.refused())
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The exit status of a command that ended with `code` (or failed with `err`): the platform
/// refused a credential's refresh → [`crate::exit::REAUTHORIZE`], with a line per account
/// naming the command that authorizes it again.
pub fn exit_status(code: i32) -> i32 {
    if code == crate::exit::SUCCESS || code == crate::exit::INTERRUPTED {
        return code;
    }
    let refused = refused_accounts();
    if refused.is_empty() {
        return code;
    }
    for name in &refused {
        eprintln!(
            "marketmedia: {name} must be authorized again: run `{} {name}`",
            marketmedia_core::AUTHORIZE_COMMAND
        );
    }
    crate::exit::REAUTHORIZE
}

/// Whether `account` needs the machine's store: its marketplace refreshes tokens, and the
/// store file exists or its settings give a refresh token.
pub fn needs_store(account: &Account) -> Result<bool> {
    if account.market.credential_key(&account.settings)?.is_none() {
        return Ok(false);
    }
    Ok(store_path().exists() || account.settings.secret("refresh_token").is_some())
}

/// The stored expiries of `account`'s credential, for `marketmedia accounts`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Expiries {
    /// The credential's key (never a secret).
    pub credential: Option<String>,
    /// When the stored access token expires (Unix ms), when known.
    pub access_expires_at_ms: Option<u64>,
    /// When the stored refresh token (or the authorization) ends (Unix ms), when known.
    pub refresh_expires_at_ms: Option<u64>,
    /// Whether tokens are stored for it.
    pub stored: bool,
    /// Where the credential was moved from this machine's store (redacted), if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    /// In a shared store: why the credential must be authorized again (the platform's
    /// refusal, recorded by a worker; never a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_authorization: Option<String>,
}

/// How long before a refresh token or authorization ends `accounts` warns.
pub const WARN_BEFORE_MS: u64 = 7 * 86_400_000;

/// The expiries of every account's credential, from the shared store at `shared` (a
/// PostgreSQL job store's URL; expiries on its database's clock, and whether the credential
/// must be authorized again), else from the machine's store (not opened, and nothing
/// stored, when the file does not exist): its clear columns, nothing decrypted.
pub async fn expiries(config: &Config, shared: Option<&str>) -> Result<Vec<Expiries>> {
    if let Some(url) = shared {
        let store = open_shared(url).await?;
        let mut out = Vec::with_capacity(config.accounts.len());
        for account in &config.accounts {
            let key = account
                .market
                .credential_key(&account.settings)
                .ok()
                .flatten();
            let mut e = Expiries {
                credential: key.as_ref().map(|k| k.to_string()),
                ..Expiries::default()
            };
            if let Some(key) = &key {
                if let Some(t) = store.load(key).await? {
                    e.stored = true;
                    e.access_expires_at_ms = t.access_expires_at_ms;
                    e.refresh_expires_at_ms = t.refresh_expires_at_ms;
                }
                e.needs_authorization = store
                    .state(key)
                    .await?
                    .filter(|s| s.needs_authorization())
                    .map(|s| s.message.unwrap_or_default());
            }
            out.push(e);
        }
        return Ok(out);
    }
    let local = if store_path().exists() {
        Some(open_store().await?)
    } else {
        None
    };
    let stored: std::collections::HashMap<_, _> = if let Some(local) = &local {
        local
            .expiries()
            .await?
            .into_iter()
            .map(|e| (e.key.clone(), e))
            .collect()
    } else {
        std::collections::HashMap::new()
    };
    let mut out = Vec::with_capacity(config.accounts.len());
    for account in &config.accounts {
        let key = account
            .market
            .credential_key(&account.settings)
            .ok()
            .flatten();
        let mut e = Expiries {
            credential: key.as_ref().map(|k| k.to_string()),
            ..Expiries::default()
        };
        if let (Some(key), Some(local)) = (&key, &local) {
            e.moved_to = local.moved_to(key).await?;
        }
        if let Some(t) = key.as_ref().and_then(|k| stored.get(k)) {
            e.stored = true;
            e.access_expires_at_ms = t.access_expires_at_ms;
            e.refresh_expires_at_ms = t.refresh_expires_at_ms;
        }
        out.push(e);
    }
    Ok(out)
}

/// `2026-12-07 03:24 UTC (in 3 h)`, or `expired`.
pub fn when(at_ms: Option<u64>, now_ms: u64) -> String {
    let Some(at) = at_ms else {
        return "-".into();
    };
    let date = utc(at);
    if at <= now_ms {
        return format!("{date} (expired)");
    }
    let left = (at - now_ms) / 1000;
    let span = match left {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    };
    format!("{date} (in {span})")
}

/// A Unix time in ms as `YYYY-MM-DD HH:MM UTC` (civil from days, Howard Hinnant's
/// algorithm).
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// The code and ids of what the seller pasted: the whole redirect URL
/// (`https://…/cb?code=…&shop_id=…`), or the code alone.
pub fn parse_pasted(pasted: &str) -> Authorization {
    let pasted = pasted.trim();
    let mut grant = Authorization::default();
    let query = match pasted.split_once('?') {
        Some((_, q)) => q,
        None if pasted.contains("code=") => pasted,
        None => {
            grant.code = Secret::new(pasted.to_owned());
            return grant;
        }
    };
    let query = query.split('#').next().unwrap_or_default();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "code" => grant.code = Secret::new(v),
            "shop_id" => grant.shop_id = v.parse().ok(),
            "main_account_id" => grant.main_account_id = v.parse().ok(),
            _ => {}
        }
    }
    grant
}

/// `%XX` and `+` of a query value.
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `marketmedia accounts authorize NAME`: prints the authorization URL, takes the code
/// (flags, or pasted on standard input: the code or the whole redirect URL), exchanges it,
/// stores the tokens in the machine's store and prints their expiries, never the tokens.
pub async fn authorize(config: &Config, args: crate::args::AuthorizeArgs) -> Result<i32> {
    let account = config.account(&args.name).ok_or_else(|| {
        Error::invalid_input(format!(
            "no account is named {:?}; `marketmedia accounts` lists them",
            args.name
        ))
    })?;
    let market = account.market.clone();
    let settings = &account.settings;
    if market.credential_key(settings)?.is_none() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{} accounts need no authorization (or their application keys are not set)",
                market.title()
            ),
        )
        .with_platform(market.name()));
    }
    let mut grant = Authorization::default();
    if let Some(code) = &args.code {
        grant = parse_pasted(code);
    }
    if args.shop_id.is_some() {
        grant.shop_id = args.shop_id;
    }
    if args.main_account_id.is_some() {
        grant.main_account_id = args.main_account_id;
    }
    if grant.code.is_empty() {
        let url = market.authorization_url(settings)?;
        eprintln!(
            "Open this page, sign in as the seller of {} and allow the app:\n\n  {url}\n\n\
             Then paste the address the platform sent you back to (or just its code) and \
             press Enter:",
            account.name
        );
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read the code: {e}")))?;
        let pasted = parse_pasted(&line);
        grant.code = pasted.code;
        grant.shop_id = grant.shop_id.or(pasted.shop_id);
        grant.main_account_id = grant.main_account_id.or(pasted.main_account_id);
        if grant.code.is_empty() {
            return Err(Error::invalid_input("no code was given"));
        }
    }
    // The shared store is opened before the code is spent: a wrong URL fails first.
    let (store, place): (Arc<dyn CredentialStore>, String) = match &args.store {
        Some(url) => {
            let shared = open_shared(url).await?;
            let place = shared.location().to_owned();
            (shared, place)
        }
        None => {
            let local = open_store().await?;
            let place = local.path().display().to_string();
            (local, place)
        }
    };
    let issued = market.exchange_code(settings, &grant).await?;
    let now = marketmedia_core::raw::http::unix_millis();
    let mut out = String::new();
    for (key, tokens) in &issued {
        store.save(key, tokens).await?;
        out.push_str(&format!(
            "{}: authorized, tokens stored in {}\n  access token expires {}\n  refresh token expires {}\n",
            key,
            place,
            when(tokens.access_expires_at_ms, now),
            when(tokens.refresh_expires_at_ms, now),
        ));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(crate::exit::SUCCESS)
}

/// `marketmedia accounts move NAME --to postgres://…`: copies the account's credential from
/// this machine's store into the shared one (only if the shared store holds none for it:
/// a pair there may be newer), then retires the local copy (a tombstone naming where it
/// went), and says which happened. Never prints a token.
pub async fn move_to_shared(config: &Config, args: crate::args::MoveArgs) -> Result<i32> {
    let account = config.account(&args.name).ok_or_else(|| {
        Error::invalid_input(format!(
            "no account is named {:?}; `marketmedia accounts` lists them",
            args.name
        ))
    })?;
    let key = account
        .market
        .credential_key(&account.settings)?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{} accounts have no refreshable credential to move",
                    account.market.title()
                ),
            )
            .with_platform(account.market.name())
        })?;
    let shared = open_shared(&args.to).await?;
    if !store_path().exists() {
        return Err(Error::invalid_input(format!(
            "this machine has no credential store ({}): nothing to move; authorize {} in the \
             shared store with `marketmedia accounts authorize {} --store URL`",
            store_path().display(),
            args.name,
            args.name
        )));
    }
    let local = open_store().await?;
    if let Some(to) = local.moved_to(&key).await? {
        println!("{key}: already moved to {to}; nothing to do");
        return Ok(crate::exit::SUCCESS);
    }
    let Some(tokens) = local.load(&key).await? else {
        return Err(Error::invalid_input(format!(
            "credential {key} of account {} is not in this machine's credential store: \
             authorize it in the shared store with `marketmedia accounts authorize {} --store URL`",
            args.name, args.name
        )));
    };
    // The shared copy first (committed), then the tombstone: a crash between the two leaves
    // both, and running the command again retires the local one.
    let copied = shared.seed(&key, &tokens).await?;
    local.retire(&key, &args.to).await?;
    if copied {
        println!(
            "{key}: moved to {}; the copy in {} is retired (it now says where the credential went)",
            shared.location(),
            store_path().display()
        );
    } else {
        println!(
            "{key}: {} already held this credential and keeps its own tokens; the copy in {} \
             is retired (it now says where the credential went)",
            shared.location(),
            store_path().display()
        );
    }
    Ok(crate::exit::SUCCESS)
}

/// `marketmedia accounts rekey`: re-seals every credential of the machine's store under a
/// new key in one transaction, then puts the new key where the store's key comes from.
///
/// - The key comes from the key file beside the store: the new key (`--new-key-file`,
///   `MARKETMEDIA_NEW_SECRET_KEY`, or a fresh random one) is written to `secret.key.new`
///   before the transaction commits, and renamed over `secret.key` after it.
/// - The key comes from `MARKETMEDIA_SECRET_KEY`: the new key must be given (a key nobody
///   holds would lose every credential); the command then says to set the variable to it.
///
/// The key is never printed.
pub async fn rekey(args: crate::args::RekeyArgs) -> Result<i32> {
    if let Some(url) = &args.store {
        return rekey_shared(url, &args).await;
    }
    let path = store_path();
    if !path.exists() {
        println!(
            "No credential store at {}: nothing to re-encrypt.",
            path.display()
        );
        return Ok(crate::exit::SUCCESS);
    }
    let dir = SqliteCredentialStore::key_dir(&path);
    let from_variable = SecretKey::from_variable();
    let old = SecretKey::load(&dir, true)?;
    let new = match (&args.new_key_file, std::env::var(NEW_KEY_VARIABLE)) {
        (Some(file), _) => SecretKey::read_file(file)?,
        (None, Ok(text)) if !text.trim().is_empty() => SecretKey::from_text(&text)
            .map_err(|e| Error::invalid_input(format!("{NEW_KEY_VARIABLE}: {}", e.message())))?,
        _ if from_variable => {
            return Err(Error::invalid_input(format!(
                "the key comes from {}: give the new key with --new-key-file PATH or \
                 {NEW_KEY_VARIABLE} (e.g. `openssl rand -base64 32`), then set {} to it",
                marketmedia_batch::credentials::seal::KEY_VARIABLE,
                marketmedia_batch::credentials::seal::KEY_VARIABLE,
            )))
        }
        _ => SecretKey::try_generate()?,
    };
    if new.fingerprint() == old.fingerprint() {
        return Err(Error::invalid_input(format!(
            "the new key is the current key ({})",
            old.fingerprint()
        )));
    }
    let (old_fp, new_fp) = (old.fingerprint(), new.fingerprint());
    let old = Sealer::new(old);
    let store = SqliteCredentialStore::open_with(&path, old.clone()).await?;
    let key_file = SecretKey::file_path(&dir);
    let staged = if from_variable {
        None
    } else {
        Some(new.stage_file(&key_file)?)
    };
    let count = match store.rekey(&old, &Sealer::new(new)).await {
        Ok(count) => count,
        Err(e) => {
            if let Some(staged) = &staged {
                let _ = std::fs::remove_file(staged);
            }
            return Err(e);
        }
    };
    let mut out = format!(
        "Re-encrypted {count} credential(s) in {} under the new key {new_fp} (was {old_fp}).\n",
        path.display()
    );
    match staged {
        Some(staged) => {
            SecretKey::install_staged(&staged, &key_file)?;
            out.push_str(&format!("The new key is in {}.\n", key_file.display()));
        }
        None => out.push_str(&format!(
            "Now set {} to the new key wherever this store is used: the old key no longer \
             opens it.\n",
            marketmedia_batch::credentials::seal::KEY_VARIABLE
        )),
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(crate::exit::SUCCESS)
}

/// `marketmedia accounts rekey --store postgres://…`: re-seals every credential of the shared
/// store under the new key given (`--new-key-file` or `MARKETMEDIA_NEW_SECRET_KEY`: never a
/// random one, which no other worker would hold) in one transaction that locks every row.
/// The workers must then all use the new key (`MARKETMEDIA_SECRET_KEY`); a key that came
/// from this machine's key file is replaced in that file too. The key is never printed.
async fn rekey_shared(url: &str, args: &crate::args::RekeyArgs) -> Result<i32> {
    let new = match (&args.new_key_file, std::env::var(NEW_KEY_VARIABLE)) {
        (Some(file), _) => SecretKey::read_file(file)?,
        (None, Ok(text)) if !text.trim().is_empty() => SecretKey::from_text(&text)
            .map_err(|e| Error::invalid_input(format!("{NEW_KEY_VARIABLE}: {}", e.message())))?,
        _ => {
            return Err(Error::invalid_input(format!(
                "a shared store's new key must be given (every worker needs it): \
                 --new-key-file PATH or {NEW_KEY_VARIABLE} (e.g. `openssl rand -base64 32`)"
            )))
        }
    };
    let from_variable = SecretKey::from_variable();
    let old = shared_key()?;
    if new.fingerprint() == old.fingerprint() {
        return Err(Error::invalid_input(format!(
            "the new key is the current key ({})",
            old.fingerprint()
        )));
    }
    let (old_fp, new_fp) = (old.fingerprint(), new.fingerprint());
    let old = Sealer::new(old);
    let store = PgCredentialStore::connect(url, old.clone()).await?;
    let dir = SqliteCredentialStore::key_dir(&store_path());
    let key_file = SecretKey::file_path(&dir);
    let staged = if from_variable {
        None
    } else {
        Some(new.stage_file(&key_file)?)
    };
    let count = match store.rekey(&old, &Sealer::new(new)).await {
        Ok(count) => count,
        Err(e) => {
            if let Some(staged) = &staged {
                let _ = std::fs::remove_file(staged);
            }
            return Err(e);
        }
    };
    let mut out = format!(
        "Re-encrypted {count} credential(s) in {} under the new key {new_fp} (was {old_fp}).\n",
        store.location()
    );
    if let Some(staged) = staged {
        SecretKey::install_staged(&staged, &key_file)?;
        out.push_str(&format!("The new key is in {}.\n", key_file.display()));
    }
    out.push_str(&format!(
        "Every worker of this store must now use the new key ({} or its key file): the old \
         key no longer opens it.\n",
        marketmedia_batch::credentials::seal::KEY_VARIABLE
    ));
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(crate::exit::SUCCESS)
}

/// A warning when `tokens`' refresh token (or authorization) ends within
/// [`WARN_BEFORE_MS`].
pub fn warning(account: &str, e: &Expiries, now_ms: u64) -> Option<String> {
    if let Some(why) = &e.needs_authorization {
        return Some(format!(
            "warning: {account} must be authorized again ({why}): run `{} {account} --store URL`",
            marketmedia_core::AUTHORIZE_COMMAND
        ));
    }
    let end = e.refresh_expires_at_ms?;
    if end > now_ms.saturating_add(WARN_BEFORE_MS) {
        return None;
    }
    let what = if end <= now_ms { "ended" } else { "ends" };
    Some(format!(
        "warning: the authorization of {account} {what} {}: run `{} {account}`",
        when(Some(end), now_ms),
        marketmedia_core::AUTHORIZE_COMMAND
    ))
}
