//! Embeds the web application (`web/`) in the binary: generates `$OUT_DIR/web_assets.rs`, a table of
//! every file's path (relative to `web/`, with `/` separators) and its bytes through `include_bytes!`,
//! so a new file under `web/` is served without a code change. Hidden files and editor leftovers are skipped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest.join("web");
    // Cargo scans a directory given here for changes to any file below it (new files included).
    println!("cargo:rerun-if-changed=web");
    let mut files = Vec::new();
    if web.is_dir() {
        collect(&web, &web, &mut files);
    }
    files.sort();
    let mut table = String::from("/// Every file under `web/`: (path relative to `web/`, bytes), sorted by path.\n");
    table.push_str("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    // Paths through CARGO_MANIFEST_DIR, not absolute: the generated table then names no checkout, so
    // two worktrees building into one target directory never embed each other's files.
    for relative in &files {
        let _ = writeln!(
            table,
            "    ({relative:?}, include_bytes!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/web/{relative}\"))),"
        );
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("web_assets.rs");
    std::fs::write(&out, table).expect("write web_assets.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp") {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative: Vec<String> =
                relative.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect();
            files.push(relative.join("/"));
        }
    }
}
