//! Never built: Cargo.toml beside this file only pins the adapter crate (see its comment).
