//! `fintag data`: check, import, export and split labelled data.

use clap::Subcommand;
use fintag::document::LabelledDocument;
use fintag::formats::check::{check_documents, CorpusStats};
use fintag::formats::foreign::{export, import_file, parse_label_map, ExportFormat, ImportFormat};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Validate labelled files (JSONL or .ann) and print corpus statistics
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Format (default: by extension: .ann, else JSONL)
        #[arg(long)]
        format: Option<ImportFormat>,
        /// Print the statistics as JSON
        #[arg(long)]
        json: bool,
    },
    /// Convert foreign annotations into fintag's labelled JSONL
    Import {
        #[arg(long)]
        from: ImportFormat,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, short)]
        out: PathBuf,
        /// Map foreign labels, e.g. PERSON=PER,ORGANIZATION=ORG
        #[arg(long)]
        label_map: Option<String>,
    },
    /// Convert labelled JSONL into another format
    Export {
        #[arg(long)]
        to: ExportFormat,
        file: PathBuf,
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Split labelled JSONL into train/dev/test, stratified by genre and clickbait,
    /// refusing near-duplicate texts across splits
    Split {
        file: PathBuf,
        /// Where train.jsonl, dev.jsonl and test.jsonl go (the corpus uses `data`)
        #[arg(long)]
        out_dir: PathBuf,
        /// Share of the documents for dev
        #[arg(long, default_value_t = 0.13, value_parser = fraction)]
        dev: f64,
        /// Share of the documents for test
        #[arg(long, default_value_t = 0.13, value_parser = fraction)]
        test: f64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Labelled JSONL whose documents all go to train (added after the split, so the
        /// dev and test sets stay as they were); refused if any is a near-duplicate of a
        /// dev or test document
        #[arg(long)]
        train_only: Vec<PathBuf>,
    },
}

/// A share of the corpus: from 0 up to (not including) 1.
fn fraction(s: &str) -> Result<f64, String> {
    super::number_where(s, |x| (0.0..1.0).contains(&x), "a share is a number from 0 up to 1 (not 1 itself)")
}

fn format_of(p: &Path, f: Option<ImportFormat>) -> ImportFormat {
    f.unwrap_or_else(|| if p.extension().is_some_and(|e| e == "ann") { ImportFormat::Ann } else { ImportFormat::Jsonl })
}

pub fn run(c: DataCommand) -> anyhow::Result<i32> {
    match c {
        DataCommand::Check { files, format, json } => {
            let mut docs: Vec<(String, usize, LabelledDocument)> = Vec::new();
            let mut problems = Vec::new();
            for f in &files {
                let r = match import_file(format_of(f, format), f, &HashMap::new()) {
                    Ok((_, r)) => r,
                    Err(e) => {
                        say!("{e}"); // the error names the file
                        problems.push(());
                        continue;
                    }
                };
                for p in &r.problems {
                    say!("{p}");
                    problems.push(());
                }
                docs.extend(r.docs.into_iter().map(|(l, d)| (f.display().to_string(), l, d)));
            }
            for p in check_documents(&docs) {
                say!("{p}");
                problems.push(());
            }
            let stats = CorpusStats::of(docs.iter().map(|(_, _, d)| d));
            if json {
                say!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                say_raw!("{}", stats.table());
            }
            if problems.is_empty() {
                eprintln!("ok: {} documents, no problems", docs.len());
                Ok(0)
            } else {
                eprintln!("{}", super::counted(problems.len(), "problem"));
                Ok(1)
            }
        }
        DataCommand::Import { from, files, out, label_map } => {
            let map = match label_map {
                Some(s) => parse_label_map(&s).map_err(|e| anyhow::anyhow!(e))?,
                None => HashMap::new(),
            };
            super::check_out_apart(&out, &files)?;
            let mut docs = Vec::new();
            let mut n_problems = 0;
            let mut located = Vec::new();
            for f in &files {
                let (content, r) = import_file(from, f, &map)?;
                let looks_jsonl = content
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .is_some_and(|l| serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v.is_object()));
                if looks_jsonl
                    && !matches!(from, ImportFormat::Jsonl | ImportFormat::Doccano | ImportFormat::LabelStudio | ImportFormat::Prodigy)
                {
                    anyhow::bail!("{}: this looks like JSON lines, not --from {from:?} (fintag's own JSONL needs no import)", f.display());
                }
                for p in &r.problems {
                    eprintln!("{p}");
                }
                n_problems += r.problems.len();
                located.extend(r.docs.into_iter().map(|(l, d)| (f.display().to_string(), l, d)));
            }
            // what the import made is held to the same rules as the corpus
            for p in fintag::formats::check::check_documents(&located) {
                eprintln!("{p}");
                n_problems += 1;
            }
            docs.extend(located.into_iter().map(|(_, _, d)| d));
            super::write_output(&out, export(ExportFormat::Jsonl, &docs)?)?;
            eprintln!(
                "imported {} into {} ({})",
                super::counted(docs.len(), "document"),
                out.display(),
                super::counted(n_problems, "problem")
            );
            Ok(if n_problems > 0 { 1 } else { 0 })
        }
        DataCommand::Export { to, file, out } => {
            super::check_out_apart(&out, std::slice::from_ref(&file))?;
            let (_, r) = import_file(format_of(&file, None), &file, &HashMap::new())?;
            for p in &r.problems {
                eprintln!("{p}");
            }
            let docs: Vec<LabelledDocument> = r.docs.into_iter().map(|(_, d)| d).collect();
            super::write_output(&out, export(to, &docs)?)?;
            eprintln!("exported {} documents to {}", docs.len(), out.display());
            // documents of lines that could not be read are not in the export
            Ok(if r.problems.is_empty() { 0 } else { 1 })
        }
        DataCommand::Split { file, out_dir, dev, test, seed, train_only } => {
            let read_jsonl = |file: &Path| -> anyhow::Result<Vec<LabelledDocument>> {
                let (_, r) = import_file(ImportFormat::Jsonl, file, &HashMap::new())?;
                anyhow::ensure!(
                    r.problems.is_empty(),
                    "{}: {}; run fintag data check",
                    file.display(),
                    super::counted(r.problems.len(), "problem")
                );
                Ok(r.docs.into_iter().map(|(_, d)| d).collect())
            };
            anyhow::ensure!(dev + test < 1.0, "--dev {dev} and --test {test} leave nothing for train");
            let inputs: Vec<PathBuf> = std::iter::once(file.clone()).chain(train_only.iter().cloned()).collect();
            for name in ["train", "dev", "test"] {
                super::check_out_apart(&out_dir.join(format!("{name}.jsonl")), &inputs)?;
            }
            let docs = read_jsonl(&file)?;
            anyhow::ensure!(!docs.is_empty(), "{}: no documents to split", file.display());
            let mut extra = Vec::new();
            for f in &train_only {
                extra.extend(read_jsonl(f)?);
            }
            let split = fintag::formats::check::split_corpus(&docs, dev, test, seed);
            let held_out: Vec<&LabelledDocument> = split.dev.iter().chain(&split.test).map(|&i| &docs[i]).collect();
            let leaks = fintag::formats::check::near_duplicates_between(&extra, &held_out);
            for (a, b, sim) in &leaks {
                eprintln!("train-only document {} is a near-duplicate of held-out {} (similarity {sim:.2})", extra[*a].id, held_out[*b].id);
            }
            anyhow::ensure!(leaks.is_empty(), "{} train-only documents repeat dev/test texts; nothing written", leaks.len());
            std::fs::create_dir_all(&out_dir).map_err(|e| anyhow::anyhow!("{}: {e}", out_dir.display()))?;
            for (name, part) in [("train", &split.train), ("dev", &split.dev), ("test", &split.test)] {
                let path = out_dir.join(format!("{name}.jsonl"));
                let mut subset: Vec<LabelledDocument> = part.iter().map(|&i| docs[i].clone()).collect();
                if name == "train" {
                    subset.extend(extra.iter().cloned());
                }
                super::write_output(&path, export(ExportFormat::Jsonl, &subset)?)?;
                eprintln!("{name}: {} documents → {}", subset.len(), path.display());
            }
            for (a, b, sim) in &split.near_duplicates {
                eprintln!("kept together (similarity {sim:.2}): {} ~ {}", docs[*a].id, docs[*b].id);
            }
            Ok(0)
        }
    }
}
