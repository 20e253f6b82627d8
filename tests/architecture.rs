//! The module graph of the library stays a one-way street: no import circle between
//! top-level modules of `src/`. A circle means two layers know each other, so neither
//! can change alone; this test names the circle so the new edge can be moved.
//!
//! An edge Y → X is any `crate::X` path (in a `use` line or inline) or `crate::{X, ..}`
//! group in a file of module Y. Unit-test files (`tests.rs`, `test_support.rs`) and
//! `#[cfg(test)]` modules at the end of a file are left out: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `src/` top-level module name of each library source file.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("read src/") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name")
            .to_string();
        if path.is_dir() {
            out.entry(name).or_default().extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") && name != "main" && name != "lib" {
            out.entry(name).or_default().push(path);
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") && !is_test_file(&path) {
            files.push(path);
        }
    }
    files
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs" || name == "test_support.rs"
}

/// The source without its trailing `#[cfg(test)]` module, and without `//` comments
/// (doc links such as [`crate::chart`] are not dependencies).
fn library_code(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    code.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every top-level module named after `crate::` in `code`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        // `shakeout_crate::` or `$crate::` are not this crate's paths.
        if code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| is_ident(c) || c == '$')
        {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            refs.extend(group_heads(group));
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            refs.insert(name);
        }
    }
    refs.retain(|r| !r.is_empty() && r != "self");
    refs
}

/// The first segment of each path in `a::b, c::{d, e}, f}` (up to the closing brace).
fn group_heads(group: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut depth = 0;
    for c in group.chars() {
        match c {
            '}' if depth == 0 => break,
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => items.push(String::new()),
            _ => {}
        }
        if let Some(item) = items.last_mut() {
            item.push(c);
        }
    }
    items
        .iter()
        .map(|item| {
            item.trim_start_matches([',', ' ', '\n', '\t'])
                .chars()
                .take_while(|&c| is_ident(c))
                .collect()
        })
        .collect()
}

fn graph(src: &Path) -> Graph {
    let mods = modules(src);
    let mut g = Graph::new();
    for (name, files) in &mods {
        let deps = g.entry(name.clone()).or_default();
        for file in files {
            let text = std::fs::read_to_string(file).expect("read source file");
            for r in crate_refs(&library_code(&text)) {
                if &r != name && mods.contains_key(&r) {
                    deps.insert(r);
                }
            }
        }
    }
    g
}

/// One cycle through the graph, as the list of modules on it, if there is any.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        n: &str,
        g: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(n) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[from..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(n.to_string(), Mark::Open);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(n.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in g.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(n, g, &mut marks, &mut stack) {
            return Some(c);
        }
    }
    None
}

fn describe(g: &Graph) -> String {
    g.iter()
        .map(|(m, deps)| {
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            format!("  {m} -> {}", deps.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn top_level_modules_have_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "import cycle between top-level modules: {}\nall edges:\n{}",
            cycle.join(" -> "),
            describe(&g)
        );
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle_and_reads_grouped_imports() {
    let refs = crate_refs(
        "use crate::{a::B, b, c::{d, e}};\nlet x = crate::f::g();\nuse $crate::h;\nuse self_crate::i;",
    );
    let want: BTreeSet<String> = ["a", "b", "c", "f"].iter().map(|s| s.to_string()).collect();
    assert_eq!(refs, want);

    let mut g = Graph::new();
    g.entry("record".into()).or_default().insert("plan".into());
    g.entry("plan".into())
        .or_default()
        .insert("analysis".into());
    g.entry("analysis".into())
        .or_default()
        .insert("record".into());
    g.entry("report".into())
        .or_default()
        .insert("analysis".into());
    let cycle = find_cycle(&g).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4, "{cycle:?}");

    g.entry("analysis".into()).or_default().clear();
    assert_eq!(find_cycle(&g), None);
}

#[test]
fn the_library_module_graph_is_read() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    // The engine drives faults: if this edge is not seen, the parser is broken, not the code.
    assert!(
        g.get("engine").is_some_and(|d| d.contains("fault")),
        "{}",
        describe(&g)
    );
}
