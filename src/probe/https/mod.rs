//! HTTP and HTTPS for probe samples.
//!
//! - [`HttpsClient`] sends one request per sample over plain TCP or rustls (the
//!   system's roots by default, or `tls: {ca_file, client_cert, client_key,
//!   server_name, insecure}`), with a new connection per sample unless
//!   `reuse_connection: true`. Failures are classed: refused, timeout, tls (unknown
//!   CA, name mismatch, expired, ...), connect, body.
//! - [`BodyCheck`] is a compiled `expect_body: {contains}` or
//!   `{json_pointer, equals}`.
//!
//! Status expectations stay with the probe (`expect_status`); a status failure is
//! `FailureClass::Status`.

mod body;
mod client;
mod spec;
mod tls;

pub use body::BodyCheck;
pub use client::{ClientOptions, HttpsClient, Response};
pub use spec::{ExpectBodySpec, TlsSpec};

use std::path::PathBuf;

/// A client that cannot be built from its options (a spec error, found before the run).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("bad url `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("`tls` options given for a plain http:// url `{0}`")]
    TlsForPlainHttp(String),
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` is not usable PEM: {reason}", path.display())]
    BadPem { path: PathBuf, reason: String },
    #[error("tls: `client_cert` and `client_key` go together")]
    HalfIdentity,
    #[error("tls: `{0}` is not a valid server name")]
    BadServerName(String),
    #[error("tls: {0}")]
    Tls(rustls::Error),
}

#[cfg(test)]
mod tests;
