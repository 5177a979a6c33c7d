//! Syntax types: validated identifiers and string formats.
