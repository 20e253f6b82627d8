//! YAML text → a tree of nodes that remember where they were written.
//!
//! yaml-rust2's own `Yaml` value drops positions, so the tree is built here from
//! the parser's marked events.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{join_index, join_key, Pos};

/// Upper bound on nodes after alias expansion. Aliases are expanded by cloning,
/// so a "billion laughs" document would otherwise exhaust memory.
const MAX_NODES: usize = 1_000_000;

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
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

impl Builder {
    fn count(&mut self, n: usize, pos: Pos) -> Result<(), ParseError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(ParseError {
                pos,
                message: format!(
                    "document too large: more than {MAX_NODES} nodes after expanding aliases"
                ),
            });
        }
        Ok(())
    }

    /// Attach a finished node to the collection being built (or make it the root).
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
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
                let Some(target) = b.anchors.get(&id) else {
                    return Err(ParseError {
                        pos,
                        message: "alias to an unknown anchor".to_string(),
                    });
                };
                // Inner nodes keep the anchor's positions (that is where their text
                // is); the alias itself is reported where it is used.
                let mut node = target.clone();
                node.pos = pos;
                b.count(size(&node), pos)?;
                b.push(node, 0);
            }
            Event::Scalar(value, style, anchor, tag) => {
                b.count(1, pos)?;
                let plain = style == TScalarStyle::Plain && !is_str_tag(tag.as_ref());
                let kind = if plain && is_null(&value) {
                    Kind::Null
                } else {
                    Kind::Scalar { value, plain }
                };
                b.push(Node { pos, kind }, anchor);
            }
            Event::SequenceStart(anchor, _) => b.open.push(Open::Seq {
                pos,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => b.open.push(Open::Map {
                pos,
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                b.count(1, pos)?;
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

fn size(node: &Node) -> usize {
    match &node.kind {
        Kind::Null | Kind::Scalar { .. } => 1,
        Kind::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Kind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| size(k) + size(v))
                .sum::<usize>()
        }
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
