//! `docs/cli.md`'s tables of marketplace settings and identities are the ones the marketplaces'
//! declarations make (`marketmedia_cli::docs`): a setting added, renamed or described
//! differently fails here until the docs say so. `MARKETMEDIA_UPDATE_DOCS=1 cargo test -p
//! marketmedia-cli --test it docs_tables` writes them.

use std::path::PathBuf;

use marketmedia_cli::docs::{block, identity_table, replace_block, settings_table};

fn cli_md() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md")
}

#[test]
fn the_docs_tables_are_the_declarations() {
    let registry = marketmedia::registry();
    let path = cli_md();
    let text = std::fs::read_to_string(&path).unwrap();
    let blocks = [
        ("settings", settings_table(&registry)),
        ("identities", identity_table(&registry)),
    ];
    if std::env::var_os("MARKETMEDIA_UPDATE_DOCS").is_some() {
        let mut updated = text.clone();
        for (name, content) in &blocks {
            updated = replace_block(&updated, name, content)
                .unwrap_or_else(|| panic!("docs/cli.md has no {name} block"));
        }
        std::fs::write(&path, updated).unwrap();
        return;
    }
    for (name, content) in &blocks {
        let written =
            block(&text, name).unwrap_or_else(|| panic!("docs/cli.md has no {name} block"));
        assert_eq!(
            written, content,
            "docs/cli.md's {name} table differs from the declarations: run with \
             MARKETMEDIA_UPDATE_DOCS=1 to write it"
        );
    }
    // Every registered marketplace's every variable is in the table, so this test can fail.
    let settings = block(&text, "settings").unwrap();
    for m in registry.iter() {
        for s in m.settings() {
            let var = format!("`{}{}`", m.env_prefix(), s.env_key());
            assert!(settings.contains(&var), "{var}");
        }
    }
}
