//! Tests for atproto-core's syntax module.
