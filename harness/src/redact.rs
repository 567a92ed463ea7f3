//! Secrets out of everything evalkit records or prints.
//!
//! evalkit reads secrets only from the environment (`api_key_env`, `${VAR}`
//! in headers) and sends them only to the endpoint they belong to. An
//! endpoint can still echo them back: some gateways quote the credential in
//! a 401 body. The model caller passes every error message and answer
//! through a [`Redactor`] holding the secrets of every connected backend, so
//! what reaches the journal, the reports and the terminal never holds one.

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Values shorter than this are not treated as secrets: replacing every "1"
/// or "dev" in a message would garble it, and no real credential is that short.
pub const MIN_SECRET_CHARS: usize = 4;

/// The secrets to remove from text, longest first (so a secret that contains
/// another is removed whole).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these values; short and duplicate values are dropped.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> =
            secrets.into_iter().filter(|s| s.trim().chars().count() >= MIN_SECRET_CHARS).collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every secret replaced by [`REDACTED`]; borrowed when
    /// there was nothing to replace.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }

    /// [`Redactor::redact`] for an owned string.
    pub fn redact_owned(&self, text: String) -> String {
        match self.redact(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(redacted) => redacted,
        }
    }

    /// Whether there is anything to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_occurrence_longest_first() {
        let redactor = Redactor::new(["sk-abc123".to_owned(), "sk-abc123-extended".to_owned(), "ab".to_owned()]);
        assert_eq!(
            redactor.redact("bad key sk-abc123-extended (sk-abc123), ab stays"),
            "bad key [REDACTED] ([REDACTED]), ab stays"
        );
        assert!(matches!(redactor.redact("nothing here"), Cow::Borrowed(_)));
        assert!(Redactor::new(["   ".to_owned()]).is_empty());
    }
}
