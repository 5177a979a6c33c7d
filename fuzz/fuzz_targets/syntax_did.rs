#![no_main]
use atproto_core::syntax::Did;
libfuzzer_sys::fuzz_target!(|s: &str| atproto_fuzz::syntax_round_trip::<Did>(s));
