//! The last defence: a panic inside the Parquet decoder becomes an error.
//!
//! The footer checks remove the causes found so far, but polars-parquet
//! decodes pages with `unwrap`s, `expect`s and `unreachable!`s that a corrupt
//! page can still reach. [`catch`] runs the decoder under `catch_unwind` and
//! returns the panic's message; the default hook would print it to stderr
//! first ("thread 'main' panicked at ..."), so a hook installed once stays
//! quiet for panics on a thread inside [`catch`] and hands every other panic
//! to the hook that was there before.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether this thread is inside [`catch`].
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Run `work`; a panic in it becomes `Err` with the panic's message.
pub(super) fn catch<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CATCHING.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = CATCHING.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    CATCHING.with(|c| c.set(was));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(catch(|| 7), Ok(7));
        let index = std::hint::black_box(3);
        let result = catch(|| [1, 2, 3][index]);
        assert_eq!(result.unwrap_err(), "index out of bounds: the len is 3 but the index is 3");
        assert_eq!(catch(|| -> u8 { panic!("{}", String::from("owned")) }).unwrap_err(), "owned");
    }
}
