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

/// Control characters (ESC, BEL, newlines…) and invisible line or direction marks
/// written as Rust escapes, so a value echoed in a message cannot forge lines or
/// drive the terminal.
pub fn escape_control(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A warning for a server with no authentication listening where other hosts can
/// reach it (`what` it lets them do), or None on a loopback address.
pub fn exposure_warning(addr: std::net::SocketAddr, what: &str) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "{addr} is not a loopback address and the API has no authentication: {what} for anyone who can reach this port"
        )
    })
}

/// The longest stem kept in a file name made from a user's name: well under the 255
/// bytes a file name may have, with room for a prefix and an extension.
pub const FILE_STEM_MAX: usize = 64;

/// `stem` (already made of safe ASCII) cut to [`FILE_STEM_MAX`] bytes. A cut stem ends
/// in a hash of the whole, so two long names that share a beginning stay two files,
/// and the same name gives the same file on every run and re-render.
pub fn bounded_file_stem(stem: &str) -> String {
    if stem.len() <= FILE_STEM_MAX {
        return stem.to_string();
    }
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let hash = stem.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let keep: String = stem.chars().take(FILE_STEM_MAX - 9).collect();
    format!("{keep}-{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_go_without_a_warning() {
        for quiet in ["127.0.0.1:8474", "127.3.2.1:1", "[::1]:8474"] {
            assert_eq!(
                exposure_warning(quiet.parse().unwrap(), "x"),
                None,
                "{quiet}"
            );
        }
        for loud in ["0.0.0.0:8474", "[::]:8474", "192.168.1.5:80"] {
            let w = exposure_warning(loud.parse().unwrap(), "x").unwrap_or_default();
            assert!(w.contains("no authentication") && w.contains(loud), "{w}");
        }
    }

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_kept() {
        assert_eq!(escape_control("zone-a ü"), "zone-a ü");
        assert_eq!(
            escape_control("x\n\u{1b}[2Kzone-loss.yaml: ok\u{7}"),
            "x\\n\\u{1b}[2Kzone-loss.yaml: ok\\u{7}"
        );
        assert_eq!(escape_control("a\u{202E}b"), "a\\u{202e}b");
    }
}
