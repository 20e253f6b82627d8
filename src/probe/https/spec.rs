//! Serde mirror of the options an `http` probe gains for HTTPS and body checks.
//! They are plain fields of the probe's spec (`tls:`, `reuse_connection:`,
//! `expect_body:`); each struct denies unknown keys like the rest of the spec.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `tls:` — how an `https://` URL is verified and which identity the probe presents.
/// Without it, the server's certificate is checked against the system's roots.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// PEM file of the CA certificate(s) to trust *instead of* the system's roots
    /// (a private CA, like curl's `--cacert`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain the probe presents for mutual TLS; needs `client_key`.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Name to send (SNI) and to check the certificate against, instead of the URL's
    /// host: for probing a backend by address while its certificate names the service.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any certificate (no chain, name or expiry check). Encryption only;
    /// every report marks a probe that uses it.
    #[serde(default)]
    pub insecure: bool,
}

/// `expect_body:` — what the body of a response with an expected status must hold.
/// Exactly one of `contains` or `json_pointer` (with `equals`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectBodySpec {
    /// The body contains this text (byte-for-byte, case-sensitive).
    #[serde(default)]
    pub contains: Option<String>,
    /// The body is JSON and the value at this JSON pointer (RFC 6901, `/status`,
    /// `/checks/0/ok`) equals `equals`. Numbers compare by value (`1` equals `1.0`).
    #[serde(default)]
    pub json_pointer: Option<String>,
    /// The value `json_pointer` must point at: a string, number, boolean, list or map.
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
}
