//! Where each chosen account's upload goes: a client its marketplace builds from the
//! account's settings, or from its simulator's when the sandbox serves. Nothing here names a
//! marketplace: each one's [`Marketplace`] builds its client.

use std::sync::Arc;

use marketmedia_core::raw::{Origin, TITLE};
use marketmedia_core::{
    Client, ClientOptions, ConnectOptions, CredentialSources, Error, Fields, Marketplace, Result,
    Settings, UploadMeta,
};

use crate::accounts::{Account, Chosen};
use crate::config::Config;
use crate::sandbox::{Sandbox, SANDBOX_LABEL};
use marketmedia_sim::standalone::StartOptions;

/// One account's destination.
#[derive(Debug)]
pub struct Target {
    /// The account's name (the marketplace's for its embedded simulator).
    pub account: String,
    /// The account's identity on the platform ([`crate::accounts::Account::identity`];
    /// `sandbox:<marketplace>` for the embedded simulator).
    pub identity: String,
    /// Whether this account resumes journal entries written before entries named their
    /// account: the legacy account (named after its marketplace), or the marketplace's only
    /// account.
    pub adopts_unkeyed: bool,
    /// The marketplace.
    pub market: Arc<dyn Marketplace>,
    /// Whether it is the embedded simulator.
    pub sandbox: bool,
    /// The API base URL requests go to.
    pub endpoint: String,
    /// The settings the client was built from.
    pub settings: Settings,
    /// The per-upload fields every upload here takes by default (the command line's, else
    /// the account's own), by field name.
    pub fields: Fields,
    /// The uploaders.
    pub client: Client,
}

impl Target {
    /// The account, as the core keys uploads by it.
    pub fn account_ref(&self) -> marketmedia_core::AccountRef {
        let account = marketmedia_core::AccountRef::new(&self.account, &self.identity);
        if self.adopts_unkeyed {
            account.adopting_unkeyed()
        } else {
            account
        }
    }

    /// The fields each upload here carries ([`Target::fields`] as core's [`UploadMeta`]).
    pub fn meta(&self) -> UploadMeta {
        UploadMeta::from_fields(self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// The marketplace's name.
    pub fn platform(&self) -> &'static str {
        self.market.name()
    }

    /// `sandbox (embedded simulator)`, or the endpoint (without user info or query).
    pub fn label(&self) -> String {
        if self.sandbox {
            SANDBOX_LABEL.to_owned()
        } else {
            marketmedia_core::redact_url(&self.endpoint)
        }
    }

    /// Why this target cannot take a video as configured (a per-upload field its
    /// marketplace requires is missing), with the flags and variables that give it.
    pub fn video_problem(&self) -> Option<Error> {
        let missing: Vec<String> = self
            .market
            .upload_fields()
            .iter()
            .filter(|f| f.required)
            .filter(|f| self.fields.get(f.name).is_none_or(|v| v.trim().is_empty()))
            .map(|f| {
                let mut ways = Vec::new();
                if UPLOAD_FLAGS.contains(&f.name) {
                    ways.push(format!("--{}", f.name.replace('_', "-")));
                }
                if self.market.settings().iter().any(|s| s.key == f.name) {
                    ways.push(format!(
                        "{}{}",
                        self.market.env_prefix(),
                        f.name.to_ascii_uppercase()
                    ));
                }
                if ways.is_empty() {
                    f.help.to_owned()
                } else {
                    format!("{} ({})", f.help, ways.join(" or "))
                }
            })
            .collect();
        if missing.is_empty() {
            return None;
        }
        Some(
            Error::invalid_input(format!(
                "{} needs {} for every video",
                self.market.title(),
                missing.join(" and ")
            ))
            .with_platform(self.market.name()),
        )
    }
}

/// The per-upload fields the command line gives (`--title`, `--cover-url`).
pub const UPLOAD_FLAGS: &[&str] = &["title", "cover_url"];

/// The destinations of one command, and the sandbox that serves some of them (kept running
/// as long as the targets are used).
#[derive(Debug)]
pub struct Targets {
    /// One per destination, in the order chosen.
    pub targets: Vec<Target>,
    sandbox: Option<Sandbox>,
    credentials: Option<Arc<CredentialSources>>,
}

/// The per-upload fields and client options of one command.
#[derive(Debug, Clone, Default)]
pub struct VideoMeta {
    /// The per-upload fields from the command line (`--title`, `--cover-url`), by field
    /// name: they win over every account's own.
    pub fields: Fields,
    /// The title the sandbox uses when a marketplace requires one and none is given (the
    /// file's stem).
    pub sandbox_title: String,
    /// How every client built talks HTTP (the timeout flags: timeouts and deadlines).
    pub options: ClientOptions,
    /// Whether instant upload may be used (the soak turns it off).
    pub no_instant_upload: bool,
    /// The shared credential store (a PostgreSQL job store's URL) every managed credential
    /// of the configured accounts lives in, instead of this machine's file (`batch … --store
    /// postgres://…`).
    pub shared_credentials: Option<String>,
}

impl VideoMeta {
    /// With `--title` and `--cover-url`.
    pub fn with_flags(mut self, title: Option<String>, cover_url: Option<String>) -> Self {
        for (field, value) in [("title", title), ("cover_url", cover_url)] {
            if let Some(v) = value {
                self.fields.insert(field.to_owned(), v);
            }
        }
        self
    }

    fn options(&self) -> ConnectOptions {
        ConnectOptions::default()
            .with_client_options(self.options)
            .with_instant_upload(!self.no_instant_upload)
    }
}

impl Targets {
    /// Builds a client for each destination: from the account's settings, or against the
    /// sandbox (started once, when the first destination needs it).
    pub async fn build(
        chosen: &[Chosen<'_>],
        config: &Config,
        meta: &VideoMeta,
    ) -> Result<Targets> {
        let mut sandbox = None;
        let mut credentials: Option<Arc<CredentialSources>> = None;
        let mut shared = None;
        let mut targets = Vec::with_capacity(chosen.len());
        for choice in chosen {
            let target = match choice {
                Chosen::Account(account) => {
                    let mut options = meta.options();
                    let managed = match &meta.shared_credentials {
                        // One source of truth: every credential in the shared store, none
                        // refreshed from this machine's file.
                        Some(url) => {
                            if account.market.credential_key(&account.settings)?.is_none() {
                                false
                            } else {
                                if shared.is_none() {
                                    let store = crate::tokens::open_shared(url).await?;
                                    credentials = Some(crate::tokens::sources(store.clone()));
                                    shared = Some(store);
                                }
                                if let Some(store) = &shared {
                                    crate::tokens::check_not_local_only(account, store).await?;
                                }
                                true
                            }
                        }
                        None => crate::tokens::needs_store(account)?,
                    };
                    if managed {
                        if credentials.is_none() {
                            let store = crate::tokens::open_store().await?;
                            credentials = Some(crate::tokens::sources(store));
                        }
                        if let Some(c) = &credentials {
                            let fields =
                                fields_of(account.market.as_ref(), &account.settings, meta);
                            let settings = with_fields(account.settings.clone(), &fields)?;
                            c.prepare(account.market.as_ref(), &settings, &account.name, &options)
                                .await?;
                            options = options.with_credentials(c.clone());
                        }
                    }
                    account_target(account, config, meta, &options)?
                }
                Chosen::Sandbox(market) => {
                    if sandbox.is_none() {
                        let started =
                            Sandbox::start_with(&config.setup(), StartOptions::default()).await;
                        sandbox = Some(started.map_err(|e| {
                            Error::new(
                                marketmedia_core::ErrorKind::Io,
                                format!("cannot start the embedded simulators: {e}"),
                            )
                        })?);
                    }
                    let Some(sb) = sandbox.as_ref() else {
                        return Err(Error::invalid_input("the sandbox did not start"));
                    };
                    sandbox_target(sb, market.clone(), config, meta).await?
                }
            };
            targets.push(target);
        }
        Ok(Targets {
            targets,
            sandbox,
            credentials,
        })
    }

    /// The token sources of the configured accounts, when one needed the machine's
    /// credential store.
    pub fn credentials(&self) -> Option<&Arc<CredentialSources>> {
        self.credentials.as_ref()
    }

    /// [`Targets::build`] for the destinations `--to` names ([`crate::accounts::choose`]).
    pub async fn chosen(
        to: &[String],
        config: &Config,
        meta: &VideoMeta,
        force_sandbox: bool,
    ) -> Result<Targets> {
        let chosen = crate::accounts::choose(config, to, force_sandbox)?;
        Targets::build(&chosen, config, meta).await
    }

    /// The sandbox, when some target uses it.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }
}

/// The per-upload fields of `market` for an account whose settings are `settings`: the
/// command line's, else the account's own.
fn fields_of(market: &dyn Marketplace, settings: &Settings, meta: &VideoMeta) -> Fields {
    market
        .upload_fields()
        .iter()
        .filter_map(|f| {
            let value = meta
                .fields
                .get(f.name)
                .cloned()
                .or_else(|| settings.text(f.name).map(str::to_owned))?;
            Some((f.name.to_owned(), value))
        })
        .collect()
}

/// `settings` with the per-upload `fields` its marketplace declares as settings (the
/// defaults its client is built with).
fn with_fields(mut settings: Settings, fields: &Fields) -> Result<Settings> {
    for (name, value) in fields {
        if settings.setting(name).is_some() {
            settings.set(name, value, Origin::CommandLine)?;
        }
    }
    Ok(settings)
}

async fn sandbox_target(
    sb: &Sandbox,
    market: Arc<dyn Marketplace>,
    config: &Config,
    meta: &VideoMeta,
) -> Result<Target> {
    let mut settings = sb.settings(market.as_ref(), config)?;
    let mut fields = fields_of(market.as_ref(), &settings, meta);
    // The sandbox names a video after its file when the marketplace requires a title.
    let title_required = market
        .upload_fields()
        .iter()
        .any(|f| f.name == TITLE && f.required);
    if title_required && !fields.contains_key(TITLE) && !meta.sandbox_title.is_empty() {
        fields.insert(TITLE.to_owned(), meta.sandbox_title.clone());
    }
    settings = with_fields(settings, &fields)?;
    let options = meta.options().with_credentials(sb.credentials().clone());
    sb.credentials()
        .prepare(market.as_ref(), &settings, market.name(), &options)
        .await?;
    let client = market.connect(&settings, &options)?;
    Ok(Target {
        account: market.name().to_owned(),
        identity: format!("sandbox:{}", market.name()),
        adopts_unkeyed: false,
        sandbox: true,
        endpoint: sb.base_url(market.name()),
        market,
        settings,
        fields,
        client,
    })
}

fn account_target(
    account: &Account,
    config: &Config,
    meta: &VideoMeta,
    options: &ConnectOptions,
) -> Result<Target> {
    let market = account.market.clone();
    let fields = fields_of(market.as_ref(), &account.settings, meta);
    let settings = with_fields(account.settings.clone(), &fields)?;
    let client = market.connect(&settings, options)?;
    let info = market.account(&settings)?;
    Ok(Target {
        account: account.name.clone(),
        identity: account.identity.clone(),
        adopts_unkeyed: account.legacy || config.accounts_of(market.name()).count() == 1,
        sandbox: false,
        endpoint: info.endpoint,
        market,
        settings,
        fields,
        client,
    })
}
