//! Integration tests of atproto-xrpc: one binary, one module per area.
mod jwt;
