//! # marketmedia-conformance
//!
//! The shared conformance suite that every `marketmedia` provider runs against its platform's
//! simulator (from [`marketmedia_sim`], a crate of its own that depends on no marketmedia
//! crate), the junk-decoder harness ([`junk`]), the secret-leak capture ([`leaks`]), a
//! recording server for pinning the wire of small calls ([`recorder`]) and the token cases
//! run against the simulators' token ledgers ([`tokens`]).
//!
//! The [`suite`] runs the same cases on every provider against its simulator, selected from
//! the provider's declared rules: see `docs/providers.md` for how a new marketplace plugs in.
#![warn(missing_docs)]

pub mod junk;
pub mod leaks;
pub mod recorder;
pub mod suite;
pub mod tokens;

/// Per-upload fields for test uploads: a title, a description and a cover URL, which every
/// bundled simulator accepts and every platform that requires fields needs (Lazada: title
/// and cover). No directory or file name, so uploads keep their source's name and place. The
/// suite's uploads and the leak scenarios carry them ([`suite::Backend::with_meta`] to give
/// others).
pub fn sample_meta() -> marketmedia_core::UploadMeta {
    marketmedia_core::UploadMeta::default()
        .with_title("marketmedia test video")
        .with_description("Uploaded by the marketmedia conformance suite")
        .with_cover_url("https://cdn.example.invalid/marketmedia-cover.jpg")
}
