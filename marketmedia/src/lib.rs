//! # marketmedia
//!
//! Upload product videos and images to several e-commerce marketplaces at once, behind one
//! driver: the crate an application adds.
//!
//! ```sh
//! cargo add marketmedia --features shopee,lazada
//! ```
//!
//! Each marketplace is a cargo feature, as OpenDAL's `services-*` are; all are on by default
//! (`default-features = false` and a list builds only those):
//!
//! | feature | marketplace | re-exported as |
//! |---|---|---|
//! | `shopee` | Shopee Open Platform v2 (`media_space` and `media`) | [`shopee`] |
//! | `lazada` | Lazada Media Center | [`lazada`] |
//! | `smh` | Tencent Smart Media Hosting | [`smh`] |
//! | `ebay` | eBay Media API | [`ebay`] |
//! | `wechat` | WeChat Channels Store (微信小店) | [`wechat`] |
//! | `tiktok` | TikTok Shop Partner API | [`tiktok`] |
//! | `shopify` | Shopify Admin GraphQL API (staged uploads) | [`shopify`] |
//!
//! Everything of `marketmedia-core` is here too: the [`UploadDriver`] that streams a file,
//! sends parts concurrently, retries, resumes and polls for every marketplace; the resume
//! [`Journal`]; [`Account`]s and the [`Registry`] of the marketplaces enabled ([`registry`]).
//! Provider authors find their door in [`raw`].
//!
//! ## Two accounts of one marketplace, from the environment
//!
//! A seller's accounts are named, any number per marketplace; each is read from
//! `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>` variables (its marketplace's keys, declared once by
//! the provider, and `MARKETMEDIA_ACCOUNT_<NAME>_MARKETPLACE`). What must not mix between
//! them (resume, request limits) is keyed by the account's identity on the platform:
//!
//! ```no_run
//! use marketmedia::{Account, AccountUpload, ConnectOptions, UploadDriver, UploadOptions};
//!
//! # async fn demo() -> marketmedia::Result<()> {
//! // MARKETMEDIA_ACCOUNT_SHOPEE_SG_MARKETPLACE=shopee, …_SHOPEE_SG_PARTNER_ID=…, …
//! // MARKETMEDIA_ACCOUNT_SHOPEE_MY_MARKETPLACE=shopee, …_SHOPEE_MY_SHOP_ID=…, …
//! let registry = marketmedia::registry();
//! let mut clients = Vec::new();
//! for name in ["shopee-sg", "shopee-my"] {
//!     let account = Account::from_env(&registry, name)?;
//!     clients.push((account.account_ref()?, account.connect(&ConnectOptions::default())?));
//! }
//! // Each upload carries its own fields (a title, a cover): here each account's defaults.
//! let targets: Vec<_> = clients
//!     .iter()
//!     .map(|(account, client)| {
//!         AccountUpload::new(account.clone(), client.video().as_ref())
//!             .with_meta(client.upload_defaults().clone())
//!     })
//!     .collect();
//! let report = UploadDriver::new(UploadOptions::default())
//!     .upload_to_accounts(&targets, std::path::Path::new("kettle.mp4"), None)
//!     .await;
//! for market in &report.reports {
//!     println!("{:?}: {:?}", market.account, market.result.as_ref().map(|o| o.asset()));
//! }
//! # Ok(()) }
//! ```
//!
//! `examples/examples/two_accounts.rs` runs this against the bundled simulators.
//!
//! ## One marketplace, typed
//!
//! Each provider's settings type reads the same keys from the environment or a map, as
//! object_store's `AmazonS3Builder::from_env()` does:
//!
//! ```no_run
//! # #[cfg(feature = "lazada")]
//! # fn demo() -> marketmedia::Result<()> {
//! use marketmedia::lazada::LazadaSettings;
//! let lazada = LazadaSettings::from_map([
//!     ("app_key", "100132"),
//!     ("app_secret", "…"),
//!     ("access_token", "…"),
//!     ("country", "my"),
//! ])?
//! .uploader()?;
//! # Ok(()) }
//! ```
//!
//! ## A marketplace of your own
//!
//! Implement [`Marketplace`] (its settings, how they become a client) next to your
//! [`raw::ChunkedVideoUploader`], and register it: the `marketmedia` command built with
//! `marketmedia_cli::run_with` then takes its accounts, its variables and its simulator like
//! the bundled ones (`examples/examples/custom_provider.rs`, `docs/providers.md`).
#![warn(missing_docs)]

pub use marketmedia_core::*;

#[cfg(feature = "ebay")]
pub use marketmedia_ebay as ebay;
#[cfg(feature = "lazada")]
pub use marketmedia_lazada as lazada;
#[cfg(feature = "shopee")]
pub use marketmedia_shopee as shopee;
#[cfg(feature = "shopify")]
pub use marketmedia_shopify as shopify;
#[cfg(feature = "smh")]
pub use marketmedia_smh as smh;
#[cfg(feature = "tiktok")]
pub use marketmedia_tiktok as tiktok;
#[cfg(feature = "wechat")]
pub use marketmedia_wechat as wechat;

/// The marketplaces this build enables, in the order reports list them: extend it with
/// [`Registry::register`] for a marketplace of your own.
pub fn registry() -> Registry {
    #[allow(unused_mut)]
    let mut registry = Registry::new();
    #[cfg(feature = "shopee")]
    registry.register(std::sync::Arc::new(shopee::Shopee));
    #[cfg(feature = "lazada")]
    registry.register(std::sync::Arc::new(lazada::Lazada));
    #[cfg(feature = "smh")]
    registry.register(std::sync::Arc::new(smh::Smh));
    #[cfg(feature = "ebay")]
    registry.register(std::sync::Arc::new(ebay::Ebay));
    #[cfg(feature = "wechat")]
    registry.register(std::sync::Arc::new(wechat::Wechat));
    #[cfg(feature = "tiktok")]
    registry.register(std::sync::Arc::new(tiktok::Tiktok));
    #[cfg(feature = "shopify")]
    registry.register(std::sync::Arc::new(shopify::Shopify));
    registry
}

#[cfg(test)]
mod tests {
    /// Each enabled feature registers its marketplace, under the feature's name.
    #[test]
    fn the_registry_holds_the_enabled_marketplaces() {
        let names = super::registry().names();
        let enabled = [
            ("shopee", cfg!(feature = "shopee")),
            ("lazada", cfg!(feature = "lazada")),
            ("smh", cfg!(feature = "smh")),
            ("ebay", cfg!(feature = "ebay")),
            ("wechat", cfg!(feature = "wechat")),
            ("tiktok", cfg!(feature = "tiktok")),
            ("shopify", cfg!(feature = "shopify")),
        ];
        let expected: Vec<&str> = enabled
            .iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(names, expected);
    }
}
