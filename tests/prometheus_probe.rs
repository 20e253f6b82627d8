//! The prometheus probe and alert client against a real Prometheus scraping a
//! test exporter (see tests/util/prometheus.rs).

mod util;

use shakeout::probe::failure::FailureClass;
use shakeout::probe::prometheus::{Expectation, PrometheusClient, PrometheusProbe, Reading};
use std::time::{Duration, Instant};
use util::prometheus::{Prometheus, ALERT, ALERT_ABOVE, METRIC};

const TIMEOUT: Duration = Duration::from_secs(2);

fn expect(text: &str) -> Expectation {
    text.parse().expect("expectation parses")
}

/// Samples until `done` holds for a reading, or fails after 15s with the last one.
async fn sample_until(
    probe: &PrometheusProbe,
    what: &str,
    done: impl Fn(&Reading) -> bool,
) -> Reading {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reading = probe.check().await;
        if done(&reading) {
            return reading;
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {what}; last reading {reading:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_probe_judges_a_changing_metric_and_records_its_value() {
    let Some(prometheus) = Prometheus::start(0.004) else {
        return;
    };
    let probe = PrometheusProbe::new(&prometheus.url(), METRIC, expect("< 0.01"), None, TIMEOUT)
        .expect("probe builds");
    assert_eq!(
        probe.check().await,
        Reading {
            value: Some(0.004),
            result: Ok(())
        }
    );

    prometheus.exporter.set(0.5);
    let bad = sample_until(&probe, "the new value", |r| r.value == Some(0.5)).await;
    let failure = bad.result.expect_err("0.5 is not < 0.01");
    assert_eq!(failure.class, FailureClass::Expect);
    assert_eq!(failure.detail, "value 0.5 is not < 0.01");

    let between = PrometheusProbe::new(
        &prometheus.url(),
        &format!("{METRIC} * 2"),
        Expectation::between(0.9, 1.1).expect("bounds"),
        None,
        TIMEOUT,
    )
    .expect("probe builds");
    assert_eq!(
        between.check().await,
        Reading {
            value: Some(1.0),
            result: Ok(())
        }
    );
}

#[tokio::test]
async fn no_series_several_series_and_bad_queries_are_query_failures() {
    let Some(prometheus) = Prometheus::start(1.0) else {
        return;
    };
    let client = PrometheusClient::new(&prometheus.url(), None, TIMEOUT).expect("client");
    let none = client
        .query("shakeout_no_such_metric")
        .await
        .expect_err("no series");
    assert_eq!(
        (none.class, none.detail.as_str()),
        (FailureClass::Query, "no series")
    );

    let two = format!("{METRIC} or label_replace({METRIC}, \"copy\", \"1\", \"\", \"\")");
    let many = client.query(&two).await.expect_err("two series");
    assert_eq!(many.class, FailureClass::Query);
    assert!(many.detail.starts_with("2 series"), "{many}");

    let broken = client.query("sum(").await.expect_err("parse error");
    assert_eq!(broken.class, FailureClass::Query);
    assert!(broken.detail.contains("parse error"), "{broken}");

    let nan = client.query("0/0").await.expect_err("NaN");
    assert_eq!(nan.detail, "value is NaN");
    assert_eq!(client.query("scalar(vector(3))").await, Ok(3.0));
}

#[tokio::test]
async fn an_alert_is_seen_firing_once_the_metric_crosses_its_threshold() {
    let Some(prometheus) = Prometheus::start(1.0) else {
        return;
    };
    let client = PrometheusClient::new(&prometheus.url(), None, TIMEOUT).expect("client");
    // Let a rule evaluation see the low value first: the alert must not fire on it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        client.firing(ALERT).await,
        Ok(None),
        "1 is below the threshold"
    );

    prometheus.exporter.set(ALERT_ABOVE * 2.0);
    let set_at = Instant::now();
    let fired = loop {
        if let Some(alert) = client.firing(ALERT).await.expect("alerts answer") {
            break alert;
        }
        assert!(
            set_at.elapsed() < Duration::from_secs(15),
            "alert never fired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(fired.name(), ALERT);
    assert!(fired.is_firing());
    assert_eq!(
        fired.value.as_deref().map(str::parse::<f64>),
        Some(Ok(ALERT_ABOVE * 2.0))
    );
    assert_eq!(client.firing("NoSuchAlert").await, Ok(None));
}

#[tokio::test]
async fn an_unreachable_prometheus_is_refused() {
    let port = util::free_port();
    let client =
        PrometheusClient::new(&format!("http://127.0.0.1:{port}"), None, TIMEOUT).expect("client");
    let failure = client.query("up").await.expect_err("nobody listens");
    assert_eq!(failure.class, FailureClass::Refused);
}
