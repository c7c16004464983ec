#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| precast_fuzzing::artifacts::run(data));
