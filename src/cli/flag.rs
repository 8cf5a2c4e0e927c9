//! `fintag flag`: bulk clickbait flagging. Streams one record per document to --out (CSV or
//! JSONL), flushed as it goes; --resume continues a killed run without losing or repeating
//! documents; --shard I/N takes a deterministic share of the inputs.

use super::{load_pipeline, ModelArgs};
use clap::Args;
use fintag::document::Prediction;
use fintag::formats::input::{InputStream, DEFAULT_MAX_BYTES};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::io::{BufRead, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct FlagArgs {
    /// Files, directories (recursive), .jsonl corpora
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output file: .csv or .jsonl (one record per document); - writes JSONL to stdout
    #[arg(long, short)]
    pub out: PathBuf,
    /// Read `-` as JSONL (one {"id","text"} per line), e.g. under Spark's RDD.pipe
    #[arg(long)]
    pub stdin_jsonl: bool,
    /// Clickbait probability at which a document is flagged
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// Cores for the model in all (default: all cores)
    #[arg(long)]
    pub threads: Option<i32>,
    /// Model replicas working on batches side by side, sharing the weights (default: one per
    /// core, at most 4); the cores are split between them
    #[arg(long)]
    pub workers: Option<usize>,
    /// Documents per batch
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Continue a previous run: skip documents already in --out (those that failed there
    /// are tried again)
    #[arg(long)]
    pub resume: bool,
    /// Take only share I of N (0-based), e.g. 3/8, chosen by a hash of the document id
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// Largest input file (bytes)
    #[arg(long, default_value_t = DEFAULT_MAX_BYTES)]
    pub max_bytes: u64,
    /// No progress bar
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let i: u64 = i.trim().parse().map_err(|_| "I must be a number")?;
    let n: u64 = n.trim().parse().map_err(|_| "N must be a number")?;
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N"));
    }
    Ok((i, n))
}

/// FNV-1a: stable across runs, machines and Rust versions (unlike std's hasher).
pub fn shard_of(key: &str, n: u64) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h % n
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Csv,
    Jsonl,
}

fn kind_of(p: &Path) -> anyhow::Result<Kind> {
    if p.as_os_str() == "-" {
        return Ok(Kind::Jsonl);
    }
    match p.extension().and_then(|e| e.to_str()) {
        Some("csv") => Ok(Kind::Csv),
        Some("jsonl") | Some("ndjson") => Ok(Kind::Jsonl),
        _ => anyhow::bail!("{}: --out must end in .csv or .jsonl", p.display()),
    }
}

/// What an earlier run left in --out: the documents it finished, and how many of them it
/// flagged.
struct Resumed {
    ids: HashSet<String>,
    flagged: usize,
}

/// Reads the records already written and keeps the finished ones: a partly written last
/// line is cut away, and error records are dropped so that their documents are tried again
/// (a file that was unreadable then may be readable now); the file is rewritten only when
/// either happened.
fn resume_from(path: &Path, kind: Kind) -> anyhow::Result<Resumed> {
    let mut done = Resumed { ids: HashSet::new(), flagged: 0 };
    if !path.exists() {
        return Ok(done);
    }
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map(|i| i + 1).unwrap_or(0);
    let mut kept: Vec<&[u8]> = Vec::new(); // whole records, newline included
    let mut dropped = 0usize;
    // (bytes of one record, its (id, flagged, error) or None for what is no record); a CSV
    // record may span lines (a quoted id with a line break), so the CSV reader finds them
    let mut records: Vec<(&[u8], Option<(String, bool, bool)>)> = Vec::new();
    match kind {
        Kind::Jsonl => {
            for line in bytes[..complete].split_inclusive(|b| *b == b'\n') {
                let v = serde_json::from_slice::<serde_json::Value>(line).ok();
                let rec = v.and_then(|v| {
                    let id = v.get("id")?.as_str()?.to_string();
                    Some((id, v.get("flagged") == Some(&serde_json::Value::Bool(true)), v.get("error").is_some()))
                });
                records.push((line, rec));
            }
        }
        Kind::Csv => {
            let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&bytes[..complete]);
            let mut rec = csv::StringRecord::new();
            let mut at = 0usize;
            let mut header = true;
            while r.read_record(&mut rec).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))? {
                let end = (r.position().byte() as usize).min(complete);
                let fields = (!header)
                    .then(|| Some((rec.get(0)?.to_string(), rec.get(2) == Some("1"), rec.get(6).is_some_and(|e| !e.is_empty()))))
                    .flatten();
                records.push((&bytes[at..end], fields));
                at = end;
                header = false;
            }
        }
    }
    for (raw, record) in records {
        match record {
            Some((_, _, true)) => dropped += 1,
            Some((id, flagged, false)) => {
                let first = done.ids.insert(id);
                done.flagged += usize::from(flagged && first);
                kept.push(raw);
            }
            None => kept.push(raw),
        }
    }
    if dropped > 0 || complete < bytes.len() {
        // through a symlink, the file it points at is the one rewritten
        let real = super::real_path(path);
        let tmp = real.with_extension("resume-tmp");
        std::fs::write(&tmp, kept.concat())
            .and_then(|_| std::fs::rename(&tmp, &real))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    if dropped > 0 {
        eprintln!("{}: retrying {dropped} documents that failed before", path.display());
    }
    Ok(done)
}

struct Output {
    file: Box<dyn Write>,
    kind: Kind,
}

impl Output {
    /// One complete record per write, flushed, so a kill leaves at most one partial line.
    fn write(&mut self, id: &str, result: &Result<Prediction, String>, threshold: f32) -> anyhow::Result<bool> {
        let (line, flagged) = match self.kind {
            Kind::Jsonl => {
                let v = match result {
                    Ok(p) => {
                        let promo: Vec<_> = p
                            .spans
                            .iter()
                            .filter(|s| s.label.is_promo())
                            .map(|s| serde_json::json!({"start": s.start, "end": s.end, "score": s.score, "text": s.text}))
                            .collect();
                        serde_json::json!({"id": id, "clickbait": p.clickbait, "flagged": p.clickbait >= threshold, "sentiment": p.sentiment, "promo": promo})
                    }
                    Err(e) => serde_json::json!({"id": id, "error": e}),
                };
                (serde_json::to_string(&v)? + "\n", matches!(result, Ok(p) if p.clickbait >= threshold))
            }
            Kind::Csv => {
                let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
                match result {
                    Ok(p) => {
                        let promo: Vec<String> = p.spans.iter().filter(|s| s.label.is_promo()).map(|s| s.text.replace('\n', " ")).collect();
                        w.write_record([
                            id,
                            &format!("{:.4}", p.clickbait),
                            if p.clickbait >= threshold { "1" } else { "0" },
                            p.sentiment.as_str(),
                            &promo.len().to_string(),
                            &promo.join(" | "),
                            "",
                        ])?;
                    }
                    Err(e) => w.write_record([id, "", "", "", "", "", e.as_str()])?,
                }
                (
                    String::from_utf8(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?,
                    matches!(result, Ok(p) if p.clickbait >= threshold),
                )
            }
        };
        self.file.write_all(line.as_bytes())?;
        self.file.flush()?;
        Ok(flagged)
    }
}

/// How many documents the run will see, for the progress bar: files counted exactly (their
/// shard is known from the path), JSONL lines counted and divided among the shards.
fn expected_documents(inputs: &[PathBuf], shard: Option<(u64, u64)>) -> u64 {
    let mut n = 0u64;
    for p in fintag::formats::input::expand_paths(inputs).into_iter().flatten() {
        let jsonl = matches!(p.extension().and_then(|e| e.to_str()), Some("jsonl") | Some("ndjson"));
        if jsonl {
            let lines = std::fs::File::open(&p)
                .map(|f| std::io::BufReader::new(f).lines().map_while(|l| l.ok()).filter(|l| !l.trim().is_empty()).count() as u64)
                .unwrap_or(0);
            n += shard.map_or(lines, |(_, k)| lines.div_ceil(k));
        } else if shard.map_or(true, |(i, k)| shard_of(&p.display().to_string(), k) == i) {
            n += 1;
        }
    }
    n
}

pub fn run(a: FlagArgs) -> anyhow::Result<i32> {
    let kind = kind_of(&a.out)?;
    let to_stdout = a.out.as_os_str() == "-";
    anyhow::ensure!(!(to_stdout && a.resume), "--resume needs an output file, not stdout");
    if !to_stdout {
        super::check_out_apart(&a.out, &a.inputs)?;
    }
    let exists_nonempty = std::fs::metadata(&a.out).map(|m| m.len() > 0).unwrap_or(false);
    if exists_nonempty && !a.resume {
        anyhow::bail!("{} exists: pass --resume to continue that run, or choose another --out", a.out.display());
    }
    let Resumed { ids: done, flagged: flagged_before } =
        if a.resume { resume_from(&a.out, kind)? } else { Resumed { ids: HashSet::new(), flagged: 0 } };
    let done_count = done.len();
    let pipeline = load_pipeline(&a.model)?;
    let file: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout())
    } else {
        let mut f =
            std::fs::OpenOptions::new().create(true).append(true).open(&a.out).map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
        if kind == Kind::Csv && f.seek(std::io::SeekFrom::End(0))? == 0 {
            f.write_all(b"id,clickbait,flagged,sentiment,promo_spans,promo_text,error\n")?;
        }
        Box::new(super::NamedWriter { inner: f, name: a.out.display().to_string() })
    };
    let mut out = Output { file, kind };

    // The batches are read and decoded on predict_stream's feeder thread, ahead of the
    // model; they go to `workers` model replicas and come back in input order.
    let skipped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let batches = {
        let skipped = skipped.clone();
        let shard = a.shard;
        let items = InputStream::new(&a.inputs, a.max_bytes).stdin_as_jsonl(a.stdin_jsonl).filter(move |item| {
            let id = match item {
                Ok(d) => &d.id,
                Err((id, _)) => id,
            };
            if shard.is_some_and(|(i, n)| shard_of(id, n) != i) {
                return false;
            }
            let seen = done.contains(id);
            if seen {
                skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            !seen
        });
        fintag::pipeline::in_batches(items, a.batch)
    };

    let expected = if a.quiet { 0 } else { expected_documents(&a.inputs, a.shard).saturating_sub(done_count as u64) };
    let bar = if a.quiet { ProgressBar::hidden() } else { ProgressBar::new(expected) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} docs  {per_sec}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let (mut total, mut flagged, mut errors) = (0usize, 0usize, 0usize);
    let threads = a.threads.map(|t| t.max(1) as usize).unwrap_or_else(super::cores);
    let (workers, per_worker) = super::worker_split(threads, a.workers);
    pipeline.predict_stream(workers, per_worker, batches, |results| -> anyhow::Result<()> {
        let n = results.len() as u64;
        for fintag::pipeline::Outcome { id, result, .. } in results {
            total += 1;
            let r = result.map_err(|e| e.to_string());
            if let Err(e) = &r {
                errors += 1;
                bar.suspend(|| eprintln!("{}", super::document_error_line(&id, e)));
            }
            if out.write(&id, &r, a.threshold)? {
                flagged += 1;
            }
        }
        bar.inc(n);
        bar.set_message(format!("{flagged} flagged, {errors} errors"));
        Ok(())
    })?;
    bar.finish_and_clear();
    let skipped = skipped.load(std::sync::atomic::Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{total} documents, {flagged} flagged, {errors} errors{} in {secs:.1}s ({:.1} docs/s) → {}",
        if skipped > 0 { format!(", {skipped} already done ({flagged_before} of those flagged)") } else { String::new() },
        total as f64 / secs.max(1e-9),
        a.out.display()
    );
    // the exit code speaks for the whole output file: what earlier runs flagged counts
    Ok(if errors > 0 {
        2
    } else if flagged + flagged_before > 0 {
        0
    } else {
        1
    })
}
