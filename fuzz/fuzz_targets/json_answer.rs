#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| garnet::router::fuzz::json_answer(data));
