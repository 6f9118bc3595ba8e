//! Suites that need something besides Rust and the clone: Chromium for the browser suite, the
//! shared fixtures (real JSON captured from other servers) for the conformance tests.
//!
//! On a fresh machine with only Rust installed, `cargo test --workspace` passes: a test that
//! misses what it needs prints one line saying what was skipped and how to run it, and returns.
//! `TIANGUIS_ALL_SUITES=1` (set by `.ci/run`, which installs Chromium and points
//! `TIANGUIS_FIXTURES_DIR` at the fixtures) makes every such suite mandatory: a missing part
//! fails the test instead.

use std::{
    collections::HashSet,
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

/// The variable that makes every optional suite mandatory.
pub const ALL_SUITES: &str = "TIANGUIS_ALL_SUITES";

static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Whether a test that needs `what` must be skipped because it is not `available`. Prints one
/// line per missing part and test binary (written to the terminal directly, so the test
/// harness's capture does not hide it). Panics instead when [`ALL_SUITES`] is `1`.
pub fn skip_without(what: &str, available: bool, how: &str) -> bool {
    if available {
        return false;
    }
    if std::env::var(ALL_SUITES).as_deref() == Ok("1") {
        panic!("missing: {what}; {ALL_SUITES}=1 makes it mandatory. To install: {how}");
    }
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if said
        .get_or_insert_with(HashSet::new)
        .insert(what.to_owned())
    {
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: the tests that need {what}; to run them: {how}"
        );
    }
    true
}

/// The shared fixtures folder: `TIANGUIS_FIXTURES_DIR`, else `../shared/fixtures` beside the
/// clone. `None` (with the one line) when it is not there and not required.
pub fn fixtures_dir() -> Option<PathBuf> {
    let dir = std::env::var("TIANGUIS_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let missing = skip_without(
        &format!("the shared fixtures (looked in {})", dir.display()),
        dir.is_dir(),
        "set TIANGUIS_FIXTURES_DIR to the shared fixtures folder",
    );
    (!missing).then_some(dir)
}
