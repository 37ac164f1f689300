//! Who an upload is for: an account of a marketplace.
//!
//! A seller may run several accounts of one marketplace (Shopee shops in several countries
//! under one partner, one Lazada seller on several country gateways). What must not mix
//! between them is keyed by the account's **identity** on the platform, never by its
//! display name: the resume journal's entries ([`crate::Journal`]), and a client's budgets
//! of requests in flight and request rate ([`crate::ClientOptions`], counted per account:
//! [`crate::raw::http::in_account`]). Reports and progress are labelled by the account's
//! **name**.

use serde::{Deserialize, Serialize};

/// An account an upload is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountRef {
    /// The name the seller gave it: what reports and progress events are labelled by.
    pub name: String,
    /// Who it is on the platform (e.g. `shopee:<partner_id>:<shop_id>`): what the journal,
    /// the limits and the rates are keyed by. Stable across renames.
    pub identity: String,
    /// Whether journal entries written before entries named their account (so belonging to
    /// no account) are this account's to resume: true for at most one account per
    /// marketplace (the one the earlier release would have used).
    #[serde(default)]
    pub adopts_unkeyed: bool,
}

impl AccountRef {
    /// An account named `name` whose identity is `identity`.
    pub fn new(name: impl Into<String>, identity: impl Into<String>) -> AccountRef {
        AccountRef {
            name: name.into(),
            identity: identity.into(),
            adopts_unkeyed: false,
        }
    }

    /// The same account, adopting journal entries that name no account.
    pub fn adopting_unkeyed(mut self) -> AccountRef {
        self.adopts_unkeyed = true;
        self
    }

    /// Runs `future` with its requests counted against this account's limits and rates
    /// ([`crate::raw::http::in_account`]).
    pub async fn scope<F: std::future::Future>(&self, future: F) -> F::Output {
        crate::http::in_account(&self.identity, future).await
    }
}

/// What one cheap authenticated call told about an account (`marketmedia accounts check`):
/// the call made, and the platform's own facts about the account when it gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCheck {
    /// The platform's name for the call made (`v2.shop.get_shop_info`, `/seller/get`).
    pub call: String,
    /// The account's name on the platform (shop name, seller name), when given.
    pub display_name: Option<String>,
    /// The account's id on the platform (Lazada's `seller_id`), when given.
    pub id: Option<String>,
    /// The country or region the platform says the account is in, when given.
    pub country: Option<String>,
    /// The account's status on the platform (Shopee `NORMAL`, `BANNED`…), when given.
    pub status: Option<String>,
}
