//! Enough file descriptors for the requests a run keeps in flight.
//!
//! Every request in flight holds a socket, and its answer may be written to
//! the cache at the same moment; past the process's open-file limit,
//! connections fail with "Too many open files" deep inside a run. The limit
//! is checked before the run starts, and the soft limit raised towards the
//! hard one when that is enough.

/// Descriptors a run uses besides its requests: standard streams, the
/// journal, dataset and model files, the async runtime's own.
pub const RESERVED: u64 = 64;

/// The descriptors `in_flight` concurrent requests need: a socket each, a
/// cache file each while it is written, and [`RESERVED`].
pub fn needed_for(in_flight: u64) -> u64 {
    in_flight.saturating_mul(2).saturating_add(RESERVED)
}

/// The open-file limit was too low and could not be raised enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooFew {
    /// Descriptors needed.
    pub needed: u64,
    /// The soft limit now (after trying to raise it).
    pub soft: u64,
    /// The hard limit, which an unprivileged process cannot pass.
    pub hard: u64,
}

/// Make sure `needed` descriptors can be open at once, raising the soft
/// limit if it is lower (never lowering it). Platforms without `getrlimit`
/// are not checked.
pub fn ensure(needed: u64) -> Result<(), TooFew> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        // `None` is unlimited.
        let Some(soft) = limit.current else { return Ok(()) };
        if soft >= needed {
            return Ok(());
        }
        let hard = limit.maximum.unwrap_or(u64::MAX);
        let wanted = needed.min(hard);
        let soft = match setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum: limit.maximum }) {
            Ok(()) => wanted,
            Err(_) => soft,
        };
        if soft < needed {
            return Err(TooFew { needed, soft, hard });
        }
    }
    #[cfg(not(unix))]
    let _ = needed;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_the_soft_limit_when_the_hard_one_allows() {
        // Asking for what is already allowed changes nothing and succeeds.
        assert_eq!(ensure(16), Ok(()));
        // Asking for more than any system allows fails and says by how much.
        let error = ensure(u64::MAX / 2).unwrap_err();
        assert!(error.soft < error.needed, "{error:?}");
    }
}
