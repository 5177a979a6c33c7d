#![no_main]
use atproto_core::syntax::Handle;
libfuzzer_sys::fuzz_target!(|s: &str| atproto_fuzz::syntax_round_trip::<Handle>(s));
