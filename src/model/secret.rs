//! Secret references: the only acceptable value of a `secrets` entry. Parsed once, when the model
//! is built; the syntax check on the merged tree (DG0110) and the load-time secret scan use the
//! same parser.

use serde::{Serialize, Serializer};
use std::fmt;

/// Where a secret comes from: `vault:<path>#<key>`, `file:<path>` or `env:<VARIABLE>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretRef {
    /// One key of a Vault secret, rendered to a file by the Vault agent (Kubernetes).
    Vault { path: String, key: String },
    /// A file on the host, relative to the repository (a Compose secret).
    File(String),
    /// A variable of the caller's environment (a Compose secret).
    Env(String),
}

/// Why a string is not a secret reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRefError {
    /// It does not start with `vault:`, `file:` or `env:`: a literal value, not a reference.
    NotAReference,
    /// It starts like a reference of `scheme` but is malformed.
    Malformed {
        scheme: &'static str,
        problem: &'static str,
    },
}

impl SecretRefError {
    /// A well-formed example of the scheme, for the help line.
    #[must_use]
    pub fn example(scheme: &str) -> &'static str {
        match scheme {
            "vault" => "`vault:secret/data/deaap/postgres#password`",
            "file" => "`file:./secrets/postgres-password`",
            _ => "`env:POSTGRES_PASSWORD`",
        }
    }
}

impl fmt::Display for SecretRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAReference => f.write_str("not a `vault:`, `file:` or `env:` reference"),
            Self::Malformed { scheme, problem } => {
                write!(f, "a malformed `{scheme}:` reference: {problem}")
            }
        }
    }
}

impl std::error::Error for SecretRefError {}

impl SecretRef {
    /// Parses a reference.
    ///
    /// # Errors
    /// Not a reference at all, or a malformed one (with what is wrong, never echoing the text).
    pub fn parse(text: &str) -> Result<Self, SecretRefError> {
        let malformed = |scheme, problem| SecretRefError::Malformed { scheme, problem };
        if let Some(rest) = text.strip_prefix("vault:") {
            let (path, key) = vault_parts(rest).map_err(|p| malformed("vault", p))?;
            Ok(Self::Vault {
                path: path.to_owned(),
                key: key.to_owned(),
            })
        } else if let Some(rest) = text.strip_prefix("file:") {
            if rest.is_empty() || rest.chars().any(char::is_control) || rest.trim() != rest {
                return Err(malformed(
                    "file",
                    "its path is empty or has surrounding spaces or control characters",
                ));
            }
            Ok(Self::File(rest.to_owned()))
        } else if let Some(rest) = text.strip_prefix("env:") {
            if !is_env_name(rest) {
                return Err(malformed(
                    "env",
                    "it does not name an environment variable (`[A-Za-z_][A-Za-z0-9_]*`)",
                ));
            }
            Ok(Self::Env(rest.to_owned()))
        } else {
            Err(SecretRefError::NotAReference)
        }
    }

    /// `vault`, `file` or `env`.
    #[must_use]
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Vault { .. } => "vault",
            Self::File(_) => "file",
            Self::Env(_) => "env",
        }
    }
}

/// An environment-variable name: `[A-Za-z_][A-Za-z0-9_]*`.
#[must_use]
pub fn is_env_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The path and key of `<path>#<key>`.
fn vault_parts(rest: &str) -> Result<(&str, &str), &'static str> {
    let Some((p, key)) = rest.split_once('#') else {
        return Err("it has no `#<key>` after the path");
    };
    if p.is_empty() {
        return Err("its path is empty");
    }
    let path_ok = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if !path_ok || p.starts_with('/') || p.ends_with('/') || p.contains("//") {
        return Err(
            "its path has characters other than letters, digits, `_`, `-`, `.` and single inner `/`",
        );
    }
    if key.is_empty() {
        return Err("the key after `#` is empty");
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(
            "the key after `#` has characters other than letters, digits, `_`, `-` and `.`",
        );
    }
    Ok((p, key))
}

/// The reference as it is written.
impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vault { path, key } => write!(f, "vault:{path}#{key}"),
            Self::File(path) => write!(f, "file:{path}"),
            Self::Env(name) => write!(f, "env:{name}"),
        }
    }
}

impl std::str::FromStr for SecretRef {
    type Err = SecretRefError;

    fn from_str(text: &str) -> Result<Self, SecretRefError> {
        Self::parse(text)
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

parsed_from_string!(SecretRef);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_and_malformed_ones_say_why() {
        for text in [
            "vault:secret/data/deaap/x#signing-key",
            "file:./s/p",
            "env:DB_PW",
        ] {
            assert_eq!(SecretRef::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            SecretRef::parse("hunter2"),
            Err(SecretRefError::NotAReference)
        );
        for bad in [
            "vault:path",
            "vault:a//b#k",
            "vault:a#",
            "file: x",
            "env:1X",
        ] {
            assert!(
                matches!(SecretRef::parse(bad), Err(SecretRefError::Malformed { .. })),
                "{bad}"
            );
        }
    }
}
