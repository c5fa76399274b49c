//! The relay's module layers, as ARCHITECTURE.md states them ("The relay's modules"): every
//! `crate::` path in a module's code is checked against the table's "never imports" column, and
//! the modules' imports must form no circle. The document is the rule; this test holds the code
//! to it, so a newcomer reading the table can trust it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The top-level module a source file belongs to (`hub/rosters.rs` -> `hub`); the crate root
/// (`lib.rs`, `main.rs`) is `crate`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(match first.strip_suffix(".rs") {
        Some("lib" | "main") => "crate".to_owned(),
        Some(name) => name.to_owned(),
        None => first.to_owned(),
    })
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) -> Res<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sources(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The top-level modules a file's code (comments left out) names through `crate::`, including
/// grouped imports (`use crate::{a::X, b};`).
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // Top-level names of the group, up to its closing brace on this line.
                let mut depth = 0;
                let mut name = String::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            found.insert(std::mem::take(&mut name));
                            continue;
                        }
                        _ => {}
                    }
                    if depth == 0 && (c.is_alphanumeric() || c == '_') {
                        name.push(c);
                    } else if depth == 0 && c == ':' && !name.is_empty() {
                        found.insert(std::mem::take(&mut name));
                        name.push('\u{0}');
                    }
                }
                found.insert(name);
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.insert(name);
            }
        }
    }
    // A name cut short above (after `::`) is marked with NUL and dropped; so are empty ones.
    found.retain(|n| !n.is_empty() && !n.contains('\u{0}'));
    found
}

/// The table's rows: each module and the modules it must never import (`None`: every other).
fn rules(architecture: &str) -> Res<BTreeMap<String, Option<BTreeSet<String>>>> {
    let start = architecture
        .find("## The relay's modules")
        .ok_or("ARCHITECTURE.md has no section \"The relay's modules\"")?;
    let mut rules = BTreeMap::new();
    for line in architecture[start..].lines().skip(1) {
        if line.starts_with("## ") {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | module | owns | never imports |
        if cells.len() != 5 || !cells[1].starts_with('`') {
            continue;
        }
        let names = |cell: &str| -> BTreeSet<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(|n| {
                    n.trim_end_matches('/')
                        .trim_end_matches(".rs")
                        .replace("lib", "crate")
                })
                .collect()
        };
        let never = if cells[3].contains("every other module") {
            None
        } else {
            Some(names(cells[3]))
        };
        for module in names(cells[1]) {
            rules.insert(module, never.clone());
        }
    }
    if rules.len() < 10 {
        return Err(format!("only {} modules read from the table", rules.len()).into());
    }
    Ok(rules)
}

/// A circle in `graph`, if there is one (depth-first search with a path stack).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_relays_modules_keep_to_their_layers_and_import_no_circle() -> Res<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let rules = rules(&std::fs::read_to_string(root.join("../ARCHITECTURE.md"))?)?;
    let mut files = Vec::new();
    sources(&src, &mut files)?;
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut broken = Vec::new();
    for file in &files {
        let module = module_of(&src, file).ok_or("a file outside src")?;
        let Some(never) = rules.get(&module) else {
            broken.push(format!(
                "{}: module `{module}` is not in ARCHITECTURE.md's table",
                file.display()
            ));
            continue;
        };
        for import in imports(&std::fs::read_to_string(file)?) {
            // The root composes everything, and a module's own paths are its own.
            if import == module || import == "crate" || module == "crate" {
                continue;
            }
            let refused = match never {
                None => true,
                Some(never) => never.contains(&import),
            };
            if refused {
                broken.push(format!(
                    "{}: `{module}` imports `{import}`, which its row says it never does",
                    file.display()
                ));
            }
            // `App`, the root's shared state, is named from `socket`: not a module import.
            if rules.contains_key(&import) {
                graph.entry(module.clone()).or_default().insert(import);
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    assert!(
        graph.contains_key("hub") && graph["hub"].contains("store"),
        "the scan found too little: {graph:?}"
    );
    if let Some(found) = circle(&graph) {
        panic!("an import circle: {}", found.join(" -> "));
    }
    Ok(())
}

#[test]
fn the_scan_sees_grouped_and_plain_imports_and_skips_comments() {
    let code = "use crate::{access::{AccessChange, RelayAccess}, store};\n\
                let x = crate::campaign::staff(db);\n\
                // crate::web::never\n\
                /// [`crate::hub`]\n";
    let found: Vec<String> = imports(code).into_iter().collect();
    assert_eq!(found, vec!["access", "campaign", "store"]);
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(circle(&graph).is_some(), "a circle of two is found");
    graph.remove("b");
    assert!(circle(&graph).is_none());
}
