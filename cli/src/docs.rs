//! The docs' tables of marketplace settings and identities, written from the marketplaces'
//! declarations: `docs/cli.md` holds what these return between `<!-- generated: … -->`
//! markers, and a test (`cli/tests/it/docs_tables.rs`) fails when they differ, so a
//! declaration and its documentation cannot drift apart. `MARKETMEDIA_UPDATE_DOCS=1` makes the
//! test write them.

use marketmedia_core::raw::{Requirement, Setting, SettingKind};
use marketmedia_core::{Marketplace, Registry};

/// The first line of a generated block named `name`.
pub fn begin_marker(name: &str) -> String {
    format!("<!-- generated: {name} (from the marketplaces' declarations; cli/tests/it/docs_tables.rs) -->")
}

/// The line that ends a generated block.
pub const END_MARKER: &str = "<!-- end of generated block -->";

/// What the `required` column says of `s`.
fn required(s: &Setting) -> String {
    match s.requirement {
        Requirement::Required => "yes".into(),
        Requirement::Unless(other) => format!("unless `{other}`"),
        Requirement::Optional => "no".into(),
    }
}

/// What the `meaning` column says of `s` of `market`: its help, its kind, its default and
/// how it applies.
fn meaning(market: &dyn Marketplace, s: &Setting) -> String {
    let mut text = s.help.to_owned();
    let mut notes: Vec<String> = Vec::new();
    match s.kind {
        SettingKind::Secret => notes.push("secret".into()),
        SettingKind::Number => notes.push("a number".into()),
        SettingKind::Flag => notes.push("`true` or `false`".into()),
        SettingKind::Url => notes.push("an http(s) URL".into()),
        SettingKind::List => notes.push("comma-separated".into()),
        SettingKind::Choice(words) => {
            let words: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
            notes.push(format!("one of {}", words.join(", ")));
        }
        SettingKind::Text => {}
    }
    if let Some(d) = s.default {
        notes.push(format!("default `{d}`"));
    }
    if s.shared {
        notes.push(format!(
            "`[{}]`'s value is every {} account's default and the sandbox's",
            market.name(),
            market.title()
        ));
    } else if !s.configures {
        notes.push("alone, it configures nothing".into());
    }
    if s.command_line {
        notes.push(format!("`--{}` wins", s.flag_name(market.name())));
    }
    if !notes.is_empty() {
        text.push_str(&format!(" ({})", notes.join("; ")));
    }
    text.replace('|', "\\|")
}

/// The table of every registered marketplace's settings: variable, key, whether required,
/// what it means.
pub fn settings_table(registry: &Registry) -> String {
    let mut out = String::from("| variable | key | required | meaning |\n|---|---|---|---|\n");
    for market in registry.iter() {
        for s in market.settings() {
            out.push_str(&format!(
                "| `{}{}` | `{}` | {} | {} |\n",
                market.env_prefix(),
                s.env_key(),
                s.key,
                required(s),
                meaning(market.as_ref(), s)
            ));
        }
    }
    out
}

/// The table of every registered marketplace's account identity and what tells two of its
/// accounts apart.
pub fn identity_table(registry: &Registry) -> String {
    let mut out =
        String::from("| marketplace | identity | two accounts of one identity |\n|---|---|---|\n");
    for market in registry.iter() {
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            market.title(),
            market.identity_pattern(),
            market.identity_hint().replace('|', "\\|")
        ));
    }
    out
}

/// `text` with the generated block `name` replaced by `content`; `None` when the markers
/// are missing.
pub fn replace_block(text: &str, name: &str, content: &str) -> Option<String> {
    let begin = begin_marker(name);
    let start = text.find(&begin)? + begin.len();
    let end = start + text[start..].find(END_MARKER)?;
    Some(format!("{}\n{content}{}", &text[..start], &text[end..]))
}

/// The generated block `name` of `text`, as it is written there.
pub fn block<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let begin = begin_marker(name);
    let start = text.find(&begin)? + begin.len() + 1;
    let end = start + text.get(start..)?.find(END_MARKER)?;
    text.get(start..end)
}
