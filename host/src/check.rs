//! `edge check FILE...`: loads each policy the way `serve` would (in check-only mode, where
//! missing secrets are warnings) and reports every diagnostic, warnings included, as
//! `file:line:col: severity: message`.

use std::path::PathBuf;

use crate::server::policy_loader::{LoadRejection, PolicyLoader, endpoint_info};

/// The result of checking a set of files.
#[derive(Debug, Default)]
pub struct CheckOutcome {
    /// One line per diagnostic, in file order then document order.
    pub lines: Vec<String>,
    pub files: usize,
    pub invalid_files: usize,
}

impl CheckOutcome {
    pub fn all_valid(&self) -> bool {
        self.invalid_files == 0
    }
}

/// Checks every file with `loader` (which must be in check-only mode).
pub fn check_files<L: PolicyLoader>(loader: &L, files: &[PathBuf]) -> CheckOutcome {
    // What `edge serve` with its defaults would tell the policy about itself.
    let endpoint = endpoint_info(std::net::SocketAddr::from(([127, 0, 0, 1], 8080)), false);
    let mut out = CheckOutcome {
        files: files.len(),
        ..CheckOutcome::default()
    };
    for path in files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                out.lines
                    .push(format!("{name}: error: cannot read the file: {e}"));
                out.invalid_files += 1;
                continue;
            }
        };
        match loader.load(&text, &name, &endpoint) {
            Ok(loaded) => out
                .lines
                .extend(loaded.warnings.iter().map(|w| w.render(&name))),
            Err(LoadRejection::Invalid(diags)) => {
                out.invalid_files += 1;
                out.lines.extend(diags.iter().map(|d| d.render(&name)));
            }
            Err(LoadRejection::Failed(msg)) => {
                out.invalid_files += 1;
                out.lines.push(format!("{name}: error: {msg}"));
            }
        }
    }
    out
}
