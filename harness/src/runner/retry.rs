//! When to try again: exponential backoff with jitter, honouring `Retry-After`.

use std::time::Duration;

use evalkit_model_api::BackendError;

/// Retry settings from `[run]`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Delay before the first retry; doubles each time.
    pub initial: Duration,
    /// Upper bound on computed delays (not on a server's `Retry-After`).
    pub max: Duration,
    /// The longest `Retry-After` waited for; a server asking for more gets no retry.
    pub max_retry_after: Duration,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retry {
    /// Wait this long, then try again.
    After(Duration),
    /// Give up: the error is fatal or the retries are spent.
    GiveUp,
    /// Give up: the server asked to wait longer than `max_retry_after`.
    WaitTooLong {
        /// What the server asked for.
        asked: Duration,
    },
}

impl RetryPolicy {
    /// What to do after `failed_attempts` attempts (1 after the first failure)
    /// ended in `error`. `jitter` is a number in [0, 1).
    pub fn next(&self, failed_attempts: u32, error: &BackendError, jitter: f64) -> Retry {
        if !error.is_retryable() || failed_attempts > self.retries {
            return Retry::GiveUp;
        }
        if let Some(asked) = error.retry_after() {
            // The server knows its own limits: wait at least what it asked,
            // unless that is longer than anyone would wait for one task.
            if asked > self.max_retry_after {
                return Retry::WaitTooLong { asked };
            }
            return Retry::After(asked + self.initial.mul_f64(jitter * 0.1));
        }
        let exponent = failed_attempts.saturating_sub(1).min(30);
        let full = self.initial.saturating_mul(1u32 << exponent).min(self.max);
        // "Equal jitter": at least half the delay, so retries never stampede back at once.
        Retry::After(full.mul_f64(0.5 + 0.5 * jitter))
    }
}

/// A small deterministic generator for jitter (SplitMix64).
pub struct Jitter(u64);

impl Jitter {
    /// Seed from anything hashable-ish, e.g. the request hash.
    pub fn new(seed: &str) -> Self {
        Jitter(seed.bytes().fold(0x9E37_79B9_7F4A_7C15, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)))
    }

    /// A number in [0, 1).
    pub fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(60),
        }
    }

    fn delay(retry: Retry) -> Duration {
        match retry {
            Retry::After(delay) => delay,
            other => panic!("expected a delay, got {other:?}"),
        }
    }

    #[test]
    fn backs_off_exponentially_within_bounds() {
        let error = BackendError::Transient { message: String::new() };
        let delays: Vec<Duration> = (1..=3).map(|n| delay(policy().next(n, &error, 0.999_999))).collect();
        assert!(delays[0] <= Duration::from_millis(100) && delays[0] >= Duration::from_millis(99));
        assert!(delays[1] >= Duration::from_millis(199));
        assert!(delays[2] <= Duration::from_millis(300), "capped at max");
        assert_eq!(policy().next(1, &error, 0.0), Retry::After(Duration::from_millis(50)));
        assert_eq!(policy().next(4, &error, 0.5), Retry::GiveUp, "attempts are capped");
    }

    #[test]
    fn honours_retry_after_up_to_its_cap_and_never_retries_fatal() {
        let limited = |seconds| BackendError::RateLimited {
            retry_after: Some(Duration::from_secs(seconds)),
            message: String::new(),
        };
        assert!(delay(policy().next(1, &limited(2), 0.5)) >= Duration::from_secs(2));
        assert!(delay(policy().next(1, &limited(60), 0.5)) >= Duration::from_secs(60));
        assert_eq!(
            policy().next(1, &limited(3600), 0.5),
            Retry::WaitTooLong { asked: Duration::from_secs(3600) },
            "an hour is not waited for"
        );
        assert_eq!(policy().next(1, &BackendError::Fatal { message: String::new() }, 0.5), Retry::GiveUp);
    }

    #[test]
    fn jitter_is_in_unit_interval() {
        let mut jitter = Jitter::new("abc");
        assert!((0..1000).map(|_| jitter.next_unit()).all(|x| (0.0..1.0).contains(&x)));
    }
}
