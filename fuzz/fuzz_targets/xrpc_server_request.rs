#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| atproto_fuzz::xrpc_server_request(data));
