//! Unit tests of `grants`: parsing, merging and `${VAR}` expansion (SPEC P9).

use super::*;

fn env(name: &str) -> Option<String> {
    (name == "TOKEN").then(|| "s3cret".to_owned())
}

#[test]
fn p6_config_values_resolve_environment_variables() {
    assert_eq!(
        expand("Bearer ${TOKEN}", &env).as_deref(),
        Ok("Bearer s3cret")
    );
    assert_eq!(expand("$$5 and $x", &env).as_deref(), Ok("$5 and $x"));
    let error = expand("${MISSING}", &env).expect_err("unset");
    assert!(error.contains("MISSING is not set"), "{error}");
    assert!(expand("${TOKEN", &env).is_err());
}

#[test]
fn p4_host_patterns_match_scheme_host_and_port() {
    let allows = |pattern: &str, scheme: &str, host: &str, port: u16| {
        HostPattern::parse(pattern)
            .expect(pattern)
            .allows(scheme, host, port)
    };
    assert!(allows(
        "https://api.example.com",
        "https",
        "API.example.com",
        443
    ));
    assert!(!allows(
        "https://api.example.com",
        "http",
        "api.example.com",
        80
    ));
    assert!(!allows(
        "https://api.example.com",
        "https",
        "api.example.com",
        8443
    ));
    assert!(allows("http://127.0.0.1:*", "http", "127.0.0.1", 38211));
    assert!(!allows("http://127.0.0.1:*", "http", "127.0.0.2", 38211));
    assert!(allows("*://*.example.com:*", "http", "a.b.example.com", 1));
    assert!(!allows("*://*.example.com:*", "http", "example.com", 1));
    assert!(!allows("*://*.example.com:*", "http", "evilexample.com", 1));
    assert!(allows("http://[::1]:8080", "http", "[::1]", 8080));
    // P4a: `*://host` is each scheme on its default port, as for `http://` and `https://`.
    assert!(allows("*://example.com", "http", "example.com", 80));
    assert!(allows("*://example.com", "https", "example.com", 443));
    assert!(!allows("*://example.com", "http", "example.com", 443));
    assert!(!allows("*://example.com", "https", "example.com", 8443));
    assert!(allows("*://example.com:*", "https", "example.com", 8443));
    for bad in [
        "api.example.com",
        "ftp://x",
        "https://a/b",
        "https://x:port",
        "https://a*b",
    ] {
        assert!(HostPattern::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn p6_sidecar_grants_replace_the_configs_key_by_key() {
    let base = RawGrants {
        key_value: Some(vec!["default".into()]),
        call_actions: Some(vec!["get_status".into()]),
        ..RawGrants::default()
    };
    let sidecar = RawGrants {
        call_actions: Some(vec!["*".into()]),
        ..RawGrants::default()
    };
    let path = Path::new("p.json5");
    let base = resolve(base, path, "", &env, &any_variable).expect("valid");
    let grants = resolve(sidecar, path, "", &env, &any_variable)
        .expect("valid")
        .over(Some(&base));
    assert_eq!(grants.key_value, ["default"]);
    assert_eq!(grants.call_actions, ActionGrant::All);
    assert!(grants.call_actions.allows("anything"));
    assert!(!ActionGrant::default().allows("get_status"));
}

#[test]
fn p12_variables_are_read_as_expand_reads_them() {
    assert_eq!(variables("a ${X} $$ ${Y}z $${Z} $"), ["X", "Y"]);
    assert!(variables("${open").is_empty());
}

#[test]
fn p13_a_pattern_covers_the_patterns_it_allows_every_request_of() {
    let covers = |ceiling: &str, asked: &str| {
        HostPattern::parse(ceiling)
            .expect(ceiling)
            .covers(&HostPattern::parse(asked).expect(asked))
    };
    let within = [
        ("*://*:*", "http://127.0.0.1:*"),
        ("https://*", "https://api.example.com"),
        ("https://*.example.com", "https://api.example.com"),
        ("https://*.example.com", "https://*.a.example.com"),
        ("http://127.0.0.1:*", "http://127.0.0.1:8080"),
        ("https://api.example.com", "https://API.example.com:443"),
        ("*://example.com", "http://example.com"),
        ("*://example.com", "https://example.com:443"),
        ("*://*", "*://example.com"),
    ];
    for (ceiling, asked) in within {
        assert!(covers(ceiling, asked), "{asked} within {ceiling}");
    }
    let beyond = [
        ("https://*", "http://api.example.com"),
        ("https://*", "https://api.example.com:8443"),
        ("https://*", "*://api.example.com:443"),
        ("https://*.example.com", "https://example.com"),
        ("https://*.example.com", "https://*"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:*"),
        ("https://a.example.com", "https://*.a.example.com"),
        ("*://example.com", "*://example.com:80"),
        ("*://example.com", "http://example.com:8080"),
        ("*://example.com", "*://example.com:*"),
        ("http://example.com", "*://example.com"),
    ];
    for (ceiling, asked) in beyond {
        assert!(!covers(ceiling, asked), "{asked} beyond {ceiling}");
    }
}
