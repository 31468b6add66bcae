//! No module cycles inside any crate: the `crate::` and `super::` paths of each source file (its
//! non-test part; files of test code only are skipped) make a graph between the modules of depth one and two (`trainer`,
//! `trainer::config`, …), with the crate root's re-exports (`pub use module::Item`) resolved to
//! the module that defines the item. A parent and its own child may use each other (a module
//! re-exports its children); any other cycle fails the test, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`a` or `a::b`) of a source file under `src`, or `None` for the crate root.
fn module_of(src: &Path, file: &Path) -> Option<Vec<String>> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts.is_empty() {
        return None;
    }
    parts.truncate(2);
    Some(parts)
}

/// Files that hold only test code (declared under `#[cfg(test)]`).
const TEST_FILES: [&str; 2] = ["tests.rs", "testutil.rs"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") && !TEST_FILES.contains(&name.as_str()) {
            out.push(p);
        }
    }
}

/// The first two segments of one path (`a::b::C` → ["a", "b"]).
fn segments(path: &str) -> Vec<&str> {
    path.split("::")
        .map(|s| s.trim().split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or(""))
        .take_while(|s| !s.is_empty())
        .take(2)
        .collect()
}

/// The paths after each occurrence of `prefix` in `text` (`crate::a::b` → ["a", "b"];
/// `crate::{a::X, b}` → ["a", "X"], ["b"]).
fn paths_after<'a>(text: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(prefix) {
        if text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::`, `my_crate::`
        }
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(segments).filter(|s| !s.is_empty()));
        } else {
            out.push(segments(rest));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The non-test code of a source file, without comments (doc links are not dependencies).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Root re-exports: item name → the module of depth one that defines it.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for stmt in lib.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else { continue };
        let Some((module, items)) = rest.split_once("::") else { continue };
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = item.rsplit("::").next().unwrap_or("").trim();
            if !name.is_empty() {
                map.insert(name.to_string(), module.trim().to_string());
            }
        }
    }
    map
}

/// Every module cycle of the crate whose sources are in `src`.
fn cycles(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().filter_map(|f| module_of(src, f)).collect();
    let reexports = root_reexports(&code(&src.join("lib.rs")));
    let resolve = |segments: Vec<String>| -> Option<Vec<String>> {
        let mut segments = segments;
        if segments.is_empty() {
            return None;
        }
        if !modules.contains(&segments[..1]) {
            let module = reexports.get(&segments[0])?;
            segments = vec![module.clone()];
        }
        (1..=segments.len().min(2)).rev().map(|n| segments[..n].to_vec()).find(|m| modules.contains(m))
    };
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(src, file) else { continue };
        let text = code(file);
        let mut targets: Vec<Vec<String>> =
            paths_after(&text, "crate::").into_iter().map(|s| s.iter().map(|x| x.to_string()).collect()).collect();
        // `super::` is the folder of `a/b.rs`, and the folder above for `a/mod.rs`
        let rel = file.strip_prefix(src).unwrap_or(file);
        let mut parent: Vec<String> =
            rel.parent().into_iter().flatten().map(|p| p.to_string_lossy().to_string()).collect();
        if file.file_name().is_some_and(|n| n == "mod.rs") {
            parent.pop();
        }
        for s in paths_after(&text, "super::") {
            let mut t = parent.clone();
            t.extend(s.iter().map(|x| x.to_string()));
            targets.push(t);
        }
        for t in targets {
            let Some(to) = resolve(t) else { continue };
            // a module's edges include its children's
            for from in [from.clone(), from[..1].to_vec()] {
                if !(to.starts_with(&from) || from.starts_with(&to)) {
                    edges.entry(from).or_default().insert(to.clone());
                }
            }
        }
    }
    // a cycle is an edge a → b with a path b → a
    let reaches = |start: &Vec<String>, goal: &Vec<String>| -> Option<Vec<Vec<String>>> {
        let mut stack = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().cloned().unwrap_or_default();
            if &last == goal {
                return Some(path);
            }
            if !seen.insert(last.clone()) {
                continue;
            }
            for next in edges.get(&last).into_iter().flatten() {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push(p);
            }
        }
        None
    };
    let mut found = Vec::new();
    for (a, targets) in &edges {
        for b in targets {
            if let Some(back) = reaches(b, a) {
                let names: Vec<String> = std::iter::once(a).chain(&back).map(|m| m.join("::")).collect();
                found.push(format!("{}: {}", src.display(), names.join(" → ")));
            }
        }
    }
    found
}

#[test]
fn no_crate_has_a_module_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut srcs = vec![root.join("src")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        srcs.push(entry.path().join("src"));
    }
    let mut all = Vec::new();
    for src in &srcs {
        all.extend(cycles(src));
    }
    assert!(srcs.len() >= 8, "the workspace crates: {srcs:?}");
    assert!(all.is_empty(), "module cycles:\n{}", all.join("\n"));
}

#[test]
fn the_checker_finds_a_cycle_between_siblings() {
    let dir = std::env::temp_dir().join(format!("spectrans-cycles-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("trainer")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod tasks;\npub mod trainer;\npub use tasks::Preset;\n").unwrap();
    std::fs::write(src.join("tasks.rs"), "use crate::trainer::Task;\npub struct Preset;\n").unwrap();
    std::fs::write(src.join("trainer/mod.rs"), "mod config;\npub trait Task {}\n").unwrap();
    std::fs::write(src.join("trainer/config.rs"), "use super::Task;\nuse crate::Preset;\n").unwrap();
    let found = cycles(&src);
    assert!(found.iter().any(|c| c.contains("tasks → trainer") || c.contains("trainer::config → tasks")), "{found:?}");
    // without the upward use, no cycle
    std::fs::write(src.join("trainer/config.rs"), "use super::Task;\n").unwrap();
    assert_eq!(cycles(&src), Vec::<String>::new());
    std::fs::remove_dir_all(dir).unwrap();
}
