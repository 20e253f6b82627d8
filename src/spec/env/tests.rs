use super::*;
use std::collections::HashMap;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn variables_defaults_and_escapes_expand() {
    let env = vars(&[
        ("TOKEN", "s3cr3t-token"),
        ("HOST", "api.staging"),
        ("EMPTY", ""),
    ]);
    let out = expand("https://${HOST}/health?t=${TOKEN}", &env).unwrap();
    assert_eq!(out.text, "https://api.staging/health?t=s3cr3t-token");
    assert_eq!(out.secrets, ["api.staging", "s3cr3t-token"]);

    let out = expand("${PORT:-8080} ${EMPTY:-fallback} [${EMPTY}]", &env).unwrap();
    assert_eq!(out.text, "8080 fallback []");
    assert!(
        out.secrets.is_empty(),
        "defaults are spec text, not secrets"
    );

    let out = expand("cost $$5, literal $${TOKEN}, regex ^ok$ and $ alone", &env).unwrap();
    assert_eq!(
        out.text,
        "cost $5, literal ${TOKEN}, regex ^ok$ and $ alone"
    );
    assert!(out.secrets.is_empty());

    let twice = expand("${TOKEN}:${TOKEN}", &env).unwrap();
    assert_eq!(twice.secrets, ["s3cr3t-token"]);
    let default_with_colon = expand("${ADDR:-127.0.0.1:80}", &env).unwrap();
    assert_eq!(default_with_colon.text, "127.0.0.1:80");
}

#[test]
fn a_missing_variable_is_an_error_naming_it_and_its_offset() {
    let err = expand("url: ${API_TOKEN}", vars(&[])).unwrap_err();
    assert_eq!(
        err,
        EnvError::Missing {
            name: "API_TOKEN".into(),
            offset: 5
        }
    );
    assert_eq!(err.offset(), 5);
    assert!(err.to_string().contains("`API_TOKEN` is not set"), "{err}");
    assert!(err.to_string().contains("${API_TOKEN:-default}"), "{err}");

    let unclosed = expand("a ${TOKEN", vars(&[])).unwrap_err();
    assert_eq!(unclosed, EnvError::Unclosed { offset: 2 });
    let bad = expand("${1X}", vars(&[])).unwrap_err();
    assert!(
        matches!(bad, EnvError::BadName { ref name, offset: 0 } if name == "1X"),
        "{bad:?}"
    );
    assert!(matches!(
        expand("${}", vars(&[])),
        Err(EnvError::BadName { .. })
    ));
    assert!(matches!(
        expand("${A B}", vars(&[])),
        Err(EnvError::BadName { .. })
    ));
}

#[test]
fn expand_env_reads_the_process_environment() {
    // A name no one else sets; tests run in parallel threads of one process.
    std::env::set_var("SHAKEOUT_ENV_TEST_SECRET", "from-the-environment");
    let out = expand_env("x=${SHAKEOUT_ENV_TEST_SECRET}").unwrap();
    assert_eq!(out.text, "x=from-the-environment");
    let missing = expand_env("${SHAKEOUT_ENV_TEST_NEVER_SET}").unwrap_err();
    assert!(matches!(missing, EnvError::Missing { .. }));
}

#[test]
fn secrets_are_redacted_longest_first_and_short_values_are_kept() {
    let redactor = Redactor::new(["tok".to_string(), "s3cr3t".into(), "s3cr3t-token".into()]);
    assert_eq!(
        redactor.redact("GET /?t=s3cr3t-token&u=s3cr3t tok"),
        "GET /?t=***&u=*** tok"
    );
    let mut empty = Redactor::default();
    assert_eq!(empty.redact("nothing to hide"), "nothing to hide");
    empty.add("80".into());
    assert_eq!(empty.redact("port 80"), "port 80", "too short to redact");
}

#[test]
fn credential_headers_are_redacted_in_every_usual_shape() {
    let r = Redactor::default();
    assert_eq!(
        r.redact("Authorization: Bearer abc.def\nAccept: */*"),
        "Authorization: ***\nAccept: */*"
    );
    assert_eq!(
        r.redact(r#"{"authorization":"Bearer a\"b","x-api-key": "k1", "accept": "json"}"#),
        r#"{"authorization":"***","x-api-key": "***", "accept": "json"}"#
    );
    assert_eq!(
        r.redact("headers: {Cookie: 'sid=1; a=2'}"),
        "headers: {Cookie: '***'}"
    );
    assert_eq!(
        r.redact("Set-Cookie: sid=9; HttpOnly\r\n\r\nbody"),
        "Set-Cookie: ***\r\n\r\nbody"
    );
    assert_eq!(
        r.redact("Proxy-Authorization=Basic eHl6"),
        "Proxy-Authorization=***"
    );
    // Only whole header names followed by a separator.
    assert_eq!(
        r.redact("X-Authorization-Mode: strict"),
        "X-Authorization-Mode: strict"
    );
    assert_eq!(
        r.redact("the Authorization header is set"),
        "the Authorization header is set"
    );
    assert_eq!(r.redact("Authorization:"), "Authorization:***");
}

#[test]
fn header_values_for_display() {
    let r = Redactor::new(["tenant-42".to_string()]);
    assert_eq!(r.header_value("AUTHORIZATION", "Bearer x"), "***");
    assert_eq!(r.header_value("X-Tenant", "tenant-42"), "***");
    assert_eq!(r.header_value("Accept", "text/plain"), "text/plain");
    assert!(is_sensitive_header("x-api-key") && !is_sensitive_header("x-api"));
}
