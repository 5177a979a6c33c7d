//! Tests for atproto-core's data model module.
