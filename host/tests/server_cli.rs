//! The `edge` binary's `check` and `--version` commands.

use std::process::Command;

const EDGE: &str = env!("CARGO_BIN_EXE_edge");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("edge-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn check_prints_every_diagnostic_with_position_and_fails() {
    let dir = temp_dir("bad");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "on_http_request:\n  - actions:\n      - type: no-such-action\n  - expressions: [\"req.nope == 1\"]\n    actions:\n      - type: deny\n",
    )
    .unwrap();
    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "on_http_request:\n  - actions:\n      - type: deny\n",
    )
    .unwrap();
    let out = Command::new(EDGE)
        .arg("check")
        .arg(&bad)
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let name = bad.display().to_string();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(&format!(
            "{name}:3:15: error: unknown action type `no-such-action`"
        )),
        "{stdout}"
    );
    assert!(lines[1].starts_with(&format!("{name}:4:")), "{stdout}");
    assert!(lines[1].contains("req.nope"), "{stdout}");
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("1 valid, 1 invalid")
    );

    let ok = Command::new(EDGE).arg("check").arg(&good).output().unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(ok.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_reports_unreadable_files() {
    let out = Command::new(EDGE)
        .args(["check", "/nonexistent/policy.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("/nonexistent/policy.yaml: error: cannot read")
    );
}

#[test]
fn version_names_the_binary() {
    let out = Command::new(EDGE).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("edge {}", env!("CARGO_PKG_VERSION"))
    );
}
