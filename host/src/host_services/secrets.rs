//! Secret lookup for `secrets.get(vault, name)` in policies (the `secret` import).
//!
//! Three sources, checked in this order (the first that has the secret wins):
//! 1. the environment: `EDGE_SECRET_<VAULT>_<NAME>`, with vault and name upper-cased and
//!    every character that is not an ASCII letter or digit replaced by `_`
//!    (`openai`/`prod-key` → `EDGE_SECRET_OPENAI_PROD_KEY`);
//! 2. `--secrets-dir DIR`: the file `DIR/<vault>/<name>`, read at lookup time so a rotated
//!    secret is picked up by the next policy load; one trailing newline is dropped;
//! 3. `--secrets-file FILE`: a YAML (or JSON) map `vault → name → value`, read once.
//!
//! The environment wins so that a deployment can override a file without editing it.
//!
//! One vault name is reserved: [`ENV_VAULT`] (`edge.env`) reads the edge's environment
//! variable `name` verbatim. It is how a key written as Bifrost's `env.VAR_NAME` reaches the
//! plugin, which cannot read the environment itself (docs/ai-gateway.md, "Several keys").
//! Values are held as [`SecretString`]; `Debug` of the store prints vault and name counts
//! only, never a value. Error messages name files and positions, never file contents.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// Prefix of the environment variables that hold secrets.
pub const ENV_PREFIX: &str = "EDGE_SECRET_";

/// The reserved vault whose names are environment variables, read as they are.
pub const ENV_VAULT: &str = "edge.env";

/// Why the secret sources could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read secrets file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a map of vault → name → string. Only the position is reported: the
    /// parser's own message may quote the offending line, which could hold a secret.
    #[error("secrets file {path} is not a map of vault -> name -> string value{at}")]
    Parse { path: PathBuf, at: String },
    #[error("secrets directory {0} does not exist or is not a directory")]
    NotADirectory(PathBuf),
}

/// Where secrets come from. Built once at startup; shared by every plugin instance.
#[derive(Default)]
pub struct SecretStore {
    env: HashMap<String, SecretString>,
    /// Every environment variable, for the [`ENV_VAULT`] vault.
    plain_env: HashMap<String, SecretString>,
    dir: Option<PathBuf>,
    file: HashMap<String, HashMap<String, SecretString>>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("env_secrets", &self.env.len())
            .field("dir", &self.dir)
            .field("file_vaults", &self.file.len())
            .finish()
    }
}

/// The environment variable name for `vault`/`name`.
pub fn env_var_name(vault: &str, name: &str) -> String {
    let norm = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{ENV_PREFIX}{}_{}", norm(vault), norm(name))
}

impl SecretStore {
    /// An empty store (every lookup misses).
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes every `EDGE_SECRET_*` variable of this process.
    pub fn with_process_env(self) -> Self {
        self.with_env(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Takes the `EDGE_SECRET_*` entries of `vars` as secrets, and every entry for the
    /// [`ENV_VAULT`] vault (tests pass their own).
    pub fn with_env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        for (k, v) in vars {
            if k.starts_with(ENV_PREFIX) {
                self.env.insert(k.clone(), SecretString::from(v.clone()));
            }
            self.plain_env.insert(k, SecretString::from(v));
        }
        self
    }

    /// Looks secrets up in `dir/<vault>/<name>`.
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Result<Self, SecretsError> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(SecretsError::NotADirectory(dir));
        }
        self.dir = Some(dir);
        Ok(self)
    }

    /// Reads a YAML or JSON map `vault → name → value`.
    pub fn with_file(mut self, path: impl AsRef<Path>) -> Result<Self, SecretsError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Read {
            path: path.to_owned(),
            source,
        })?;
        let map = parse_secrets_map(&text).map_err(|at| SecretsError::Parse {
            path: path.to_owned(),
            at,
        })?;
        for (vault, names) in map {
            let entry = self.file.entry(vault).or_default();
            for (name, value) in names {
                entry.insert(name, SecretString::from(value));
            }
        }
        Ok(self)
    }

    /// The secret `vault`/`name`, or `None` when no source has it.
    pub fn get(&self, vault: &str, name: &str) -> Option<SecretString> {
        if vault == ENV_VAULT {
            return self.plain_env.get(name).cloned();
        }
        if let Some(v) = self.env.get(&env_var_name(vault, name)) {
            return Some(v.clone());
        }
        if let Some(v) = self
            .dir
            .as_deref()
            .and_then(|d| read_dir_secret(d, vault, name))
        {
            return Some(v);
        }
        self.file.get(vault).and_then(|m| m.get(name)).cloned()
    }
}

/// Reads `dir/vault/name`, refusing components that could leave `dir`.
fn read_dir_secret(dir: &Path, vault: &str, name: &str) -> Option<SecretString> {
    let safe = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0']);
    if !safe(vault) || !safe(name) {
        return None;
    }
    let mut text = std::fs::read_to_string(dir.join(vault).join(name)).ok()?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Some(SecretString::from(text))
}

type SecretsMap = HashMap<String, HashMap<String, String>>;

/// Parses the secrets file; on failure returns only a position suffix (" at line L column C").
fn parse_secrets_map(text: &str) -> Result<SecretsMap, String> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text)
            .map_err(|e| format!(" at line {} column {}", e.line(), e.column()));
    }
    serde_saphyr::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!(" at line {} column {}", l.line(), l.column()),
        None => String::new(),
    })
}

/// Shows a secret to code that must hand it on (the plugin import). Kept in one place so
/// every exposure is easy to find.
pub(crate) fn expose(secret: &SecretString) -> String {
    secret.expose_secret().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(s: Option<SecretString>) -> Option<String> {
        s.map(|v| expose(&v))
    }

    #[test]
    fn env_names_are_upper_cased_with_underscores() {
        assert_eq!(
            env_var_name("openai", "prod-key"),
            "EDGE_SECRET_OPENAI_PROD_KEY"
        );
        assert_eq!(
            env_var_name("my.vault", "a b/c"),
            "EDGE_SECRET_MY_VAULT_A_B_C"
        );
    }

    #[test]
    fn env_lookup() {
        let s = SecretStore::new().with_env([
            (
                "EDGE_SECRET_OPENAI_PROD_KEY".to_owned(),
                "sk-env".to_owned(),
            ),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(val(s.get("openai", "prod-key")).as_deref(), Some("sk-env"));
        assert_eq!(val(s.get("openai", "other")), None);
        assert_eq!(s.env.len(), 1);
    }

    #[test]
    fn the_reserved_vault_reads_environment_variables_verbatim() {
        let s = SecretStore::new().with_env([
            ("OPENAI_API_KEY".to_owned(), "sk-plain".to_owned()),
            (
                "EDGE_SECRET_EDGE_ENV_OPENAI_API_KEY".to_owned(),
                "shadow".to_owned(),
            ),
        ]);
        assert_eq!(
            val(s.get(ENV_VAULT, "OPENAI_API_KEY")).as_deref(),
            Some("sk-plain")
        );
        assert_eq!(val(s.get(ENV_VAULT, "MISSING")), None);
        // Other vaults never read plain variables.
        assert_eq!(val(s.get("env", "OPENAI_API_KEY")), None);
        assert!(!format!("{s:?}").contains("sk-plain"));
    }

    #[test]
    fn dir_lookup_strips_one_newline_and_refuses_traversal() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("vault")).unwrap();
        std::fs::write(dir.join("vault/key"), "secret-value\n").unwrap();
        std::fs::write(dir.join("outside"), "nope").unwrap();
        let s = SecretStore::new().with_dir(&dir).unwrap();
        assert_eq!(val(s.get("vault", "key")).as_deref(), Some("secret-value"));
        assert_eq!(val(s.get("vault", "../outside")), None);
        assert_eq!(val(s.get("..", "outside")), None);
        assert_eq!(val(s.get("vault", "missing")), None);
        // Rotation is seen by the next lookup.
        std::fs::write(dir.join("vault/key"), "rotated").unwrap();
        assert_eq!(val(s.get("vault", "key")).as_deref(), Some("rotated"));
        assert!(SecretStore::new().with_dir(dir.join("nope")).is_err());
    }

    #[test]
    fn yaml_and_json_files() {
        let dir = tempdir();
        let yaml = dir.join("s.yaml");
        std::fs::write(
            &yaml,
            "openai:\n  prod: sk-yaml\nanthropic:\n  main: \"sk-ant\"\n",
        )
        .unwrap();
        let json = dir.join("s.json");
        std::fs::write(&json, r#"{"groq": {"k": "gsk-json"}}"#).unwrap();
        let s = SecretStore::new()
            .with_file(&yaml)
            .unwrap()
            .with_file(&json)
            .unwrap();
        assert_eq!(val(s.get("openai", "prod")).as_deref(), Some("sk-yaml"));
        assert_eq!(val(s.get("anthropic", "main")).as_deref(), Some("sk-ant"));
        assert_eq!(val(s.get("groq", "k")).as_deref(), Some("gsk-json"));
    }

    #[test]
    fn env_wins_over_dir_and_file() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("v")).unwrap();
        std::fs::write(dir.join("v/n"), "from-dir").unwrap();
        let file = dir.join("s.yaml");
        std::fs::write(&file, "v:\n  n: from-file\n  only_file: f\n").unwrap();
        let s = SecretStore::new()
            .with_file(&file)
            .unwrap()
            .with_dir(&dir)
            .unwrap()
            .with_env([("EDGE_SECRET_V_N".to_owned(), "from-env".to_owned())]);
        assert_eq!(val(s.get("v", "n")).as_deref(), Some("from-env"));
        assert_eq!(val(s.get("v", "only_file")).as_deref(), Some("f"));
    }

    #[test]
    fn errors_and_debug_never_show_values() {
        let dir = tempdir();
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, "v:\n  n: [sk-very-secret-value\n").unwrap();
        let err = SecretStore::new().with_file(&bad).unwrap_err().to_string();
        assert!(!err.contains("sk-very-secret"), "{err}");
        assert!(err.contains("bad.yaml"), "{err}");
        let bad_json = dir.join("bad.json");
        std::fs::write(&bad_json, r#"{"v": {"n": 42, "sk-json-secret": 1}}"#).unwrap();
        let err = SecretStore::new()
            .with_file(&bad_json)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("sk-json-secret"), "{err}");

        let good = dir.join("good.yaml");
        std::fs::write(&good, "v:\n  n: sk-file-secret\n").unwrap();
        let s = SecretStore::new()
            .with_file(&good)
            .unwrap()
            .with_env([("EDGE_SECRET_A_B".to_owned(), "sk-env-secret".to_owned())]);
        let dbg = format!("{s:?} {:?}", s.get("v", "n"));
        assert!(
            !dbg.contains("sk-file-secret") && !dbg.contains("sk-env-secret"),
            "{dbg}"
        );
    }

    fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "edge-secrets-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
