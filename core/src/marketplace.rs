//! Marketplaces as plug-ins: what a provider crate declares once, and what every application
//! (the command, the batch engine, the sandbox, a seller's own tool) reads instead of naming
//! marketplaces.
//!
//! A marketplace is a value implementing [`Marketplace`]: its name and title, its account
//! [`Setting`]s (each key declared once, with its help, its kind, whether it is secret,
//! required or has a default), the per-upload fields it needs ([`UploadField`]), and how to
//! turn an account's [`Settings`] into its identity ([`AccountInfo`]) and its uploaders
//! ([`Client`]), or into the settings of its simulator from the sandbox's published JSON
//! line. As rclone's backends declare their options once and that declaration drives the
//! config file, the environment variables, the prompts and the docs, these declarations drive
//! the config file, the `MARKETMEDIA_<MARKET>_<KEY>` variables, the warning about unknown
//! variables, `marketmedia accounts`, `--help` and the docs' tables.
//!
//! A [`Registry`] holds the marketplaces an application knows (the `marketmedia` crate's
//! `registry()` gives the bundled ones its features enable); a third-party marketplace is one
//! more [`Registry::register`].
//!
//! ```
//! use marketmedia_core::raw::{Setting, Settings};
//!
//! static SETTINGS: &[Setting] = &[
//!     Setting::text("app_key", "The app key").required().example("100132"),
//!     Setting::secret("app_secret", "The app secret").required().example("…"),
//!     Setting::number("shop_id", "The shop id").example("600001"),
//! ];
//! let s = Settings::from_map(SETTINGS, [("app_key", "100132"), ("app_secret", "s3cr3t")])?;
//! assert_eq!(s.text("app_key"), Some("100132"));
//! assert!(!format!("{s:?}").contains("s3cr3t"));
//! let err = Settings::from_map(SETTINGS, [("app_kee", "1")]).unwrap_err();
//! assert!(err.message().contains("did you mean `app_key`"));
//! # Ok::<(), marketmedia_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::{self, DeserializeOwned, IntoDeserializer};

use futures::future::BoxFuture;

use crate::account::AccountCheck;
use crate::credential::{
    seed_from_settings, Authorization, CredentialKey, CredentialSources, Refresher, TokenSource,
    Tokens,
};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{ClientOptions, HttpTimeouts};
use crate::image::ImageUploader;
use crate::meta::UploadMeta;
use crate::secret::Secret;
use crate::uploader::ChunkedVideoUploader;

/// The prefix of every environment variable an application built on marketmedia reads.
pub const ENV_PREFIX: &str = "MARKETMEDIA_";

/// What a setting holds, and how its text is read (from a config file, a variable or a map).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// Free text (trimmed).
    Text,
    /// A credential: kept in a [`Secret`] from the moment it is read, never printed, never
    /// trimmed.
    Secret,
    /// A whole number (`u64`).
    Number,
    /// `true` or `false` (`1`/`0`, `yes`/`no` are read too).
    Flag,
    /// An `http://` or `https://` URL (a trailing `/` is dropped); a URL may carry a
    /// credential, so errors never quote it.
    Url,
    /// A comma-separated list (items trimmed, empty ones dropped).
    List,
    /// One of these words (any case, `-` read as `_`). The first is the default unless the
    /// setting says otherwise.
    Choice(&'static [&'static str]),
}

impl SettingKind {
    /// What a config file must write for it: `a string`, `a number` or `a boolean`.
    pub fn expected(self) -> &'static str {
        match self {
            SettingKind::Number => "a number",
            SettingKind::Flag => "a boolean",
            _ => "a string",
        }
    }
}

/// When a setting must be given (for an account that is configured at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Never required.
    Optional,
    /// Always required.
    Required,
    /// Required unless the setting with this key is given (a ready access token instead of
    /// the secret it is fetched with).
    Unless(&'static str),
}

/// One setting of a marketplace account, declared once: its key (`partner_id`; the variable
/// is the key in capitals after the prefix, `MARKETMEDIA_BAZAAR_SHOP_ID`), its help, its
/// kind, whether it is required, its default and an example value.
///
/// Built in `const` context with [`Setting::text`], [`Setting::secret`], … and the modifiers
/// ([`required`](Self::required), [`default`](Self::default), …), so a provider's list is a
/// `static` slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The key, in lowercase with `_` (`partner_id`).
    pub key: &'static str,
    /// One line of help: what it is, for `--help`, the docs' tables and errors.
    pub help: &'static str,
    /// What it holds.
    pub kind: SettingKind,
    /// When it is required.
    pub requirement: Requirement,
    /// The value used when it is not given, as text, when there is one (for the docs).
    pub default: Option<&'static str>,
    /// A valid value, for the docs' examples and the settings tests.
    pub example: &'static str,
    /// Whether giving it alone makes the account configured. `false` for settings that only
    /// refine an account (a country shown, a default title): alone they configure nothing,
    /// so a stray one never turns the sandbox off.
    pub configures: bool,
    /// Whether the marketplace's own table (`[bazaar]`, `MARKETMEDIA_BAZAAR_*`) sets it for
    /// every account of the marketplace that does not set its own, and for its simulator in
    /// the sandbox (a default video title, a media module). Shared settings configure
    /// nothing alone.
    pub shared: bool,
    /// Whether the command line has a flag for it, `--<marketplace>-<key>` (with `-` for
    /// `_`), winning over every account's and the sandbox's value.
    pub command_line: bool,
}

impl Setting {
    const fn of(key: &'static str, help: &'static str, kind: SettingKind) -> Setting {
        Setting {
            key,
            help,
            kind,
            requirement: Requirement::Optional,
            default: None,
            example: "",
            configures: true,
            shared: false,
            command_line: false,
        }
    }

    /// Free text.
    pub const fn text(key: &'static str, help: &'static str) -> Setting {
        Setting::of(key, help, SettingKind::Text)
    }

    /// A credential.
    pub const fn secret(key: &'static str, help: &'static str) -> Setting {
        Setting::of(key, help, SettingKind::Secret)
    }

    /// A whole number.
    pub const fn number(key: &'static str, help: &'static str) -> Setting {
        Setting::of(key, help, SettingKind::Number)
    }

    /// A boolean.
    pub const fn boolean(key: &'static str, help: &'static str) -> Setting {
        Setting::of(key, help, SettingKind::Flag)
    }

    /// An http(s) URL.
    pub const fn url(key: &'static str, help: &'static str) -> Setting {
        Setting::of(key, help, SettingKind::Url)
    }

    /// A comma-separated list.
    pub const fn list(key: &'static str, help: &'static str) -> Setting {
        Setting::of(key, help, SettingKind::List)
    }

    /// One of `choices`; the first is the default (and the example) unless said otherwise.
    pub const fn choice(
        key: &'static str,
        help: &'static str,
        choices: &'static [&'static str],
    ) -> Setting {
        let mut s = Setting::of(key, help, SettingKind::Choice(choices));
        if let Some(first) = choices.first() {
            s.default = Some(*first);
            s.example = *first;
        }
        s
    }

    /// Always required.
    pub const fn required(mut self) -> Setting {
        self.requirement = Requirement::Required;
        self
    }

    /// Required unless `other` is given.
    pub const fn required_unless(mut self, other: &'static str) -> Setting {
        self.requirement = Requirement::Unless(other);
        self
    }

    /// The value used when none is given.
    pub const fn default(mut self, value: &'static str) -> Setting {
        self.default = Some(value);
        self
    }

    /// A valid value, for the docs and the tests.
    pub const fn example(mut self, value: &'static str) -> Setting {
        self.example = value;
        self
    }

    /// Alone, it configures nothing (see [`Setting::configures`]).
    pub const fn refining(mut self) -> Setting {
        self.configures = false;
        self
    }

    /// Set by the marketplace's own table for all its accounts and its simulator (see
    /// [`Setting::shared`]).
    pub const fn shared(mut self) -> Setting {
        self.shared = true;
        self.configures = false;
        self
    }

    /// Has a command-line flag (see [`Setting::command_line`]).
    pub const fn on_command_line(mut self) -> Setting {
        self.command_line = true;
        self
    }

    /// The key as variables spell it: `PARTNER_ID`.
    pub fn env_key(&self) -> String {
        self.key.to_ascii_uppercase()
    }

    /// Whether its value is a credential.
    pub fn is_secret(&self) -> bool {
        self.kind == SettingKind::Secret
    }

    /// The command-line flag of this setting of `marketplace`, without the dashes:
    /// `bazaar-module`.
    pub fn flag_name(&self, marketplace: &str) -> String {
        format!("{marketplace}-{}", self.key.replace('_', "-"))
    }
}

/// The per-upload field named `title`: the video's title.
pub const TITLE: &str = "title";
/// The per-upload field named `description`: the video's description.
pub const DESCRIPTION: &str = "description";
/// The per-upload field named `cover_url`: a public http(s) URL of the video's cover image.
pub const COVER_URL: &str = "cover_url";

/// A per-upload field a marketplace takes (a video's title, its cover): given with each
/// upload (a manifest's `<marketplace>.title`, `--title`), else the account's setting of the same
/// key, which is its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadField {
    /// The field's name ([`TITLE`], [`DESCRIPTION`], [`COVER_URL`], or the marketplace's
    /// own).
    pub name: &'static str,
    /// What it is, in a few words (`a title`, `a cover image URL`): errors say "needs
    /// {help}".
    pub help: &'static str,
    /// Whether every video needs it (checked before any request).
    pub required: bool,
}

/// A per-upload field's value of one product: field name → value.
pub type Fields = BTreeMap<String, String>;

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// Set in code (a map, a builder).
    Code,
    /// A config file.
    File,
    /// An environment variable.
    Environment,
    /// The marketplace's shared value (its own table), for an account that sets none.
    Shared,
    /// A command-line flag.
    CommandLine,
    /// The sandbox (a simulator's test credentials and endpoints).
    Sandbox,
}

#[derive(Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    Secret(Secret),
}

impl Value {
    fn raw(&self) -> &str {
        match self {
            Value::Text(t) => t,
            Value::Secret(s) => s.expose(),
        }
    }
}

/// The closest of `candidates` to `name` (Jaro–Winkler), if any.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `a`, `a and b`, `a, b and c`: a list in words.
pub fn in_words(items: &[&str]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The values of one account's settings, each checked against its [`Setting`] when set:
/// known key, readable value (a number, a boolean, an http(s) URL). Secrets are held as
/// [`Secret`]s; `Debug` prints `***` for them.
///
/// A marketplace reads them with [`text`](Self::text), [`secret`](Self::secret),
/// [`number`](Self::number), … or all at once into its own serde type with
/// [`deserialize`](Self::deserialize).
#[derive(Clone)]
pub struct Settings {
    declared: &'static [Setting],
    values: BTreeMap<&'static str, (Value, Origin)>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (key, (value, _)) in &self.values {
            match value {
                Value::Text(t) => m.entry(key, t),
                Value::Secret(s) => m.entry(key, s),
            };
        }
        m.finish()
    }
}

impl PartialEq for Settings {
    fn eq(&self, other: &Self) -> bool {
        self.values.len() == other.values.len()
            && self
                .values
                .iter()
                .all(|(k, (v, _))| other.values.get(k).map(|(o, _)| o) == Some(v))
    }
}

impl Settings {
    /// No value yet, for the settings `declared`.
    pub fn new(declared: &'static [Setting]) -> Settings {
        Settings {
            declared,
            values: BTreeMap::new(),
        }
    }

    /// The declarations these values are checked against.
    pub fn declared(&self) -> &'static [Setting] {
        self.declared
    }

    /// The declaration of `key`.
    pub fn setting(&self, key: &str) -> Option<&'static Setting> {
        self.declared.iter().find(|s| s.key == key)
    }

    /// The settings of a map (`key → value`, as text), as object_store's and OpenDAL's
    /// builders take an iterator of pairs. An unknown key is refused, naming the closest.
    pub fn from_map<K, V>(
        declared: &'static [Setting],
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Settings>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut s = Settings::new(declared);
        for (k, v) in pairs {
            s.set(k.as_ref(), v.as_ref(), Origin::Code)?;
        }
        Ok(s)
    }

    /// The settings whose variables (`prefix` and the key in capitals:
    /// `MARKETMEDIA_BAZAAR_SHOP_ID`) `lookup` finds set and not empty.
    pub fn from_env_with(
        declared: &'static [Setting],
        prefix: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings> {
        let mut s = Settings::new(declared);
        for d in declared {
            let var = format!("{prefix}{}", d.env_key());
            if let Some(v) = lookup(&var) {
                s.set(d.key, &v, Origin::Environment)
                    .map_err(|e| rename_in(e, d.key, &var))?;
            }
        }
        Ok(s)
    }

    /// [`from_env_with`](Self::from_env_with) the process's environment.
    pub fn from_env(declared: &'static [Setting], prefix: &str) -> Result<Settings> {
        Settings::from_env_with(declared, prefix, &|n| std::env::var(n).ok())
    }

    /// Sets `key` from its text (an empty text, or only spaces for anything but a secret,
    /// unsets it). Refuses an unknown key, naming the closest and listing the keys, and a
    /// value its kind cannot read, naming the key and never quoting a secret or a URL.
    pub fn set(&mut self, key: &str, text: &str, origin: Origin) -> Result<()> {
        let Some(decl) = self.setting(key) else {
            return Err(self.unknown(key));
        };
        match parse(decl, text)? {
            Some(v) => {
                self.values.insert(decl.key, (v, origin));
            }
            None => {
                self.values.remove(decl.key);
            }
        }
        Ok(())
    }

    /// [`set`](Self::set), for chaining: `Settings::new(S).with("app_key", "1")?`.
    pub fn with(mut self, key: &str, text: &str) -> Result<Settings> {
        self.set(key, text, Origin::Code)?;
        Ok(self)
    }

    /// Sets a secret (never trimmed).
    pub fn set_secret(&mut self, key: &str, secret: Secret, origin: Origin) -> Result<()> {
        let Some(decl) = self.setting(key) else {
            return Err(self.unknown(key));
        };
        if secret.is_empty() {
            self.values.remove(decl.key);
        } else if decl.is_secret() {
            self.values
                .insert(decl.key, (Value::Secret(secret), origin));
        } else {
            return self.set(key, secret.expose(), origin);
        }
        Ok(())
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &str) {
        self.values.remove(key);
    }

    /// The error for an unknown key: the closest known one, and all of them.
    pub fn unknown(&self, key: &str) -> Error {
        let keys: Vec<&str> = self.declared.iter().map(|s| s.key).collect();
        let all: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        let hint = closest(key, keys.iter().copied())
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        Error::invalid_input(format!(
            "unknown key `{key}`{hint}; the keys here are {}",
            all.join(", ")
        ))
    }

    /// Whether `key` has a value.
    pub fn is_set(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Where `key`'s value came from.
    pub fn origin(&self, key: &str) -> Option<Origin> {
        self.values.get(key).map(|(_, o)| *o)
    }

    /// The keys with a value, in key order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.keys().copied()
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// A setting's text: `None` when unset, or when it is a secret (read those with
    /// [`secret`](Self::secret)).
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.values.get(key) {
            Some((Value::Text(t), _)) => Some(t),
            _ => None,
        }
    }

    /// A secret setting.
    pub fn secret(&self, key: &str) -> Option<&Secret> {
        match self.values.get(key) {
            Some((Value::Secret(s), _)) => Some(s),
            _ => None,
        }
    }

    /// A number setting (checked when set).
    pub fn number(&self, key: &str) -> Option<u64> {
        self.text(key).and_then(|t| t.parse().ok())
    }

    /// A boolean setting (checked when set).
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.text(key).map(|t| t == "true")
    }

    /// The per-upload `fields` these settings give a value (an account's `title`, its
    /// `cover_url`): the defaults of its uploads ([`Client::with_upload_defaults`]).
    pub fn upload_defaults(&self, fields: &[UploadField]) -> UploadMeta {
        UploadMeta::from_fields(
            fields
                .iter()
                .filter_map(|f| Some((f.name, self.text(f.name)?))),
        )
    }

    /// A list setting's items.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        self.text(key)
            .map(|t| t.split(',').map(str::to_owned).collect())
    }

    /// The value as text, a secret's included: only for handing a simulator's public test
    /// credentials to a child process or comparing in tests. Never print it.
    pub fn expose(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.raw())
    }

    /// Every unset key of `other` set here from it, with `origin`.
    pub fn fill_from(&mut self, other: &Settings, origin: Origin) {
        for (k, (v, _)) in &other.values {
            if self.setting(k).is_some() && !self.values.contains_key(k) {
                self.values.insert(k, (v.clone(), origin));
            }
        }
    }

    /// Every key of `other` set here from it, winning over what is here, with `origin`.
    pub fn override_with(&mut self, other: &Settings, origin: Origin) {
        for (k, (v, _)) in &other.values {
            if self.setting(k).is_some() {
                self.values.insert(k, (v.clone(), origin));
            }
        }
    }

    /// Only the settings `keep` says yes to.
    pub fn filtered(&self, keep: impl Fn(&Setting) -> bool) -> Settings {
        let mut out = Settings::new(self.declared);
        for (k, v) in &self.values {
            if self.setting(k).is_some_and(&keep) {
                out.values.insert(k, v.clone());
            }
        }
        out
    }

    /// Whether some setting that configures an account alone ([`Setting::configures`]) is
    /// set.
    pub fn configures(&self) -> bool {
        self.values
            .keys()
            .any(|k| self.setting(k).is_some_and(|s| s.configures))
    }

    /// The required settings missing: [`Requirement::Required`] ones unset, and
    /// [`Requirement::Unless`] ones unset when their alternative is unset too.
    pub fn missing(&self) -> Vec<&'static Setting> {
        self.declared
            .iter()
            .filter(|s| !self.is_set(s.key))
            .filter(|s| match s.requirement {
                Requirement::Optional => false,
                Requirement::Required => true,
                Requirement::Unless(other) => !self.is_set(other),
            })
            .collect()
    }

    /// An error naming the missing required settings of `marketplace`, when some are.
    pub fn check_required(&self, marketplace: &str) -> Result<()> {
        let missing = self.missing();
        if missing.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = missing.iter().map(|s| s.key).collect();
        Err(Error::invalid_input(format!(
            "the {marketplace} settings have no {}",
            in_words(&keys)
        ))
        .with_platform(marketplace))
    }

    /// The settings as the fields of a serde type (`#[serde(deny_unknown_fields)]` with an
    /// `Option` per key, say): text for strings and secrets, numbers and booleans read from
    /// their text, lists as sequences. The marketplace's own settings type is built this way,
    /// so its keys cannot drift from the declarations without a test failing.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        T::deserialize(MapDe {
            iter: self.values.iter(),
            pending: None,
        })
        .map_err(|e: DeError| Error::invalid_input(e.0))
    }
}

/// `e`'s message with `key` read as `var` (a variable's error names the variable).
fn rename_in(e: Error, key: &str, var: &str) -> Error {
    Error::new(e.kind(), e.message().replace(&format!("`{key}`"), var))
}

/// Reads `text` as `decl` says; `None` for an empty value.
fn parse(decl: &Setting, text: &str) -> Result<Option<Value>> {
    let key = decl.key;
    if decl.is_secret() {
        return Ok((!text.is_empty()).then(|| Value::Secret(Secret::new(text))));
    }
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = |what: &str| Error::invalid_input(format!("`{key}` must be {what}"));
    let v = match decl.kind {
        SettingKind::Number => {
            let n: u64 = t.parse().map_err(|_| bad("a whole number"))?;
            n.to_string()
        }
        SettingKind::Flag => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => "true".into(),
            "false" | "0" | "no" | "off" => "false".into(),
            _ => return Err(bad("true or false")),
        },
        SettingKind::Url => {
            let url = t.trim_end_matches('/');
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad("a URL starting with http:// or https://"));
            }
            url.to_owned()
        }
        SettingKind::List => {
            let items: Vec<&str> = t
                .split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .collect();
            if items.is_empty() {
                return Ok(None);
            }
            items.join(",")
        }
        SettingKind::Choice(choices) => {
            let word = t.to_ascii_lowercase().replace('-', "_");
            match choices.iter().find(|c| **c == word) {
                Some(c) => (*c).to_owned(),
                None => return Err(bad(&format!("one of {}", choices.join(", ")))),
            }
        }
        SettingKind::Text | SettingKind::Secret => t.to_owned(),
    };
    Ok(Some(Value::Text(v)))
}

// ---- The serde view of a settings map -----------------------------------------------------

#[derive(Debug)]
struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

type Entries<'a> = std::collections::btree_map::Iter<'a, &'static str, (Value, Origin)>;

struct MapDe<'a> {
    iter: Entries<'a>,
    pending: Option<(&'static str, &'a Value)>,
}

impl<'de, 'a> de::Deserializer<'de> for MapDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, 'a> de::MapAccess<'de> for MapDe<'a> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, (v, _))) => {
                self.pending = Some((k, v));
                seed.deserialize((*k).into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> std::result::Result<V::Value, DeError> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| DeError("a value without its key".into()))?;
        seed.deserialize(ValueDe { key, value })
    }
}

/// One value, read as the field's type asks.
struct ValueDe<'a> {
    key: &'static str,
    value: &'a Value,
}

impl ValueDe<'_> {
    fn text(&self) -> &str {
        self.value.raw()
    }

    fn bad(&self, what: &str) -> DeError {
        DeError(format!("`{}` must be {what}", self.key))
    }

    fn number<T: std::str::FromStr>(&self) -> std::result::Result<T, DeError> {
        self.text().trim().parse().map_err(|_| self.bad("a number"))
    }
}

macro_rules! parse_number {
    ($($method:ident $visit:ident $t:ty),*) => {$(
        fn $method<V: de::Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
            visitor.$visit(self.number::<$t>()?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        visitor.visit_str(self.text())
    }

    parse_number! {
        deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16, deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64, deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64, deserialize_f32 visit_f32 f32,
        deserialize_f64 visit_f64 f64
    }

    fn deserialize_bool<V: de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        match self.text() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(self.bad("true or false")),
        }
    }

    fn deserialize_option<V: de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        let items: Vec<&str> = self.text().split(',').collect();
        visitor
            .visit_seq(de::value::SeqDeserializer::new(items.into_iter()))
            .map_err(|e: de::value::Error| DeError(e.to_string()))
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        let d: de::value::StrDeserializer<'_, de::value::Error> = self.text().into_deserializer();
        de::Deserializer::deserialize_enum(d, name, variants, visitor)
            .map_err(|_| self.bad(&format!("one of {}", variants.join(", "))))
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple
        tuple_struct map struct identifier ignored_any
    }
}

// ---- The marketplace -----------------------------------------------------------------------

/// What an account is, as its settings say (no request made).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountInfo {
    /// Who the account is on the platform (`bazaar:<shop_id>`): what resume,
    /// idempotence, assets and request limits are keyed by, never the account's name.
    pub identity: String,
    /// The country or site, when the settings say one.
    pub country: Option<String>,
    /// The API base URL requests go to (may carry a credential: print it redacted).
    pub endpoint: String,
    /// The key the batch store and journal used for this account before accounts existed
    /// (a shop id, an app key…), for taking over what they hold; `None` when there was none.
    pub pre_accounts_key: Option<String>,
}

impl AccountInfo {
    /// An account with this identity, at this endpoint.
    pub fn new(identity: impl Into<String>, endpoint: impl Into<String>) -> AccountInfo {
        AccountInfo {
            identity: identity.into(),
            country: None,
            endpoint: endpoint.into(),
            pre_accounts_key: None,
        }
    }

    /// With a country or site.
    pub fn with_country(mut self, country: Option<String>) -> AccountInfo {
        self.country = country;
        self
    }

    /// With the key used before accounts.
    pub fn with_pre_accounts_key(mut self, key: impl Into<String>) -> AccountInfo {
        self.pre_accounts_key = Some(key.into());
        self
    }
}

/// How the uploaders of an account are built: options of the clients, not of the account.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// How the client talks HTTP: timeouts, deadlines, answer cap, requests in flight,
    /// request rate ([`ClientOptions`], today's values by default).
    pub client: ClientOptions,
    /// Whether a marketplace that can take a file it already holds without its bytes
    /// ([`crate::raw::UploadRules::instant_upload`]) may do so (default true; a soak that
    /// must send every upload's parts turns it off).
    pub instant_upload: bool,
    /// The process's token sources, one per credential over a shared store: with them, an
    /// account whose credential has stored tokens gets a managed [`TokenSource`] (refreshed
    /// ahead of expiry and on the platform's expired-token answer); without them (the
    /// default), the fixed access token of its settings.
    pub credentials: Option<Arc<CredentialSources>>,
}

impl PartialEq for ConnectOptions {
    fn eq(&self, other: &Self) -> bool {
        self.client == other.client
            && self.instant_upload == other.instant_upload
            && match (&self.credentials, &other.credentials) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl Eq for ConnectOptions {}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            client: ClientOptions::default(),
            instant_upload: true,
            credentials: None,
        }
    }
}

impl ConnectOptions {
    /// With these timeouts (the client options' `timeouts`).
    pub fn with_timeouts(mut self, timeouts: HttpTimeouts) -> Self {
        self.client.timeouts = timeouts;
        self
    }

    /// With these client options.
    pub fn with_client_options(mut self, client: ClientOptions) -> Self {
        self.client = client;
        self
    }

    /// With instant upload on or off.
    pub fn with_instant_upload(mut self, on: bool) -> Self {
        self.instant_upload = on;
        self
    }

    /// With the process's token sources ([`CredentialSources`]).
    pub fn with_credentials(mut self, credentials: Arc<CredentialSources>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The managed source prepared for credential `key`
    /// ([`CredentialSources::prepare`]), when there is one: what a marketplace's
    /// [`Marketplace::connect`] gives its provider instead of the fixed access token.
    pub fn token_source(&self, key: Option<&CredentialKey>) -> Option<TokenSource> {
        self.credentials.as_ref()?.source(key?)
    }
}

/// The one cheap, documented, authenticated call that says whether an account's credentials
/// work (`marketmedia accounts check`).
#[async_trait]
pub trait CheckAccount: Send + Sync {
    /// Makes the call. [`crate::ErrorKind::Unsupported`] when the platform documents none
    /// for these credentials (no request is sent then).
    async fn check_account(&self) -> Result<AccountCheck>;
}

/// An account's uploaders, built by its marketplace from its settings: one client for
/// every upload of the account, each upload carrying its own fields
/// ([`crate::UploadMeta`], [`Client::meta_for`]).
#[derive(Clone)]
pub struct Client {
    video: Arc<dyn ChunkedVideoUploader>,
    images: Arc<dyn ImageUploader>,
    check: Arc<dyn CheckAccount>,
    upload_defaults: UploadMeta,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("platform", &self.video.rules().platform)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client whose one provider uploads videos and images and checks the account.
    pub fn new<P>(provider: P) -> Client
    where
        P: ChunkedVideoUploader + ImageUploader + CheckAccount + 'static,
    {
        Client::from_arc(Arc::new(provider))
    }

    /// [`Client::new`] from a shared provider.
    pub fn from_arc<P>(provider: Arc<P>) -> Client
    where
        P: ChunkedVideoUploader + ImageUploader + CheckAccount + 'static,
    {
        Client {
            video: provider.clone(),
            images: provider.clone(),
            check: provider,
            upload_defaults: UploadMeta::default(),
        }
    }

    /// With the account's defaults of the per-upload fields (its settings of the same keys:
    /// a Lazada account's `title` and `cover_url`).
    pub fn with_upload_defaults(mut self, defaults: UploadMeta) -> Client {
        self.upload_defaults = defaults;
        self
    }

    /// The video uploader: one for every product of the account.
    pub fn video(&self) -> &Arc<dyn ChunkedVideoUploader> {
        &self.video
    }

    /// The account's defaults of the per-upload fields.
    pub fn upload_defaults(&self) -> &UploadMeta {
        &self.upload_defaults
    }

    /// The per-upload fields of a product whose fields are `fields` (by name: `title`,
    /// `cover_url`…), the account's defaults filling the ones it lacks: give them to the
    /// driver with the upload ([`crate::UploadDriver::with_meta`]).
    pub fn meta_for(&self, fields: &Fields) -> UploadMeta {
        UploadMeta::from_fields(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .or(&self.upload_defaults)
    }

    /// The image uploader.
    pub fn images(&self) -> &Arc<dyn ImageUploader> {
        &self.images
    }

    /// The account check ([`CheckAccount`]).
    pub fn checker(&self) -> &Arc<dyn CheckAccount> {
        &self.check
    }
}

/// A marketplace: everything an application needs to know about it, declared once by its
/// provider crate.
///
/// Implement it for a unit struct next to your provider (see `docs/providers.md` and
/// `examples/examples/custom_provider.rs`), and register it: `registry.register(Arc::new(
/// Bazaar))`. Nothing else names the marketplace: the config file's tables, the environment
/// variables, `--help`, `marketmedia accounts`, the sandbox, the batch engine and the soak
/// all read this.
pub trait Marketplace: Send + Sync + 'static {
    /// The short name: on the command line, in config files (`marketplace = "bazaar"`), in
    /// variables (`MARKETMEDIA_BAZAAR_*`), in reports and in the rules (`UploadRules::platform`).
    fn name(&self) -> &'static str;

    /// The name in sentences: `Bazaar`, `Bazaar Seller Center`.
    fn title(&self) -> &'static str;

    /// The account settings, each declared once.
    fn settings(&self) -> &'static [Setting];

    /// The per-upload fields it takes (a title, a cover); those `required` are checked
    /// before any request.
    fn upload_fields(&self) -> &'static [UploadField] {
        &[]
    }

    /// The prefix of its variables: `MARKETMEDIA_<NAME>_`.
    fn env_prefix(&self) -> String {
        format!("{ENV_PREFIX}{}_", self.name().to_ascii_uppercase())
    }

    /// Who the account is, from its settings, with no request (checks what it reads: an
    /// unknown region is an error here).
    fn account(&self, settings: &Settings) -> Result<AccountInfo>;

    /// The account's uploaders.
    fn connect(&self, settings: &Settings, options: &ConnectOptions) -> Result<Client>;

    /// The settings as the provider configuration [`connect`](Self::connect) builds holds
    /// them, each key read back from it (or from [`account`](Self::account) for what only
    /// names the account): what `settings` reach. The settings tests compare the two.
    fn read_back(&self, settings: &Settings) -> Result<Settings>;

    /// The settings of an account on its simulator, from its entry of the sandbox's published
    /// JSON line (`marketmedia sim` prints it: base URLs and test credentials).
    fn sandbox(&self, published: &serde_json::Value) -> Result<Settings>;

    /// What tells two of its accounts apart, for the error when two have one identity
    /// (`set seller_id on each`).
    fn identity_hint(&self) -> &'static str {
        "two accounts with one identity would share sessions and assets: remove one"
    }

    /// The identity's shape for the docs (`bazaar:<shop_id>`).
    fn identity_pattern(&self) -> &'static str {
        ""
    }

    /// The largest image (width, height in pixels) it documents, when it documents one.
    fn max_image_dimensions(&self) -> Option<(u32, u32)> {
        None
    }

    /// An asset id as reports show it (a path from the library's root, say).
    fn display_asset_id(&self, id: &str) -> String {
        id.to_owned()
    }

    /// Why an asset has no URL at upload, when that is the rule here (files served by signed
    /// links only).
    fn no_url_note(&self) -> Option<&'static str> {
        None
    }

    /// The credential an account's tokens belong to (`shopee/PARTNER/shop-ID`), when the
    /// marketplace's tokens are refreshed with a refresh token the seller's authorization
    /// gave; `None` (the default) for marketplaces without one.
    fn credential_key(&self, _settings: &Settings) -> Result<Option<CredentialKey>> {
        Ok(None)
    }

    /// The provider's refresher of the account's credential (`None`: the default, no
    /// refresh). `options` gives the clients' timeouts.
    fn refresher(
        &self,
        _settings: &Settings,
        _options: &ConnectOptions,
    ) -> Result<Option<Arc<dyn Refresher>>> {
        Ok(None)
    }

    /// The tokens to store for a credential the store does not know yet, from the account's
    /// settings: by default, when they give a `refresh_token` ([`seed_from_settings`]: the
    /// access token treated as due, so the first call refreshes).
    fn seed_tokens(&self, settings: &Settings, now_ms: u64) -> Option<Tokens> {
        seed_from_settings(settings, now_ms)
    }

    /// The page the seller opens to authorize the account's app
    /// (`marketmedia accounts authorize`). [`ErrorKind::Unsupported`] by default.
    fn authorization_url(&self, _settings: &Settings) -> Result<String> {
        Err(Error::new(
            ErrorKind::Unsupported,
            format!("{} accounts need no authorization", self.title()),
        )
        .with_platform(self.name()))
    }

    /// Exchanges the code of an authorization for tokens, and the credentials they are to
    /// be stored under (a Shopee main account's code: each of its shops).
    /// [`ErrorKind::Unsupported`] by default.
    fn exchange_code<'a>(
        &'a self,
        _settings: &'a Settings,
        _authorization: &'a Authorization,
    ) -> BoxFuture<'a, Result<Vec<(CredentialKey, Tokens)>>> {
        let err = Error::new(
            ErrorKind::Unsupported,
            format!("{} accounts need no authorization", self.title()),
        )
        .with_platform(self.name());
        Box::pin(async move { Err(err) })
    }
}

impl fmt::Debug for dyn Marketplace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Marketplace({})", self.name())
    }
}

/// The marketplaces an application knows, in the order it reports them.
#[derive(Clone, Default)]
pub struct Registry {
    markets: Vec<Arc<dyn Marketplace>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds `market` last (or in place of one of the same name).
    pub fn register(&mut self, market: Arc<dyn Marketplace>) {
        match self.markets.iter().position(|m| m.name() == market.name()) {
            Some(i) => self.markets[i] = market,
            None => self.markets.push(market),
        }
    }

    /// [`register`](Self::register), for chaining.
    pub fn with(mut self, market: impl Marketplace) -> Registry {
        self.register(Arc::new(market));
        self
    }

    /// The marketplace named `name` (any case).
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Marketplace>> {
        let name = name.trim();
        self.markets
            .iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// [`get`](Self::get), or an error naming the known ones.
    pub fn find(&self, name: &str) -> Result<&Arc<dyn Marketplace>> {
        self.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.names();
            let (last, first) = names.split_last().unwrap_or((&"", &[]));
            let list = if first.is_empty() {
                (*last).to_owned()
            } else {
                format!("{} or {last}", first.join(", "))
            };
            Error::invalid_input(format!("unknown marketplace {name:?}; expected {list}"))
        })
    }

    /// The position of `name` in the registry's order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.markets
            .iter()
            .position(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Every marketplace, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Marketplace>> {
        self.markets.iter()
    }

    /// Every name, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.markets.iter().map(|m| m.name()).collect()
    }

    /// Every title as one English list: `Bazaar, Souk and Market Hall`.
    pub fn titles_in_words(&self) -> String {
        let titles: Vec<&str> = self.markets.iter().map(|m| m.title()).collect();
        in_words(&titles)
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.markets.len()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.markets.is_empty()
    }
}

/// The prefix of the variables of named accounts: `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>`.
pub const ACCOUNT_ENV_PREFIX: &str = "MARKETMEDIA_ACCOUNT_";

/// The `<NAME>` of an account's variables: capitals, with `-` and `.` read as `_`
/// (`bazaar-sg` → `BAZAAR_SG`).
pub fn env_name(account: &str) -> String {
    account
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// The prefix of a named account's variables: `MARKETMEDIA_ACCOUNT_BAZAAR_SG_`.
pub fn account_env_prefix(account: &str) -> String {
    format!("{ACCOUNT_ENV_PREFIX}{}_", env_name(account))
}

/// A named account of a marketplace: its name (what reports say), its marketplace and its
/// settings, ready to connect. Any number per marketplace, as rclone's named remotes.
///
/// ```no_run
/// # fn demo(registry: &marketmedia_core::Registry) -> marketmedia_core::Result<()> {
/// use marketmedia_core::{Account, ConnectOptions};
/// // MARKETMEDIA_ACCOUNT_BAZAAR_SG_MARKETPLACE=bazaar, MARKETMEDIA_ACCOUNT_BAZAAR_SG_TOKEN=…
/// let sg = Account::from_env(registry, "bazaar-sg")?;
/// let client = sg.connect(&ConnectOptions::default())?;
/// let account = sg.account_ref()?; // what the driver keys the upload by
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Account {
    /// Its name (`bazaar-sg`).
    pub name: String,
    /// Its marketplace.
    pub marketplace: Arc<dyn Marketplace>,
    /// Its settings.
    pub settings: Settings,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("marketplace", &self.marketplace.name())
            .field("settings", &self.settings)
            .finish()
    }
}

impl Account {
    /// The account `name` of `marketplace` with these settings.
    pub fn new(
        name: impl Into<String>,
        marketplace: Arc<dyn Marketplace>,
        settings: Settings,
    ) -> Account {
        Account {
            name: name.into(),
            marketplace,
            settings,
        }
    }

    /// The account `name` as the process's environment defines it:
    /// `MARKETMEDIA_ACCOUNT_<NAME>_MARKETPLACE` names its marketplace (one of `registry`'s),
    /// and `MARKETMEDIA_ACCOUNT_<NAME>_<KEY>` its settings; every required one must be set.
    pub fn from_env(registry: &Registry, name: &str) -> Result<Account> {
        Account::from_env_with(registry, name, &|n| std::env::var(n).ok())
    }

    /// [`from_env`](Self::from_env), with the variables `lookup` finds.
    pub fn from_env_with(
        registry: &Registry,
        name: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Account> {
        let prefix = account_env_prefix(name);
        let var = format!("{prefix}MARKETPLACE");
        let market = lookup(&var)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "no account {name} in the environment: set {var} to its marketplace"
                ))
            })?;
        let marketplace = registry
            .find(&market)
            .map_err(|e| Error::invalid_input(format!("{var}: {}", e.message())))?
            .clone();
        let settings = Settings::from_env_with(marketplace.settings(), &prefix, lookup)?;
        let missing: Vec<String> = settings
            .missing()
            .iter()
            .map(|s| format!("{prefix}{}", s.env_key()))
            .collect();
        if !missing.is_empty() {
            return Err(Error::invalid_input(format!(
                "account {name} ({}) is only partly configured: set {}",
                marketplace.name(),
                missing.join(", ")
            ))
            .with_platform(marketplace.name()));
        }
        Ok(Account::new(name, marketplace, settings))
    }

    /// Who it is on the platform.
    pub fn info(&self) -> Result<AccountInfo> {
        self.marketplace.account(&self.settings)
    }

    /// The account as the driver keys uploads by it (its name and identity).
    pub fn account_ref(&self) -> Result<crate::AccountRef> {
        Ok(crate::AccountRef::new(&self.name, self.info()?.identity))
    }

    /// Its uploaders.
    pub fn connect(&self, options: &ConnectOptions) -> Result<Client> {
        self.marketplace.connect(&self.settings, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DECLARED: &[Setting] = &[
        Setting::number("partner_id", "Partner id").required(),
        Setting::secret("partner_key", "Partner key").required(),
        Setting::secret("access_token", "A ready token"),
        Setting::text("app_key", "App key").required_unless("access_token"),
        Setting::url("base_url", "Host"),
        Setting::boolean("plain", "Plain HTTP"),
        Setting::list("grants", "Grants"),
        Setting::choice("module", "Module", &["media_space", "media"]).shared(),
    ];

    #[test]
    fn values_are_checked_when_set_and_never_quoted() {
        let mut s = Settings::new(DECLARED);
        s.set("partner_id", " 42 ", Origin::File).unwrap();
        assert_eq!(s.number("partner_id"), Some(42));
        let e = s.set("partner_id", "sk-live-1", Origin::File).unwrap_err();
        assert!(
            e.message().contains("`partner_id` must be a whole number"),
            "{e}"
        );
        assert!(!e.to_string().contains("sk-live"), "{e}");
        let e = s
            .set("base_url", "ftp://u:secret@h", Origin::File)
            .unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        s.set("base_url", "http://127.0.0.1:9/", Origin::File)
            .unwrap();
        assert_eq!(s.text("base_url"), Some("http://127.0.0.1:9"));
        s.set("plain", "YES", Origin::File).unwrap();
        assert_eq!(s.flag("plain"), Some(true));
        assert!(s.set("plain", "maybe", Origin::File).is_err());
        s.set("module", "Media-Space", Origin::File).unwrap();
        assert_eq!(s.text("module"), Some("media_space"));
        let e = s.set("module", "video", Origin::File).unwrap_err();
        assert!(e.message().contains("one of media_space, media"), "{e}");
        s.set("grants", " a, ,b ", Origin::File).unwrap();
        assert_eq!(s.list("grants").unwrap(), ["a", "b"]);
        s.set("partner_key", " k ", Origin::Environment).unwrap();
        assert_eq!(s.secret("partner_key").unwrap().expose(), " k ");
        assert_eq!(s.text("partner_key"), None);
        assert!(!format!("{s:?}").contains(" k "));
        // Empty unsets.
        s.set("partner_id", "  ", Origin::File).unwrap();
        assert!(!s.is_set("partner_id"));
    }

    #[test]
    fn unknown_keys_name_the_closest() {
        let e = Settings::from_map(DECLARED, [("partner_idd", "1")]).unwrap_err();
        assert!(e.message().contains("did you mean `partner_id`"), "{e}");
        assert!(e.message().contains("`grants`"), "{e}");
    }

    #[test]
    fn missing_required_and_alternatives() {
        let s = Settings::from_map(DECLARED, [("partner_id", "1")]).unwrap();
        let missing: Vec<&str> = s.missing().iter().map(|m| m.key).collect();
        assert_eq!(missing, ["partner_key", "app_key"]);
        let s = Settings::from_map(
            DECLARED,
            [
                ("partner_id", "1"),
                ("partner_key", "k"),
                ("access_token", "t"),
            ],
        )
        .unwrap();
        assert!(s.missing().is_empty());
        assert!(s.configures());
        let only_shared = Settings::from_map(DECLARED, [("module", "media")]).unwrap();
        assert!(!only_shared.configures());
        let e = Settings::new(DECLARED).check_required("demo").unwrap_err();
        assert!(
            e.message().contains("partner_id, partner_key and app_key"),
            "{e}"
        );
    }

    #[test]
    fn variables_are_read_by_prefix_and_named_in_errors() {
        let vars: BTreeMap<&str, &str> = [
            ("MARKETMEDIA_DEMO_PARTNER_ID", "7"),
            ("MARKETMEDIA_DEMO_PLAIN", "nope"),
        ]
        .into();
        let lookup = |n: &str| vars.get(n).map(|v| v.to_string());
        let e = Settings::from_env_with(DECLARED, "MARKETMEDIA_DEMO_", &lookup).unwrap_err();
        assert!(
            e.message().contains("MARKETMEDIA_DEMO_PLAIN must be"),
            "{e}"
        );
    }

    #[test]
    fn a_serde_type_reads_the_settings() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Demo {
            partner_id: Option<u64>,
            partner_key: Option<Secret>,
            plain: Option<bool>,
            grants: Option<Vec<String>>,
            module: Option<String>,
        }
        let s = Settings::from_map(
            DECLARED,
            [
                ("partner_id", "9"),
                ("partner_key", "k"),
                ("plain", "0"),
                ("grants", "a,b"),
            ],
        )
        .unwrap();
        let d: Demo = s.deserialize().unwrap();
        assert_eq!(d.partner_id, Some(9));
        assert_eq!(d.partner_key.unwrap().expose(), "k");
        assert_eq!(d.plain, Some(false));
        assert_eq!(d.grants.unwrap(), ["a", "b"]);
        assert_eq!(d.module, None);
        let s = Settings::from_map(DECLARED, [("base_url", "http://h")]).unwrap();
        let e = s.deserialize::<Demo>().unwrap_err();
        assert!(e.message().contains("base_url"), "{e}");
    }

    #[test]
    fn registry_finds_by_name_and_lists_in_words() {
        struct M(&'static str, &'static str);
        impl Marketplace for M {
            fn name(&self) -> &'static str {
                self.0
            }
            fn title(&self) -> &'static str {
                self.1
            }
            fn settings(&self) -> &'static [Setting] {
                DECLARED
            }
            fn account(&self, _: &Settings) -> Result<AccountInfo> {
                Ok(AccountInfo::new("m", "http://h"))
            }
            fn connect(&self, _: &Settings, _: &ConnectOptions) -> Result<Client> {
                Err(Error::invalid_input("no"))
            }
            fn read_back(&self, s: &Settings) -> Result<Settings> {
                Ok(s.clone())
            }
            fn sandbox(&self, _: &serde_json::Value) -> Result<Settings> {
                Ok(Settings::new(DECLARED))
            }
        }
        let r = Registry::new()
            .with(M("a", "A"))
            .with(M("b", "B"))
            .with(M("c", "C"));
        assert_eq!(r.names(), ["a", "b", "c"]);
        assert_eq!(r.titles_in_words(), "A, B and C");
        assert_eq!(r.get("B").map(|m| m.name()), Some("b"));
        let e = r.find("d").unwrap_err();
        assert!(e.message().contains("expected a, b or c"), "{e}");
        assert_eq!(r.get("a").unwrap().env_prefix(), "MARKETMEDIA_A_");
        let r = r.with(M("b", "Bee"));
        assert_eq!(r.len(), 3);
        assert_eq!(r.titles_in_words(), "A, Bee and C");
    }
}
