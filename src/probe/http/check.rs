//! The running HTTP(S) probe: one request per sample through [`HttpsClient`] (a new
//! connection each time unless `reuse_connection`), then the status and body checks.

use super::compile::{HttpProbePlan, StatusPattern};
use crate::probe::failure::{Failure, FailureClass};
use crate::probe::https::{BodyCheck, ClientOptions, HttpsClient};
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use std::time::Duration;

pub struct HttpProbe {
    client: HttpsClient,
    uri: Uri,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    expect: Vec<StatusPattern>,
    expect_body: Option<BodyCheck>,
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
            // The value is never echoed: it may be a credential.
            let value = HeaderValue::from_str(v)
                .map_err(|_| format!("header `{k}`: the value is not a valid header value"))?;
            headers.push((name, value));
        }
        let options = ClientOptions {
            tls: plan.tls.clone(),
            reuse_connection: plan.reuse_connection,
            timeout,
        };
        let client = HttpsClient::new(&plan.url, &options).map_err(|e| e.to_string())?;
        let expect_body = plan
            .expect_body
            .as_ref()
            .map(BodyCheck::compile)
            .transpose()?;
        Ok(HttpProbe {
            client,
            uri,
            method,
            headers,
            body: Bytes::from(plan.body.clone().unwrap_or_default()),
            expect: plan.expect.clone(),
            expect_body,
        })
    }

    pub async fn check(&self) -> Result<(), Failure> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone());
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        let request = builder
            .body(self.body.clone())
            .map_err(|e| Failure::new(FailureClass::Connect, e.to_string()))?;
        let response = self.client.send(request).await?;
        if !self.expect.iter().any(|p| p.matches(response.status)) {
            return Err(Failure::new(
                FailureClass::Status,
                format!("HTTP {}", response.status),
            ));
        }
        match &self.expect_body {
            Some(check) => check.check(&response.body),
            None => Ok(()),
        }
    }
}
