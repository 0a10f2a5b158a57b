//! Config loading (SPEC C1, C5): any text is a `Config` or a `ConfigError` whose message
//! renders, never a panic or a stack overflow. `config::parse` does no I/O beyond reading two
//! environment variables; plugin sidecars go through the same `decode`.
#![no_main]

#[path = "stack.rs"]
mod stack;

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    stack::on_small_stack(
        || match onebot_host::config::parse(text, Path::new("fuzz.json5")) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    assert!(warning.starts_with("fuzz.json5"), "{warning}");
                }
            }
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.starts_with("fuzz.json5"),
                    "C5 names the file: {message}"
                );
            }
        },
    );
});
