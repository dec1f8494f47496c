//! Any text as a pipeline file: parsing and validation must return Ok or a typed error,
//! never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use restock::config::{Overrides, RawPipeline};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(raw) = RawPipeline::from_toml(std::path::Path::new("fuzz.toml"), text) {
            let _ = raw.validate(Overrides::default());
        }
    }
});
