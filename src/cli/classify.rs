//! `fintag classify`: tag documents and print them in one of four formats.

use super::render::{html_page, pretty_report};
use super::{load_pipeline, ModelArgs, OutputFormat};
use clap::Args;
use fintag::document::Prediction;
use fintag::formats::input::{InputStream, DEFAULT_MAX_BYTES};
use fintag::labels::SpanLabel;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// Files, directories (recursive), .jsonl corpora, or - for stdin
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output format (default: pretty on a terminal, jsonl otherwise)
    #[arg(long, short)]
    pub format: Option<OutputFormat>,
    /// Only these labels, comma-separated (e.g. ORG,PER,PROMO)
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Drop spans scoring below this
    #[arg(long, default_value_t = 0.0)]
    pub min_score: f32,
    /// Write to this file instead of stdout (- is stdout)
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Largest input file (bytes)
    #[arg(long, default_value_t = DEFAULT_MAX_BYTES)]
    pub max_bytes: u64,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Applies --labels and --min-score.
pub fn filter(p: &mut Prediction, labels: &[SpanLabel], min_score: f32) {
    p.spans.retain(|s| s.score >= min_score && (labels.is_empty() || labels.contains(&s.label)));
}

pub fn parse_labels(names: &[String]) -> anyhow::Result<Vec<SpanLabel>> {
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| {
            SpanLabel::parse(n.trim())
                .ok_or_else(|| anyhow::anyhow!("unknown label {n:?} (ORG PER LOC PRODUCT INSTRUMENT MONEY PERCENT DATE PROMO)"))
        })
        .collect()
}

pub fn run(mut a: ClassifyArgs) -> anyhow::Result<i32> {
    // `--out -` is stdout, as for flag and data export
    a.out = a.out.filter(|p| p.as_os_str() != "-");
    let labels = parse_labels(&a.labels)?;
    let to_terminal = a.out.is_none() && std::io::stdout().is_terminal();
    let format = a.format.unwrap_or(if to_terminal { OutputFormat::Pretty } else { OutputFormat::Jsonl });
    if let Some(out) = &a.out {
        super::check_out_apart(out, &a.inputs)?;
    }
    let pipeline = load_pipeline(&a.model)?;
    // JSON and HTML are one document written at the end: they go to a file beside --out that
    // takes its name when complete, so an interrupted run leaves --out as it was (not for
    // devices and pipes such as /dev/stdout)
    let real = a.out.as_deref().map(super::real_path);
    let whole = matches!(format, OutputFormat::Json | OutputFormat::Html)
        && real.as_ref().is_some_and(|p| std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(true));
    let target = a.out.as_ref().zip(real.as_ref()).map(|(p, r)| if whole { partial_path(r) } else { p.clone() });
    let mut sink: Box<dyn Write> = match (&a.out, &target) {
        (Some(out), Some(t)) => {
            let file = std::fs::File::create(t).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            Box::new(super::NamedWriter { inner: std::io::BufWriter::new(file), name: out.display().to_string() })
        }
        _ => Box::new(std::io::stdout().lock()),
    };
    let (mut failures, mut documents) = (0usize, 0usize);
    let mut collected: Vec<(String, Prediction)> = Vec::new();
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut json_items: Vec<serde_json::Value> = Vec::new();
    // Batches of 16 documents go to model replicas on worker threads (all cores, split
    // like `flag` does); results come back in input order.
    let batches = fintag::pipeline::in_batches(InputStream::new(&a.inputs, a.max_bytes), 16);
    let (workers, per_worker) = super::worker_split(super::cores(), None);
    pipeline.predict_stream(workers, per_worker, batches, |outcomes| -> anyhow::Result<()> {
        for o in outcomes {
            documents += 1;
            match o.result {
                Ok(mut p) => {
                    let text = o.text.unwrap_or_default();
                    filter(&mut p, &labels, a.min_score);
                    match format {
                        OutputFormat::Jsonl => {
                            serde_json::to_writer(&mut sink, &p)?;
                            sink.write_all(b"\n")?;
                            sink.flush()?;
                        }
                        OutputFormat::Pretty => {
                            writeln!(sink, "{}", pretty_report(&text, &p, to_terminal))?;
                        }
                        OutputFormat::Json => {
                            let mut v = serde_json::to_value(&p)?;
                            v["text"] = serde_json::Value::String(text);
                            json_items.push(v);
                        }
                        OutputFormat::Html => collected.push((text, p)),
                    }
                }
                Err(e) => {
                    failures += 1;
                    report_error(&mut sink, format, &o.id, &e.to_string(), &mut errors, &mut json_items)?;
                }
            }
        }
        Ok(())
    })?;
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut sink, &json_items)?;
            sink.write_all(b"\n")?;
        }
        OutputFormat::Html => sink.write_all(html_page(&collected, &errors).as_bytes())?,
        _ => {}
    }
    sink.flush()?;
    drop(sink);
    if documents == 0 {
        eprintln!("fintag: the inputs hold no documents (an empty directory or JSONL corpus)");
    }
    if let (true, Some(out), Some(t), Some(r)) = (whole, &a.out, &target, &real) {
        std::fs::rename(t, r).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    }
    super::exit_without_freeing(pipeline);
    Ok(if failures > 0 { 2 } else { 0 })
}

/// Where a whole-document output is written until it is complete: ".NAME.fintag-partial"
/// beside it (directory walks skip it).
fn partial_path(out: &std::path::Path) -> std::path::PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    out.with_file_name(format!(".{name}{}", fintag::formats::input::STAGED_SUFFIX))
}

fn report_error(
    sink: &mut dyn Write,
    format: OutputFormat,
    id: &str,
    msg: &str,
    errors: &mut Vec<(String, String)>,
    json: &mut Vec<serde_json::Value>,
) -> anyhow::Result<()> {
    eprintln!("{}", super::document_error_line(id, msg));
    let record = serde_json::json!({"id": id, "error": msg});
    match format {
        OutputFormat::Jsonl => {
            serde_json::to_writer(&mut *sink, &record)?;
            sink.write_all(b"\n")?;
        }
        OutputFormat::Json => json.push(record),
        OutputFormat::Html => errors.push((id.to_string(), msg.to_string())),
        OutputFormat::Pretty => {}
    }
    Ok(())
}
