//! The SDK's layers import one way (ARCHITECTURE.md): adapters (`wasm`, `dynmod`,
//! `testing`) → `engine` → `api` → Envoy's vocabulary and the host seam.
//! This test reads every source file and fails on an import that points up,
//! or from one adapter into another.

// Test support: a panic here is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]
use std::path::{Path, PathBuf};

/// The layer of a top-level module of the crate, lowest first.
fn layer(module: &str) -> Option<u8> {
    match module {
        "host" | "config" | "query" | "net" | "route_match" | "string_match" => Some(0),
        "api" => Some(1),
        "engine" => Some(2),
        "wasm" | "testing" | "dynmod" => Some(3),
        _ => None,
    }
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<module>` a file names, with its line number.
fn crate_references(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `$crate::` in macros is the crate root as seen by users.
            let is_macro = rest[..at].ends_with('$');
            if !name.is_empty() && !is_macro {
                out.push((n + 1, name));
            }
            rest = after;
        }
    }
    out
}

#[test]
fn imports_point_down_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "read {} files", files.len());
    let mut upward = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" {
            continue;
        }
        let Some(own) = layer(&top) else {
            panic!(
                "{}: module `{top}` has no layer; add it to layer()",
                rel.display()
            );
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in crate_references(&text) {
            let Some(theirs) = layer(&target) else {
                // Items re-exported at the root (`crate::Action`) belong to `api`.
                let root_item = target.chars().next().is_some_and(char::is_uppercase);
                if root_item && own < 1 {
                    upward.push(format!("{}:{line}: crate::{target}", rel.display()));
                }
                continue;
            };
            checked += 1;
            let sibling_adapter = own == 3 && theirs == 3 && target != top;
            if theirs > own || sibling_adapter {
                upward.push(format!(
                    "{}:{line}: `{top}` (layer {own}) imports crate::{target} (layer {theirs})",
                    rel.display()
                ));
            }
        }
    }
    assert!(checked > 30, "only {checked} imports checked");
    assert!(
        upward.is_empty(),
        "imports that point up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    let refs = crate_references(
        "use crate::engine::Flow; // crate::testing\nlet x = $crate::wasm::start;",
    );
    assert_eq!(refs, vec![(1, "engine".to_string())]);
}
