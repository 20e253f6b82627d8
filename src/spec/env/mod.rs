//! `${VAR}` in spec strings, and redaction of what must not reach any output.
//!
//! - [`expand`] / [`expand_env`]: `${VAR}` is the variable's value, `${VAR:-text}`
//!   falls back to `text` when VAR is unset or empty, `$$` is a literal `$`. Any
//!   other `$` is kept as written (`^ok$` needs no escaping). A missing variable is
//!   an error naming it and its byte offset in the string.
//! - [`Redactor`]: replaces every value that came from the environment, and the
//!   values of credential headers (Authorization, Cookie, ...), with `***`.

use std::fmt;

/// What replaces a redacted value.
pub const REDACTED: &str = "***";

/// Headers whose values are credentials, redacted wherever they appear.
pub const SENSITIVE_HEADERS: [&str; 5] = [
    "Authorization",
    "Proxy-Authorization",
    "Cookie",
    "Set-Cookie",
    "X-Api-Key",
];

/// Environment values shorter than this are substituted but not redacted: blanking
/// every `80` or `1` in a report would garble it and such values protect nothing.
pub const MIN_SECRET_LEN: usize = 4;

/// A string after expansion, and the environment values it took in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// Non-empty values that came from the environment (not defaults), for the
    /// [`Redactor`].
    pub secrets: Vec<String>,
}

/// Why a string could not be expanded. `offset` is the byte offset of the `$` in
/// the string, for the caller to turn into a line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable `{name}` is not set (use `${{{name}:-default}}` for a default)")]
    Missing { name: String, offset: usize },
    #[error("`${{` is not closed with `}}`")]
    Unclosed { offset: usize },
    #[error("`{name}` is not a variable name (letters, digits and _, not starting with a digit)")]
    BadName { name: String, offset: usize },
}

impl EnvError {
    /// Byte offset of the offending `$` in the expanded string.
    pub fn offset(&self) -> usize {
        match self {
            EnvError::Missing { offset, .. }
            | EnvError::Unclosed { offset }
            | EnvError::BadName { offset, .. } => *offset,
        }
    }
}

/// Expands `text` with the process environment. A value that is not valid UTF-8
/// counts as unset.
pub fn expand_env(text: &str) -> Result<Expanded, EnvError> {
    expand(text, |name| std::env::var(name).ok())
}

/// Expands `text` with `lookup` as the environment.
pub fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Expanded, EnvError> {
    let mut out = Expanded {
        text: String::with_capacity(text.len()),
        secrets: Vec::new(),
    };
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.text.push_str(&rest[..dollar]);
        let offset = text.len() - rest.len() + dollar;
        let after = &rest[dollar + 1..];
        rest = if let Some(tail) = after.strip_prefix('$') {
            out.text.push('$');
            tail
        } else if let Some(inner) = after.strip_prefix('{') {
            let close = inner.find('}').ok_or(EnvError::Unclosed { offset })?;
            substitute(&inner[..close], offset, &lookup, &mut out)?;
            &inner[close + 1..]
        } else {
            out.text.push('$');
            after
        };
    }
    out.text.push_str(rest);
    Ok(out)
}

/// One `${...}`: `NAME` or `NAME:-default`.
fn substitute(
    inner: &str,
    offset: usize,
    lookup: &impl Fn(&str) -> Option<String>,
    out: &mut Expanded,
) -> Result<(), EnvError> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    if !is_name(name) {
        let name = name.to_string();
        return Err(EnvError::BadName { name, offset });
    }
    match (lookup(name), default) {
        (Some(value), Some(default)) if value.is_empty() => out.text.push_str(default),
        (Some(value), _) => {
            out.text.push_str(&value);
            if !value.is_empty() && !out.secrets.contains(&value) {
                out.secrets.push(value);
            }
        }
        (None, Some(default)) => out.text.push_str(default),
        (None, None) => {
            let name = name.to_string();
            return Err(EnvError::Missing { name, offset });
        }
    }
    Ok(())
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Redacts secrets and credential header values from any text bound for an output.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut redactor = Redactor::default();
        for secret in secrets {
            redactor.add(secret);
        }
        redactor
    }

    /// Adds a value to redact (ignored when shorter than [`MIN_SECRET_LEN`]).
    pub fn add(&mut self, secret: String) {
        if secret.chars().count() >= MIN_SECRET_LEN && !self.secrets.contains(&secret) {
            self.secrets.push(secret);
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every secret, and the value of every credential header written
    /// as `Name: value`, `"Name": "value"` or `Name=value`, replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), REDACTED);
            }
        }
        redact_header_values(&text)
    }

    /// A header value for display: `***` for a credential header, else [`Self::redact`].
    pub fn header_value(&self, name: &str, value: &str) -> String {
        if is_sensitive_header(name) {
            REDACTED.to_string()
        } else {
            self.redact(value)
        }
    }
}

/// Whether `name` is a credential header (case-insensitive).
pub fn is_sensitive_header(name: &str) -> bool {
    SENSITIVE_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

/// Replaces the value after each credential header name in free text.
fn redact_header_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = next_header_value(rest) {
        out.push_str(&rest[..start]);
        let value = &rest[start..];
        let (open, close, end) = value_span(value);
        out.push_str(open);
        out.push_str(REDACTED);
        out.push_str(close);
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// Where the first credential header value in `text` starts (after `Name:`,
/// `"Name": ` or `Name=`).
fn next_header_value(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    SENSITIVE_HEADERS
        .iter()
        .filter_map(|header| first_value_of(text, &lower, &header.to_ascii_lowercase()))
        .min()
}

fn first_value_of(text: &str, lower: &str, needle: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = lower[from..].find(needle) {
        let at = from + found;
        from = at + needle.len();
        if at_boundary(text, at, from) {
            if let Some(start) = value_start(text, from) {
                return Some(start);
            }
        }
    }
    None
}

/// A header name stands alone: not part of a longer word like `X-Authorization-Mode`.
fn at_boundary(text: &str, start: usize, end: usize) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(word) && !after.is_some_and(word)
}

/// Where the value begins after a header name ending at `end`: past an optional
/// closing quote, spaces, `:` or `=`, and spaces. None when no separator follows.
fn value_start(text: &str, end: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = end;
    if matches!(bytes.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    if !matches!(bytes.get(i), Some(b':' | b'=')) {
        return None;
    }
    i += 1;
    while matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    Some(i)
}

/// A value's opening quote, closing quote (each "" when absent) and its length with
/// them: a quoted value ends at its closing quote (backslash escapes skipped), a
/// bare one at the end of the line.
fn value_span(value: &str) -> (&str, &str, usize) {
    let Some(quote @ ('"' | '\'')) = value.chars().next() else {
        return ("", "", value.find(['\n', '\r']).unwrap_or(value.len()));
    };
    let mut escaped = false;
    for (i, c) in value.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == quote => return (&value[..1], &value[i..i + 1], i + 1),
            _ => {}
        }
    }
    (&value[..1], "", value.len())
}

impl fmt::Display for Expanded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;

/// The process's redactor: every output path (events, reports, plan text, errors,
/// logs) passes its text through [`redact_output`]. Filled once the spec is loaded.
static OUTPUT_REDACTOR: std::sync::RwLock<Redactor> = std::sync::RwLock::new(Redactor {
    secrets: Vec::new(),
});

/// Adds values to redact from every output of this process. A value is also
/// registered in its JSON-escaped form, as it appears in `report.json` and events.
pub fn redact_in_outputs(secrets: impl IntoIterator<Item = String>) {
    let mut redactor = OUTPUT_REDACTOR
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for secret in secrets {
        let escaped = serde_json::to_string(&secret)
            .map(|quoted| quoted[1..quoted.len() - 1].to_string())
            .unwrap_or_default();
        if escaped != secret {
            redactor.add(escaped);
        }
        redactor.add(secret);
    }
}

/// `text` with every registered secret redacted; borrowed when there is none (the
/// event writer calls this per sample).
pub fn redact_output(text: &str) -> std::borrow::Cow<'_, str> {
    let redactor = OUTPUT_REDACTOR
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if redactor.secrets.is_empty() || !redactor.secrets.iter().any(|s| text.contains(s.as_str())) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(redactor.redact(text))
    }
}
