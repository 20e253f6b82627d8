//! How numbers, durations and markup text are written for people — the one home of
//! every formatting rule the reports, charts, verdict and plan share.
//! Depends on nothing else in the crate.

use std::time::Duration;

/// Compact human form of a configured duration: `1m30s`, `250ms`, `1.5ms`.
pub fn format_duration(d: Duration) -> String {
    let total_ms = d.as_secs_f64() * 1000.0;
    if d.is_zero() {
        return "0s".into();
    }
    if total_ms < 1.0 {
        return format!("{}us", d.as_micros());
    }
    if total_ms < 1000.0 {
        let ms = total_ms;
        return if (ms - ms.round()).abs() < 1e-9 {
            format!("{}ms", ms.round() as u64)
        } else {
            format!("{ms:.1}ms")
        };
    }
    let whole = humantime::format_duration(Duration::from_secs(d.as_secs()))
        .to_string()
        .replace(' ', "");
    let micros = d.subsec_micros();
    if micros == 0 {
        return whole;
    }
    // Fractions of a second are kept (`5m2.4s`, not `5m2s`): a budget of 99.95% of 7d
    // is 5m2.4s exactly, and dropping the .4 would misstate it.
    let fraction = format!("{micros:06}");
    let fraction = fraction.trim_end_matches('0');
    // Replace the whole-seconds part (`2s` of `5m2s`; absent in `5m`) with `2.4s`.
    let larger_units = match whole.strip_suffix('s') {
        Some(rest) if rest.ends_with(|c: char| c.is_ascii_digit()) => {
            rest.trim_end_matches(|c: char| c.is_ascii_digit())
        }
        _ => whole.as_str(),
    };
    let larger_units = if d.as_secs() == 0 { "" } else { larger_units };
    format!("{larger_units}{}.{fraction}s", d.as_secs() % 60)
}

/// A measured length of time: `212.3ms`, `12.300s`.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.3}s", ms / 1000.0)
    } else {
        format!("{ms:.1}ms")
    }
}

/// [`fmt_ms`] for report figures. Sums over nothing are `-0.0` in Rust (e.g. the
/// downtime of a probe without outages), which should read as plain zero.
pub fn fmt_dur(ms: f64) -> String {
    fmt_ms(ms + 0.0)
}

/// [`fmt_dur`], or a dash when nothing was measured.
pub fn fmt_opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), fmt_dur)
}

/// An offset from run start, with fixed millisecond precision so columns line up.
pub fn fmt_offset(ms: f64) -> String {
    if ms < 60_000.0 {
        format!("{:.3}s", ms / 1000.0)
    } else {
        let m = (ms / 60_000.0).floor();
        format!("{}m{:06.3}s", m as u64, (ms - m * 60_000.0) / 1000.0)
    }
}

/// A length of time for people: `250.0ms`, `12.300s`, `21m36s`, `30d`.
pub fn fmt_span(ms: f64) -> String {
    if !ms.is_finite() {
        return "∞".into();
    }
    if ms < 60_000.0 {
        return fmt_dur(ms);
    }
    // Whole milliseconds, so a fraction of a second is printed rather than rounded
    // away: 99.95% of 7d is `5m2.4s`, not `5m2s`.
    let total_ms = ms.round() as u64;
    let mut secs = total_ms / 1000;
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    let millis = total_ms % 1000;
    if millis != 0 {
        let fraction = format!("{millis:03}");
        out.push_str(&format!("{secs}.{}s", fraction.trim_end_matches('0')));
    } else if secs != 0 {
        out.push_str(&format!("{secs}s"));
    }
    out
}

/// A percentage with three decimals: `99.150%`.
pub fn fmt_pct(v: f64) -> String {
    format!("{v:.3}%")
}

/// `part` of `whole` as a percentage with three decimals, from the counts and rounded
/// down, so `199999` of `200000` reads `99.999%`, never `100.000%`: `1983` of `2000`
/// is `99.150%`.
pub fn fmt_share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".into();
    }
    let thousandths = u128::from(part) * 100_000 / u128::from(whole);
    format!("{}.{:03}%", thousandths / 1000, thousandths % 1000)
}

/// A number without a trailing `.0` and at most three decimals: `99.95`, `30`.
pub fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A configured number as written, without a trailing `.0`: `99.95`, `99`.
pub fn trim_float(v: f64) -> String {
    let s = format!("{v}");
    s.trim_end_matches(".0").to_string()
}

/// Escape text for XML, HTML and SVG (element content and quoted attributes alike).
///
/// Control characters other than tab/newline/CR are not allowed in XML 1.0 even as
/// character references, and error messages from targets can contain them, so they
/// become U+FFFD rather than making the whole document unparseable.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_offsets_and_numbers() {
        assert_eq!(fmt_span(1_296_000.0), "21m36s");
        assert_eq!(fmt_span(30.0 * 86_400_000.0), "30d");
        assert_eq!(fmt_span(250.0), "250.0ms");
        assert_eq!(fmt_span(302_400.0), "5m2.4s");
        assert_eq!(fmt_span(3_600_050.0), "1h0.05s");
        assert_eq!(fmt_span(3_600_000.0), "1h");
        assert_eq!(fmt_offset(950.0), "0.950s");
        assert_eq!(fmt_offset(62_300.0), "1m02.300s");
        assert_eq!(fmt_num(99.95), "99.95");
        assert_eq!(fmt_num(300.0), "300");
        assert_eq!(trim_float(99.0), "99");
        assert_eq!(trim_float(99.95), "99.95");
    }

    #[test]
    fn configured_durations_keep_their_fractions() {
        let ms = Duration::from_millis;
        assert_eq!(format_duration(ms(1500)), "1.5s");
        assert_eq!(format_duration(ms(302_400)), "5m2.4s");
        assert_eq!(format_duration(ms(300_400)), "5m0.4s");
        assert_eq!(format_duration(ms(1_296_000)), "21m36s");
        assert_eq!(
            format_duration(Duration::from_micros(60_000_001)),
            "1m0.000001s"
        );
        assert_eq!(format_duration(Duration::from_secs(3 * 86_400)), "3days");
        assert_eq!(
            format_duration(Duration::from_secs(3 * 86_400) + ms(500)),
            "3days0.5s"
        );
    }

    #[test]
    fn measured_times_switch_to_seconds_and_never_read_minus_zero() {
        assert_eq!(fmt_ms(212.34), "212.3ms");
        assert_eq!(fmt_ms(1500.0), "1.500s");
        assert_eq!(fmt_dur(-0.0), "0.0ms");
        assert_eq!(fmt_opt_ms(None), "–");
        assert_eq!(fmt_pct(99.15), "99.150%");
        assert_eq!(fmt_share(1983, 2000), "99.150%");
        assert_eq!(fmt_share(199_999, 200_000), "99.999%");
        assert_eq!(fmt_share(2, 3), "66.666%");
        assert_eq!(fmt_share(5, 5), "100.000%");
        assert_eq!(fmt_share(0, 0), "–");
    }
}
