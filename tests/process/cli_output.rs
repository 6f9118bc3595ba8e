//! The CLI writing into a pipe whose reader has gone (`tianguis peer list | head -0`) ends
//! quietly with SIGPIPE's status, not with a panic and a backtrace.

use std::process::{Command, Stdio};

use super::BIN;

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["peer", "list"])
        .current_dir(dir.path())
        .env(
            "TIANGUIS__DATABASE__URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("node.db").display()),
        )
        .env("TIANGUIS__MEDIA__DIR", dir.path().join("media"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes before the command (which first opens and migrates its database) writes.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}
