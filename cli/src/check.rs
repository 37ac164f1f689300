//! `marketmedia accounts check [NAME…]`: one cheap, documented, authenticated call per
//! account, and which accounts work and, for each that does not, why.
//!
//! Each marketplace's client makes its own call ([`marketmedia_core::raw::CheckAccount`];
//! `docs/cli.md` lists them); one whose platform documents none for its credentials answers
//! `Unsupported` with no request sent, and the account is reported as not checked.

use marketmedia_core::ClientOptions;
use marketmedia_core::{AccountCheck, Error, ErrorKind, Result};
use serde::Serialize;

use crate::accounts::Chosen;
use crate::config::Config;
use crate::report::ErrorRecord;
use crate::targets::{Targets, VideoMeta};

/// One account's check, as printed with `--json`.
#[derive(Debug, Serialize)]
pub struct CheckRecord {
    /// The account.
    pub account: String,
    /// Its marketplace.
    pub marketplace: String,
    /// `ok`, `failed`, or `unchecked` (the platform documents no check call for it).
    pub state: &'static str,
    /// What the platform said about the account.
    pub check: Option<AccountCheck>,
    /// Why it failed (or why it was not checked).
    pub error: Option<ErrorRecord>,
}

/// Checks the accounts `names` choose (every account when empty), all at once.
pub async fn check(
    config: &Config,
    names: &[String],
    options: ClientOptions,
    json: bool,
) -> Result<i32> {
    if config.accounts.is_empty() {
        return Err(Error::invalid_input(
            "no account is configured: there is nothing to check (docs/cli.md, Accounts)",
        ));
    }
    let chosen = crate::accounts::choose(config, names, false)?;
    let accounts: Vec<Chosen<'_>> = chosen;
    let meta = VideoMeta {
        options,
        ..VideoMeta::default()
    };
    let targets = Targets::build(&accounts, config, &meta).await?;
    let checks = targets.targets.iter().map(|t| {
        let account = t.account_ref();
        async move { account.scope(t.client.checker().check_account()).await }
    });
    let results = futures::future::join_all(checks).await;
    let mut records = Vec::new();
    for (t, result) in targets.targets.iter().zip(results) {
        let (state, check, error) = match result {
            Ok(c) => ("ok", Some(c), None),
            Err(e) if e.kind() == ErrorKind::Unsupported => {
                ("unchecked", None, Some(ErrorRecord::from(&e)))
            }
            Err(e) => ("failed", None, Some(ErrorRecord::from(&e))),
        };
        records.push(CheckRecord {
            account: t.account.clone(),
            marketplace: t.platform().to_owned(),
            state,
            check,
            error,
        });
    }
    let mut out = String::new();
    if json {
        for r in &records {
            out.push_str(&serde_json::to_string(r).unwrap_or_default());
            out.push('\n');
        }
    } else {
        let rows: Vec<Vec<String>> = records
            .iter()
            .map(|r| {
                let what = match (&r.check, &r.error) {
                    (Some(c), _) => {
                        let mut facts = vec![c.call.clone()];
                        facts.extend(c.display_name.clone());
                        facts.extend(c.id.as_ref().map(|i| format!("id {i}")));
                        facts.extend(c.country.clone());
                        facts.extend(c.status.clone());
                        facts.join(", ")
                    }
                    (None, Some(e)) => e.message.replace(['\n', '\r'], " "),
                    (None, None) => "-".into(),
                };
                vec![
                    r.account.clone(),
                    r.marketplace.clone(),
                    r.state.to_owned(),
                    what,
                ]
            })
            .collect();
        out.push_str(&crate::report::table(
            &["ACCOUNT", "MARKETPLACE", "CHECK", "DETAILS"],
            &rows,
        ));
        let ok = records.iter().filter(|r| r.state == "ok").count();
        out.push_str(&format!(
            "\n{ok} of {} work.\n",
            marketmedia_core::count(records.len() as u64, "account", "accounts")
        ));
    }
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }
    Ok(if records.iter().any(|r| r.state == "failed") {
        if records.iter().any(|r| r.state == "ok") {
            crate::exit::PARTIAL
        } else {
            crate::exit::FAILURE
        }
    } else {
        crate::exit::SUCCESS
    })
}
