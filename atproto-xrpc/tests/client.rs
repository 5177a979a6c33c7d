//! XRPC client tests.
