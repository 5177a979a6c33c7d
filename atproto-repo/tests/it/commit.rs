//! Commit tests.
