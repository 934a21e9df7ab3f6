//! The layout's rules, checked on the source (issue 11): each floor of `src/` imports
//! only the floors below it, no two files import each other (directly or around a
//! circle), no folder holds more than a fifth of the lines, globs are expanded only by
//! `inputs.rs`, and the capture and compression magic numbers are read only by
//! `capture/`.
//!
//! Imports are read from the code outside comments and `#[cfg(test)]` modules
//! (`crate::`, `super::` and `wsaudit::` paths): doc links may point anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The floors, lowest first. A floor may use any floor before it in this list.
const FLOORS: &[&str] = &[
    "lib", "ws", "codes", "text", "capture", "tcp", "tls", "http", "h2", "session", "logs",
    "pipeline", "inputs", "table", "analysis", "audit", "render", "cmd", "cli", "main",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `table::chunks` for `src/table/chunks.rs`, `audit` for `src/audit/mod.rs`.
fn module_of(p: &Path) -> String {
    let rel = p.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its test module.
fn code_of(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap();
    let body = text.split("#[cfg(test)]").next().unwrap_or("");
    body.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `a::b::c` path after `crate::`, `wsaudit::` or `super::` (resolved), and the
/// items of `{...}` groups after such a path.
fn paths_in(module: &str, code: &str) -> Vec<Vec<String>> {
    let parent: Vec<String> = {
        let mut v: Vec<String> = module.split("::").map(String::from).collect();
        v.pop();
        v
    };
    let bytes: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let text: String = bytes.iter().collect();
    for prefix in ["crate::", "wsaudit::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(prefix) {
            let at = from + i;
            from = at + prefix.len();
            if at > 0 {
                let before = text[..at].chars().last().unwrap();
                if before.is_alphanumeric() || before == '_' {
                    continue;
                }
            }
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let mut segs: Vec<String> = rest[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if prefix == "super::" {
                let mut p = parent.clone();
                p.append(&mut segs);
                segs = p;
            }
            if rest[end..].starts_with('{') {
                let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
                for item in rest[end + 1..close].split(',') {
                    let item = item.trim().split("::").next().unwrap_or("").trim();
                    let mut s = segs.clone();
                    if !item.is_empty() && item != "self" {
                        s.push(item.to_string());
                    }
                    out.push(s);
                }
            } else {
                out.push(segs);
            }
        }
    }
    out
}

struct Graph {
    /// file module -> file modules it uses
    edges: BTreeMap<String, BTreeSet<String>>,
    lines: BTreeMap<String, usize>,
}

fn graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeMap<String, PathBuf> =
        files.iter().map(|p| (module_of(p), p.clone())).collect();
    let mut edges = BTreeMap::new();
    let mut lines = BTreeMap::new();
    for (m, p) in &modules {
        let code = code_of(p);
        lines.insert(
            m.clone(),
            std::fs::read_to_string(p).unwrap().lines().count(),
        );
        let mut uses = BTreeSet::new();
        for segs in paths_in(m, &code) {
            // The longest prefix that is a file module.
            for k in (1..=segs.len()).rev() {
                let cand = segs[..k].join("::");
                if modules.contains_key(&cand) {
                    if cand != *m {
                        uses.insert(cand);
                    }
                    break;
                }
            }
            // `crate::Side` and the like: items of lib.rs.
            if segs.len() == 1 && !modules.contains_key(&segs[0]) && m != "lib" {
                uses.insert("lib".to_string());
            }
        }
        edges.insert(m.clone(), uses);
    }
    Graph { edges, lines }
}

fn floor(module: &str) -> usize {
    let top = module.split("::").next().unwrap();
    FLOORS
        .iter()
        .position(|f| *f == top)
        .unwrap_or_else(|| panic!("{module}: not in FLOORS; add its folder in its place"))
}

#[test]
fn every_floor_uses_only_floors_below_it() {
    let g = graph();
    assert!(g.edges.len() > 50, "read only {} files", g.edges.len());
    let mut wrong = Vec::new();
    for (m, uses) in &g.edges {
        for u in uses {
            if floor(u) > floor(m) {
                wrong.push(format!("{m} uses {u}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports of a higher floor:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other() {
    let g = graph();
    // A module may re-export its children (`pub use`), so a parent's edges to its own
    // children do not count; any other circle does.
    let child_of = |c: &str, p: &str| c.starts_with(&format!("{p}::"));
    let edges: BTreeMap<&str, Vec<&str>> = g
        .edges
        .iter()
        .map(|(m, us)| {
            (
                m.as_str(),
                us.iter()
                    .map(String::as_str)
                    .filter(|u| !child_of(u, m) && !child_of(m, u))
                    .collect(),
            )
        })
        .collect();
    // Depth-first search for a back edge.
    fn visit<'a>(
        m: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(m, 1);
        stack.push(m);
        for u in edges.get(m).into_iter().flatten() {
            match state.get(u) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == u).unwrap();
                    let mut c: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
                    c.push(u.to_string());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(u, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(m, 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        if !state.contains_key(m) {
            if let Some(c) = visit(m, &edges, &mut state, &mut Vec::new()) {
                panic!("import circle: {}", c.join(" -> "));
            }
        }
    }
}

#[test]
fn no_folder_holds_more_than_a_fifth_of_the_lines() {
    let g = graph();
    let total: usize = g.lines.values().sum();
    let mut per_folder: BTreeMap<&str, usize> = BTreeMap::new();
    for (m, n) in &g.lines {
        if m.contains("::") {
            *per_folder.entry(m.split("::").next().unwrap()).or_default() += n;
        }
    }
    assert!(per_folder.len() >= 8, "{per_folder:?}");
    for (f, n) in per_folder {
        assert!(
            n * 5 <= total,
            "src/{f}/ holds {n} of {total} lines (more than a fifth)"
        );
    }
}

/// Files (relative to src) whose code contains `needle`.
fn files_with(needle: &str) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut hits: Vec<String> = files
        .iter()
        .filter(|p| code_of(p).contains(needle))
        .map(|p| {
            p.strip_prefix(src())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    hits.sort();
    hits
}

#[test]
fn globs_are_expanded_only_by_inputs() {
    assert_eq!(files_with("glob::"), vec!["inputs.rs"]);
}

#[test]
fn magic_numbers_are_read_only_by_capture() {
    // pcap (both byte orders), pcapng, gzip, zstd.
    for magic in [
        "0xa1, 0xb2",
        "0xd4, 0xc3",
        "0x0a, 0x0d, 0x0d, 0x0a",
        "0x1f, 0x8b",
        "0x28, 0xb5",
    ] {
        let hits = files_with(magic);
        assert!(
            !hits.is_empty(),
            "{magic}: found nowhere (the check reads nothing)"
        );
        assert!(
            hits.iter().all(|h| h.starts_with("capture/")),
            "{magic} outside capture/: {hits:?}"
        );
    }
}
