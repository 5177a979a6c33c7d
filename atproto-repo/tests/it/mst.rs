//! MST tests.
