#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| atproto_fuzz::firehose_capture(data));
