//! JSON responses shared by the balancer (its own errors) and the admin API.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `{"error": msg}` with `status`.
pub(crate) fn error_response(status: StatusCode, msg: &str) -> Response<Full<Bytes>> {
    json_response(status, &serde_json::json!({ "error": msg }))
}
