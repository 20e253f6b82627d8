//! One POST per attempt, retried with doubling waits a bounded number of times.

use super::{redacted_url, Format, Message, Target};
use crate::probe::https::{ClientOptions, HttpsClient};
use bytes::Bytes;
use hyper::{Method, Request};
use serde::Serialize;
use std::time::Duration;

/// How hard a delivery tries: `attempts` in all, waiting `first_wait`, then twice
/// that, and so on, between them; each attempt bounded by `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_wait: Duration,
    pub timeout: Duration,
}

impl Default for Retry {
    /// Four attempts over about 2 s of waiting: rides out a receiver's restart without
    /// holding a finished run for long (at most 4 × 10 s + 1.75 s).
    fn default() -> Retry {
        Retry {
            attempts: 4,
            first_wait: Duration::from_millis(250),
            timeout: Duration::from_secs(10),
        }
    }
}

/// What became of one notification.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Delivery {
    /// `slack` or `webhook`.
    pub format: String,
    /// The target as `scheme://host/…`: the full URL is a credential.
    pub target: String,
    pub attempts: u32,
    pub delivered: bool,
    /// The last attempt's failure, when not delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why one attempt failed, and whether another could succeed.
struct AttemptError {
    message: String,
    retry: bool,
}

/// Sends `message` to `target`, retrying as `retry` says.
pub async fn deliver(target: &Target, message: &Message, retry: Retry) -> Delivery {
    let body = match target.format {
        Format::Slack => message.slack_body(),
        Format::Webhook => serde_json::to_value(message).unwrap_or_default(),
    };
    let body = Bytes::from(body.to_string());
    let mut delivery = Delivery {
        format: match target.format {
            Format::Slack => "slack".into(),
            Format::Webhook => "webhook".into(),
        },
        target: redacted_url(&target.url),
        attempts: 0,
        delivered: false,
        error: None,
    };
    let mut wait = retry.first_wait;
    for attempt in 1..=retry.attempts.max(1) {
        delivery.attempts = attempt;
        match post(&target.url, body.clone(), retry.timeout).await {
            Ok(()) => {
                delivery.delivered = true;
                delivery.error = None;
                return delivery;
            }
            Err(e) => {
                tracing::warn!(
                    "notification to {} failed (attempt {attempt}): {}",
                    delivery.target,
                    e.message
                );
                delivery.error = Some(e.message);
                if !e.retry {
                    break;
                }
            }
        }
        if attempt < retry.attempts {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
    delivery
}

async fn post(url: &str, body: Bytes, timeout: Duration) -> Result<(), AttemptError> {
    let options = ClientOptions {
        tls: None,
        reuse_connection: false,
        timeout,
    };
    let client = HttpsClient::new(url, &options).map_err(|e| AttemptError {
        // The setup error may quote the URL: say only what kind of problem it is.
        message: format!("cannot send to {}: {}", redacted_url(url), setup_kind(&e)),
        retry: false,
    })?;
    let uri: hyper::Uri = url.parse().map_err(|_| AttemptError {
        message: "not a URL".into(),
        retry: false,
    })?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("shakeout/", env!("CARGO_PKG_VERSION")),
        )
        .body(body)
        .map_err(|e| AttemptError {
            message: format!("cannot build the request: {e}"),
            retry: false,
        })?;
    match client.send(request).await {
        Ok(r) if (200..300).contains(&r.status) => Ok(()),
        Ok(r) => Err(AttemptError {
            message: format!("the receiver answered HTTP {}", r.status),
            // A client error other than "too many" or "timeout" will not change.
            retry: r.status >= 500 || r.status == 408 || r.status == 429,
        }),
        Err(failure) => Err(AttemptError {
            message: failure.to_string(),
            retry: true,
        }),
    }
}

fn setup_kind(e: &crate::probe::https::SetupError) -> String {
    use crate::probe::https::SetupError;
    match e {
        SetupError::BadUrl { .. } => "not a URL".into(),
        other => other.to_string(),
    }
}
