//! Integration tests of atproto-xrpc: one binary, one module per area.
mod identity;
mod jwt;
mod protocol;
