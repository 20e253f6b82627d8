//! YAML text → a tree of nodes that remember where they were written.
//!
//! yaml-rust2's own `Yaml` value drops positions, so the tree is built here from
//! the parser's marked events.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{join_index, join_key, Pos};

/// Upper bound on the size of the tree after alias expansion, in bytes of text plus
/// [`NODE_COST`] per node. Aliases are expanded by cloning, so a "billion laughs"
/// document (or a long string aliased many times over) would otherwise exhaust memory.
/// Counting bytes, not nodes: ten 10 KB strings are as heavy as 100,000 small nodes.
const MAX_EXPANDED_BYTES: usize = 64 << 20;
/// What a node weighs in memory besides its text (its struct, its path in the source map).
const NODE_COST: usize = 64;
/// Deepest nesting of sequences and mappings. Specs nest a handful of levels; the
/// tree's walks and drops recurse, so an unbounded depth is a stack overflow.
pub(super) const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// `null`, `~`, `Null`, `NULL` or nothing at all, written plain.
    Null,
    /// `plain` is false for quoted, block (`|`, `>`) and `!!str` scalars: those are
    /// always strings, never numbers or booleans.
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in document order; duplicates are removed by [`index`].
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a scalar key, or None for null and collection keys.
    pub fn key_text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ParseError {
    pub pos: Pos,
    pub message: String,
}

fn pos_of(mark: Marker) -> Pos {
    // yaml-rust2 lines are 1-based but columns are 0-based.
    Pos {
        line: mark.line(),
        col: mark.col() + 1,
    }
}

fn is_null(value: &str) -> bool {
    matches!(value, "" | "~" | "null" | "Null" | "NULL")
}

/// A collection whose end event has not been seen yet.
enum Open {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

#[derive(Default)]
struct Builder {
    open: Vec<Open>,
    root: Option<Node>,
    /// Each anchored node with its weight (see [`weight`]).
    anchors: HashMap<usize, (Node, usize)>,
    bytes: usize,
}

impl Builder {
    fn count(&mut self, bytes: usize, pos: Pos) -> Result<(), ParseError> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > MAX_EXPANDED_BYTES {
            return Err(ParseError {
                pos,
                message: format!(
                    "document too large: more than {} MiB after expanding aliases",
                    MAX_EXPANDED_BYTES >> 20
                ),
            });
        }
        Ok(())
    }

    fn open(&mut self, open: Open, pos: Pos) -> Result<(), ParseError> {
        if self.open.len() >= MAX_DEPTH {
            return Err(ParseError {
                pos,
                message: format!(
                    "nested too deeply: more than {MAX_DEPTH} levels of lists and mappings"
                ),
            });
        }
        self.open.push(open);
        Ok(())
    }

    /// Attach a finished node to the collection being built (or make it the root).
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            let w = weight(&node);
            self.anchors.insert(anchor, (node.clone(), w));
        }
        match self.open.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

fn is_str_tag(tag: Option<&Tag>) -> bool {
    tag.is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str")
}

/// Parse a single YAML document. An empty input is a document holding null.
pub(super) fn parse(src: &str) -> Result<Node, ParseError> {
    let mut parser = Parser::new_from_str(src);
    let mut b = Builder::default();
    let mut documents = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| ParseError {
            pos: pos_of(*e.marker()),
            message: e.info().to_string(),
        })?;
        let pos = pos_of(mark);
        match event {
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(ParseError {
                        pos,
                        message: "a second YAML document (`---`); a spec file holds exactly one"
                            .to_string(),
                    });
                }
            }
            Event::Alias(id) => {
                let Some((target, w)) = b.anchors.get(&id) else {
                    return Err(ParseError {
                        pos,
                        message: "alias to an unknown anchor".to_string(),
                    });
                };
                let (mut node, w) = (target.clone(), *w);
                // Counted before the clone is kept: the limit is on memory.
                b.count(w, pos)?;
                // Inner nodes keep the anchor's positions (that is where their text
                // is); the alias itself is reported where it is used.
                node.pos = pos;
                b.push(node, 0);
            }
            Event::Scalar(value, style, anchor, tag) => {
                b.count(NODE_COST.saturating_add(value.len()), pos)?;
                let plain = style == TScalarStyle::Plain && !is_str_tag(tag.as_ref());
                let kind = if plain && is_null(&value) {
                    Kind::Null
                } else {
                    Kind::Scalar { value, plain }
                };
                b.push(Node { pos, kind }, anchor);
            }
            Event::SequenceStart(anchor, _) => b.open(
                Open::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                },
                pos,
            )?,
            Event::MappingStart(anchor, _) => b.open(
                Open::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                },
                pos,
            )?,
            Event::SequenceEnd | Event::MappingEnd => {
                b.count(NODE_COST, pos)?;
                let (node, anchor) = match b.open.pop() {
                    Some(Open::Seq { pos, anchor, items }) => (
                        Node {
                            pos,
                            kind: Kind::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Open::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => {
                        // A block mapping's start mark is where the parser noticed
                        // it (the first `:`), not where it begins: use the first key.
                        let pos = entries.first().map_or(pos, |(k, _)| pos.min(k.pos));
                        (
                            Node {
                                pos,
                                kind: Kind::Map(entries),
                            },
                            anchor,
                        )
                    }
                    // The parser guarantees balanced events; treat a violation as
                    // a syntax error rather than panicking on user input.
                    None => {
                        return Err(ParseError {
                            pos,
                            message: "unbalanced collection end".to_string(),
                        })
                    }
                };
                b.push(node, anchor);
            }
        }
    }
    Ok(b.root.unwrap_or(Node {
        pos: Pos { line: 1, col: 1 },
        kind: Kind::Null,
    }))
}

/// Memory a node holds, as [`Builder::count`] counts it. Recursion is bounded by
/// [`MAX_DEPTH`]; `saturating` because an alias-heavy tree can weigh more than memory.
fn weight(node: &Node) -> usize {
    match &node.kind {
        Kind::Null => NODE_COST,
        Kind::Scalar { value, .. } => NODE_COST.saturating_add(value.len()),
        Kind::Seq(items) => items
            .iter()
            .fold(NODE_COST, |w, n| w.saturating_add(weight(n))),
        Kind::Map(entries) => entries.iter().fold(NODE_COST, |w, (k, v)| {
            w.saturating_add(weight(k)).saturating_add(weight(v))
        }),
    }
}

/// One entry of the source map: where a key was written and where its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Located {
    pub key: Option<Pos>,
    pub value: Pos,
}

/// A duplicate key found (and removed) by [`index`].
pub(super) struct Duplicate {
    pub pos: Pos,
    pub path: String,
    pub message: String,
}

/// Walk the tree: record every path's positions, and drop repeated keys of a
/// mapping (keeping the first) so that deserialization sees each key once.
pub(super) fn index(
    node: &mut Node,
    path: &str,
    key: Option<Pos>,
    map: &mut HashMap<String, Located>,
    dups: &mut Vec<Duplicate>,
) {
    map.entry(path.to_string()).or_insert(Located {
        key,
        value: node.pos,
    });
    match &mut node.kind {
        Kind::Null | Kind::Scalar { .. } => {}
        Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let pos = item.pos;
                index(item, &join_index(path, i), Some(pos), map, dups);
            }
        }
        Kind::Map(entries) => {
            let mut first: HashMap<String, Pos> = HashMap::new();
            let mut kept = Vec::with_capacity(entries.len());
            for (k, v) in std::mem::take(entries) {
                if let Some(text) = k.key_text() {
                    if let Some(prev) = first.get(text) {
                        dups.push(Duplicate {
                            pos: k.pos,
                            path: join_key(path, text),
                            message: format!(
                                "duplicate key `{text}` (first written at line {}, column {})",
                                prev.line, prev.col
                            ),
                        });
                        continue;
                    }
                    first.insert(text.to_string(), k.pos);
                }
                kept.push((k, v));
            }
            for (k, v) in kept.iter_mut() {
                if let Some(text) = k.key_text() {
                    index(v, &join_key(path, text), Some(k.pos), map, dups);
                }
            }
            *entries = kept;
        }
    }
}
