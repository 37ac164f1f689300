//! `marketmedia-sim` flags for the fault layer, as a `clap::Args` to flatten into the binary's
//! arguments.

use clap::Args;

use super::{FaultKind, FaultProfile, InvalidProfile};

/// Fault injection and shaping flags (every simulator gets the same profile).
///
/// ```
/// use clap::Parser;
/// use marketmedia_sim::faults::FaultArgs;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     faults: FaultArgs,
/// }
///
/// let cli = Cli::parse_from(["sim", "--error-rate", "0.2", "--bandwidth-per-conn", "512K", "--seed", "7"]);
/// let profile = cli.faults.to_profile().unwrap();
/// assert_eq!(profile.bandwidth_per_conn, Some(512 * 1024));
/// assert_eq!(profile.seed, 7);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Args)]
#[command(next_help_heading = "Fault injection")]
pub struct FaultArgs {
    /// Seed of the fault decisions (the same seed replays the same faults).
    #[arg(long, default_value_t = 0, env = "MARKETMEDIA_SIM_SEED")]
    pub seed: u64,
    /// Latency added to each request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Random extra latency up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_jitter_ms: u64,
    /// Request body bandwidth per connection, bytes per second (suffixes K, M, G: ×1024).
    #[arg(long, value_parser = parse_rate)]
    pub bandwidth_per_conn: Option<u64>,
    /// Request body bandwidth over all connections of one simulator (suffixes K, M, G).
    #[arg(long, value_parser = parse_rate)]
    pub bandwidth_total: Option<u64>,
    /// Share of requests answered 500/502/503 (0..=1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub error_rate: f64,
    /// Share of injected 5xx/429 answers with a plain-text body instead of the platform's
    /// envelope (0..=1).
    #[arg(long, default_value_t = 0.5, value_parser = parse_share)]
    pub plain_error_rate: f64,
    /// Share of requests starting a burst of 429 answers (0..=1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub rate_limit_rate: f64,
    /// Consecutive requests answered 429 in a burst.
    #[arg(long, default_value_t = 3)]
    pub rate_limit_burst: u32,
    /// `Retry-After` of 429 answers, in seconds.
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Share of requests whose connection is reset in the middle of the body (0..=1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub reset_rate: f64,
    /// Share of requests processed whose answer is lost (0..=1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub lost_response_rate: f64,
    /// Share of requests whose answer stalls (0..=1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub stall_rate: f64,
    /// How long a stall lasts before the connection is closed, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub stall_ms: u64,
    /// Share of requests whose answer drips a byte at a time (0..=1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub drip_rate: f64,
    /// The pause between two bytes of a dripping answer, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    pub drip_ms: u64,
    /// Only requests whose "METHOD /path?query" contains one of these (comma-separated).
    #[arg(long = "fault-calls", value_delimiter = ',')]
    pub calls: Vec<String>,
    /// Exact faults for the first matching requests (comma-separated: none, status500,
    /// status502, status503, rate_limited, reset, stall, drip, lost_response, no_etag, wrong_etag).
    #[arg(long = "fault-script", value_delimiter = ',', value_parser = parse_kind)]
    pub script: Vec<FaultKind>,
}

impl FaultArgs {
    /// The profile these flags describe, checked.
    pub fn to_profile(&self) -> Result<FaultProfile, InvalidProfile> {
        let profile = FaultProfile {
            seed: self.seed,
            latency_ms: self.latency_ms,
            latency_jitter_ms: self.latency_jitter_ms,
            bandwidth_per_conn: self.bandwidth_per_conn,
            bandwidth_total: self.bandwidth_total,
            error_rate: self.error_rate,
            plain_error_rate: self.plain_error_rate,
            rate_limit_rate: self.rate_limit_rate,
            rate_limit_burst: self.rate_limit_burst.max(1),
            retry_after_secs: self.retry_after_secs,
            reset_rate: self.reset_rate,
            lost_response_rate: self.lost_response_rate,
            stall_rate: self.stall_rate,
            stall_ms: self.stall_ms,
            drip_rate: self.drip_rate,
            drip_ms: self.drip_ms,
            calls: self.calls.clone(),
            script: self.script.clone(),
        };
        profile.validate()?;
        Ok(profile)
    }
}

impl TryFrom<&FaultArgs> for FaultProfile {
    type Error = InvalidProfile;

    fn try_from(args: &FaultArgs) -> Result<Self, Self::Error> {
        args.to_profile()
    }
}

fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not within 0..=1"))
    }
}

fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&t[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a byte rate (e.g. 262144, 256K, 2M)"))?;
    match n.checked_mul(mult) {
        Some(0) => Err("a bandwidth of 0 bytes/s never ends".into()),
        Some(v) => Ok(v),
        None => Err(format!("{s:?} is too large")),
    }
}

fn parse_kind(s: &str) -> Result<FaultKind, String> {
    serde_json::from_value(serde_json::Value::String(s.trim().to_owned()))
        .map_err(|_| format!("unknown fault {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_kinds_parse() {
        assert_eq!(parse_rate("256K"), Ok(256 * 1024));
        assert_eq!(parse_rate("2m"), Ok(2 << 20));
        assert_eq!(parse_rate("1000"), Ok(1000));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
        assert_eq!(parse_kind("lost_response"), Ok(FaultKind::LostResponse));
        assert_eq!(parse_kind("status503"), Ok(FaultKind::Status503));
        assert_eq!(parse_kind("no_etag"), Ok(FaultKind::NoEtag));
        assert_eq!(parse_kind("wrong_etag"), Ok(FaultKind::WrongEtag));
        assert_eq!(parse_kind("drip"), Ok(FaultKind::Drip));
        assert!(parse_share("1.5").is_err());
    }

    #[test]
    fn defaults_are_no_faults() {
        let profile = FaultArgs {
            plain_error_rate: 0.5,
            rate_limit_burst: 3,
            retry_after_secs: 1,
            stall_ms: 30_000,
            drip_ms: 5_000,
            ..FaultArgs::default()
        }
        .to_profile()
        .unwrap();
        assert_eq!(profile, FaultProfile::default());
        assert!(!profile.is_active());
    }

    #[test]
    fn rates_adding_up_past_one_are_refused() {
        let args = FaultArgs {
            error_rate: 0.7,
            reset_rate: 0.5,
            ..FaultArgs::default()
        };
        assert!(args.to_profile().is_err());
    }
}
