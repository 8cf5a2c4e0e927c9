//! `fintag train`: fine-tunes on labelled JSONL with a progress bar.

use clap::Args;
use fintag::train::{train_model, EpochSummary, TrainConfig, TrainObserver};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training data (labelled JSONL); may be given several times
    #[arg(long, required = true)]
    pub train: Vec<PathBuf>,
    /// Development data for per-epoch evaluation and early stopping
    #[arg(long)]
    pub dev: PathBuf,
    /// Output model directory
    #[arg(long)]
    pub out: PathBuf,
    /// Base model directory
    #[arg(long, default_value = "models/base")]
    pub base: PathBuf,
    #[arg(long, default_value_t = TrainConfig::default().epochs, value_parser = at_least_one)]
    pub epochs: usize,
    /// Encoder layers to fine-tune (from the top); the rest stay frozen
    #[arg(long, default_value_t = TrainConfig::default().tuned_layers, conflicts_with = "from")]
    pub tuned_layers: usize,
    #[arg(long, default_value_t = TrainConfig::default().encoder_lr, value_parser = learning_rate)]
    pub lr: f64,
    #[arg(long, default_value_t = TrainConfig::default().head_lr, value_parser = learning_rate)]
    pub head_lr: f64,
    #[arg(long, default_value_t = TrainConfig::default().docs_per_step, value_parser = at_least_one)]
    pub docs_per_step: usize,
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    #[arg(long, default_value_t = TrainConfig::default().patience, value_parser = at_least_one)]
    pub patience: usize,
    /// Stop after this many optimiser steps (0 = none)
    #[arg(long, default_value_t = 0)]
    pub max_steps: usize,
    /// Also try the mean of the weights after each of the last N epochs; kept when it
    /// beats the best single epoch on dev (0 = off)
    #[arg(long, default_value_t = 0)]
    pub average_last: usize,
    /// Label smoothing for the sentence and document sentiment losses (0 = off)
    #[arg(long, default_value_t = 0.0, value_parser = smoothing)]
    pub label_smoothing: f64,
    /// The document head also reads the mean of the sentence-sentiment probabilities
    #[arg(long, conflicts_with = "from")]
    pub document_sees_sentences: bool,
    /// A per-sentence PROMO head (reading each sentence beside its document) decides which
    /// sentences are wholly PROMO; the token-level head still finds clauses
    #[arg(long)]
    pub promo_sentence_head: bool,
    /// Start from this trained model: go on training its tuned layers and heads (its shape
    /// options are kept), or with --promo-sentence-head train only a sentence PROMO head on
    /// top of it (the encoder and the other heads stay as they are)
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// libtorch threads (default: all cores)
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    pub threads: Option<i32>,
}

struct Bar {
    bar: ProgressBar,
    /// stderr is not a terminal (CI, nohup): indicatif draws nothing, so print plain lines.
    plain: bool,
    total: usize,
    started: std::time::Instant,
}

impl Bar {
    fn line(&self, text: String) {
        if self.plain {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }
}

impl TrainObserver for Bar {
    fn started(&mut self, total: usize, train: usize, dev: usize) {
        self.bar.set_length(total as u64);
        self.total = total;
        self.started = std::time::Instant::now();
        self.line(format!("training on {train} documents, {dev} dev documents, {total} steps"));
    }
    fn step(&mut self, epoch: usize, step: usize, loss: f64) {
        self.bar.set_message(format!("epoch {epoch} loss {loss:.4}"));
        self.bar.inc(1);
        if self.plain && (step % 25 == 0 || step == self.total) {
            let secs = self.started.elapsed().as_secs_f64();
            let eta = secs / step as f64 * self.total.saturating_sub(step) as f64;
            eprintln!("step {step}/{} epoch {epoch} loss {loss:.4} elapsed {secs:.0}s ETA {eta:.0}s", self.total);
        }
    }
    fn epoch(&mut self, s: &EpochSummary) {
        let m = &s.metrics;
        self.line(format!(
            "epoch {:>2}  loss {:.4}  dev: entity F1 {:.3}  PROMO char F1 {:.3}  sentence F1 {:.3}  document F1 {:.3}  clickbait AUC {:.3}  score {:.4}{}  ({:.0}s)",
            s.epoch, s.train_loss, m.entity_f1, m.promo_char_f1, m.sentence_macro_f1, m.document_macro_f1, m.clickbait_auc, m.dev_score, if s.best { " *" } else { "" }, s.seconds
        ));
    }
    fn message(&mut self, text: &str) {
        self.line(text.to_string());
    }
}

/// A count of 1 or more.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be 1 or more".into()),
        Ok(x) => Ok(x),
        Err(e) => Err(e.to_string()),
    }
}

/// A learning rate: a finite number above 0.
fn learning_rate(s: &str) -> Result<f64, String> {
    super::number_where(s, |x| x > 0.0, "a learning rate is a number above 0")
}

/// Label smoothing: from 0 up to (not including) 1.
fn smoothing(s: &str) -> Result<f64, String> {
    super::number_where(s, |x| (0.0..1.0).contains(&x), "label smoothing is a number from 0 up to 1 (not 1 itself)")
}

pub fn run(a: TrainArgs) -> anyhow::Result<i32> {
    if let Some(t) = a.threads {
        tch::set_num_threads(t);
    }
    anyhow::ensure!(
        super::real_path(&a.out) != super::real_path(&a.base),
        "{}: --out is the base model directory; the model would overwrite its config.json",
        a.out.display()
    );
    let train_docs = super::eval::read_gold(&a.train, None)?;
    let dev_docs = super::eval::read_gold(std::slice::from_ref(&a.dev), None)?;
    let cfg = TrainConfig {
        name: a.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "fintag".into()),
        epochs: a.epochs,
        tuned_layers: a.tuned_layers,
        encoder_lr: a.lr,
        head_lr: a.head_lr,
        docs_per_step: a.docs_per_step,
        seed: a.seed,
        patience: a.patience,
        max_steps: a.max_steps,
        average_last: a.average_last,
        label_smoothing: a.label_smoothing,
        document_sees_sentences: a.document_sees_sentences,
        promo_sentence_head: a.promo_sentence_head,
        from_model: a.from.clone(),
        ..TrainConfig::default()
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} steps  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let plain = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut obs = Bar { bar, plain, total: 0, started: std::time::Instant::now() };
    // a test report in --out would describe the model this run replaces
    let stale = a.out.join("test_report.json");
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(|e| anyhow::anyhow!("{}: {e}", stale.display()))?;
        obs.bar.suspend(|| eprintln!("removed {}: it scored the model this run replaces", stale.display()));
    }
    let (outcome, _) = train_model(&a.base, &train_docs, &dev_docs, &a.out, &cfg, &mut obs)?;
    obs.bar.finish_and_clear();
    eprintln!(
        "{} (dev score {:.4}); {:.0}s in all ({:.0}s caching frozen layers); model in {}",
        outcome.kept(),
        outcome.best_dev_score,
        outcome.seconds,
        outcome.cache_seconds,
        a.out.display()
    );
    Ok(0)
}
