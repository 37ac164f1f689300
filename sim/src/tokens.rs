//! The token ledger the Shopee, Lazada, eBay and WeChat simulators share: access tokens,
//! refresh tokens and authorization codes issued on the simulator's clock with the platform's
//! lifetimes, refreshed, spent, revoked and checked, and counted per credential so that a test
//! asserts "no expired-token answer on the wire" and "every rotated refresh token used once".
//!
//! Each simulator keeps one [`TokenLedger`] in its state and adds only its platform's words:
//! its calls (Shopee's `auth/token/get` and `auth/access_token/get`, Lazada's
//! `/auth/token/create` and `/auth/token/refresh`, eBay's `/identity/v1/oauth2/token`,
//! WeChat's `/cgi-bin/token` and `/cgi-bin/stable_token`), its answers and its
//! [`RefreshRules`]. SMH keeps its own token code (`smh/auth.rs`); only its lifetime can be
//! set here.
//!
//! A **credential** is what the platform issued tokens to (Shopee: `shop:<id>`,
//! `main_account:<id>`, `merchant:<id>`; Lazada: `seller:<account>`; eBay: `user:<name>`;
//! WeChat: `app:<appid>` for stable tokens and `app:<appid>/cgi-bin/token` for the older
//! call's). A token serves its credential's **subjects** (a Shopee main account's first token
//! serves each of its shops until that shop's first refresh).
//!
//! ## Control surface (every simulator but SMH, under `/__sim/`)
//!
//! | request | answer |
//! |---|---|
//! | `GET /__sim/tokens` | a [`TokenReport`]: the lifetimes, and per credential the code exchanges, refreshes, spent-refresh-token uses, refused refreshes, requests refused for an expired (`refused_expired`) or a revoked/superseded/other-subject (`refused_invalid`) access token, the current access and refresh expiries (sim-clock ms), the sandbox's current tokens (labelled `sandbox_secrets`: this is a fake platform) and every refresh token kept with its uses |
//! | `GET /__sim/tokens/lifetimes` | the [`TokenLifetimes`] in force |
//! | `PUT /__sim/tokens/lifetimes` `{"access_ms": N, "refresh_ms": M, "code_ms": C, "overlap_ms": O}` (each optional) | sets the lifetimes of the tokens and codes issued **from now on** (sim clock), answers the lifetimes in force; 400 when a value cannot be used. SMH: `access_ms` only, its default token `period` |
//! | `POST /__sim/tokens/revoke` `{"access_token": "…"}`, `{"refresh_token": "…"}` or `{"account": "<credential>"}` | revokes at once: an access token is then refused as invalid (each platform's invalid-token answer), a refresh token is refused by the refresh call (re-authorization needed), an account loses every token and unused code; `{"revoked": n}`, 404 when nothing matched |
//! | `POST /__sim/tokens/code` (Shopee `{"shop_id": N}` or `{"main_account_id": N}`; Lazada, eBay `{}`) | `{"code", "expires_in", "credential"}`: a fresh authorization code, single-use, living the platform's code lifetime (Shopee 10 min, Lazada 30 min, eBay 299 s), as the seller's consent would give it |
//!
//! `POST /__sim/reset` also resets the ledger: the initial tokens and codes again (the same
//! values, so a printed JSON line stays usable), the configured lifetimes, zero counts.
//!
//! The ledger keeps at most [`MAX_KEPT`] entries of each kind; beyond it, expired ones, then
//! the oldest, are forgotten, so a long-running sandbox stays bounded.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::control::Control;

/// The most entries of each kind (access tokens, refresh tokens, codes) a ledger keeps.
pub const MAX_KEPT: usize = 10_000;

/// How long tokens and codes live, on the simulator's clock, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenLifetimes {
    /// Access tokens.
    pub access_ms: u64,
    /// Refresh tokens (0: the platform issues none, as WeChat).
    pub refresh_ms: u64,
    /// Authorization codes (0: the platform issues none).
    pub code_ms: u64,
    /// WeChat: how long before expiry a stable token is renewed, old and new both valid, and
    /// how long a token the older `/cgi-bin/token` call replaced stays valid (300 s). 0
    /// elsewhere.
    pub overlap_ms: u64,
}

/// A change of [`TokenLifetimes`]: the fields given replace the ones in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimesPatch {
    /// New access token lifetime.
    pub access_ms: Option<u64>,
    /// New refresh token lifetime.
    pub refresh_ms: Option<u64>,
    /// New authorization code lifetime.
    pub code_ms: Option<u64>,
    /// New WeChat renewal window.
    pub overlap_ms: Option<u64>,
}

/// How a platform's refresh call treats refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshRules {
    /// The refresh answer carries a new refresh token (Shopee, Lazada); otherwise the one
    /// presented stays the credential's (eBay).
    pub rotate: bool,
    /// Presenting a refresh token spends it: a second use is refused (Shopee).
    pub spend: bool,
    /// The new refresh token keeps the expiry of the one it replaces: refreshing never
    /// extends an authorization (Lazada).
    pub keep_expiry: bool,
    /// A spent refresh token stays usable until its replacement is first used, and at most
    /// [`RETAIN_PREVIOUS_MS`] after its own first use (Shopify since 2026-08-28: a refresh
    /// answer lost or not stored is recovered with the stored token). Only with `spend`.
    pub retain_previous_until_new_used: bool,
}

/// How long a spent refresh token is retained at most under
/// [`RefreshRules::retain_previous_until_new_used`]: "30 days from the original refresh
/// token's first use" (shopify.dev changelog, 2026-08-28).
pub const RETAIN_PREVIOUS_MS: i64 = 30 * 24 * 3600 * 1000;

/// What an authorization grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The credential tokens are issued to.
    pub credential: String,
    /// What its tokens serve (Shopee: `shop:<id>` and `merchant:<id>`); empty where the
    /// platform has no such scoping.
    pub subjects: Vec<String>,
    /// eBay: the OAuth scopes granted, space-separated; empty elsewhere.
    pub scope: String,
}

impl Grant {
    /// A grant to `credential` serving `subjects`.
    pub fn new(credential: impl Into<String>, subjects: Vec<String>) -> Self {
        Grant {
            credential: credential.into(),
            subjects,
            scope: String::new(),
        }
    }
}

/// The kind of a secret a ledger mints (each platform spells its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An access token.
    Access,
    /// A refresh token.
    Refresh,
    /// An authorization code.
    Code,
}

/// A token pair (or a lone access token) just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// What it grants.
    pub grant: Grant,
    /// The access token.
    pub access_token: String,
    /// When it expires (sim-clock ms).
    pub access_expires_ms: i64,
    /// The refresh token the answer carries (`None`: the platform answers none).
    pub refresh_token: Option<String>,
    /// The credential's refresh token expiry (sim-clock ms), whether or not a new one was
    /// answered.
    pub refresh_expires_ms: Option<i64>,
}

impl Issued {
    /// Seconds from `now_ms` to the access token's expiry (at least 0).
    pub fn access_expires_in(&self, now_ms: i64) -> i64 {
        secs_until(self.access_expires_ms, now_ms)
    }

    /// Seconds from `now_ms` to the refresh token's expiry (0 when none).
    pub fn refresh_expires_in(&self, now_ms: i64) -> i64 {
        self.refresh_expires_ms
            .map_or(0, |at| secs_until(at, now_ms))
    }
}

/// Whole seconds from `now_ms` to `at_ms`, rounded down, at least 0.
pub fn secs_until(at_ms: i64, now_ms: i64) -> i64 {
    at_ms.saturating_sub(now_ms).max(0) / 1000
}

/// Whether a spent refresh token is still retained (`retain_previous_until_new_used`): its
/// replacement not used yet, and within [`RETAIN_PREVIOUS_MS`] of its first use.
fn retained(rules: &RefreshRules, entry: &RefreshEntry, now_ms: i64) -> bool {
    rules.retain_previous_until_new_used
        && !entry.retired
        && entry
            .first_used_ms
            .is_some_and(|first| now_ms < first.saturating_add(RETAIN_PREVIOUS_MS))
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRefusal {
    /// Never issued (or forgotten).
    Unknown,
    /// Issued for another subject (another shop).
    NotForSubject,
    /// Revoked, or superseded past its grace.
    Revoked,
    /// Past its lifetime.
    Expired,
}

/// Why a refresh was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// Never issued (or forgotten).
    Unknown,
    /// Revoked.
    Revoked,
    /// Past its lifetime.
    Expired,
    /// Already used (platforms that spend refresh tokens).
    Spent,
    /// Not for the subject asked (another shop or merchant).
    NotForSubject,
}

/// Why a code exchange was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Never issued.
    Unknown,
    /// Used already.
    Used,
    /// Past its lifetime.
    Expired,
    /// Issued for another account than the one named (or another redirect).
    Mismatch,
}

#[derive(Debug, Clone)]
struct AccessEntry {
    grant: Grant,
    issued_ms: i64,
    expires_ms: i64,
    /// Refused as invalid from this time on (revoked, or superseded with a grace).
    invalid_from_ms: Option<i64>,
    seq: u64,
}

#[derive(Debug, Clone)]
struct RefreshEntry {
    grant: Grant,
    issued_ms: i64,
    expires_ms: i64,
    /// The subjects it was spent for ("" for a credential without subjects).
    spent_for: BTreeSet<String>,
    uses: u64,
    revoked: bool,
    seq: u64,
    /// When it was first used (sim clock).
    first_used_ms: Option<i64>,
    /// The refresh token whose use issued it.
    predecessor: Option<String>,
    /// Its replacement was used: no longer retained.
    retired: bool,
}

#[derive(Debug, Clone)]
struct CodeEntry {
    grant: Grant,
    expires_ms: i64,
    used: bool,
    seq: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    code_exchanges: u64,
    refreshes: u64,
    spent_refresh_uses: u64,
    refused_refreshes: u64,
    refused_expired: u64,
    refused_invalid: u64,
}

/// One simulator's tokens. Lives in the simulator's state, behind its lock.
#[derive(Debug)]
pub struct TokenLedger {
    lifetimes: TokenLifetimes,
    rules: RefreshRules,
    mint: fn(TokenKind) -> String,
    access: HashMap<String, AccessEntry>,
    refresh: HashMap<String, RefreshEntry>,
    codes: HashMap<String, CodeEntry>,
    stats: BTreeMap<String, Stats>,
    refused_unknown: u64,
    seq: u64,
}

impl TokenLedger {
    /// An empty ledger with `lifetimes`, refreshing by `rules`, minting secrets with `mint`.
    pub fn new(
        lifetimes: TokenLifetimes,
        rules: RefreshRules,
        mint: fn(TokenKind) -> String,
    ) -> Self {
        TokenLedger {
            lifetimes,
            rules,
            mint,
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            stats: BTreeMap::new(),
            refused_unknown: 0,
            seq: 0,
        }
    }

    /// The lifetimes in force.
    pub fn lifetimes(&self) -> TokenLifetimes {
        self.lifetimes
    }

    /// Applies `patch` to the lifetimes of what is issued from now on. Refused (nothing
    /// changed): a zero access lifetime, a refresh or code lifetime for a platform that
    /// issues none, a renewal window not shorter than the access lifetime.
    pub fn set_lifetimes(&mut self, patch: LifetimesPatch) -> Result<TokenLifetimes, String> {
        let mut next = self.lifetimes;
        if let Some(ms) = patch.access_ms {
            if ms == 0 {
                return Err("access_ms must be at least 1".into());
            }
            next.access_ms = ms;
        }
        for (name, given, slot) in [
            ("refresh_ms", patch.refresh_ms, &mut next.refresh_ms),
            ("code_ms", patch.code_ms, &mut next.code_ms),
            ("overlap_ms", patch.overlap_ms, &mut next.overlap_ms),
        ] {
            let Some(ms) = given else { continue };
            if *slot == 0 {
                return Err(format!("this platform has no {name} to set"));
            }
            if ms == 0 {
                return Err(format!("{name} must be at least 1"));
            }
            *slot = ms;
        }
        if next.overlap_ms != 0 && next.overlap_ms >= next.access_ms {
            return Err(format!(
                "overlap_ms ({}) must be shorter than access_ms ({}): set both",
                next.overlap_ms, next.access_ms
            ));
        }
        self.lifetimes = next;
        Ok(next)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn stats(&mut self, credential: &str) -> &mut Stats {
        self.stats.entry(credential.to_owned()).or_default()
    }

    fn insert_access(&mut self, grant: Grant, token: String, now_ms: i64) -> i64 {
        let expires_ms = now_ms.saturating_add(ms(self.lifetimes.access_ms));
        self.stats(&grant.credential);
        let seq = self.next_seq();
        self.access.insert(
            token,
            AccessEntry {
                grant,
                issued_ms: now_ms,
                expires_ms,
                invalid_from_ms: None,
                seq,
            },
        );
        prune(&mut self.access, now_ms, |e| (e.expires_ms, e.seq));
        expires_ms
    }

    fn insert_refresh(&mut self, grant: Grant, token: String, now_ms: i64, expires_ms: i64) {
        self.stats(&grant.credential);
        let seq = self.next_seq();
        self.refresh.insert(
            token,
            RefreshEntry {
                grant,
                issued_ms: now_ms,
                expires_ms,
                spent_for: BTreeSet::new(),
                uses: 0,
                revoked: false,
                seq,
                first_used_ms: None,
                predecessor: None,
                retired: false,
            },
        );
        prune(&mut self.refresh, now_ms, |e| (e.expires_ms, e.seq));
    }

    /// Registers a fixed initial pair (the simulator's test tokens), issued now.
    pub fn seed(
        &mut self,
        grant: Grant,
        access_token: &str,
        refresh_token: Option<&str>,
        now_ms: i64,
    ) {
        if let Some(refresh) = refresh_token {
            let expires = now_ms.saturating_add(ms(self.lifetimes.refresh_ms));
            self.insert_refresh(grant.clone(), refresh.to_owned(), now_ms, expires);
        }
        self.insert_access(grant, access_token.to_owned(), now_ms);
    }

    /// Registers a fixed authorization code for `grant`, valid for the code lifetime from now.
    pub fn seed_code(&mut self, grant: Grant, code: &str, now_ms: i64) {
        let expires_ms = now_ms.saturating_add(ms(self.lifetimes.code_ms));
        let seq = self.next_seq();
        self.codes.insert(
            code.to_owned(),
            CodeEntry {
                grant,
                expires_ms,
                used: false,
                seq,
            },
        );
        prune(&mut self.codes, now_ms, |e| (e.expires_ms, e.seq));
    }

    /// A fresh authorization code for `grant` and its expiry.
    pub fn issue_code(&mut self, grant: Grant, now_ms: i64) -> (String, i64) {
        let code = (self.mint)(TokenKind::Code);
        self.seed_code(grant, &code, now_ms);
        let expires = now_ms.saturating_add(ms(self.lifetimes.code_ms));
        (code, expires)
    }

    /// A lone access token for `grant` (no refresh token), issued now.
    pub fn issue_access(&mut self, grant: Grant, now_ms: i64) -> Issued {
        let token = (self.mint)(TokenKind::Access);
        let expires = self.insert_access(grant.clone(), token.clone(), now_ms);
        Issued {
            grant,
            access_token: token,
            access_expires_ms: expires,
            refresh_token: None,
            refresh_expires_ms: None,
        }
    }

    fn issue_pair(&mut self, grant: Grant, now_ms: i64, refresh_expires_ms: i64) -> Issued {
        let refresh = (self.mint)(TokenKind::Refresh);
        self.insert_refresh(grant.clone(), refresh.clone(), now_ms, refresh_expires_ms);
        let mut issued = self.issue_access(grant, now_ms);
        issued.refresh_token = Some(refresh);
        issued.refresh_expires_ms = Some(refresh_expires_ms);
        issued
    }

    /// Exchanges an authorization code, once, for a token pair. `matches` says whether the
    /// code's grant is the one the request names (Shopee's `shop_id`/`main_account_id`).
    pub fn exchange_code(
        &mut self,
        code: &str,
        now_ms: i64,
        matches: impl FnOnce(&Grant) -> bool,
    ) -> Result<Issued, CodeRefusal> {
        let Some(entry) = self.codes.get_mut(code) else {
            self.refused_unknown += 1;
            return Err(CodeRefusal::Unknown);
        };
        let refusal = if entry.used {
            Some(CodeRefusal::Used)
        } else if now_ms >= entry.expires_ms {
            Some(CodeRefusal::Expired)
        } else if !matches(&entry.grant) {
            Some(CodeRefusal::Mismatch)
        } else {
            None
        };
        if let Some(r) = refusal {
            return Err(r);
        }
        entry.used = true;
        let grant = entry.grant.clone();
        self.stats(&grant.credential).code_exchanges += 1;
        let expires = now_ms.saturating_add(ms(self.lifetimes.refresh_ms));
        Ok(self.issue_pair(grant, now_ms, expires))
    }

    /// Refreshes with `refresh_token`, for `subject` when the platform names one (Shopee's
    /// `shop_id` or `merchant_id`). A main account's token refreshed for one of its shops
    /// gives that shop tokens of its own, and the main account's access tokens stop serving
    /// that shop.
    pub fn refresh(
        &mut self,
        refresh_token: &str,
        subject: Option<&str>,
        now_ms: i64,
    ) -> Result<Issued, RefreshRefusal> {
        let rules = self.rules;
        let Some(entry) = self.refresh.get_mut(refresh_token) else {
            self.refused_unknown += 1;
            return Err(RefreshRefusal::Unknown);
        };
        let key = subject.unwrap_or("").to_owned();
        let refusal = if entry.revoked {
            Some(RefreshRefusal::Revoked)
        } else if now_ms >= entry.expires_ms {
            Some(RefreshRefusal::Expired)
        } else if subject.is_some_and(|s| !entry.grant.subjects.iter().any(|x| x == s)) {
            Some(RefreshRefusal::NotForSubject)
        } else if rules.spend && entry.spent_for.contains(&key) && !retained(&rules, entry, now_ms)
        {
            Some(RefreshRefusal::Spent)
        } else {
            None
        };
        let old = entry.grant.clone();
        if let Some(r) = refusal {
            let stats = self.stats(&old.credential);
            stats.refused_refreshes += 1;
            if r == RefreshRefusal::Spent {
                stats.spent_refresh_uses += 1;
            }
            return Err(r);
        }
        let first_use = entry.uses == 0;
        entry.uses += 1;
        entry.first_used_ms.get_or_insert(now_ms);
        if rules.spend {
            entry.spent_for.insert(key);
        }
        let predecessor = entry.predecessor.clone();
        let old_expiry = entry.expires_ms;
        let narrowed = match subject {
            Some(s) if old.credential != s => Some(s.to_owned()),
            _ => None,
        };
        let grant = match &narrowed {
            Some(s) => {
                for a in self.access.values_mut() {
                    if a.grant.credential == old.credential {
                        a.grant.subjects.retain(|x| x != s);
                    }
                }
                Grant {
                    credential: s.clone(),
                    subjects: vec![s.clone()],
                    scope: old.scope.clone(),
                }
            }
            None => old,
        };
        self.stats(&grant.credential).refreshes += 1;
        let refresh_expires = if rules.keep_expiry {
            old_expiry
        } else {
            now_ms.saturating_add(ms(self.lifetimes.refresh_ms))
        };
        if rules.rotate {
            let issued = self.issue_pair(grant, now_ms, refresh_expires);
            if rules.retain_previous_until_new_used {
                // The first use of a replacement retires the token it replaced.
                if let Some(previous) = predecessor.filter(|_| first_use) {
                    if let Some(p) = self.refresh.get_mut(&previous) {
                        p.retired = true;
                    }
                }
                if let Some(new) = issued.refresh_token.as_ref() {
                    if let Some(n) = self.refresh.get_mut(new) {
                        n.predecessor = Some(refresh_token.to_owned());
                    }
                }
            }
            Ok(issued)
        } else {
            let mut issued = self.issue_access(grant, now_ms);
            issued.refresh_expires_ms = Some(old_expiry);
            Ok(issued)
        }
    }

    /// Checks an access token for `subject` (when the platform scopes tokens) and counts a
    /// refusal against its credential.
    pub fn check_access(
        &mut self,
        token: &str,
        subject: Option<&str>,
        now_ms: i64,
    ) -> Result<Grant, AccessRefusal> {
        let Some(entry) = self.access.get(token) else {
            self.refused_unknown += 1;
            return Err(AccessRefusal::Unknown);
        };
        let refusal = if subject.is_some_and(|s| !entry.grant.subjects.iter().any(|x| x == s)) {
            Some(AccessRefusal::NotForSubject)
        } else if entry.invalid_from_ms.is_some_and(|at| now_ms >= at) {
            Some(AccessRefusal::Revoked)
        } else if now_ms >= entry.expires_ms {
            Some(AccessRefusal::Expired)
        } else {
            None
        };
        let grant = entry.grant.clone();
        match refusal {
            None => Ok(grant),
            Some(r) => {
                let stats = self.stats(&grant.credential);
                if r == AccessRefusal::Expired {
                    stats.refused_expired += 1;
                } else {
                    stats.refused_invalid += 1;
                }
                Err(r)
            }
        }
    }

    /// The newest access token of `credential` still valid at `now_ms`, and its expiry.
    pub fn newest_valid(&self, credential: &str, now_ms: i64) -> Option<(String, i64)> {
        self.access
            .iter()
            .filter(|(_, e)| e.grant.credential == credential)
            .filter(|(_, e)| now_ms < e.expires_ms)
            .filter(|(_, e)| e.invalid_from_ms.is_none_or(|at| now_ms < at))
            .max_by_key(|(_, e)| e.seq)
            .map(|(t, e)| (t.clone(), e.expires_ms))
    }

    /// Every access token of `credential` valid now is refused as invalid from `at_ms` on
    /// (WeChat: a newer token replaced them; a revocation when `at_ms` is now).
    pub fn supersede(&mut self, credential: &str, at_ms: i64) -> usize {
        let mut n = 0;
        for e in self.access.values_mut() {
            if e.grant.credential == credential && e.invalid_from_ms.is_none_or(|t| t > at_ms) {
                e.invalid_from_ms = Some(at_ms);
                n += 1;
            }
        }
        n
    }

    /// Counts a refresh of `credential` made outside [`TokenLedger::refresh`] (WeChat's
    /// token calls, which need no refresh token).
    pub fn count_refresh(&mut self, credential: &str) {
        self.stats(credential).refreshes += 1;
    }

    /// Revokes what `what` names at `now_ms`; how many tokens and codes it touched.
    pub fn revoke(&mut self, what: &Revoke, now_ms: i64) -> Result<usize, String> {
        match (&what.access_token, &what.refresh_token, &what.account) {
            (Some(t), None, None) => Ok(match self.access.get_mut(t) {
                Some(e) => {
                    e.invalid_from_ms = Some(e.invalid_from_ms.map_or(now_ms, |at| at.min(now_ms)));
                    1
                }
                None => 0,
            }),
            (None, Some(t), None) => Ok(match self.refresh.get_mut(t) {
                Some(e) => {
                    e.revoked = true;
                    1
                }
                None => 0,
            }),
            (None, None, Some(account)) => {
                let mut n = self.supersede(account, now_ms);
                for e in self.access.values_mut() {
                    if e.grant.credential != *account && e.grant.subjects.contains(account) {
                        e.grant.subjects.retain(|s| s != account);
                        n += 1;
                    }
                }
                for e in self.refresh.values_mut() {
                    if e.grant.credential == *account && !e.revoked {
                        e.revoked = true;
                        n += 1;
                    }
                }
                for e in self.codes.values_mut() {
                    if e.grant.credential == *account && !e.used {
                        e.used = true;
                        n += 1;
                    }
                }
                Ok(n)
            }
            _ => Err("give exactly one of access_token, refresh_token or account".to_owned()),
        }
    }

    /// What the ledger holds and counted, at `now_ms`.
    pub fn report(&self, now_ms: i64) -> TokenReport {
        let credentials = self
            .stats
            .iter()
            .map(|(credential, s)| {
                let access = self
                    .access
                    .iter()
                    .filter(|(_, e)| e.grant.credential == *credential)
                    .max_by_key(|(_, e)| e.seq);
                let mut refresh: Vec<(&String, &RefreshEntry)> = self
                    .refresh
                    .iter()
                    .filter(|(_, e)| e.grant.credential == *credential)
                    .collect();
                refresh.sort_by_key(|(_, e)| e.seq);
                let current_refresh = refresh.last();
                CredentialReport {
                    credential: credential.clone(),
                    subjects: access
                        .map(|(_, e)| e.grant.subjects.clone())
                        .unwrap_or_default(),
                    code_exchanges: s.code_exchanges,
                    refreshes: s.refreshes,
                    spent_refresh_token_uses: s.spent_refresh_uses,
                    refused_refreshes: s.refused_refreshes,
                    refused_expired: s.refused_expired,
                    refused_invalid: s.refused_invalid,
                    access_issued_ms: access.map(|(_, e)| e.issued_ms),
                    access_expires_ms: access.map(|(_, e)| e.expires_ms),
                    refresh_expires_ms: current_refresh.map(|(_, e)| e.expires_ms),
                    sandbox_secrets: SandboxSecrets {
                        access_token: access.map(|(t, _)| (*t).clone()),
                        refresh_token: current_refresh.map(|(t, _)| (*t).clone()),
                    },
                    refresh_tokens: refresh
                        .iter()
                        .map(|(t, e)| RefreshTokenReport {
                            refresh_token: (*t).clone(),
                            issued_ms: e.issued_ms,
                            expires_ms: e.expires_ms,
                            uses: e.uses,
                            spent: !e.spent_for.is_empty() && self.rules.spend,
                            revoked: e.revoked,
                            expired: now_ms >= e.expires_ms,
                        })
                        .collect(),
                }
            })
            .collect();
        TokenReport {
            note: REPORT_NOTE.to_owned(),
            now_ms,
            lifetimes: self.lifetimes,
            refused_unknown: self.refused_unknown,
            credentials,
        }
    }
}

/// What [`TokenReport::note`] says.
pub const REPORT_NOTE: &str =
    "sandbox_secrets and refresh_tokens are this fake platform's own test tokens, shown so that tests can assert on them";

/// Milliseconds as `i64`, saturating.
fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Keeps a map within [`MAX_KEPT`]: when over, forgets what expired, then the oldest.
fn prune<V>(map: &mut HashMap<String, V>, now_ms: i64, key: impl Fn(&V) -> (i64, u64)) {
    if map.len() <= MAX_KEPT {
        return;
    }
    map.retain(|_, v| key(v).0 > now_ms);
    if map.len() > MAX_KEPT {
        let mut seqs: Vec<u64> = map.values().map(|v| key(v).1).collect();
        seqs.sort_unstable();
        // `map.len() > MAX_KEPT`, so the index is within `seqs`: the newest three quarters
        // of MAX_KEPT stay.
        let cut = seqs[map.len() - MAX_KEPT * 3 / 4];
        map.retain(|_, v| key(v).1 >= cut);
    }
}

/// What `POST /__sim/tokens/revoke` takes: exactly one field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    /// An access token, refused as invalid from now on.
    pub access_token: Option<String>,
    /// A refresh token, refused by the refresh call from now on.
    pub refresh_token: Option<String>,
    /// A credential (`shop:600001`, `seller:…`): every token and unused code of it.
    pub account: Option<String>,
}

/// `GET /__sim/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenReport {
    /// Says that the tokens shown are the sandbox's own.
    pub note: String,
    /// The simulator's clock when the report was made (ms).
    pub now_ms: i64,
    /// The lifetimes in force.
    pub lifetimes: TokenLifetimes,
    /// Requests refused for a token or code the ledger never issued.
    pub refused_unknown: u64,
    /// Per credential, in name order.
    pub credentials: Vec<CredentialReport>,
}

impl TokenReport {
    /// The report of `credential`.
    pub fn credential(&self, credential: &str) -> Option<&CredentialReport> {
        self.credentials.iter().find(|c| c.credential == credential)
    }
}

/// One credential in a [`TokenReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialReport {
    /// The credential (`shop:600001`, `seller:…`, `user:…`, `app:…`).
    pub credential: String,
    /// What its newest access token serves.
    pub subjects: Vec<String>,
    /// Authorization codes exchanged for it.
    pub code_exchanges: u64,
    /// Successful refreshes into it (WeChat: tokens fetched by the token calls).
    pub refreshes: u64,
    /// Refreshes refused because the refresh token presented was already spent.
    pub spent_refresh_token_uses: u64,
    /// Refreshes refused for any reason (spent, expired, revoked, another subject).
    pub refused_refreshes: u64,
    /// Requests refused because its access token was past its lifetime.
    pub refused_expired: u64,
    /// Requests refused because its access token was revoked, superseded or for another
    /// subject.
    pub refused_invalid: u64,
    /// When its newest access token was issued (sim-clock ms).
    pub access_issued_ms: Option<i64>,
    /// When its newest access token expires (sim-clock ms).
    pub access_expires_ms: Option<i64>,
    /// When its newest refresh token expires (sim-clock ms).
    pub refresh_expires_ms: Option<i64>,
    /// Its newest tokens: the sandbox's own secrets.
    pub sandbox_secrets: SandboxSecrets,
    /// Every refresh token kept, oldest first, with its uses.
    pub refresh_tokens: Vec<RefreshTokenReport>,
}

/// The newest tokens of a credential (fake platform secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSecrets {
    /// The newest access token.
    pub access_token: Option<String>,
    /// The newest refresh token.
    pub refresh_token: Option<String>,
}

/// One refresh token in a [`CredentialReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenReport {
    /// The token (a fake platform secret).
    pub refresh_token: String,
    /// When it was issued (sim-clock ms).
    pub issued_ms: i64,
    /// When it expires (sim-clock ms).
    pub expires_ms: i64,
    /// Successful refreshes made with it.
    pub uses: u64,
    /// Whether it is spent (platforms that spend refresh tokens).
    pub spent: bool,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Whether it is past its lifetime.
    pub expired: bool,
}

/// An authorization code issued on demand (`POST /__sim/tokens/code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// The code.
    pub code: String,
    /// Seconds it stays usable.
    pub expires_in: i64,
    /// The credential it authorizes.
    pub credential: String,
}

/// The token methods every simulator with a ledger has (`tokens()`,
/// `set_token_lifetimes()`, `revoke_tokens()`, `authorization_code()`), over its
/// [`Control`](crate::control) implementation, the same code the HTTP routes run.
macro_rules! sim_tokens {
    () => {
        /// The token ledger's report now (what `GET /__sim/tokens` answers).
        pub fn tokens(&self) -> $crate::tokens::TokenReport {
            $crate::tokens::report_of(self).unwrap_or_else(|| $crate::tokens::TokenReport {
                note: String::new(),
                now_ms: 0,
                lifetimes: $crate::tokens::TokenLifetimes {
                    access_ms: 0,
                    refresh_ms: 0,
                    code_ms: 0,
                    overlap_ms: 0,
                },
                refused_unknown: 0,
                credentials: Vec::new(),
            })
        }

        /// Sets the lifetimes of the tokens and codes issued from now on (sim clock).
        pub fn set_token_lifetimes(
            &self,
            patch: $crate::tokens::LifetimesPatch,
        ) -> Result<$crate::tokens::TokenLifetimes, String> {
            <Self as $crate::control::Control>::control_set_lifetimes(self, patch)
        }

        /// Revokes an access token, a refresh token or a whole account at once; how many
        /// tokens and codes it touched.
        pub fn revoke_tokens(&self, what: &$crate::tokens::Revoke) -> Result<usize, String> {
            $crate::tokens::revoke_on(self, what)
        }

        /// A fresh authorization code, as the seller's consent gives it (`request`: the
        /// platform's words, e.g. Shopee `{"shop_id": 600001}`; `{}` elsewhere).
        pub fn authorization_code(
            &self,
            request: &serde_json::Value,
        ) -> Result<$crate::tokens::AuthorizationCode, String> {
            $crate::tokens::code_on(self, request)
        }
    };
}

pub(crate) use sim_tokens;

/// The report of `sim`'s ledger (`None`: it has none).
pub(crate) fn report_of<T: Control>(sim: &T) -> Option<TokenReport> {
    let now = sim.control_clock().now_millis();
    let mut out = None;
    sim.control_ledger(&mut |l| out = Some(l.report(now)));
    out
}

/// Revokes on `sim`'s ledger.
pub(crate) fn revoke_on<T: Control>(sim: &T, what: &Revoke) -> Result<usize, String> {
    let now = sim.control_clock().now_millis();
    let mut out = Err("this simulator keeps no token ledger".to_owned());
    sim.control_ledger(&mut |l| out = l.revoke(what, now));
    out
}

/// Issues a code on `sim`'s ledger for the grant `request` names.
pub(crate) fn code_on<T: Control>(sim: &T, request: &Value) -> Result<AuthorizationCode, String> {
    let empty = Map::new();
    let body = match request {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Err("expected a JSON object".to_owned()),
    };
    let grant = sim.control_code_grant(body)?;
    let now = sim.control_clock().now_millis();
    let mut out = Err("this simulator keeps no token ledger".to_owned());
    sim.control_ledger(&mut |l| {
        if l.lifetimes().code_ms == 0 {
            out = Err("this platform issues no authorization codes".to_owned());
            return;
        }
        let (code, expires) = l.issue_code(grant.clone(), now);
        out = Ok(AuthorizationCode {
            code,
            expires_in: secs_until(expires, now),
            credential: grant.credential.clone(),
        });
    });
    out
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn no_ledger() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "this simulator keeps no token ledger (SMH's tokens are its own: docs/simulators/smh.md)",
    )
}

async fn inspect<T: Control>(State(sim): State<T>) -> Response {
    match report_of(&sim) {
        Some(report) => Json(report).into_response(),
        None => no_ledger(),
    }
}

async fn lifetimes_get<T: Control>(State(sim): State<T>) -> Response {
    // An empty change answers the lifetimes in force (SMH's included).
    match sim.control_set_lifetimes(LifetimesPatch::default()) {
        Ok(l) => Json(l).into_response(),
        Err(_) => no_ledger(),
    }
}

async fn lifetimes_put<T: Control>(State(sim): State<T>, body: Bytes) -> Response {
    let patch: LifetimesPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"access_ms\", \"refresh_ms\", \"code_ms\", \"overlap_ms\"}} (each optional): {e}"),
            )
        }
    };
    match sim.control_set_lifetimes(patch) {
        Ok(l) => Json(l).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn revoke<T: Control>(State(sim): State<T>, body: Bytes) -> Response {
    let what: Revoke = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "expected {{\"access_token\"}}, {{\"refresh_token\"}} or {{\"account\"}}: {e}"
                ),
            )
        }
    };
    if report_of(&sim).is_none() {
        return no_ledger();
    }
    match revoke_on(&sim, &what) {
        Ok(0) => error(StatusCode::NOT_FOUND, "no such token or account"),
        Ok(n) => Json(json!({ "revoked": n })).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn code<T: Control>(State(sim): State<T>, body: Bytes) -> Response {
    let request: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
        }
    };
    if report_of(&sim).is_none() {
        return no_ledger();
    }
    match code_on(&sim, &request) {
        Ok(c) => Json(c).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

/// The token routes of the control surface (see the module doc).
pub(crate) fn routes<T: Control>(sim: T) -> Router {
    Router::new()
        .route("/__sim/tokens", get(inspect::<T>))
        .route(
            "/__sim/tokens/lifetimes",
            get(lifetimes_get::<T>).put(lifetimes_put::<T>),
        )
        .route("/__sim/tokens/revoke", post(revoke::<T>))
        .route("/__sim/tokens/code", post(code::<T>))
        .with_state(sim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mint(kind: TokenKind) -> String {
        format!("{kind:?}-{}", crate::util::random_hex(8))
    }

    fn ledger(rules: RefreshRules) -> TokenLedger {
        TokenLedger::new(
            TokenLifetimes {
                access_ms: 1000,
                refresh_ms: 10_000,
                code_ms: 500,
                overlap_ms: 0,
            },
            rules,
            mint,
        )
    }

    const SHOPEE: RefreshRules = RefreshRules {
        rotate: true,
        spend: true,
        keep_expiry: false,
        retain_previous_until_new_used: false,
    };

    #[test]
    fn a_main_account_token_serves_each_shop_until_that_shop_refreshes() {
        let mut l = ledger(SHOPEE);
        let main = Grant::new("main_account:1", vec!["shop:a".into(), "shop:b".into()]);
        let (code, _) = l.issue_code(main, 0);
        let pair = l.exchange_code(&code, 1, |_| true).unwrap();
        assert_eq!(l.exchange_code(&code, 2, |_| true), Err(CodeRefusal::Used));
        let rt = pair.refresh_token.clone().unwrap();
        assert!(l
            .check_access(&pair.access_token, Some("shop:a"), 2)
            .is_ok());
        let a = l.refresh(&rt, Some("shop:a"), 3).unwrap();
        assert_eq!(a.grant.credential, "shop:a");
        // The shared token no longer serves shop a, still serves b; the main refresh token
        // is spent for a only.
        assert_eq!(
            l.check_access(&pair.access_token, Some("shop:a"), 4),
            Err(AccessRefusal::NotForSubject)
        );
        assert!(l
            .check_access(&pair.access_token, Some("shop:b"), 4)
            .is_ok());
        assert_eq!(
            l.refresh(&rt, Some("shop:a"), 5),
            Err(RefreshRefusal::Spent)
        );
        assert!(l.refresh(&rt, Some("shop:b"), 5).is_ok());
        assert_eq!(
            l.refresh(&rt, Some("shop:c"), 5),
            Err(RefreshRefusal::NotForSubject)
        );
        let report = l.report(6);
        assert_eq!(
            report
                .credential("main_account:1")
                .unwrap()
                .spent_refresh_token_uses,
            1
        );
        assert_eq!(report.credential("shop:a").unwrap().refreshes, 1);
    }

    #[test]
    fn a_spent_refresh_token_is_retained_until_its_replacement_is_used() {
        let mut l = ledger(RefreshRules {
            rotate: true,
            spend: true,
            keep_expiry: false,
            retain_previous_until_new_used: true,
        });
        l.seed(Grant::new("shop:s", vec![]), "a0", Some("r0"), 0);
        // The answer of the first refresh is lost: r0 is presented again, and again.
        let lost = l.refresh("r0", None, 10).unwrap();
        let kept = l.refresh("r0", None, 20).unwrap();
        assert_ne!(lost.refresh_token, kept.refresh_token);
        // The first use of the replacement retires r0.
        let r1 = kept.refresh_token.clone().unwrap();
        let next = l.refresh(&r1, None, 30).unwrap();
        assert_eq!(l.refresh("r0", None, 40), Err(RefreshRefusal::Spent));
        // r1 itself is retained until its own replacement is used.
        assert!(l.refresh(&r1, None, 50).is_ok());
        let r2 = next.refresh_token.unwrap();
        assert!(l.refresh(&r2, None, 60).is_ok());
        assert_eq!(l.refresh(&r1, None, 70), Err(RefreshRefusal::Spent));
        // Never past 30 days from the first use, replacement used or not.
        let mut m = ledger(RefreshRules {
            rotate: true,
            spend: true,
            keep_expiry: false,
            retain_previous_until_new_used: true,
        });
        m.set_lifetimes(LifetimesPatch {
            refresh_ms: Some(90 * 24 * 3600 * 1000),
            ..Default::default()
        })
        .unwrap();
        m.seed(Grant::new("shop:s", vec![]), "a0", Some("r0"), 0);
        m.refresh("r0", None, 0).unwrap();
        assert!(m.refresh("r0", None, RETAIN_PREVIOUS_MS - 1).is_ok());
        assert_eq!(
            m.refresh("r0", None, RETAIN_PREVIOUS_MS),
            Err(RefreshRefusal::Spent)
        );
        // Without the rule, a spent token is refused at once (Shopee).
        let mut s = ledger(SHOPEE);
        s.seed(Grant::new("shop:s", vec![]), "a0", Some("r0"), 0);
        s.refresh("r0", None, 10).unwrap();
        assert_eq!(s.refresh("r0", None, 20), Err(RefreshRefusal::Spent));
    }

    #[test]
    fn keep_expiry_never_extends_and_no_rotation_keeps_the_token() {
        let mut l = ledger(RefreshRules {
            rotate: true,
            spend: false,
            keep_expiry: true,
            retain_previous_until_new_used: false,
        });
        l.seed(Grant::new("seller:x", vec![]), "a0", Some("r0"), 0);
        let one = l.refresh("r0", None, 4000).unwrap();
        assert_eq!(one.refresh_expires_ms, Some(10_000));
        let two = l
            .refresh(one.refresh_token.as_deref().unwrap(), None, 5000)
            .unwrap();
        assert_eq!(two.refresh_expires_ms, Some(10_000));
        assert_eq!(l.refresh("r0", None, 10_000), Err(RefreshRefusal::Expired));

        let mut e = ledger(RefreshRules {
            rotate: false,
            spend: false,
            keep_expiry: false,
            retain_previous_until_new_used: false,
        });
        e.seed(Grant::new("user:u", vec![]), "a0", Some("r0"), 0);
        let got = e.refresh("r0", None, 10).unwrap();
        assert_eq!(got.refresh_token, None);
        assert!(e.refresh("r0", None, 20).is_ok());
        assert_eq!(e.report(20).credential("user:u").unwrap().refreshes, 2);
    }

    #[test]
    fn refusals_are_counted_and_lifetimes_validated() {
        let mut l = ledger(SHOPEE);
        l.seed(
            Grant::new("shop:a", vec!["shop:a".into()]),
            "t",
            Some("r"),
            0,
        );
        assert_eq!(
            l.check_access("t", Some("shop:a"), 1000),
            Err(AccessRefusal::Expired)
        );
        assert_eq!(l.check_access("nope", None, 0), Err(AccessRefusal::Unknown));
        l.revoke(
            &Revoke {
                access_token: Some("t".into()),
                ..Revoke::default()
            },
            0,
        )
        .unwrap();
        assert_eq!(
            l.check_access("t", Some("shop:a"), 1),
            Err(AccessRefusal::Revoked)
        );
        let r = l.report(1);
        let a = r.credential("shop:a").unwrap();
        assert_eq!(
            (a.refused_expired, a.refused_invalid, r.refused_unknown),
            (1, 1, 1)
        );
        assert!(l
            .set_lifetimes(LifetimesPatch {
                access_ms: Some(0),
                ..Default::default()
            })
            .is_err());
        assert!(l
            .set_lifetimes(LifetimesPatch {
                overlap_ms: Some(5),
                ..Default::default()
            })
            .is_err());
        assert_eq!(
            l.set_lifetimes(LifetimesPatch {
                access_ms: Some(7),
                ..Default::default()
            })
            .unwrap()
            .access_ms,
            7
        );
        assert!(l.revoke(&Revoke::default(), 0).is_err());
    }

    #[test]
    fn the_ledger_stays_bounded() {
        let mut l = ledger(SHOPEE);
        for i in 0..(MAX_KEPT as i64 + 10) {
            l.issue_access(Grant::new("c", vec![]), i);
        }
        assert!(l.access.len() <= MAX_KEPT);
    }
}
