//! Tests for atproto-core's crypto module.
