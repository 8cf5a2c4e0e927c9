//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The converted base model; tests that need it fail (not skip) without it.
pub fn base_dir() -> PathBuf {
    let d = repo().join("models/base");
    assert!(d.join("manifest.json").is_file(), "models/base is missing: run `make test` (or scripts/setup.sh) first");
    d
}

/// ../shared/examples, beside the repository.
pub fn shared_examples() -> PathBuf {
    repo().join("../shared/examples")
}
