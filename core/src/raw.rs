//! The provider author's door: everything a marketplace backend is written with, and
//! nothing an application needs.
//!
//! A provider implements [`ChunkedVideoUploader`] (and, for images, [`ImageUploader`]),
//! declares its [`UploadRules`] as data, translates [`Part`]s into its platform's requests
//! and answers with [`PartReceipt`]s, and keeps its platform's wire shapes, signing and error
//! table in its own crate. What every provider needs around that is here, written once: the
//! shared HTTP plumbing ([`http`]: client, traced requests, status mapping, `Retry-After`,
//! streaming part bodies), HMAC signing ([`signing`]), the [`Secret`] wrapper and the
//! digests the driver computed ([`Digests`]). As OpenDAL's `raw`, this module is only for
//! service developers; an application uses the crate's top level.
//!
//! `docs/providers.md` walks through writing a provider with these items.

pub use crate::account::AccountCheck;
pub use crate::credential::{
    no_refresh_token, refresh_if_due, seed_from_settings, Authorization, CredentialKey,
    CredentialSources, CredentialStore, MemoryStore, RefreshDue, RefreshMargin, Refresher,
    TokenSource, Tokens,
};
pub use crate::digest::{md5, DigestRequest, Digester, Digests, InstantHashes, INSTANT_HASH_CHUNK};
pub use crate::error::{Error, ErrorKind, Result};
pub use crate::image::{check_images, ImageRules, ImageSource, ImageUploader, UploadedImage};
pub use crate::marketplace::{
    account_env_prefix, closest, env_name, in_words, Account, AccountInfo, CheckAccount, Client,
    ConnectOptions, Fields, Marketplace, Origin, Registry, Requirement, Setting, SettingKind,
    Settings, UploadField, ACCOUNT_ENV_PREFIX, COVER_URL, DESCRIPTION, ENV_PREFIX, TITLE,
};
pub use crate::media::MediaFormat;
pub use crate::meta::{MetaField, UploadMeta};
pub use crate::plan::{PartPlan, PartSpec};
pub use crate::rules::{
    DigestNeeds, DurationRange, NumberingBase, PartSizeRule, UploadRules, DEFAULT_MAX_PARTS,
};
pub use crate::secret::{redact_url, RedactedUrl, Secret};
#[cfg(any(test, feature = "mock"))]
pub use crate::uploader::MockChunkedVideoUploader;
pub use crate::uploader::{
    Asset, AssetUrl, ChunkedVideoUploader, CommitOutcome, InitOutcome, Part, PartReceipt,
    ProcessingHandle, ProcessingStatus, Recovery, SentCallback, SourceInfo, UploadSession,
};
/// The future [`Marketplace::exchange_code`] returns (the `futures` crate's).
pub use futures::future::BoxFuture;

/// HTTP plumbing every provider shares: the client, one traced request, status mapping,
/// `Retry-After`, JSON decoding and streaming part bodies.
pub mod http {
    pub use crate::http::*;
}

/// Signing helpers (HMAC-SHA256).
pub mod signing {
    pub use crate::signing::*;
}
