//! Configuration loading: validation errors name file or variable, key and reason;
//! overrides apply; config ids are stable content hashes.

use prometheus::config::{ConfigError, ConfigSource, EngineConfig, parse_engine_text};
use prometheus::derived::DerivedConfig;
use std::path::Path;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn issues(e: ConfigError) -> Vec<(String, String, String)> {
    e.issues()
        .iter()
        .map(|i| (i.origin.clone(), i.key.clone(), i.reason.clone()))
        .collect()
}

#[test]
fn the_shipped_configuration_is_valid() {
    let src = ConfigSource::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        Vec::new(),
    )
    .unwrap();
    let app = src.load_app().unwrap();
    assert!(app.storage.historical_db.starts_with("sqlite://"));
    let markets = src.load_markets().unwrap();
    let ids: Vec<&str> = markets.markets.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["US_EQ", "EU_EQ", "JP_EQ", "FX_GLOB"]);
    let derived = src.load_engine::<DerivedConfig>().unwrap();
    assert_eq!(
        derived.config,
        DerivedConfig::default(),
        "the shipped file spells out the defaults"
    );
    assert_eq!(derived.config_id, DerivedConfig::default().config_id());
}

#[test]
fn an_unknown_key_names_file_and_key() {
    let d = dir_with(&[(
        "default.toml",
        "[storage]\nhistorical_dbb = \"sqlite://x\"\n",
    )]);
    let e = ConfigSource::new(d.path(), Vec::new())
        .unwrap()
        .load_app()
        .unwrap_err();
    let i = issues(e);
    assert_eq!(i.len(), 1);
    assert!(i[0].0.ends_with("default.toml"), "{i:?}");
    assert!(i[0].1.starts_with("storage"), "{i:?}");
    assert!(i[0].2.contains("unknown field `historical_dbb`"), "{i:?}");
}

#[test]
fn validation_reports_every_bad_key_at_once() {
    let text = "[storage]\nhistorical_db = \"mysql://x\"\nmax_connections = 0\n[demo]\nyears = 0\nend_date = \"31/12/2025\"\n";
    let d = dir_with(&[("default.toml", text)]);
    let e = ConfigSource::new(d.path(), Vec::new())
        .unwrap()
        .load_app()
        .unwrap_err();
    let keys: Vec<String> = issues(e).into_iter().map(|i| i.1).collect();
    assert_eq!(
        keys,
        [
            "storage.historical_db",
            "storage.max_connections",
            "demo.years",
            "demo.end_date"
        ]
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let d = dir_with(&[(
        "default.toml",
        "[storage]\nmax_connections = 4\nthis is not toml\n",
    )]);
    let e = ConfigSource::new(d.path(), Vec::new())
        .unwrap()
        .load_app()
        .unwrap_err();
    let i = issues(e);
    assert!(i[0].0.ends_with("default.toml:3"), "{i:?}");
    assert!(i[0].2.contains("not valid TOML"), "{i:?}");
}

#[test]
fn environment_overrides_apply_and_are_named_in_errors() {
    let d = dir_with(&[("default.toml", "[storage]\nmax_connections = 4\n")]);
    let src = ConfigSource::new(
        d.path(),
        env(&[
            ("PV2_STORAGE__MAX_CONNECTIONS", "9"),
            ("PV2_FAULTS", "x:panic@1"),
        ]),
    )
    .unwrap();
    assert_eq!(src.load_app().unwrap().storage.max_connections, 9);

    let src =
        ConfigSource::new(d.path(), env(&[("PV2_STORAGE__MAX_CONNECTIONS", "lots")])).unwrap();
    let i = issues(src.load_app().unwrap_err());
    assert_eq!(i[0].0, "env PV2_STORAGE__MAX_CONNECTIONS");
    assert_eq!(i[0].1, "storage.max_connections");

    let src = ConfigSource::new(d.path(), env(&[("PV2_STORAGE__MAX_CONNECTIONS", "500")])).unwrap();
    let i = issues(src.load_app().unwrap_err());
    assert_eq!(
        (i[0].0.as_str(), i[0].1.as_str()),
        (
            "env PV2_STORAGE__MAX_CONNECTIONS",
            "storage.max_connections"
        )
    );
    assert!(i[0].2.contains("out of range"));

    let src = ConfigSource::new(d.path(), env(&[("PV2_STORAGE__NOPE", "1")])).unwrap();
    assert!(
        issues(src.load_app().unwrap_err())[0]
            .2
            .contains("unknown field `nope`")
    );
}

#[test]
fn engine_configs_hash_their_effective_content() {
    let a = dir_with(&[(
        "engines/derived.toml",
        "return_horizons = [1, 5, 21]\nvol_windows = [21, 63]\n",
    )]);
    let b = dir_with(&[(
        "engines/derived.toml",
        "vol_windows=[21,63]\n\n# same values, other order\nreturn_horizons=[1,5,21]\nannualisation_days=252\n",
    )]);
    let none = dir_with(&[]);
    let id = |d: &tempfile::TempDir, e: &[(&str, &str)]| {
        ConfigSource::new(d.path(), env(e))
            .unwrap()
            .load_engine::<DerivedConfig>()
            .unwrap()
            .config_id
    };
    assert_eq!(id(&a, &[]), id(&b, &[]));
    assert_eq!(
        id(&a, &[]),
        id(&none, &[]),
        "an absent file means the defaults"
    );
    let overridden = id(&a, &[("PV2_ENGINES__DERIVED__VOL_WINDOWS", "[10, 63]")]);
    assert_ne!(overridden, id(&a, &[]));
    assert!(overridden.as_str().starts_with("derived-"));
    let text = parse_engine_text::<DerivedConfig>("body", "vol_windows = [10, 63]").unwrap();
    assert_eq!(
        text.config_id, overridden,
        "the same config from any source has the same id"
    );
}

#[test]
fn engine_validation_names_keys_and_engines() {
    let e = parse_engine_text::<DerivedConfig>(
        "apply",
        "return_horizons = [5, 5]\nvol_windows = [1]\nannualisation_days = 0\n",
    )
    .unwrap_err();
    let keys: Vec<String> = issues(e).into_iter().map(|i| i.1).collect();
    assert_eq!(
        keys,
        [
            "return_horizons",
            "return_horizons",
            "vol_windows",
            "annualisation_days"
        ]
    );
    let src = ConfigSource::new(
        dir_with(&[]).path(),
        env(&[("PV2_ENGINES__DERIVD__VOL_WINDOWS", "[5]")]),
    )
    .unwrap();
    let i = issues(src.check_engine_overrides(&["derived"]).unwrap_err());
    assert_eq!(i[0].0, "env PV2_ENGINES__DERIVD__VOL_WINDOWS");
    assert!(i[0].2.contains("no such engine"));
    assert!(
        ConfigSource::new("/nonexistent/config", Vec::new())
            .unwrap_err()
            .to_string()
            .contains("--config")
    );
}

#[test]
fn markets_are_validated() {
    let d = dir_with(&[(
        "markets.toml",
        "[[market]]\nid = \"us\"\nname = \"x\"\ntimezone = \"Mars/Olympus\"\ncalendar = \"c\"\ncurrency = \"usd\"\n",
    )]);
    let keys: Vec<String> = issues(
        ConfigSource::new(d.path(), Vec::new())
            .unwrap()
            .load_markets()
            .unwrap_err(),
    )
    .into_iter()
    .map(|i| i.1)
    .collect();
    assert_eq!(
        keys,
        ["market[0].id", "market[0].currency", "market[0].timezone"]
    );
}
