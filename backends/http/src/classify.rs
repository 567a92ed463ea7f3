//! Turning HTTP failures into [`BackendError`] classes, for every wire format:
//! transport errors, status codes, error bodies and `Retry-After`.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use evalkit_model_api::BackendError;
use serde_json::Value;

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// Follow redirects only within the origin (scheme, host, port) the request
/// went to. reqwest drops `Authorization` on a cross-origin redirect but
/// would forward every other configured header (`X-Api-Key: ${KEY}`), so a
/// redirect elsewhere is refused; the error says where it pointed.
pub(crate) fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else { return attempt.follow() };
        if attempt.url().origin() != first.origin() {
            let message = format!(
                "the server redirected to {}, another origin than {}; evalkit does not follow it, so that \
                 the API key and configured headers go only to `base_url` (set `base_url` to the new address \
                 if you trust it)",
                attempt.url().origin().ascii_serialization(),
                first.origin().ascii_serialization()
            );
            attempt.error(message)
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// A failure before or while reading a response.
pub(crate) fn transport_error(url: &str, error: &reqwest::Error) -> BackendError {
    if error.is_timeout() {
        // reqwest's own timeouts (connect) surface here; the overall deadline is
        // enforced by the caller and reported with its duration.
        return BackendError::Transient { message: format!("timed out talking to {url}: {error}") };
    }
    let mut message =
        if error.is_connect() { format!("cannot connect to {url}") } else { format!("request to {url} failed") };
    // reqwest's Display hides the cause ("error sending request"); the chain says why.
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_redirect() {
        // The same redirect comes back on every retry.
        return BackendError::Fatal { message };
    }
    BackendError::Transient { message }
}

/// A non-2xx answer from `url`.
pub(crate) fn status_error(url: &str, status: StatusCode, retry_after: Option<Duration>, body: &str) -> BackendError {
    let detail = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").map(error_message))
        .unwrap_or_else(|| snippet(body.as_bytes()));
    let mut message = format!("HTTP {status} from {url}: {detail}");
    if status == StatusCode::NOT_FOUND {
        message.push_str(
            " (check `base_url`: OpenAI-compatible servers usually want it to end in `/v1`; and check `model`)",
        );
    }
    match status.as_u16() {
        429 => BackendError::RateLimited { retry_after, message },
        408 | 409 | 425 | 500..=599 => BackendError::Transient { message },
        _ => BackendError::Fatal { message },
    }
}

/// `Retry-After` (seconds or an HTTP date) or OpenAI's `retry-after-ms`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) =
        headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
    {
        return finite_seconds(ms / 1000.0);
    }
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return finite_seconds(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn finite_seconds(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

/// The message of an API error object (`{"message": ...}`), which OpenAI- and
/// Anthropic-style bodies both carry under `error`.
pub(crate) fn error_message(error: &Value) -> String {
    error.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| error.to_string())
}

/// The start of a body, for error messages.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:9/v2/chat/completions";

    #[test]
    fn classifies_statuses() {
        assert_eq!(status_error(URL, StatusCode::TOO_MANY_REQUESTS, None, "").kind(), "rate_limited");
        assert_eq!(status_error(URL, StatusCode::BAD_GATEWAY, None, "").kind(), "transient");
        let fatal = status_error(URL, StatusCode::UNAUTHORIZED, None, r#"{"error":{"message":"bad key"}}"#);
        assert_eq!(fatal.kind(), "fatal");
        assert!(fatal.to_string().contains("bad key"));
        let missing = status_error(URL, StatusCode::NOT_FOUND, None, "no such route").to_string();
        assert!(missing.contains(URL) && missing.contains("base_url"), "{missing}");
    }

    #[test]
    fn reads_retry_after_forms() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        let mut dated = HeaderMap::new();
        dated.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&dated), Some(Duration::ZERO));
    }
}
