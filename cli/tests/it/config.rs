//! The config file and the environment, read through the marketplaces' declarations
//! (`marketmedia_cli::config`), and the accounts they define (`marketmedia_cli::accounts`):
//! precedence, errors that name keys and never values, named accounts, `--to`.

mod config_file {

    use std::collections::HashMap;

    use marketmedia_cli::config::*;
    use marketmedia_cli::Setup;
    use marketmedia_core::{Error, Registry, Result};

    fn registry() -> Registry {
        marketmedia::registry()
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn resolve(file: &str, vars: &[(&str, &str)]) -> Result<Config> {
        let vars = env(vars);
        let names: Vec<String> = vars.keys().cloned().collect();
        let lookup = |name: &str| vars.get(name).cloned();
        let setup = Setup::default();
        Config::resolve(
            &setup,
            parse(&setup.registry, file).map_err(Error::invalid_input)?,
            &lookup,
            &names,
        )
    }

    /// Every variable the loader asks for is one `unknown_env_warnings` knows, so setting it
    /// never draws a "not a variable marketmedia reads" warning.
    #[test]
    fn every_variable_read_is_a_known_one() {
        let asked = std::sync::Mutex::new(Vec::new());
        let lookup = |name: &str| {
            asked.lock().unwrap().push(name.to_owned());
            None
        };
        let r = registry();
        Config::resolve(&Setup::default(), ConfigFile::default(), &lookup, &[]).unwrap();
        let asked = asked.into_inner().unwrap();
        let known = known_env(&r);
        for market in r.iter() {
            assert!(
                asked.iter().any(|n| n.starts_with(&market.env_prefix())),
                "nothing read for {}: {asked:?}",
                market.name()
            );
        }
        for name in &asked {
            assert!(known.contains(name), "{name} is read but not known");
        }
    }

    /// A mistyped secret is reported by its key and the type expected, never by its value.
    #[test]
    fn a_parse_error_names_the_key_not_the_value() {
        let r = registry();
        let file = "[shopee]\npartner_id = 1\npartner_key = 98765432123456789\n";
        let err = parse(&r, file).unwrap_err();
        assert!(!err.contains("9876"), "{err}");
        assert!(err.contains("shopee.partner_key"), "{err}");
        assert!(err.contains("expected a string"), "{err}");
        assert!(err.contains("line 3"), "{err}");

        // A secret written where a number goes, and a string where a boolean goes.
        let file = "[shopee]\npartner_id = \"sk-live-4f9a8b7c6d5e\"\n";
        let err = parse(&r, file).unwrap_err();
        assert!(!err.contains("sk-live"), "{err}");
        assert!(err.contains("shopee.partner_id"), "{err}");
        let file = "[smh]\nallow_plain_http = \"sk-live-4f9a8b7c6d5e\"\n";
        let err = parse(&r, file).unwrap_err();
        assert!(!err.contains("sk-live"), "{err}");
        assert!(err.contains("smh.allow_plain_http"), "{err}");
        assert!(err.contains("expected a boolean"), "{err}");
        // A URL that is not one: its key, never its text (it may carry a credential).
        let file = "[accounts.a]\nmarketplace = \"ebay\"\nbase_url = \"ftp://u:sk-live@h\"\n";
        let err = parse(&r, file).unwrap_err();
        assert!(!err.contains("sk-live"), "{err}");
        assert!(err.contains("line 3: accounts.a.base_url must be"), "{err}");
        // A syntax error quotes nothing either.
        let err = parse(&r, "[shopee]\npartner_key = \"sk-live-4f9a\n").unwrap_err();
        assert!(!err.contains("sk-live"), "{err}");
        assert!(err.starts_with("line 2"), "{err}");
    }

    #[test]
    fn unknown_tables_and_keys_name_the_closest() {
        let r = registry();
        let err = parse(&r, "[shopee]\npartner_id = 1\nbogus = 2\n").unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
        assert!(!err.contains('\n'));
        let err = parse(&r, "[shopee]\npartner_id = \"x\"\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        let err = parse(&r, "[shopee]\nshop_idd = 1\n").unwrap_err();
        assert!(err.contains("did you mean `shop_id`"), "{err}");
        let err = parse(
            &r,
            "[accounts.a]\nmarketplace = \"shopee\"\npartner_idd = 1\n",
        )
        .unwrap_err();
        assert!(
            err.contains("line 3") && err.contains("did you mean `partner_id`"),
            "{err}"
        );
        let err = parse(&r, "\n[shoppe]\npartner_id = 1\n").unwrap_err();
        assert!(
            err.contains("line 2: unknown table `shoppe` (did you mean `shopee`?)"),
            "{err}"
        );
        let err = parse(&r, "[accounts.a]\nmarketplace = \"amazon\"\n").unwrap_err();
        assert!(err.contains("unknown marketplace"), "{err}");
        let err = parse(&r, "[accounts.a]\nshop_id = 1\n").unwrap_err();
        assert!(err.contains("has no marketplace"), "{err}");
    }

    #[test]
    fn nothing_set_means_sandbox_everywhere() {
        let c = resolve("", &[]).unwrap();
        assert!(c.accounts.is_empty());
        assert!(registry().iter().all(|m| !c.is_configured(m.name())));
    }

    #[test]
    fn environment_wins_over_the_file() {
        let file = r#"
        [shopee]
        partner_id = 1
        partner_key = "file-key"
        shop_id = 2
        access_token = "file-token"
        base_url = "http://file.invalid"
    "#;
        let c = resolve(
            file,
            &[
                ("MARKETMEDIA_SHOPEE_PARTNER_ID", "77"),
                ("MARKETMEDIA_SHOPEE_BASE_URL", "http://127.0.0.1:9/"),
            ],
        )
        .unwrap();
        let s = &c.account("shopee").unwrap().settings;
        assert_eq!(s.number("partner_id"), Some(77));
        assert_eq!(s.secret("partner_key").unwrap().expose(), "file-key");
        assert_eq!(s.text("base_url"), Some("http://127.0.0.1:9"));
        assert_eq!(
            c.account("shopee").unwrap().origin,
            "config file + environment"
        );
        assert_eq!(c.accounts.len(), 1);
    }

    #[test]
    fn a_shared_setting_alone_configures_nothing_and_reaches_every_account() {
        let file = "[shopee]\nmodule = \"media\"\n[accounts.shopee-sg]\nmarketplace = \"shopee\"\npartner_id = 1\npartner_key = \"k\"\nshop_id = 2\naccess_token = \"t\"\n[accounts.shopee-my]\nmarketplace = \"shopee\"\npartner_id = 1\npartner_key = \"k\"\nshop_id = 3\naccess_token = \"t\"\nmodule = \"media_space\"\n";
        let c = resolve(file, &[]).unwrap();
        assert!(c.account("shopee").is_none());
        assert_eq!(
            c.account("shopee-sg").unwrap().settings.text("module"),
            Some("media")
        );
        assert_eq!(
            c.account("shopee-my").unwrap().settings.text("module"),
            Some("media_space")
        );
        assert_eq!(c.shared["shopee"].text("module"), Some("media"));
        // The command line's flag wins over every account's own choice.
        let mut c = c;
        c.set_from_command_line("shopee", "module", "media")
            .unwrap();
        assert_eq!(
            c.account("shopee-my").unwrap().settings.text("module"),
            Some("media")
        );
        let err = c
            .set_from_command_line("smh", "allow_plain_http", "maybe")
            .unwrap_err();
        assert!(
            err.message().contains("--smh-allow-plain-http must be"),
            "{err}"
        );
    }

    #[test]
    fn partly_configured_is_an_error_naming_the_missing_variables_not_the_secrets() {
        let err = resolve(
            "",
            &[
                ("MARKETMEDIA_LAZADA_COUNTRY", "th"),
                ("MARKETMEDIA_LAZADA_APP_SECRET", "very-secret-value"),
            ],
        )
        .unwrap_err();
        let text = err.to_string();
        // (No access token is required: tokens may come from `accounts authorize`.)
        assert!(text.contains("MARKETMEDIA_LAZADA_APP_KEY"), "{text}");
        assert!(!text.contains("very-secret-value"), "{text}");
        assert!(!text.contains('\n'));
        // A token instead of the secret it is fetched with.
        let c = resolve(
            "[smh]\nlibrary_id = \"lib\"\naccess_token = \"tok\"\nstorage_scheme = \"http\"\nallow_plain_http = true\n",
            &[],
        )
        .unwrap();
        assert!(c.is_configured("smh"));
        let err = resolve("[smh]\nlibrary_id = \"lib\"\n", &[]).unwrap_err();
        assert!(
            err.to_string().contains("MARKETMEDIA_SMH_LIBRARY_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn a_variable_the_marketplace_cannot_read_is_named() {
        let err = resolve("", &[("MARKETMEDIA_SHOPEE_PARTNER_ID", "sk-live-1")]).unwrap_err();
        assert!(
            err.message()
                .contains("MARKETMEDIA_SHOPEE_PARTNER_ID must be a whole number"),
            "{err}"
        );
        assert!(!err.to_string().contains("sk-live"), "{err}");
        let err = resolve("", &[("MARKETMEDIA_SHOPEE_MODULE", "video")])
            .and_then(|c| {
                let m = c.registry.get("shopee").unwrap().clone();
                m.account(&c.shared["shopee"]).map(|_| ())
            })
            .unwrap_err();
        assert!(err.to_string().contains("media_space, media"), "{err}");
    }
}

mod accounts {

    use marketmedia_cli::accounts::*;
    use marketmedia_cli::config::Config;
    use marketmedia_core::{Error, Result};
    use std::collections::HashMap;

    fn config(file: &str, vars: &[(&str, &str)]) -> Result<Config> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let names: Vec<String> = vars.keys().cloned().collect();
        let lookup = |name: &str| vars.get(name).cloned();
        let setup = marketmedia_cli::Setup::default();
        Config::resolve(
            &setup,
            marketmedia_cli::config::parse(&setup.registry, file).map_err(Error::invalid_input)?,
            &lookup,
            &names,
        )
    }

    const THREE: &str = r#"
    [accounts.shopee-sg]
    marketplace = "shopee"
    partner_id = 2001887
    partner_key = "key-sg"
    shop_id = 600001
    access_token = "token-sg"
    country = "sg"

    [accounts.shopee-my]
    marketplace = "shopee"
    partner_id = 2001887
    partner_key = "key-sg"
    shop_id = 600002
    access_token = "token-my"
    country = "my"

    [accounts.lazada-th]
    marketplace = "lazada"
    app_key = "100132"
    app_secret = "app-secret"
    access_token = "seller-token"
    country = "th"
    seller_id = "1000123"
"#;

    fn names(chosen: &[Chosen<'_>]) -> Vec<String> {
        chosen
            .iter()
            .map(|c| match c {
                Chosen::Account(a) => a.name.clone(),
                Chosen::Sandbox(m) => format!("sandbox:{}", m.name()),
            })
            .collect()
    }

    #[test]
    fn three_accounts_with_their_identities_hosts_and_countries() {
        let c = config(THREE, &[]).unwrap();
        let got: Vec<(&str, &str, Option<&str>)> = c
            .accounts
            .iter()
            .map(|a| (a.name.as_str(), a.identity.as_str(), a.country.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("shopee-my", "shopee:2001887:600002", Some("my")),
                ("shopee-sg", "shopee:2001887:600001", Some("sg")),
                ("lazada-th", "lazada:th:1000123", Some("th")),
            ]
        );
        let lazada = c.account("lazada-th").unwrap();
        assert_eq!(lazada.endpoint, "https://api.lazada.co.th/rest");
        let listed = format!("{:?}", AccountRecord::of(lazada, None));
        assert!(!listed.contains("seller-token") && !listed.contains("app-secret"));
    }

    #[test]
    fn targets_are_accounts_and_marketplaces() {
        let c = config(THREE, &[]).unwrap();
        assert_eq!(
            names(&choose(&c, &[], false).unwrap()),
            ["shopee-my", "shopee-sg", "lazada-th"]
        );
        let to = |list: &[&str]| {
            let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            choose(&c, &list, false).map(|c| names(&c))
        };
        assert_eq!(to(&["shopee"]).unwrap(), ["shopee-my", "shopee-sg"]);
        assert_eq!(
            to(&["lazada-th", "shopee-sg", "lazada"]).unwrap(),
            ["lazada-th", "shopee-sg"]
        );
        let err = to(&["smh"]).unwrap_err().to_string();
        assert!(
            err.contains("no smh account") && err.contains("--sandbox"),
            "{err}"
        );
        let err = to(&["shopee-sq"]).unwrap_err().to_string();
        assert!(err.contains("did you mean shopee-sg"), "{err}");
        // --sandbox: every simulator, whatever is configured.
        assert_eq!(choose(&c, &[], true).unwrap().len(), c.registry.len());
        // Nothing configured: the simulators serve.
        let none = config("", &[]).unwrap();
        assert_eq!(
            names(&choose(&none, &["lazada".into()], false).unwrap()),
            ["sandbox:lazada"]
        );
    }

    #[test]
    fn the_legacy_table_is_an_account_named_after_its_marketplace() {
        let file = format!(
        "[shopee]\npartner_id = 1\npartner_key = \"k\"\nshop_id = 2\naccess_token = \"t\"\n{THREE}"
    );
        let c = config(&file, &[]).unwrap();
        let shopee: Vec<&str> = c.accounts_of("shopee").map(|a| a.name.as_str()).collect();
        assert_eq!(shopee, ["shopee", "shopee-my", "shopee-sg"]);
        assert!(c.account("shopee").unwrap().legacy);
        // The marketplace name means all of them, the one named after it included.
        assert_eq!(
            names(&choose(&c, &["shopee".into()], false).unwrap()),
            ["shopee", "shopee-my", "shopee-sg"]
        );
    }

    #[test]
    fn named_accounts_from_the_environment_and_the_environment_wins() {
        let c = config(
            THREE,
            &[
                ("MARKETMEDIA_ACCOUNT_SHOPEE_SG_ACCESS_TOKEN", "env-token"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_MARKETPLACE", "lazada"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_APP_KEY", "100132"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_APP_SECRET", "s"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_ACCESS_TOKEN", "t"),
                ("MARKETMEDIA_ACCOUNT_LAZADA_VN_COUNTRY", "vn"),
            ],
        )
        .unwrap();
        let sg = &c.account("shopee-sg").unwrap().settings;
        assert_eq!(sg.secret("access_token").unwrap().expose(), "env-token");
        assert_eq!(
            c.account("shopee-sg").unwrap().origin,
            "config file + environment"
        );
        let vn = c.account("lazada-vn").unwrap();
        assert_eq!(vn.origin, "environment");
        assert_eq!(vn.identity, "lazada:vn:app:100132");
        assert_eq!(vn.endpoint, "https://api.lazada.vn/rest");
    }

    #[test]
    fn config_errors_name_the_closest_key_and_the_missing_ones() {
        let err = config(
            "[accounts.a]\nmarketplace = \"shopee\"\npartner_id = 1\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("account a (shopee) is only partly configured"),
            "{err}"
        );
        assert!(err.contains("MARKETMEDIA_ACCOUNT_A_PARTNER_KEY"), "{err}");
        // Two accounts of one seller on one app in one country, no seller id: refused.
        let two = "[accounts.a]\nmarketplace = \"lazada\"\napp_key = \"k\"\napp_secret = \"s\"\naccess_token = \"t\"\n\
               [accounts.b]\nmarketplace = \"lazada\"\napp_key = \"k\"\napp_secret = \"s\"\naccess_token = \"u\"\n";
        let err = config(two, &[]).unwrap_err().to_string();
        assert!(err.contains("set seller_id"), "{err}");
        // An account named like another marketplace.
        let err = config(
            "[accounts.lazada]\nmarketplace = \"ebay\"\naccess_token = \"t\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("named like another marketplace"), "{err}");
    }

    #[test]
    fn unknown_account_variables_are_warned_about_with_the_closest() {
        let c = config(THREE, &[]).unwrap();
        let w = marketmedia_cli::config::unknown_env_warnings(
            &c.registry,
            [
                "MARKETMEDIA_ACCOUNT_SHOPEE_SG_SHOP_ID".to_owned(),
                "MARKETMEDIA_ACCOUNT_SHOPEE_SG_SHOPID".to_owned(),
            ],
            &c.env_names,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("did you mean MARKETMEDIA_ACCOUNT_SHOPEE_SG_SHOP_ID"),
            "{w:?}"
        );
    }
}
