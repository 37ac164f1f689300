//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, FromArgMatches, Parser, Subcommand};
use marketmedia_core::Registry;

use crate::Setup;

/// The command line. Its help text ([`about`], [`long_about`]) names the registered
/// marketplaces, and each marketplace's settings with a command-line flag
/// ([`marketmedia_core::Setting::command_line`]) add theirs ([`command`]).
#[derive(Debug, Parser)]
#[command(name = "marketmedia", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where credentials come from: the commands that talk to marketplaces take these (`digest`,
/// `sim` and `soak` talk to none, so they do not).
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// Config file (TOML). Default: config.toml in the user's config directory
    /// (~/.config/marketmedia/config.toml on Linux), when it exists.
    #[arg(long, value_name = "PATH", env = crate::config::CONFIG_ENV)]
    pub config: Option<PathBuf>,

    /// Use the embedded simulators for every marketplace, whatever accounts are configured.
    #[arg(long)]
    pub sandbox: bool,
}

/// The command's one-line description: `Upload product videos and images to A, B and C at
/// once.`, every registered marketplace named.
pub fn about(registry: &Registry) -> String {
    format!(
        "Upload product videos and images to {} at once.",
        registry.titles_in_words()
    )
}

/// The command's description under `--help`: [`about`], then where uploads go.
pub fn long_about(registry: &Registry) -> String {
    format!(
        "{}\n\nUploads go to every configured account, any number per marketplace (config file \
         or environment variables, see docs/cli.md; `marketmedia accounts` lists them). When \
         no account is configured, or with --sandbox, an embedded simulator of each \
         marketplace serves instead, and the output says so.",
        about(registry)
    )
}

/// The marketplaces' own flags given on a command line (`--<marketplace>-<key> VALUE`): their
/// marketplace, setting key and value, in the registry's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketFlags {
    /// (marketplace, key, value).
    pub values: Vec<(String, String, String)>,
}

/// The id of a marketplace flag's argument.
fn flag_id(market: &str, key: &str) -> String {
    format!("market-flag:{market}:{key}")
}

/// The command line of `registry`'s marketplaces: [`Cli`], its help naming them, and every
/// setting declared with a command-line flag as `--<marketplace>-<key>` on each subcommand
/// that reads accounts (those that take `--config`).
pub fn command(registry: &Registry) -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command()
        .about(about(registry))
        .long_about(long_about(registry));
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .filter(|c| c.get_arguments().any(|a| a.get_id() == "config"))
        .map(|c| c.get_name().to_owned())
        .collect();
    for name in subcommands {
        cmd = cmd.mut_subcommand(name, |mut sub| {
            for market in registry.iter() {
                for s in market.settings().iter().filter(|s| s.command_line) {
                    let help = format!(
                        "{} ({}): wins over {}{} and `{}` under [{}], for every {} account \
                         and the sandbox alike",
                        market.title(),
                        s.help,
                        market.env_prefix(),
                        s.env_key(),
                        s.key,
                        market.name(),
                        market.title()
                    );
                    sub = sub.arg(
                        clap::Arg::new(flag_id(market.name(), s.key))
                            .long(s.flag_name(market.name()))
                            .value_name(s.env_key())
                            .help(help),
                    );
                }
            }
            sub
        });
    }
    cmd
}

/// Parses `args` (the program's name first) as [`command`] defines them: the command line
/// and the marketplaces' flags it carried. `Err` is clap's, to print and exit with (help and
/// version included).
pub fn parse_from<I, T>(setup: &Setup, args: I) -> Result<(Cli, MarketFlags), clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command(&setup.registry).try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let mut flags = MarketFlags::default();
    if let Some((_, sub)) = matches.subcommand() {
        for market in setup.registry.iter() {
            for s in market.settings().iter().filter(|s| s.command_line) {
                if let Ok(Some(v)) = sub.try_get_one::<String>(&flag_id(market.name(), s.key)) {
                    flags
                        .values
                        .push((market.name().to_owned(), s.key.to_owned(), v.clone()));
                }
            }
        }
    }
    Ok((cli, flags))
}

/// How often a failed call is tried: the same policy for `upload`, `images` and `status`.
#[derive(Debug, Args, Clone)]
pub struct RetryArgs {
    /// Attempts of each call, the first included (1 = never retry). Connection failures,
    /// timeouts, 5xx and 429 answers are retried with growing, jittered delays.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub attempts: u32,
}

impl RetryArgs {
    /// The retry policy these flags ask for.
    pub fn policy(&self) -> marketmedia_core::RetryPolicy {
        marketmedia_core::RetryPolicy {
            max_attempts: self.attempts,
            ..marketmedia_core::RetryPolicy::default()
        }
    }
}

/// HTTP timeouts of every call to a marketplace (see `docs/cli.md`, "Timeouts").
#[derive(Debug, Args, Clone)]
pub struct TimeoutArgs {
    /// Seconds to wait for a connection to open.
    #[arg(long, value_name = "SECS", default_value_t = marketmedia_core::raw::http::HttpTimeouts::default().connect.as_secs())]
    pub connect_timeout: u64,
    /// Seconds to wait for the answer to begin once the request is sent: a server that
    /// accepts connections and never answers is detected this soon.
    #[arg(long, value_name = "SECS", default_value_t = marketmedia_core::raw::http::Watchdog::default().first_byte.as_secs())]
    pub first_byte_timeout: u64,
    /// Seconds without any progress (no byte of the request taken, no byte of the answer
    /// read) before an attempt is abandoned and retried: a silent server is detected this soon.
    #[arg(long, value_name = "SECS", default_value_t = marketmedia_core::raw::http::Watchdog::default().idle.as_secs())]
    pub idle_timeout: u64,
    /// Seconds one attempt may take in all, however much progress it makes (big parts on
    /// slow links need long).
    #[arg(long, value_name = "SECS", default_value_t = marketmedia_core::raw::http::Watchdog::default().total.as_secs())]
    pub request_timeout: u64,
    /// Seconds the whole answer of a call other than a part upload (token, init, commit,
    /// poll, cancel, images) may take once the request is sent, however it trickles in
    /// (never less than --first-byte-timeout).
    #[arg(long, value_name = "SECS", default_value_t = marketmedia_core::raw::http::Watchdog::default().answer.as_secs())]
    pub answer_timeout: u64,
    /// Bytes per second under which a request or answer body that keeps flowing is given up
    /// on after --low-speed-time seconds (a peer that drips; retried like a network fault).
    /// 0 turns the limit off.
    #[arg(long, value_name = "BYTES", default_value_t = marketmedia_core::raw::http::Watchdog::default().low_speed.map_or(0, |l| l.bytes_per_sec))]
    pub low_speed_limit: u64,
    /// Seconds over which --low-speed-limit is measured.
    #[arg(long, value_name = "SECS", default_value_t = marketmedia_core::raw::http::Watchdog::default().low_speed.map_or(30, |l| l.window.as_secs()))]
    pub low_speed_time: u64,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload one video to every chosen marketplace at once, with live progress.
    Upload(UploadArgs),
    /// Upload images to every chosen marketplace at once.
    Images(ImagesArgs),
    /// Ask where processing of an earlier upload stands.
    Status(StatusArgs),
    /// Print a file's digests: MD5, part MD5s, SMH instant-upload hashes, CRC-64.
    Digest(DigestArgs),
    /// Serve the platform simulators (the same as the `marketmedia-sim` binary).
    Sim(SimArgs),
    /// Cancel the unfinished upload sessions the resume journal knows about, and forget them.
    Cleanup(CleanupArgs),
    /// Run many uploads per marketplace against the embedded simulators under injected faults,
    /// and print what happened (attempted, succeeded, failed, retries, bytes re-sent and lost,
    /// p50/p99 time).
    Soak(SoakArgs),
    /// A catalog: many products to many marketplaces, resumable (see `docs/batch.md`).
    Batch(crate::batch::BatchArgs),
    /// List the configured accounts (never a credential), or check them with one cheap
    /// authenticated call each (`accounts check`).
    Accounts(AccountsArgs),
}

/// `marketmedia accounts`.
#[derive(Debug, Args)]
pub struct AccountsArgs {
    /// Credentials.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutArgs,
    /// One JSON object per account instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// List the tokens' expiries (and which credentials must be authorized again) of the
    /// shared credential store of this PostgreSQL job store (`postgres://…`) instead of this
    /// machine's.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// `check`: call each account's platform.
    #[command(subcommand)]
    pub action: Option<AccountsAction>,
}

/// What `marketmedia accounts` does besides listing.
#[derive(Debug, Subcommand)]
pub enum AccountsAction {
    /// Make one cheap, documented, authenticated call per account and say which work and,
    /// for each that does not, why.
    Check {
        /// Accounts (or marketplaces) to check. Default: every configured account.
        names: Vec<String>,
    },
    /// Authorize the account's app once: prints the platform's authorization page, takes
    /// the code the seller brings back (pasted, or `--code`), exchanges it and stores the
    /// tokens in this machine's credential store (or the shared one, `--store
    /// postgres://…`); from then on they refresh themselves.
    Authorize(AuthorizeArgs),
    /// Move the account's credential from this machine's credential store into the shared
    /// one of a PostgreSQL job store (`--to postgres://…`), where every worker refreshes it
    /// under one lock; the local copy is retired (any later local use says where it went).
    Move(MoveArgs),
    /// Re-encrypt every credential in this machine's store under a new key, in one
    /// transaction (docs/security.md). The new key: `--new-key-file`, else
    /// MARKETMEDIA_NEW_SECRET_KEY, else (when the key is the store's key file) a fresh random
    /// one. The key file beside the store is then replaced; a key given by
    /// MARKETMEDIA_SECRET_KEY must be replaced by the new one wherever it is set.
    Rekey(RekeyArgs),
}

/// `marketmedia accounts move NAME --to postgres://…`.
#[derive(Debug, Args)]
pub struct MoveArgs {
    /// The account.
    pub name: String,
    /// The shared store: the PostgreSQL job store's URL (as `batch --store` takes it).
    #[arg(long, value_name = "URL")]
    pub to: String,
}

/// `marketmedia accounts rekey`.
#[derive(Debug, Args)]
pub struct RekeyArgs {
    /// A file holding the new key (32 bytes as base64 or 64 hex digits, e.g. `openssl rand
    /// -base64 32`), readable by its owner only.
    #[arg(long, value_name = "PATH")]
    pub new_key_file: Option<std::path::PathBuf>,
    /// Re-encrypt the shared credential store of this PostgreSQL job store (`postgres://…`)
    /// instead of this machine's; the new key must then be given (every worker needs it).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// `marketmedia accounts authorize NAME`.
#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The account.
    pub name: String,
    /// The authorization code from the redirect (or the whole redirect URL); without it,
    /// the page is printed and the code read from standard input.
    #[arg(long)]
    pub code: Option<String>,
    /// The `shop_id` the redirect carried, for a marketplace whose authorization names the
    /// shop (default: the account's own).
    #[arg(long)]
    pub shop_id: Option<u64>,
    /// The `main_account_id` the redirect carried, for a marketplace whose main account
    /// authorizes all its shops at once.
    #[arg(long)]
    pub main_account_id: Option<u64>,
    /// Store the tokens in the shared credential store of this PostgreSQL job store
    /// (`postgres://…`, as `batch --store` takes it) instead of this machine's.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// `marketmedia soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Uploads per marketplace.
    #[arg(long, default_value_t = 30)]
    pub uploads: u32,
    /// Marketplaces (comma-separated). Default: all of them.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub to: Vec<String>,
    /// Size of the generated 12-second test video, in bytes.
    #[arg(long, default_value_t = 9 * 1024 * 1024)]
    pub size: u64,
    /// Attempts per call before an upload gives up. A call whose every attempt fails with
    /// probability p exhausts n attempts with probability p^n: under the heavy profile
    /// (0.3 / 0.1 / 0.1 / 0.05) a part attempt fails about 6 times in 10, so 12 attempts give
    /// up on about one call in 460 (a few uploads in a thousand), 30 on one in 4.5 million.
    #[arg(long, default_value_t = 30)]
    pub attempts: u32,
    /// One JSON object per marketplace instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The fault profile.
    #[command(flatten)]
    pub faults: marketmedia_sim::faults::FaultArgs,
}

/// Where the resume journal lives.
#[derive(Debug, Args, Clone)]
pub struct JournalArgs {
    /// The resume journal's directory (default: `$MARKETMEDIA_JOURNAL_DIR`, else the user's
    /// data directory, `~/.local/share/marketmedia/journal`).
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
}

/// `marketmedia cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Credentials.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The journal.
    #[command(flatten)]
    pub journal: JournalArgs,
    /// Only sessions not touched for this many seconds (default: all).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub older_than: u64,
    /// One JSON object per session instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `marketmedia upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Credentials.
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Retries.
    #[command(flatten)]
    pub retry: RetryArgs,

    /// Timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutArgs,

    /// The video. Without it, a valid 12-second, 6 MiB sample MP4 is generated.
    pub file: Option<PathBuf>,

    /// Accounts to upload to (comma-separated): account names, or marketplace names meaning
    /// every account of the marketplace. Default: every configured account (the simulators
    /// when none is).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub to: Vec<String>,

    /// Print one JSON object per account (one per line) instead of bars and a table.
    #[arg(long)]
    pub json: bool,

    /// The video's title (a marketplace that requires one refuses a video without it; in the
    /// sandbox the file's name serves).
    #[arg(long)]
    pub title: Option<String>,

    /// A public http(s) URL of the video's cover image (a marketplace that requires one
    /// refuses a video without it).
    #[arg(long, value_name = "URL")]
    pub cover_url: Option<String>,

    /// Return once the upload is committed, without waiting for processing (poll it later
    /// with `marketmedia status`).
    #[arg(long)]
    pub no_wait: bool,

    /// Parts in flight at once per marketplace, where the platform allows it.
    #[arg(
        long,
        default_value_t = marketmedia_core::DEFAULT_CONCURRENCY as u64,
        value_parser = clap::value_parser!(u64).range(1..=32)
    )]
    pub concurrency: u64,

    /// Do not record the upload in the resume journal (and do not resume from it).
    #[arg(long)]
    pub no_journal: bool,

    /// The journal.
    #[command(flatten)]
    pub journal: JournalArgs,
}

/// `marketmedia images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Credentials.
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Retries.
    #[command(flatten)]
    pub retry: RetryArgs,

    /// Timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutArgs,

    /// The images (JPEG or PNG; each platform's own limits are checked before any request).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,

    /// Accounts to upload to (comma-separated): account names, or marketplace names meaning
    /// every account of the marketplace. Default: every configured account (the simulators
    /// when none is).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub to: Vec<String>,

    /// Print one JSON object per account (one per line) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `marketmedia status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Credentials.
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Retries.
    #[command(flatten)]
    pub retry: RetryArgs,

    /// Timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutArgs,

    /// The account holding the upload, or its marketplace when it has one account.
    #[arg(long, visible_alias = "account", value_name = "ACCOUNT")]
    pub platform: String,

    /// The id `upload` printed.
    #[arg(long)]
    pub id: String,

    /// Keep polling, with growing delays, until the asset is ready or processing fails.
    #[arg(long)]
    pub wait: bool,

    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `marketmedia digest`.
#[derive(Debug, Args)]
pub struct DigestArgs {
    /// The file.
    pub file: PathBuf,

    /// Part size for the part MD5s: bytes, or with a KiB/MiB/GiB (K/M/G) suffix.
    #[arg(long, default_value = "4MiB", value_parser = parse_size)]
    pub part_size: u64,

    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `marketmedia sim`: the same arguments as the `marketmedia-sim` binary.
pub type SimArgs = marketmedia_sim::standalone::Args;

/// Parses a size: `1048576`, `512KiB`, `4MiB`, `4M`, `1GiB` (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 4194304 or 4MiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB or GiB)")),
    };
    match n.checked_mul(mult) {
        Some(0) => Err("the size must be positive".into()),
        Some(v) => Ok(v),
        None => Err(format!("{s:?} is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `--help` names every registered marketplace, and the flags of their settings.
    #[test]
    fn the_help_names_every_marketplace() {
        let registry = marketmedia::registry();
        let help = command(&registry).render_long_help().to_string();
        for m in registry.iter() {
            assert!(
                help.contains(m.title()),
                "{} missing from:\n{help}",
                m.title()
            );
        }
        let short = command(&registry).render_help().to_string();
        assert!(short.contains(&registry.titles_in_words()), "{short}");
        // The simulators' own list (the sim crate cannot know the registry) is the same.
        assert_eq!(
            marketmedia_sim::standalone::PLATFORM_NAMES.to_vec(),
            registry.names()
        );
        // Every setting with a flag has it on `upload` (and every command taking --config).
        let mut cmd = command(&registry);
        let upload = cmd.find_subcommand_mut("upload").unwrap();
        let help = upload.render_long_help().to_string();
        let mut flags = 0;
        for m in registry.iter() {
            for s in m.settings().iter().filter(|s| s.command_line) {
                flags += 1;
                let flag = format!("--{}", s.flag_name(m.name()));
                assert!(help.contains(&flag), "{flag} missing from:\n{help}");
            }
        }
        assert!(flags > 0);
    }

    /// The first setting of the registry declared with a flag: (marketplace, setting).
    fn a_flag() -> (&'static str, &'static marketmedia_core::Setting) {
        marketmedia::registry()
            .iter()
            .find_map(|m| {
                let settings: &'static [marketmedia_core::Setting] = m.settings();
                let s = settings.iter().find(|s| s.command_line)?;
                Some((m.name(), s))
            })
            .expect("a marketplace declares a setting with a flag")
    }

    #[test]
    fn marketplace_flags_are_parsed_with_the_command_line() {
        let setup = Setup::default();
        let (market, setting) = a_flag();
        let flag = format!("--{}", setting.flag_name(market));
        let (cli, flags) =
            parse_from(&setup, ["marketmedia", "upload", &flag, setting.example]).unwrap();
        assert!(matches!(cli.command, Command::Upload(_)));
        assert_eq!(
            flags.values,
            [(
                market.to_owned(),
                setting.key.to_owned(),
                setting.example.to_owned()
            )]
        );
        let (_, none) = parse_from(&setup, ["marketmedia", "batch", "status"]).unwrap();
        assert!(none.values.is_empty());
        assert!(parse_from(
            &setup,
            ["marketmedia", "digest", &flag, setting.example, "f"]
        )
        .is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("4TB").is_err());
        assert!(parse_size("MiB").is_err());
    }

    #[test]
    fn upload_takes_a_list_of_marketplaces() {
        let cli = Cli::try_parse_from(["marketmedia", "upload", "--to", "b,a-sg"]).unwrap();
        let Command::Upload(args) = cli.command else {
            panic!("not upload")
        };
        assert_eq!(args.to, vec!["b".to_owned(), "a-sg".to_owned()]);
        assert!(args.file.is_none());
        assert!(Cli::try_parse_from(["marketmedia", "upload", "--to", "c"]).is_ok());
    }

    /// The timeout flags' defaults are the library's (`Watchdog::default()`, pinned in core),
    /// and `docs/cli.md`'s "Timeouts" table gives the same figures.
    #[test]
    fn the_timeout_flags_default_to_the_library_and_the_docs_say_so() {
        use marketmedia_core::raw::http::{HttpTimeouts, Watchdog};
        let cli = Cli::try_parse_from(["marketmedia", "upload"]).unwrap();
        let Command::Upload(args) = cli.command else {
            panic!("not upload")
        };
        let t = args.timeouts;
        let w = Watchdog::default();
        let low = w.low_speed.unwrap();
        let connect = HttpTimeouts::default().connect.as_secs();
        let flags = [
            ("--connect-timeout", t.connect_timeout, connect),
            (
                "--first-byte-timeout",
                t.first_byte_timeout,
                w.first_byte.as_secs(),
            ),
            ("--idle-timeout", t.idle_timeout, w.idle.as_secs()),
            ("--low-speed-limit", t.low_speed_limit, low.bytes_per_sec),
            ("--low-speed-time", t.low_speed_time, low.window.as_secs()),
            ("--answer-timeout", t.answer_timeout, w.answer.as_secs()),
            ("--request-timeout", t.request_timeout, w.total.as_secs()),
        ];
        let docs = include_str!("../../docs/cli.md");
        for (flag, parsed, library) in flags {
            assert_eq!(parsed, library, "{flag}");
            let row = docs
                .lines()
                .find(|l| l.starts_with(&format!("| `{flag} ")))
                .unwrap_or_else(|| panic!("docs/cli.md has no row for {flag}"));
            let documented = row.split('|').nth(2).map(str::trim);
            assert_eq!(documented, Some(library.to_string().as_str()), "{row}");
        }
    }
}
