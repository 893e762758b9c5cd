//! What counts as a secret: key names that hold credentials, values that carry one whatever their
//! key (a URL with a password, an `Authorization` header, a `--password` argument), and the
//! reference syntax that is the only acceptable value for them.

use regex_lite::Regex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;

/// Words that name a credential anywhere in a key (after NFKC normalisation, lower case, with `-`
/// and `.` read as `_`).
const WORDS: [&str; 16] = [
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "credential",
    "private_key",
    "privatekey",
    "api_key",
    "apikey",
    "signing_key",
    "encryption_key",
    "access_key",
    "authorization",
    "bearer",
    "pgpass",
];

/// Whole `_`-separated parts of a key that name a credential: `DB_PASS`, `MYSQL_PWD`.
const PARTS: [&str; 3] = ["pass", "pwd", "pw"];

/// Near misses of credential words (`pasword`, `passwrod`) count too.
const FUZZY: [&str; 5] = ["password", "passwd", "passphrase", "credential", "secret"];

/// Whether a key's name says it holds a credential.
#[must_use]
pub fn looks_secret(key: &str) -> bool {
    /// How many answers each thread keeps: environments repeat a few hundred key names (`name`,
    /// `image`, `port`, ...) over every service, and loading and validation ask about each key.
    const KEPT: usize = 4096;
    thread_local! {
        static ANSWERS: RefCell<HashMap<String, bool>> = RefCell::new(HashMap::new());
    }
    ANSWERS.with_borrow_mut(|answers| {
        if let Some(&answer) = answers.get(key) {
            return answer;
        }
        let answer = names_credential(key);
        if answers.len() < KEPT {
            answers.insert(key.to_owned(), answer);
        }
        answer
    })
}

/// [`looks_secret`], worked out.
fn names_credential(key: &str) -> bool {
    // NFKC leaves ASCII as it is: only other keys need normalising.
    let mut k = if key.is_ascii() {
        key.to_ascii_lowercase()
    } else {
        key.nfkc().flat_map(char::to_lowercase).collect()
    };
    if k.contains(['-', '.', ' ']) {
        k = k.replace(['-', '.', ' '], "_");
    }
    if k == "secrets" {
        return false;
    }
    if WORDS.iter().any(|w| k.contains(w)) {
        return true;
    }
    let mut parts = k.split('_').filter(|p| !p.is_empty());
    let several = parts.clone().nth(1).is_some();
    parts.any(|p| {
        (several && PARTS.contains(&p))
            || FUZZY
                .iter()
                .any(|w| one_edit_apart(p.as_bytes(), w.as_bytes()))
    })
}

/// Whether `a` becomes `b` by exactly one inserted, deleted or replaced byte, or one swap of two
/// neighbours (`pasword`, `passwrod`). Runs once per key part and credential word, so it stays a
/// cheap comparison rather than a general edit distance.
fn one_edit_apart(a: &[u8], b: &[u8]) -> bool {
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[same..], &b[same..]);
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Less => a == &b[1..],
        std::cmp::Ordering::Greater => &a[1..] == b,
        std::cmp::Ordering::Equal => {
            a[1..] == b[1..] || (a.len() >= 2 && a[0] == b[1] && a[1] == b[0] && a[2..] == b[2..])
        }
    }
}

/// Why a string value is a literal credential whatever its key: `None` when it is not one.
#[must_use]
pub fn literal_credential(value: &str) -> Option<&'static str> {
    static URL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@").expect("valid pattern")
    });
    static AUTH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*(?:authorization:\s*)?(?:bearer|basic|token|digest)\s+\S")
            .expect("valid pattern")
    });
    // Every URL with a password has `://`: other values skip the pattern.
    if value.contains("://") && URL.is_match(value) {
        return Some("a URL with a password");
    }
    // The header pattern starts with a letter of `authorization`, `bearer`, `basic`, `token` or
    // `digest` after leading whitespace: other values skip it.
    let first = value
        .trim_start()
        .bytes()
        .next()
        .map(|b| b.to_ascii_lowercase());
    if matches!(first, Some(b'a' | b'b' | b't' | b'd')) && AUTH.is_match(value) {
        return Some("an authorization header value");
    }
    if let Some(Flag::Valued(v)) = credential_flag(value)
        && !is_expansion(v)
    {
        return Some("a credential argument");
    }
    // `--password secret` inside one shell string.
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.len() > 1 && flagged_items(&words).next().is_some() {
        return Some("a credential argument");
    }
    None
}

/// Indices of the items of an argument list that hold a credential: the item after a bare
/// `--password` or `--token` flag (a `$VAR` expansion is fine).
pub fn flagged_items<'a>(items: &'a [&'a str]) -> impl Iterator<Item = usize> + 'a {
    items.windows(2).enumerate().filter_map(|(i, w)| {
        let bare = matches!(credential_flag(w[0]), Some(Flag::Bare));
        (bare && !is_expansion(w[1]) && !w[1].starts_with('-')).then_some(i + 1)
    })
}

/// A command-line flag that names a credential.
enum Flag<'a> {
    /// `--password`: the value is the next argument.
    Bare,
    /// `--token=x`: the value is written with it.
    Valued(&'a str),
}

/// For `--password`, `--token=x` and the like: the flag and its `=` value if it has one.
fn credential_flag(arg: &str) -> Option<Flag<'_>> {
    const FLAGS: [&str; 12] = [
        "password",
        "passwd",
        "pass",
        "passphrase",
        "token",
        "auth-token",
        "access-token",
        "secret",
        "api-key",
        "apikey",
        "secret-key",
        "access-key",
    ];
    let flag = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    let (name, value) = match flag.split_once('=') {
        Some((n, v)) => (n, Flag::Valued(v)),
        None => (flag, Flag::Bare),
    };
    let name = name.to_ascii_lowercase().replace('_', "-");
    FLAGS.contains(&name.as_str()).then_some(value)
}

/// A shell or Kubernetes variable expansion (`$VAR`, `${VAR}`, `$(VAR)`), or a reference.
fn is_expansion(v: &str) -> bool {
    v.is_empty() || v.starts_with('$') || is_reference(v)
}

/// Whether a value is a secret reference rather than a secret: a well-formed
/// `vault:<path>#<key>`, `file:<path>` or `env:<VAR>` (the model's own parser decides).
#[must_use]
pub fn is_reference(value: &str) -> bool {
    crate::model::SecretRef::parse(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_apart_is_one_insertion_deletion_replacement_or_swap() {
        for (a, yes) in [
            ("pasword", true),
            ("passwordd", true),
            ("passwort", true),
            ("apssword", true),
            ("passwrod", true),
            ("password", false),
            ("pass", false),
            ("paswrod", false),
            ("", false),
        ] {
            assert_eq!(one_edit_apart(a.as_bytes(), b"password"), yes, "{a}");
        }
    }

    #[test]
    fn credential_keys() {
        for k in [
            "DB_PASS",
            "MYSQL_PWD",
            "PGPASS",
            "GPG_PASSPHRASE",
            "ENCRYPTION_KEY",
            "STRIPE_API_KEY",
            "AUTHORIZATION",
            "pasword",
            "ＰＡＳＳＷＯＲＤ",
            "db_password",
            "x-token",
        ] {
            assert!(looks_secret(k), "{k}");
        }
        for k in [
            "secrets",
            "PWD",
            "bypass",
            "compass",
            "route",
            "data_access",
            "image",
            "PATH",
        ] {
            assert!(!looks_secret(k), "{k}");
        }
    }

    #[test]
    fn credential_values() {
        for v in [
            "postgresql://u:PW@host/db",
            "Bearer abc.def",
            "  Authorization: Basic dXNlcjpwdw==",
            "\tToken abc",
            "DIGEST username=u",
            "--password=hunter2",
            "mysql --token abc",
        ] {
            assert!(literal_credential(v).is_some(), "{v}");
        }
        for v in [
            "postgresql://host/db",
            "--password=$DB_PASSWORD",
            "--password-file=/run/x",
            "bearer",
            "x Bearer abc",
        ] {
            assert!(literal_credential(v).is_none(), "{v}");
        }
        let args = ["app", "--token", "abc", "--password", "$P"];
        assert_eq!(flagged_items(&args).collect::<Vec<_>>(), [2]);
    }
}
