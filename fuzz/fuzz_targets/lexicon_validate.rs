#![no_main]
libfuzzer_sys::fuzz_target!(
    init: {
        atproto_fuzz::upstream_catalog();
    },
    |data: &[u8]| atproto_fuzz::lexicon_validate(data)
);
