//! The `fintag` binary: parses arguments and hands them to `fintag::cli`, which maps
//! outcomes to exit codes (0 ok / flagged, 1 nothing flagged, 2 error).

fn main() {
    std::process::exit(fintag_cli::run());
}

#[path = "cli/mod.rs"]
mod fintag_cli;
