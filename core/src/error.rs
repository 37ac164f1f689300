//! One error type for every provider, with a kind the caller can match on.

use std::fmt;
use std::time::Duration;

/// What went wrong, in terms a caller can act on. Match on it; new kinds may be added.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input is not acceptable (size, format, duration, count, missing option). Checked
    /// before any request where possible. Not worth retrying.
    InvalidInput,
    /// Credentials were refused (bad signature, unknown key, expired or invalid token).
    Auth,
    /// The platform asked us to slow down. Worth retrying after a delay.
    RateLimited,
    /// A temporary failure: server error, connection reset, timeout. Worth retrying.
    Transient,
    /// The thing referred to does not exist (upload session, directory, video).
    NotFound,
    /// The target exists already (same-name file, upload already completed).
    Conflict,
    /// The platform understood the request and refused it for a business reason
    /// (quota, audit failure, transcoding failure, invalid part).
    Rejected,
    /// Upload credentials or a session expired; renewing them (or restarting) may help.
    Expired,
    /// The bytes the platform acknowledged differ from the bytes sent. Retrying the part helps.
    Corrupted,
    /// The operation was cancelled by the caller or the session was cancelled.
    Cancelled,
    /// The platform answered something we could not understand.
    Protocol,
    /// Reading the local source failed.
    Io,
    /// The operation is not offered by this provider.
    Unsupported,
    /// The platform refused to renew a credential's tokens (its refresh token was spent,
    /// revoked or expired, or the authorization ended): the seller must authorize the app
    /// again (`marketmedia accounts authorize NAME`). Retrying cannot help.
    Reauthorize,
}

impl ErrorKind {
    /// Whether an operation that failed this way is worth retrying as is.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited | ErrorKind::Transient | ErrorKind::Corrupted
        )
    }

    fn describe(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Auth => "authentication failed",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Transient => "temporary failure",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Rejected => "rejected by the platform",
            ErrorKind::Expired => "expired",
            ErrorKind::Corrupted => "corrupted transfer",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Protocol => "unexpected answer",
            ErrorKind::Io => "local I/O failure",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Reauthorize => "authorization needed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// An error from marketmedia: a [`ErrorKind`], a message in words a seller understands, and
/// the platform's own context (code, message, request id, HTTP status) when there is one.
///
/// Never carries a secret: messages are built from platform answers and local facts only.
#[derive(Debug)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    platform: Option<String>,
    call: Option<String>,
    code: Option<String>,
    request_id: Option<String>,
    http_status: Option<u16>,
    retry_after: Option<Duration>,
    token_refused: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a human message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            platform: None,
            call: None,
            code: None,
            request_id: None,
            http_status: None,
            retry_after: None,
            token_refused: false,
            source: None,
        }))
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// An [`ErrorKind::InvalidInput`] error from a configuration builder's `build()`: the
    /// required `setting` of `platform` was never given. The message names the builder method
    /// that sets it (`partner_id`), so the fix is in the error.
    pub fn missing_setting(platform: &str, setting: &str) -> Self {
        Self::invalid_input(format!(
            "the {platform} configuration has no {setting}: set it with the builder's `{setting}(..)`"
        ))
        .with_platform(platform)
    }

    /// Shorthand for an [`ErrorKind::Protocol`] error: an answer we could not understand.
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }

    /// Sets the platform name (e.g. `shopee`).
    pub fn with_platform(mut self, platform: impl Into<String>) -> Self {
        self.0.platform = Some(platform.into());
        self
    }

    /// Sets the API call that failed (e.g. `upload_video_part`).
    pub fn with_call(mut self, call: impl Into<String>) -> Self {
        self.0.call = Some(call.into());
        self
    }

    /// Sets the platform's error code (e.g. `error_sign`).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        let code = code.into();
        if !code.is_empty() {
            self.0.code = Some(code);
        }
        self
    }

    /// Sets the platform's request id.
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if !id.is_empty() {
            self.0.request_id = Some(id);
        }
        self
    }

    /// Sets the HTTP status of the answer.
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.0.http_status = Some(status);
        self
    }

    /// Sets how long the platform asked us to wait before retrying.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.0.retry_after = Some(after);
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// Changes the kind, keeping the context.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// Changes the human message, keeping the kind and the context.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.0.message = message.into();
        self
    }

    /// Marks the error as the platform's own answer that the access token the request
    /// carried is expired or invalid (Shopee's `error_auth`, Lazada's `IllegalAccessToken`,
    /// eBay's error 1001, WeChat's 42001): a provider's decoder sets it, and a
    /// [`TokenSource`](crate::raw::TokenSource) then refreshes the token once and sends the
    /// call again. The kind stays what the provider said (usually [`ErrorKind::Auth`]).
    pub fn with_token_refused(mut self) -> Self {
        self.0.token_refused = true;
        self
    }

    /// Whether the platform refused the request's access token as expired or invalid (see
    /// [`Error::with_token_refused`]).
    pub fn is_token_refused(&self) -> bool {
        self.0.token_refused
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The human message, without the context.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The platform name, when known.
    pub fn platform(&self) -> Option<&str> {
        self.0.platform.as_deref()
    }

    /// The API call that failed, when known.
    pub fn call(&self) -> Option<&str> {
        self.0.call.as_deref()
    }

    /// The platform's own error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The platform's request id, when it gave one (quote it to the platform's support).
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The HTTP status of the answer, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }

    /// How long the platform asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// A copy of this error with its context but without the underlying cause (which may not
    /// be clonable): for reporting one failure to several parties.
    pub fn detached(&self) -> Error {
        let i = &self.0;
        Error(Box::new(Inner {
            kind: i.kind,
            message: i.message.clone(),
            platform: i.platform.clone(),
            call: i.call.clone(),
            code: i.code.clone(),
            request_id: i.request_id.clone(),
            http_status: i.http_status,
            retry_after: i.retry_after,
            token_refused: i.token_refused,
            source: None,
        }))
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        self.0.kind.is_retryable()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(platform) = &self.0.platform {
            write!(f, "{platform}: ")?;
        }
        if let Some(call) = &self.0.call {
            write!(f, "{call}: ")?;
        }
        write!(f, "{}: {}", self.0.kind, self.0.message)?;
        let mut extra = Vec::new();
        if let Some(code) = &self.0.code {
            extra.push(format!("code {code}"));
        }
        if let Some(status) = self.0.http_status {
            extra.push(format!("HTTP {status}"));
        }
        if let Some(id) = &self.0.request_id {
            extra.push(format!("request id {id}"));
        }
        if !extra.is_empty() {
            write!(f, " ({})", extra.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        let message = format!("could not read the source: {err}");
        Error::new(ErrorKind::Io, message).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_context_without_repeating_source() {
        let err = Error::new(ErrorKind::Auth, "the signature was refused")
            .with_platform("shopee")
            .with_call("init_video_upload")
            .with_code("error_sign")
            .with_request_id("abc")
            .with_http_status(403);
        assert_eq!(
            err.to_string(),
            "shopee: init_video_upload: authentication failed: the signature was refused (code error_sign, HTTP 403, request id abc)"
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn retryable_kinds() {
        assert!(ErrorKind::Transient.is_retryable());
        assert!(ErrorKind::RateLimited.is_retryable());
        assert!(ErrorKind::Corrupted.is_retryable());
        assert!(!ErrorKind::Rejected.is_retryable());
        assert!(!ErrorKind::Expired.is_retryable());
        assert!(!ErrorKind::Reauthorize.is_retryable());
    }

    #[test]
    fn token_refused_survives_detaching_and_renaming() {
        let err = Error::new(ErrorKind::Auth, "Invalid access_token.").with_token_refused();
        assert!(err.is_token_refused());
        let copy = err.detached().with_message("again");
        assert!(copy.is_token_refused());
        assert_eq!(copy.message(), "again");
        assert!(!Error::new(ErrorKind::Auth, "x").is_token_refused());
    }
}
