//! Validation support shared by every backend's compile step: an error collector that
//! positions each message with the source map, and the checks several sections make
//! (exactly one key, a name that must exist, a loopback address).

use super::yaml::{did_you_mean, SourceMap, SpecError};
use std::net::SocketAddr;

/// Collects errors with positions looked up in the source map; compile steps add to it
/// and go on, so one pass reports every problem.
pub struct Errors<'a> {
    file: &'a str,
    map: &'a SourceMap,
    list: Vec<SpecError>,
}

impl<'a> Errors<'a> {
    pub fn new(file: &'a str, map: &'a SourceMap) -> Errors<'a> {
        Errors {
            file,
            map,
            list: Vec::new(),
        }
    }

    /// Record `message` about the field at `path` (`faults[1].at`).
    pub fn at(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        self.list.push(SpecError {
            file: self.file.to_string(),
            pos: self.map.pos(&path),
            path,
            message: message.into(),
        });
    }

    /// The errors sorted by position, or `Ok(value)` when there are none.
    pub fn finish<T>(mut self, value: impl FnOnce() -> T) -> Result<T, Vec<SpecError>> {
        if self.list.is_empty() {
            return Ok(value());
        }
        self.list.sort_by_key(|x| x.pos.map(|p| (p.line, p.col)));
        Err(self.list)
    }
}

/// "no zone named `d`; zones are: a, b", with a suggestion when one is close.
pub fn unknown_name(what: &str, name: &str, valid: &[&str]) -> String {
    match did_you_mean(name, valid) {
        Some(s) => format!("no {what} named `{name}`, did you mean `{s}`?"),
        None if valid.is_empty() => format!("no {what} named `{name}`: none is defined"),
        None => format!(
            "no {what} named `{name}`; {what}s are: {}",
            valid.join(", ")
        ),
    }
}

/// Backends are one key each; exactly one of `keys` (name, present) must be given.
pub fn exactly_one(e: &mut Errors, path: &str, what: &str, keys: &[(&str, bool)]) -> bool {
    let given: Vec<&str> = keys
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
    if given.len() == 1 {
        return true;
    }
    let all = keys
        .iter()
        .map(|(k, _)| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let found = if given.is_empty() {
        "none".to_string()
    } else {
        given.join(" and ")
    };
    e.at(
        path,
        format!("give exactly one {what} ({all}), found {found}"),
    );
    false
}

/// Load-generating and fault-injecting sockets are bound to loopback unless the user
/// names another address explicitly; parse `host:port` where host is an IP.
pub fn loopback_addr(text: &str, path: &str, e: &mut Errors) -> Option<SocketAddr> {
    let t = text.trim();
    let with_host = if t.starts_with(':') {
        format!("127.0.0.1{t}")
    } else {
        t.replace("localhost:", "127.0.0.1:")
    };
    match with_host.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            e.at(
                path,
                format!("`{t}` is not an address like 127.0.0.1:18080"),
            );
            None
        }
    }
}
