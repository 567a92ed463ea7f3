use std::time::Duration;

/// Why a request failed, classified so the caller can decide about retries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// The endpoint said to slow down (HTTP 429).
    #[error("rate limited{}: {message}", retry_after.map(|d| format!(" (retry after {:.1}s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// How long the endpoint asked us to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
        /// The endpoint's message.
        message: String,
    },
    /// A failure that may go away on retry: 5xx, a dropped connection, a garbled body.
    #[error("{message}")]
    Transient {
        /// What went wrong.
        message: String,
    },
    /// No complete answer within the request timeout.
    #[error("no complete response within {:.1}s", after.as_secs_f64())]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// A failure that retrying cannot fix: bad request, bad credentials, unknown model.
    #[error("{message}")]
    Fatal {
        /// What went wrong.
        message: String,
    },
}

impl BackendError {
    /// Whether another attempt could succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, BackendError::Fatal { .. })
    }

    /// A short stable name for records and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendError::RateLimited { .. } => "rate_limited",
            BackendError::Transient { .. } => "transient",
            BackendError::Timeout { .. } => "timeout",
            BackendError::Fatal { .. } => "fatal",
        }
    }

    /// The same error with its message passed through `f` (to redact secrets
    /// an endpoint echoed back, say). A timeout carries no message.
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            BackendError::RateLimited { retry_after, message } => {
                BackendError::RateLimited { retry_after, message: f(message) }
            }
            BackendError::Transient { message } => BackendError::Transient { message: f(message) },
            BackendError::Timeout { after } => BackendError::Timeout { after },
            BackendError::Fatal { message } => BackendError::Fatal { message: f(message) },
        }
    }

    /// The wait the endpoint asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            BackendError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
