//! Replays the saved fuzz inputs through the fuzz targets' property checks, with no fuzzer:
//! every file in `fuzz/corpus/<target>/` (the seeds) and `fuzz/regressions/<target>/` (inputs
//! that once failed). The checks are the very functions the targets call
//! (`fuzz/src/lib.rs`, included here as a module). `make fuzz` runs the fuzzer itself.
//!
//! Bounded: at most `MAX_FILES` files a directory, each read up to `MAX_FILE_BYTES`.

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Most files replayed from one directory.
const MAX_FILES: usize = 5000;
/// Most bytes read from one file (libFuzzer's inputs here are at most 4 KiB by default).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The files of `fuzz/<kind>/<target>/`, sorted; none when the directory does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() <= MAX_FILES,
        "{}: {} files, more than {MAX_FILES}: minimize the corpus",
        dir.display(),
        files.len()
    );
    files
}

/// Runs `check` on every saved input of `target`; returns how many it ran. A failing input is
/// named in the panic message.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        for path in inputs(kind, target) {
            let mut data = Vec::new();
            fs::File::open(&path)
                .and_then(|f| f.take(MAX_FILE_BYTES).read_to_end(&mut data))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{} fails its checks", path.display());
            count += 1;
        }
    }
    count
}

#[test]
fn head_corpus() {
    assert!(replay("head", checks::head) > 0, "no seeds for head");
}

#[test]
fn response_corpus() {
    assert!(
        replay("response", checks::response) > 0,
        "no seeds for response"
    );
}

#[test]
fn chunked_corpus() {
    assert!(
        replay("chunked", checks::chunked) > 0,
        "no seeds for chunked"
    );
}

#[test]
fn plan_corpus() {
    assert!(replay("plan", checks::plan) > 0, "no seeds for plan");
}

#[test]
fn route_corpus() {
    assert!(replay("route", checks::route) > 0, "no seeds for route");
}

#[test]
fn units_corpus() {
    assert!(replay("units", checks::units) > 0, "no seeds for units");
}

#[test]
fn h2_corpus() {
    assert!(replay("h2", checks::h2) > 0, "no seeds for h2");
}

#[test]
fn toxiproxy_json_corpus() {
    assert!(
        replay("toxiproxy_json", checks::toxiproxy_json) > 0,
        "no seeds for toxiproxy_json"
    );
}

#[test]
fn ws_frame_corpus() {
    assert!(
        replay("ws_frame", checks::ws_frame) > 0,
        "no seeds for ws_frame"
    );
}
