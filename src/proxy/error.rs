//! Errors of the proxy registry, with the HTTP status and message Toxiproxy
//! uses for each, so the API layer can map them one to one.

/// Everything the registry, the API and the config loader can fail with.
///
/// The `Display` text of each variant is exactly the `error` string
/// Toxiproxy puts in its JSON error body.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Unparseable JSON, a wrong field type, or an attribute that fails validation.
    #[error("bad request body: {0}")]
    BadRequestBody(String),
    /// A required field (`name`, `upstream`) is missing or empty.
    #[error("missing required field: {0}")]
    MissingField(String),
    #[error("proxy not found")]
    ProxyNotFound,
    #[error("proxy already exists")]
    ProxyAlreadyExists,
    #[error("stream was invalid, can be either upstream or downstream")]
    InvalidStream,
    #[error("invalid toxic type")]
    InvalidToxicType,
    #[error("toxic already exists")]
    ToxicAlreadyExists,
    #[error("toxic not found")]
    ToxicNotFound,
    /// The listen address could not be bound. Toxiproxy reports Go's
    /// `net.Listen` error verbatim with status 500; we mimic its wording.
    #[error("listen tcp {addr}: {reason}")]
    Listen { addr: String, reason: String },
    /// The `-config` file of `proxy serve` cannot be read, parsed or applied.
    #[error("config file {path}: {message}")]
    Config { path: String, message: String },
    /// Any other I/O failure (binding the API).
    #[error("{0}")]
    Io(String),
    /// The HTTP route does not exist.
    #[error("not found")]
    RouteNotFound,
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl ProxyError {
    /// HTTP status code Toxiproxy answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            ProxyError::BadRequestBody(_)
            | ProxyError::MissingField(_)
            | ProxyError::InvalidStream
            | ProxyError::InvalidToxicType
            | ProxyError::Config { .. } => 400,
            ProxyError::ProxyNotFound | ProxyError::ToxicNotFound | ProxyError::RouteNotFound => {
                404
            }
            ProxyError::MethodNotAllowed => 405,
            ProxyError::ProxyAlreadyExists | ProxyError::ToxicAlreadyExists => 409,
            ProxyError::Listen { .. } | ProxyError::Io(_) => 500,
        }
    }

    /// Builds the bind error with Go's wording for the common cases, so
    /// clients that match on Toxiproxy's text keep working.
    pub(crate) fn listen(addr: &str, err: &std::io::Error) -> Self {
        let reason = match err.kind() {
            std::io::ErrorKind::AddrInUse => "bind: address already in use".to_string(),
            std::io::ErrorKind::AddrNotAvailable => {
                "bind: cannot assign requested address".to_string()
            }
            std::io::ErrorKind::PermissionDenied => "bind: permission denied".to_string(),
            _ => err.to_string(),
        };
        ProxyError::Listen {
            addr: addr.to_string(),
            reason,
        }
    }

    /// The JSON error body: `{"error":"...","status":N}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.to_string(), "status": self.status() })
    }
}
