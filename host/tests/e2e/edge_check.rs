//! `edge check`: every diagnostic as `file:line:col: severity: message`, exit status usable in
//! CI, unreadable files reported; every policy shipped in `policies/` passes; `edge --version`.

use std::process::Command;

use edge_test_support::paths::workspace_root;

/// Runs `edge check` on `args`: its exit code, stdout and stderr.
pub(crate) fn check(args: &[&std::path::Path]) -> (i32, String, String) {
    let out = Command::new(crate::EDGE_BIN)
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A policy with several independent problems; `edge check` must report all of them.
const BROKEN: &str = "\
on_http_request:
  - name: first
    expressions:
      - req.url.path.startsWith('/x'
    actions:
      - type: no-such-action
  - actions:
      - type: deny
      - type: add-headers
        config:
          headers: {x-a: b}
on_http_response:
  - actions:
      - type: rate-limit
        config:
          capacity: 1
          rate: 60s
          bucket_key: [conn.client_ip]
";

#[test]
fn broken_policy_reports_every_problem_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, BROKEN).unwrap();
    let (code, stdout, stderr) = check(&[&file]);
    assert_ne!(
        code, 0,
        "a broken policy must fail the check\n{stdout}{stderr}"
    );
    let f = file.display();
    let expected = format!(
        "\
{f}:4:9: error: invalid CEL expression `req.url.path.startsWith('/x'`: syntax error at column 29: missing ')' at '<EOF>'
{f}:6:15: error: unknown action type `no-such-action`; known types: deny, custom-response, add-headers, remove-headers, set-vars, log, restrict-ips, rate-limit, ai-gateway
{f}:9:15: error: action `add-headers` is unreachable: `deny` before it always ends the phase
{f}:14:15: error: action `rate-limit` cannot run in `on_http_response`; it runs in: on_http_request
"
    );
    assert_eq!(stdout, expected, "stderr: {stderr}");
}

#[test]
fn every_diagnostic_line_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, BROKEN).unwrap();
    let (_, stdout, _) = check(&[&file]);
    let prefix = format!("{}:", file.display());
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 4, "all problems reported at once:\n{stdout}");
    for l in lines {
        let rest = l
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("no file prefix: {l}"));
        let mut parts = rest.splitn(3, ':');
        let line: u32 = parts
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("no line in {l}"));
        let col: u32 = parts
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("no column in {l}"));
        assert!(line > 0 && col > 0, "{l}");
    }
}

#[test]
fn yaml_syntax_errors_and_unknown_fields_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let syntax = dir.path().join("syntax.yaml");
    std::fs::write(&syntax, "on_http_request:\n  - actions: [\n").unwrap();
    let (code, stdout, _) = check(&[&syntax]);
    assert_ne!(code, 0);
    assert!(
        stdout.starts_with(&format!("{}:", syntax.display())),
        "{stdout}"
    );

    let unknown = dir.path().join("unknown.yaml");
    std::fs::write(
        &unknown,
        "on_http_request:\n  - actions:\n      - type: deny\n        confg: {}\n",
    )
    .unwrap();
    let (code, stdout, _) = check(&[&unknown]);
    assert_ne!(code, 0);
    assert!(
        stdout.contains(&format!("{}:4:9:", unknown.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("confg"),
        "names the unknown field: {stdout}"
    );
}

#[test]
fn a_valid_policy_passes_and_several_files_are_checked_together() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "on_http_request:\n  - actions:\n      - type: deny\n",
    )
    .unwrap();
    let (code, stdout, stderr) = check(&[&good]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "on_http_request:\n  - actions:\n      - type: nope\n").unwrap();
    let (code, stdout, _) = check(&[&good, &bad]);
    assert_ne!(code, 0, "one bad file fails the whole check");
    assert!(
        stdout.contains(&format!("{}:3:", bad.display())),
        "{stdout}"
    );
    assert!(
        !stdout.contains(&format!("{}:", good.display())),
        "no diagnostics for the good file: {stdout}"
    );
}

#[test]
fn every_shipped_policy_passes_check() {
    let dir = workspace_root().join("policies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no policies in {}", dir.display());
    for f in &files {
        let (code, stdout, stderr) = check(&[f]);
        assert_eq!(
            code,
            0,
            "{} failed edge check:\n{stdout}{stderr}",
            f.display()
        );
        assert!(!stdout.contains(": error:"), "{stdout}");
    }
}

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
    let out = Command::new(crate::EDGE_BIN)
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

    let ok = Command::new(crate::EDGE_BIN)
        .arg("check")
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(ok.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_reports_unreadable_files() {
    let out = Command::new(crate::EDGE_BIN)
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
    let out = Command::new(crate::EDGE_BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("edge {}", env!("CARGO_PKG_VERSION"))
    );
}
