//! Small helpers shared by modules that otherwise know nothing of each other.

/// Escapes everything but RFC 3986 unreserved characters, so any name (a zone, a
/// proxy, a toxic) stays exactly one URL path segment.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
