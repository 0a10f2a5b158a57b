//! The layering stated in src/lib.rs's "Layout" list holds: each module's code uses only the
//! modules listed below it (issue 21). A module reaching up or sideways to one listed above it
//! is named here with the file and line, so the fix (move the shared piece down, or the
//! module's line in the list) is clear. Comments and tests inside `src/` do not count.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[test]
fn every_module_uses_only_modules_listed_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let order: Vec<&str> = lib
        .lines()
        .filter_map(|line| line.strip_prefix("//! - [`"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    let rank: HashMap<&str, usize> = order.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|line| (line.strip_prefix("pub mod ")).or_else(|| line.strip_prefix("mod ")))
        .map(|rest| rest.trim_end_matches(';'))
        .collect();
    assert!(
        declared.len() >= 20,
        "src/lib.rs declares only {declared:?}: has the `mod` list moved?"
    );
    let unlisted: Vec<&&str> = declared.iter().filter(|m| !rank.contains_key(*m)).collect();
    assert!(
        unlisted.is_empty(),
        "modules missing from lib.rs's Layout list: {unlisted:?}"
    );

    let mut wrong = Vec::new();
    for module in &declared {
        for file in files_of(&src, module) {
            let text = std::fs::read_to_string(&file).expect("a source file");
            // A file's own tests come last; they may reach anywhere.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for used in line.split("crate::").skip(1).map(ident) {
                    if rank.get(used).is_some_and(|r| *r < rank[module]) {
                        let at = file.strip_prefix(&src).unwrap_or(&file).display();
                        wrong.push(format!("src/{at}:{}: {module} uses {used}", n + 1));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "code using a module listed above its own in src/lib.rs:\n{}",
        wrong.join("\n")
    );
}

/// `src/<module>.rs` and every file below `src/<module>/`.
fn files_of(src: &Path, module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.exists() {
        files.push(single);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The identifier at the start of `text`.
fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}
