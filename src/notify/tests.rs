use super::*;

#[test]
fn a_webhook_url_is_shown_without_its_path_or_user() {
    assert_eq!(
        redacted_url("https://hooks.slack.com/services/T000/B000/XXXXsecret"),
        "https://hooks.slack.com/…"
    );
    assert_eq!(
        redacted_url("http://user:pw@127.0.0.1:9000/hook?token=abc"),
        "http://127.0.0.1:9000/…"
    );
    assert_eq!(redacted_url("not a url at all"), "(not a URL)");
}

#[test]
fn a_flag_url_on_slacks_host_is_a_slack_target_and_any_other_a_webhook() {
    let slack = Target::from_flag("https://hooks.slack.com/services/a/b/c").unwrap();
    assert_eq!(slack.format, Format::Slack);
    let hook = Target::from_flag("http://127.0.0.1:9/x").unwrap();
    let refused = Target::from_flag("ftp://h/secret").unwrap_err();
    assert!(!refused.contains("secret"), "{refused}");
    assert_eq!(hook.format, Format::Webhook);
    assert!(hook.wants(On::Fail) && hook.wants(On::Aborted) && hook.wants(On::Error));
    assert!(!hook.wants(On::Pass));
}

#[test]
fn the_slack_text_escapes_markup_and_lists_each_failing_check() {
    let message = Message {
        schema_version: 1,
        kind: "run".into(),
        name: "a<b>&c".into(),
        verdict: On::Fail,
        exit_code: 1,
        failing_checks: vec![FailingCheck {
            experiment: None,
            check: "recovery_time".into(),
            scope: Some("lose-zone-a".into()),
            measured: "7.2s".into(),
            threshold: "<= 5s".into(),
        }],
        runs: Vec::new(),
        report: "reports/x/report.md".into(),
        errors: Vec::new(),
        on: On::Fail,
    };
    let body = message.slack_body();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("`a&lt;b&gt;&amp;c`: *FAIL* (exit 1)"),
        "{text}"
    );
    assert!(
        text.contains("recovery_time (lose-zone-a): measured 7.2s, threshold &lt;= 5s"),
        "{text}"
    );
    assert!(text.ends_with("Report: reports/x/report.md"), "{text}");
}
