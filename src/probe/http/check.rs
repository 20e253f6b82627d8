//! The running HTTP probe.

use super::compile::{HttpProbePlan, StatusPattern};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

pub struct HttpProbe {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    expect: Vec<StatusPattern>,
}

impl HttpProbe {
    pub fn new(plan: &HttpProbePlan, timeout: Duration) -> Result<HttpProbe, String> {
        let uri: Uri = plan
            .url
            .parse()
            .map_err(|e| format!("bad url `{}`: {e}", plan.url))?;
        let method = Method::from_bytes(plan.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut headers = Vec::new();
        for (k, v) in &plan.headers {
            let name =
                HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header `{k}`: {e}"))?;
            let value = HeaderValue::from_str(v).map_err(|e| format!("header `{k}`: {e}"))?;
            headers.push((name, value));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1024)
            .build(connector);
        Ok(HttpProbe {
            client,
            uri,
            method,
            headers,
            body: Bytes::from(plan.body.clone().unwrap_or_default()),
            expect: plan.expect.clone(),
        })
    }

    pub async fn check(&self) -> Result<(), String> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone());
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        let req = builder
            .body(Full::new(self.body.clone()))
            .map_err(|e| e.to_string())?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| client_reason(&e))?;
        let status = resp.status().as_u16();
        // Read the whole body: a response that dies half-way is a failure too.
        resp.into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {}", crate::probe::root_reason(&e)))?;
        if self.expect.iter().any(|p| p.matches(status)) {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

fn client_reason(e: &hyper_util::client::legacy::Error) -> String {
    let reason = crate::probe::root_reason(e);
    if e.is_connect() && !reason.starts_with("conn") {
        format!("connect: {reason}")
    } else {
        reason
    }
}
