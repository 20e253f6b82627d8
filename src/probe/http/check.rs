//! The running HTTP(S) probe: one request per sample through [`HttpsClient`] (a new
//! connection each time unless `reuse_connection`), then the status and body checks.

use super::compile::{with_id, HttpProbePlan, StatusPattern};
use super::write::Writer;
use crate::probe::failure::{Failure, FailureClass};
use crate::probe::https::{BodyCheck, ClientOptions, HttpsClient, Response};
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
    write: Option<Writer>,
}

impl HttpProbe {
    pub fn new(plan: &HttpProbePlan, timeout: Duration) -> Result<HttpProbe, String> {
        let uri: Uri = with_id(&plan.url, 0)
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
        let client =
            HttpsClient::new(&with_id(&plan.url, 0), &options).map_err(|e| e.to_string())?;
        let write = plan
            .write
            .as_ref()
            .map(|w| Writer::new(plan, w, timeout))
            .transpose()?;
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
            write,
        })
    }

    /// One sample; `seq` names the write of a write probe.
    pub async fn check(&self, seq: u64) -> Result<(), Failure> {
        match &self.write {
            None => {
                let request = self.request(self.uri.clone(), self.body.clone())?;
                let response = self.client.send(request).await?;
                self.judge(&response)
            }
            Some(w) => w.write(self, seq).await,
        }
    }

    pub(super) fn request(&self, uri: Uri, body: Bytes) -> Result<Request<Bytes>, Failure> {
        let mut builder = Request::builder().method(self.method.clone()).uri(uri);
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        builder
            .body(body)
            .map_err(|e| Failure::new(FailureClass::Connect, e.to_string()))
    }

    pub(super) fn client(&self) -> &HttpsClient {
        &self.client
    }

    /// The sample's verdict on an answer: an expected status and body.
    pub(super) fn judge(&self, response: &Response) -> Result<(), Failure> {
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

impl HttpProbe {
    pub fn keeps_ledger(&self) -> bool {
        self.write.is_some()
    }

    /// The ledger entry of a sample that ended; `None` unless this is a write probe.
    pub fn write_outcome(&self, seq: u64, ok: bool) -> Option<crate::record::WriteOutcome> {
        self.write.as_ref().map(|w| w.outcome(seq, ok))
    }

    /// After the run: every id written is read back (`None` unless a write probe).
    pub async fn verify_writes(
        &self,
        probe: &str,
        t_us: u64,
    ) -> Option<crate::record::WritesVerified> {
        match &self.write {
            Some(w) => Some(w.verify(probe, t_us).await),
            None => None,
        }
    }
}
