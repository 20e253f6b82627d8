//! Validation support shared by every backend's compile step: an error collector that
//! positions each message with the source map, and the checks several sections make
//! (exactly one key, a name that must exist, a loopback address, an http(s) URL).

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

    /// How many errors so far (a compile step compares before and after its checks).
    pub fn count(&self) -> usize {
        self.list.len()
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
    let parsed = parse_addr(text);
    if parsed.is_none() {
        e.at(
            path,
            format!(
                "`{}` is not an address like 127.0.0.1:18080 or localhost:18080",
                text.trim()
            ),
        );
    }
    parsed
}

/// A URL to sample over HTTP (an `http` probe, a Prometheus server): http:// or
/// https:// with a host.
pub fn check_http_url(url: &str, path: &str, e: &mut Errors) -> bool {
    match url.parse::<hyper::Uri>() {
        Ok(uri) if !matches!(uri.scheme_str(), Some("http" | "https")) => {
            e.at(
                path,
                format!("`{url}`: the scheme must be http:// or https://"),
            );
            false
        }
        Ok(uri) if uri.host().is_none() => {
            e.at(path, format!("`{url}` has no host"));
            false
        }
        Ok(_) => true,
        Err(err) => {
            e.at(path, format!("`{url}` is not a URL ({err})"));
            false
        }
    }
}

/// An address to listen on or connect to: `IP:PORT`, `localhost:PORT` or `:PORT`
/// (both read as 127.0.0.1). Shared by the spec and the command line so both accept
/// the same words.
pub fn parse_addr(text: &str) -> Option<SocketAddr> {
    let t = text.trim();
    let port_only = t.strip_prefix(':');
    let localhost = t
        .get(..10)
        .filter(|h| h.eq_ignore_ascii_case("localhost:"))
        .map(|_| &t[10..]);
    match port_only.or(localhost) {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
        None => t.parse().ok(),
    }
}

/// A server the spec starts with no authentication (the demo's admin API, a proxy)
/// listens beyond loopback only when the spec says `expose: true`; a typo or a copied
/// `0.0.0.0` must not hand the network an API that takes zones down.
pub fn check_exposure(addr: Option<SocketAddr>, expose: bool, path: &str, e: &mut Errors) {
    let Some(addr) = addr else { return };
    if !expose && !addr.ip().is_loopback() {
        e.at(
            format!("{path}.listen"),
            format!(
                "{addr} can be reached from other hosts and its API has no authentication; \
                 listen on 127.0.0.1, or add `expose: true` to `{path}` if that is meant"
            ),
        );
    }
}

/// The longest name (experiment, probe, fault, proxy) a spec may give: names become
/// parts of file names and run ids, which must fit in a path component (255 bytes).
pub const MAX_NAME_CHARS: usize = 100;

/// A name must say something (not empty, blank or only tabs) and fit in a file name.
pub fn check_name(name: &str, path: &str, e: &mut Errors) {
    if name.trim().is_empty() {
        e.at(path, "must not be empty or blank");
    } else {
        check_name_length(name, path, e);
    }
}

/// Only the length of a name whose blankness another step checks.
pub fn check_name_length(name: &str, path: &str, e: &mut Errors) {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        e.at(
            path,
            format!("is {chars} characters long; at most {MAX_NAME_CHARS} fit in file names"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_and_bare_ports_read_as_loopback() {
        let lo = |p| Some(SocketAddr::from(([127, 0, 0, 1], p)));
        assert_eq!(parse_addr("localhost:8080"), lo(8080));
        assert_eq!(parse_addr(" LOCALHOST:1 "), lo(1));
        assert_eq!(parse_addr(":18080"), lo(18080));
        assert_eq!(parse_addr("0.0.0.0:9"), "0.0.0.0:9".parse().ok());
        assert_eq!(parse_addr("[::1]:9"), "[::1]:9".parse().ok());
        for bad in [
            "localhost",
            "localhost:",
            "localhost:99999",
            "foo.localhost:80",
            "x:1",
            "",
        ] {
            assert_eq!(parse_addr(bad), None, "{bad}");
        }
    }
}
