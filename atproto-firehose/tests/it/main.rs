//! Integration tests of the frame codec and the capture format.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../atproto-core/tests/it/interop.rs"]
mod interop;

mod capture;
mod malformed;
mod reference;
mod validate;
mod validate_defects;
