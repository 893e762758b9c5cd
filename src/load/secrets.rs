//! What counts as a secret: key names that hold credentials, and the reference syntax that is the
//! only acceptable value for them.

/// Whether a key's name says it holds a credential.
#[must_use]
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['-', '.'], "_");
    const WORDS: [&str; 10] = [
        "password",
        "passwd",
        "token",
        "secret",
        "credential",
        "private_key",
        "privatekey",
        "api_key",
        "apikey",
        "signing_key",
    ];
    WORDS.iter().any(|w| k.contains(w)) && k != "secrets"
}

/// Whether a value is a secret reference rather than a secret: `vault:<path>#<key>`,
/// `file:<path>` or `env:<VAR>`.
#[must_use]
pub fn is_reference(value: &str) -> bool {
    if let Some(rest) = value.strip_prefix("vault:") {
        return rest.split_once('#').is_some_and(|(p, k)| {
            !p.is_empty() && !k.is_empty() && !p.contains(char::is_whitespace)
        });
    }
    if let Some(rest) = value.strip_prefix("file:") {
        return !rest.is_empty() && !rest.contains('\n');
    }
    if let Some(rest) = value.strip_prefix("env:") {
        return !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    }
    false
}
