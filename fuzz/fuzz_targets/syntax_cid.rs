#![no_main]
use atproto_core::syntax::CidString;
libfuzzer_sys::fuzz_target!(|s: &str| atproto_fuzz::syntax_round_trip::<CidString>(s));
