#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| atproto_fuzz::mst_node_round_trip(data));
