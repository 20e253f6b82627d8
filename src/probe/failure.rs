//! Classified probe failures. Every failed sample carries a class (what kind of
//! failure: the report counts them per probe) and a short detail stable enough to
//! group by ("connection refused", "certificate signed by an unknown CA").

use std::fmt;

/// What kind of failure a sample hit. `as_str` is the name used in events and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureClass {
    /// Nothing listens: the connection was refused (or reset before any answer).
    Refused,
    /// The sample did not finish within the probe's timeout.
    Timeout,
    /// The TLS handshake failed (unknown CA, name mismatch, expired certificate, ...).
    Tls,
    /// Other connection-level errors (address not available, connection reset mid-way, ...).
    Connect,
    /// An answer came, with a status that is not expected.
    Status,
    /// The status was fine but the body was cut short or did not match `expect_body`.
    Body,
    /// A query returned an error, no series, or a value that is not a number.
    Query,
    /// A query returned a value that does not satisfy `expect`.
    Expect,
    /// A command exited with a non-zero status or was killed by a signal.
    Exit,
}

impl FailureClass {
    /// Whether the target answered at all: every class but the ones where nothing
    /// came back (refused, timed out, unreachable).
    pub fn is_an_answer(self) -> bool {
        !matches!(
            self,
            FailureClass::Refused | FailureClass::Timeout | FailureClass::Connect
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Refused => "refused",
            FailureClass::Timeout => "timeout",
            FailureClass::Tls => "tls",
            FailureClass::Connect => "connect",
            FailureClass::Status => "status",
            FailureClass::Body => "body",
            FailureClass::Query => "query",
            FailureClass::Expect => "expect",
            FailureClass::Exit => "exit",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed sample: its class and a short human reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: FailureClass,
    pub detail: String,
}

impl Failure {
    pub fn new(class: FailureClass, detail: impl Into<String>) -> Failure {
        Failure {
            class,
            detail: detail.into(),
        }
    }

    /// A failure from an I/O error, classed by its kind (refused, timeout, connect).
    pub fn from_io(e: &std::io::Error) -> Failure {
        use std::io::ErrorKind;
        let class = match e.kind() {
            ErrorKind::ConnectionRefused => FailureClass::Refused,
            ErrorKind::TimedOut => FailureClass::Timeout,
            _ => FailureClass::Connect,
        };
        Failure::new(class, super::io_reason(e))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.detail)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classed_by_kind() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(Failure::from_io(&refused).class, FailureClass::Refused);
        assert_eq!(Failure::from_io(&refused).detail, "connection refused");
        let timed_out = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert_eq!(Failure::from_io(&timed_out).class, FailureClass::Timeout);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(Failure::from_io(&reset).class, FailureClass::Connect);
    }
}
