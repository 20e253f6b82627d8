//! YAML loading that keeps source positions.
//!
//! serde_yaml stops at the first error and knows no position for errors found
//! after parsing. Here the document is parsed into a tree of positioned nodes
//! (yaml-rust2 events), and a serde `Deserializer` over that tree collects
//! errors as it goes, each as `FILE:LINE:COL: field.path: message`:
//!
//! - an unknown key is reported at the key (with "did you mean"), skipped, and
//!   the rest of the mapping is still read;
//! - an element of a `Vec` field marked `deserialize_with = "each"` that fails
//!   does not stop the other elements from being checked;
//! - errors raised by serde-derive code or `deserialize_with` functions (which
//!   carry no position) get the position and path of the node they came from.
//!
//! Within one struct, the first bad *value* still ends that struct: serde's
//! derived visitors cannot continue without the value.
//!
//! [`SourceMap`] keeps every path's position, so later checks on the parsed
//! spec (pure validation in `plan`) can point into the file too.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, DeserializeOwned, SeqAccess, Visitor};

mod de;
mod tree;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One problem in a spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: String,
    pub pos: Option<Pos>,
    /// Field path such as `probes[0].http.timeout`; empty for the whole document.
    pub path: String,
    pub message: String,
}

/// Control characters in the file name, path and message are escaped: they echo what
/// the file holds, and must not forge lines (`zone-loss.yaml: ok`) or drive a terminal.
impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::util::escape_control;
        f.write_str(&escape_control(&self.file))?;
        if let Some(pos) = self.pos {
            write!(f, ":{pos}")?;
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", escape_control(&self.path))?;
        }
        f.write_str(&escape_control(&self.message))
    }
}

impl std::error::Error for SpecError {}

impl SpecError {
    /// The name a "did you mean `x`?" message suggests, for tools that offer the fix.
    pub fn suggestion(&self) -> Option<&str> {
        let (_, rest) = self.message.rsplit_once("did you mean `")?;
        rest.strip_suffix("`?")
    }
}

/// Where each field path of a document was written.
///
/// Paths use `.key` and `[i]`: `faults[1].at`, the root is `""`.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    file: String,
    entries: HashMap<String, tree::Located>,
    /// Values `${VAR}` took from the environment: redacted in every output.
    secrets: Vec<String>,
}

impl SourceMap {
    /// Position of the value at `path`, or of the nearest ancestor that was
    /// written (a defaulted field points at the mapping that omits it).
    pub fn pos(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(e) = self.entries.get(p) {
                return Some(e.value);
            }
            if p.is_empty() {
                return None;
            }
            p = parent(p);
        }
    }

    /// Position of the key of `path` (for a `[i]` path, the element itself).
    /// No fallback: None when `path` was not written.
    pub fn key_pos(&self, path: &str) -> Option<Pos> {
        self.entries.get(path).and_then(|e| e.key)
    }

    /// Values that `${VAR}` references took from the environment.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// The file name given to [`from_str`].
    pub fn file(&self) -> &str {
        &self.file
    }

    /// An error about `path`, positioned with [`SourceMap::pos`]: for checks
    /// made after parsing (`faults[1].at: 90s is after the run's duration`).
    pub fn error(&self, path: &str, message: impl Into<String>) -> SpecError {
        SpecError {
            file: self.file.clone(),
            pos: self.pos(path),
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Expands `${VAR}`, `${VAR:-default}` and `$$` in every scalar value (not keys),
/// before anything reads them, so one spec serves every environment. Returns each
/// problem with its position (the `$` within the scalar) and field path.
fn expand_env_in_tree(
    node: &mut tree::Node,
    path: &str,
    secrets: &mut Vec<String>,
) -> Vec<(Pos, String, String)> {
    let mut errors = Vec::new();
    match &mut node.kind {
        tree::Kind::Scalar { value, plain } => {
            if value.contains('$') {
                match crate::spec::env::expand_env(value) {
                    Ok(expanded) => {
                        *value = expanded.text;
                        for secret in expanded.secrets {
                            if !secrets.contains(&secret) {
                                secrets.push(secret);
                            }
                        }
                    }
                    Err(e) => {
                        let pos = offset_pos(node.pos, value, e.offset(), !*plain);
                        errors.push((pos, path.to_string(), e.to_string()));
                    }
                }
            }
        }
        tree::Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                errors.extend(expand_env_in_tree(item, &join_index(path, i), secrets));
            }
        }
        tree::Kind::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                let key = key.key_text().unwrap_or("?").to_string();
                errors.extend(expand_env_in_tree(value, &join_key(path, &key), secrets));
            }
        }
        tree::Kind::Null => {}
    }
    errors
}

/// Where byte `offset` of a scalar starting at `start` is in the file: exact for a
/// one-line scalar (past its opening quote when quoted), the scalar's line otherwise.
fn offset_pos(start: Pos, value: &str, offset: usize, quoted: bool) -> Pos {
    let before = value.get(..offset).unwrap_or(value);
    if before.contains('\n') {
        return start;
    }
    Pos {
        line: start.line,
        col: start.col + before.chars().count() + usize::from(quoted),
    }
}

/// `a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``.
fn parent(path: &str) -> &str {
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return &path[..i];
        }
    }
    match path.rfind('.') {
        Some(i) => &path[..i],
        None => "",
    }
}

fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn join_index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Largest spec file read, in bytes. A spec of 10,000 faults is about 1 MB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Read a spec file: a regular file of at most [`MAX_FILE_BYTES`] of UTF-8 text. A FIFO
/// or a device (`/dev/zero`) is refused without reading it, so `validate` can neither
/// hang nor fill memory.
pub fn read_spec_file(path: &std::path::Path) -> Result<String, SpecError> {
    let file = path.display().to_string();
    let fail = |message: String| SpecError {
        file: file.clone(),
        pos: None,
        path: String::new(),
        message,
    };
    let opened = open_regular(path).map_err(&fail)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(opened, MAX_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| fail(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "larger than {} MiB; a spec file is much smaller",
            MAX_FILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Open without blocking (opening a FIFO for reading waits for a writer otherwise) and
/// refuse anything but a regular file.
fn open_regular(path: &std::path::Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if meta.is_file() {
        Ok(file)
    } else if meta.is_dir() {
        Err("is a directory, not a spec file".to_string())
    } else {
        Err("not a regular file (a FIFO, socket or device); give a spec file".to_string())
    }
}

/// Parse `src` (named `file` in messages) and deserialize it into T, collecting every error.
///
/// Errors come back sorted by position. Any recorded error makes the result
/// `Err`, even when deserialization itself got through (unknown keys are
/// skipped, bad `each` elements left out).
pub fn from_str<T: DeserializeOwned>(
    file: &str,
    src: &str,
) -> Result<(T, SourceMap), Vec<SpecError>> {
    from_str_partial(file, src).map_err(|p| p.errors)
}

/// Errors of a document, and — when every error was an unknown key that was skipped —
/// the value read without them, so that later checks can add their errors too.
pub struct Partial<T> {
    pub errors: Vec<SpecError>,
    pub value: Option<(T, SourceMap)>,
}

/// Like [`from_str`], keeping the value when only unknown keys went wrong.
pub fn from_str_partial<T: DeserializeOwned>(
    file: &str,
    src: &str,
) -> Result<(T, SourceMap), Partial<T>> {
    let mut root = tree::parse(src).map_err(|e| Partial {
        errors: vec![SpecError {
            file: file.to_string(),
            pos: Some(e.pos),
            path: String::new(),
            message: format!("invalid YAML: {}", e.message),
        }],
        value: None,
    })?;

    let mut secrets = Vec::new();
    let env_errors = expand_env_in_tree(&mut root, "", &mut secrets);
    // Registered at once: an error about a later field may quote an expanded value.
    crate::spec::env::redact_in_outputs(secrets.iter().cloned());
    if !env_errors.is_empty() {
        return Err(Partial {
            errors: env_errors
                .into_iter()
                .map(|(pos, path, message)| SpecError {
                    file: file.to_string(),
                    pos: Some(pos),
                    path,
                    message,
                })
                .collect(),
            value: None,
        });
    }

    let sink = de::Sink::default();
    let mut entries = HashMap::new();
    let mut dups = Vec::new();
    tree::index(&mut root, "", None, &mut entries, &mut dups);
    for d in dups {
        sink.record(Some(d.pos), &d.path, d.message);
    }

    let (result, recovered) = {
        let _active = de::Active::enter();
        de::take_recovered();
        let r = T::deserialize(de::NodeDe::new(&root, String::new(), &sink));
        (r, de::take_recovered())
    };
    let mut recorded = sink.into_errors();
    let map = SourceMap {
        file: file.to_string(),
        entries,
        secrets,
    };
    let mut partial = None;
    match result {
        Ok(value) if recorded.is_empty() => return Ok((value, map)),
        // Everything recorded was an unknown key, skipped, or a bad value replaced by a
        // placeholder: the value is whole otherwise, and later checks on it can still
        // report their own errors.
        Ok(value)
            if recorded
                .iter()
                .filter(|r| !r.message.starts_with("unknown field"))
                .count()
                <= recovered =>
        {
            partial = Some(value);
        }
        Ok(_) | Err(de::Error::Recorded) => {}
        // The root frame positions every message, so this is a safety net.
        Err(de::Error::Message(message) | de::Error::UnknownField { message, .. }) => recorded
            .push(de::Recorded {
                pos: Some(root.pos),
                path: String::new(),
                message,
            }),
    }
    if recorded.is_empty() {
        recorded.push(de::Recorded {
            pos: Some(root.pos),
            path: String::new(),
            message: "internal error: deserialization failed without a message".to_string(),
        });
    }

    let mut errors: Vec<SpecError> = recorded
        .into_iter()
        .map(|r| SpecError {
            file: file.to_string(),
            pos: r.pos,
            path: r.path,
            message: r.message,
        })
        .collect();
    // Unpositioned errors last; stable, so same-position errors keep their order.
    errors.sort_by_key(|e| (e.pos.is_none(), e.pos));
    errors.dedup();
    Err(Partial {
        errors,
        value: partial.map(|v| (v, map)),
    })
}

/// For `#[serde(default, deserialize_with = "crate::spec::yaml::each")]` on `Vec<T>` fields:
/// deserializes each element independently so that an error in element 0 does not hide errors in element 1.
///
/// Under [`from_str`], a failed element has already been recorded with its
/// position, so it is left out and the next element is read. With any other
/// deserializer (serde_yaml, serde_json) this is exactly `Vec<T>`: the first
/// error is returned.
pub fn each<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Each<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Each<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // Capped like serde's own Vec impl: the hint comes from the input.
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            loop {
                match seq.next_element::<T>() {
                    Ok(Some(v)) => out.push(v),
                    Ok(None) => return Ok(out),
                    Err(e) if de::already_recorded(&e) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }

    d.deserialize_seq(Each(std::marker::PhantomData))
}

/// For the `Deserialize` impls of leaf values (durations): an error already recorded
/// with its position is replaced by `placeholder()`, so the document's value stays
/// whole and the checks made after parsing still report their own errors (a duration
/// written without a unit must not hide the rest of the file). With any other
/// deserializer the error is returned as usual.
pub fn recover<T, E: fmt::Display>(
    result: Result<T, E>,
    placeholder: impl FnOnce() -> T,
) -> Result<T, E> {
    match result {
        Err(e) if de::already_recorded(&e) => {
            de::note_recovered();
            Ok(placeholder())
        }
        other => other,
    }
}

/// For `#[serde(default, deserialize_with = "crate::spec::yaml::or_default")]` on a
/// whole section (`sla`, `target`): an error inside the section is recorded and the
/// section reads as its default, so the sections after it are still checked. With any
/// other deserializer the error is returned as usual.
pub fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    match T::deserialize(d) {
        Ok(v) => Ok(v),
        Err(e) if de::already_recorded(&e) => Ok(T::default()),
        Err(e) => Err(e),
    }
}

/// Nearest valid name by edit distance (None when nothing is close).
///
/// A case-insensitive exact match wins; otherwise the smallest
/// optimal-string-alignment distance (a swap of two letters counts as one
/// edit) within `max(1, len/3) + 1`, the first candidate winning ties. A suggestion
/// must keep at least one character of the word (`d` is not "almost `a`").
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_lowercase();
    if let Some(c) = candidates.iter().find(|c| c.to_lowercase() == lower) {
        return Some(c);
    }
    let len = word.chars().count();
    let limit = (len / 3).max(1) + 1;
    candidates
        .iter()
        .map(|c| (distance(&lower, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit && *d < len)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests;
