//! [`Suffix`]: an optional part of an error message.

use core::fmt;

/// Displays `prefix` then the value when there is one, nothing otherwise:
/// `Suffix(" at byte ", Some(&3))` shows ` at byte 3`.
pub(crate) struct Suffix<'a, T>(pub(crate) &'static str, pub(crate) Option<&'a T>);

impl<T: fmt::Display> fmt::Display for Suffix<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(value) => write!(f, "{}{value}", self.0),
            None => Ok(()),
        }
    }
}
