//! Integration tests of atproto-xrpc: one binary, one module per area.
mod identity;
mod jwt;
mod plc_audit;
mod protocol;
