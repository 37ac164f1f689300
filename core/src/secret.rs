//! What never shows itself in logs, `Debug` or `Display`: [`Secret`] values, and URLs that may
//! carry one ([`redact_url`], [`RedactedUrl`]). Every provider's configuration prints its
//! secrets and its URLs through these two, so there is one place to get redaction right.

use std::fmt;

/// A secret value (partner key, app secret, library secret, access token). `Debug` and
/// `Display` print `***`; the value is only reachable through [`Secret::expose`], which
/// signing code calls at the last moment.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Only for signing and for the request that must carry it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// A URL fit to print: scheme, host, port and path, with the user info (`user:password@`)
/// removed, every query value replaced by `***` (the names kept, so `?access_token=***` still
/// says what was sent) and the fragment dropped. A base URL, a presigned storage URL or a
/// cover image URL may carry a credential in any of those places.
///
/// Anything that does not parse as `scheme://…` is redacted the same way from its first
/// character (an `@` before the first `/` ends user info), so a malformed value cannot leak
/// either.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let (before_fragment, _fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (location, query) = match before_fragment.split_once('?') {
        Some((l, q)) => (l, Some(q)),
        None => (before_fragment, None),
    };
    let (authority, path) = location.split_at(location.find('/').unwrap_or(location.len()));
    let host = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(host);
    out.push_str(path);
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _value)) => {
                    out.push_str(name);
                    out.push_str("=***");
                }
                // A bare item may be the credential itself.
                None => out.push_str("***"),
            }
        }
    }
    out
}

/// A URL shown redacted ([`redact_url`]) by `Debug` (quoted, as a string field) and
/// `Display`: the field type of every configuration's `Debug` that prints a URL.
///
/// ```
/// use marketmedia_core::RedactedUrl;
/// let shown = format!("{:?}", RedactedUrl::new("https://u:pw@h.example/p?token=abc"));
/// assert_eq!(shown, r#""https://h.example/p?token=***""#);
/// ```
#[derive(Clone, Copy)]
pub struct RedactedUrl<'a>(&'a str);

impl<'a> RedactedUrl<'a> {
    /// Wraps a URL that may carry credentials.
    pub fn new(url: &'a str) -> Self {
        RedactedUrl(url)
    }
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_url(self.0), f)
    }
}

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_user_info_query_values_and_fragment() {
        let cases = [
            (
                "https://user:pw@api.example.invalid/rest?token=x&a=1#frag",
                "https://api.example.invalid/rest?token=***&a=***",
            ),
            ("http://127.0.0.1:9", "http://127.0.0.1:9"),
            ("http://127.0.0.1:9/rest/", "http://127.0.0.1:9/rest/"),
            // An `@` in the path is not user info; one in the password is.
            ("https://h.example/a@b", "https://h.example/a@b"),
            ("https://u:p@ss@h.example/x", "https://h.example/x"),
            ("https://h.example/x?sig", "https://h.example/x?***"),
            ("https://h.example/x?", "https://h.example/x"),
            (
                "postgres://u:secret@db:5432/x?sslmode=require",
                "postgres://db:5432/x?sslmode=***",
            ),
            ("u:pw@host/path?k=v", "host/path?k=***"),
            ("", ""),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn redacted_url_prints_the_redaction() {
        let u = RedactedUrl::new("https://u:pw@h.example/p?access_token=abc");
        assert_eq!(format!("{u}"), "https://h.example/p?access_token=***");
        assert_eq!(format!("{u:?}"), "\"https://h.example/p?access_token=***\"");
        assert_eq!(
            format!("{:?}", Some(u)),
            "Some(\"https://h.example/p?access_token=***\")"
        );
    }

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
