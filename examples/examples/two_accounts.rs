//! Uploads one video to two accounts of one marketplace — two Shopee shops of one partner —
//! each built from the environment, as an application using the `marketmedia` crate would:
//!
//! ```text
//! MARKETMEDIA_ACCOUNT_SHOPEE_SG_MARKETPLACE=shopee
//! MARKETMEDIA_ACCOUNT_SHOPEE_SG_PARTNER_ID=…  _PARTNER_KEY=…  _SHOP_ID=…  _ACCESS_TOKEN=…
//! MARKETMEDIA_ACCOUNT_SHOPEE_MY_MARKETPLACE=shopee
//! MARKETMEDIA_ACCOUNT_SHOPEE_MY_PARTNER_ID=…  (the same partner, another shop)
//!
//! cargo run -p marketmedia-examples --example two_accounts [-- FILE]
//! ```
//!
//! Each account is read with [`Account::from_env`] (its marketplace's keys, declared once by
//! the provider crate), connected to its own client, and keyed by its identity on the
//! platform (`shopee:<partner_id>:<shop_id>`), so the two shops' sessions and request limits
//! never mix. Without the variables, the Shopee simulator is started and its two published
//! shops stand in for them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use marketmedia::{
    Account, AccountUpload, ConnectOptions, FanOutReport, UploadDriver, UploadOptions,
};
use marketmedia_sim::fixtures::write_sample_mp4;
use marketmedia_sim::standalone::{self, Running, StartOptions};

/// The two accounts.
const ACCOUNTS: [&str; 2] = ["shopee-sg", "shopee-my"];

/// Uploads `path` to the accounts `names`, each read from the variables `lookup` finds.
async fn upload_to(
    names: &[&str],
    lookup: &dyn Fn(&str) -> Option<String>,
    path: &Path,
) -> marketmedia::Result<FanOutReport> {
    let registry = marketmedia::registry();
    let mut clients = Vec::new();
    for name in names {
        let account = Account::from_env_with(&registry, name, lookup)?;
        let client = account.connect(&ConnectOptions::default())?;
        println!("{name}: {}", account.info()?.identity);
        clients.push((account.account_ref()?, client));
    }
    // Each upload carries the account's own per-upload defaults (none for Shopee).
    let targets: Vec<AccountUpload<'_>> = clients
        .iter()
        .map(|(account, client)| {
            AccountUpload::new(account.clone(), client.video().as_ref())
                .with_meta(client.upload_defaults().clone())
        })
        .collect();
    Ok(UploadDriver::new(UploadOptions::default())
        .upload_to_accounts(&targets, path, None)
        .await)
}

/// The variables of the two shops the Shopee simulator publishes (its JSON line's
/// `accounts`: each shop's id and token, the partner's credentials, the simulator's host).
fn simulator_variables(running: &Running) -> HashMap<String, String> {
    let entry = &running.info()["shopee"];
    let partner = &entry["credentials"];
    let mut vars = HashMap::new();
    for shop in entry["accounts"].as_array().into_iter().flatten() {
        let Some(name) = shop["name"].as_str() else {
            continue;
        };
        let prefix = marketmedia::raw::account_env_prefix(name);
        let mut set = |key: &str, value: &serde_json::Value| {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vars.insert(format!("{prefix}{key}"), text);
        };
        set("MARKETPLACE", &"shopee".into());
        set("PARTNER_ID", &partner["partner_id"]);
        set("PARTNER_KEY", &partner["partner_key"]);
        set("SHOP_ID", &shop["shop_id"]);
        set("ACCESS_TOKEN", &shop["access_token"]);
        set("COUNTRY", &shop["country"]);
        set("BASE_URL", &entry["base_url"]);
    }
    vars
}

/// The Shopee simulator alone, on a free port.
async fn shopee_simulator() -> std::io::Result<Running> {
    let shopee: Vec<_> = standalone::PLATFORMS
        .iter()
        .filter(|e| e.name == "shopee")
        .copied()
        .collect();
    standalone::start_list(
        "127.0.0.1:0".parse().expect("an address"),
        &shopee,
        StartOptions::default().with_processing_delay(Duration::from_millis(50)),
    )
    .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            let p = dir.path().join("kettle.mp4");
            write_sample_mp4(&p, Duration::from_secs(12), 6 * 1024 * 1024)?;
            p
        }
    };
    let configured = ACCOUNTS.iter().all(|name| {
        let var = format!("{}MARKETPLACE", marketmedia::raw::account_env_prefix(name));
        std::env::var_os(var).is_some()
    });
    let report = if configured {
        upload_to(&ACCOUNTS, &|n| std::env::var(n).ok(), &path).await?
    } else {
        println!("no MARKETMEDIA_ACCOUNT_SHOPEE_* variables: the Shopee simulator stands in");
        let running = shopee_simulator().await?;
        let vars = simulator_variables(&running);
        upload_to(&ACCOUNTS, &|n| vars.get(n).cloned(), &path).await?
    };
    for market in &report.reports {
        let account = market.account.as_deref().unwrap_or("?");
        match market.result.as_ref().map(|o| o.asset()) {
            Ok(Some(asset)) => println!("{account}: ready, id {}", asset.id),
            Ok(None) => println!("{account}: committed, still processing"),
            Err(e) => println!("{account}: failed: {e}"),
        }
    }
    println!("overall: {:?}", report.overall());
    Ok(())
}

/// `cargo test` runs this (`test = true` in `examples/Cargo.toml`).
#[cfg(test)]
mod tests {
    use super::*;
    use marketmedia::Overall;
    use marketmedia_sim::shopee::ShopeeSim;

    /// Both shops get the video, each under its own shop id and token on the wire, and the
    /// simulator holds the source's bytes for each.
    #[tokio::test]
    async fn one_video_reaches_two_shops_built_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kettle.mp4");
        write_sample_mp4(&path, Duration::from_secs(12), 5 * 1024 * 1024).unwrap();
        let running = shopee_simulator().await.unwrap();
        let vars = simulator_variables(&running);
        let report = upload_to(&ACCOUNTS, &|n| vars.get(n).cloned(), &path)
            .await
            .unwrap();
        assert_eq!(report.overall(), Overall::AllSucceeded, "{report:?}");
        let accounts: Vec<_> = report.reports.iter().map(|r| r.account.clone()).collect();
        assert_eq!(
            accounts,
            [Some("shopee-sg".to_owned()), Some("shopee-my".to_owned())]
        );

        let sim = running.sim::<ShopeeSim>().unwrap();
        let inits = sim.wire().calls("init_video_upload");
        let mut shops: Vec<String> = inits
            .iter()
            .filter_map(|r| r.param("shop_id").map(str::to_owned))
            .collect();
        shops.sort();
        let mut expected: Vec<String> = ACCOUNTS
            .iter()
            .map(|n| {
                let prefix = marketmedia::raw::account_env_prefix(n);
                vars[&format!("{prefix}SHOP_ID")].clone()
            })
            .collect();
        expected.sort();
        assert_eq!(shops, expected, "one init per shop, each under its own id");
        let source = std::fs::read(&path).unwrap();
        for r in &report.reports {
            let asset = r.result.as_ref().unwrap().asset().expect("ready").clone();
            let held = sim
                .assembled_bytes(&asset.id)
                .expect("the simulator holds it");
            assert!(held.as_ref() == source.as_slice(), "{asset:?}");
        }
    }

    /// A missing key is named by its variable before any request.
    #[tokio::test]
    async fn a_partly_configured_account_names_its_missing_variable() {
        let vars: HashMap<String, String> = [
            ("MARKETMEDIA_ACCOUNT_SHOPEE_SG_MARKETPLACE", "shopee"),
            ("MARKETMEDIA_ACCOUNT_SHOPEE_SG_PARTNER_ID", "1"),
            ("MARKETMEDIA_ACCOUNT_SHOPEE_SG_PARTNER_KEY", "sk-live-123"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let err = upload_to(
            &["shopee-sg"],
            &|n| vars.get(n).cloned(),
            Path::new("x.mp4"),
        )
        .await
        .unwrap_err();
        assert!(
            err.message()
                .contains("MARKETMEDIA_ACCOUNT_SHOPEE_SG_SHOP_ID"),
            "{err}"
        );
        assert!(!err.to_string().contains("sk-live"), "{err}");
    }
}
