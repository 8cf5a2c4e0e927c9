//! Fine-tuning: the base encoder's lower layers stay frozen (their outputs are computed once
//! and cached), the top layers and the heads are trained with AdamW, linear warm-up and
//! decay, class weights, gradient clipping, a fixed seed, evaluation on dev each epoch and
//! early stopping. Progress goes to a `TrainObserver`; the library never prints.
//!
//! A second mode (`TrainConfig::from_model`) trains only a sentence PROMO head on top of a
//! finished model: the whole encoder is then frozen and cached, and every other weight
//! stays as it was.

use crate::decode::DecodeConfig;
use crate::document::{Document, LabelledDocument};
use crate::error::{FintagError, Result};
use crate::labels::{EntityLabel, SpanLabel};
use crate::metrics::{evaluate, Report};
use crate::model::base::write_json;
use crate::model::tagger::{FreshModel, PreparedDoc, Tagger};
use crate::pipeline::{predict_with, DEFAULT_MAX_CHARS};
use crate::text::SentenceBounds;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{nn, nn::OptimizerConfig, Kind, Reduction, Tensor};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub name: String,
    pub epochs: usize,
    pub tuned_layers: usize,
    pub encoder_lr: f64,
    pub head_lr: f64,
    pub warmup_fraction: f64,
    pub weight_decay: f64,
    pub clip_norm: f64,
    /// Documents per optimiser step (gradients are accumulated).
    pub docs_per_step: usize,
    pub seed: u64,
    /// Epochs without dev improvement before stopping.
    pub patience: usize,
    /// Stop after this many optimiser steps in total (0 = no limit); for smoke tests.
    pub max_steps: usize,
    /// Also try the mean of the weights after each of the last N epochs (0 or 1 = off);
    /// it replaces the best epoch when it scores higher on dev.
    #[serde(default)]
    pub average_last: usize,
    /// Label smoothing for the sentence and document sentiment losses (0 = off): the
    /// sentiment labels are the noisiest layer, and the heads grew overconfident without it.
    #[serde(default)]
    pub label_smoothing: f64,
    /// The document head also reads the mean sentence-sentiment distribution.
    #[serde(default)]
    pub document_sees_sentences: bool,
    /// Train a per-sentence PROMO head (target: a sentence at least half covered by gold
    /// PROMO) that then decides which sentences are wholly PROMO.
    #[serde(default)]
    pub promo_sentence_head: bool,
    /// Start from this trained model. With `promo_sentence_head`, train only that head (added
    /// when the model has none; `encoder_lr` does not apply); without it, go on training its
    /// tuned layers and heads. Either way the model's own shape (`tuned_layers`,
    /// `document_sees_sentences`) is kept and the shape options here do not apply.
    #[serde(default)]
    pub from_model: Option<PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            name: "fintag-de".into(),
            epochs: 10,
            tuned_layers: 6,
            encoder_lr: 2e-4,
            head_lr: 2e-3,
            warmup_fraction: 0.06,
            weight_decay: 0.01,
            clip_norm: 1.0,
            docs_per_step: 2,
            seed: 13,
            patience: 4,
            max_steps: 0,
            average_last: 0,
            label_smoothing: 0.0,
            document_sees_sentences: false,
            promo_sentence_head: false,
            from_model: None,
        }
    }
}

impl TrainConfig {
    /// The model this configuration trains, before its first step.
    pub fn fresh_model(&self) -> FreshModel<'_> {
        FreshModel {
            name: &self.name,
            tuned_layers: self.tuned_layers,
            document_sees_sentences: self.document_sees_sentences,
            promo_sentence_head: self.promo_sentence_head,
            seed: self.seed as i64,
        }
    }
}

/// Receives progress; the CLI draws a progress bar from it.
pub trait TrainObserver {
    fn started(&mut self, _total_steps: usize, _train_docs: usize, _dev_docs: usize) {}
    fn step(&mut self, _epoch: usize, _step: usize, _loss: f64) {}
    fn epoch(&mut self, _summary: &EpochSummary) {}
    fn message(&mut self, _text: &str) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl TrainObserver for Silent {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochSummary {
    pub epoch: usize,
    pub train_loss: f64,
    #[serde(flatten)]
    pub metrics: DevMetrics,
    pub seconds: f64,
    pub best: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOutcome {
    pub epochs: Vec<EpochSummary>,
    pub best_epoch: usize,
    pub best_dev_score: f64,
    pub seconds: f64,
    pub cache_seconds: f64,
    pub train_docs: usize,
    pub dev_docs: usize,
    /// The weight average of the last epochs, when `average_last` asked for one.
    pub averaged: Option<AveragedSummary>,
    pub config: TrainConfig,
}

impl TrainOutcome {
    /// What became the saved model: "best epoch N" or "mean of epochs A-B".
    pub fn kept(&self) -> String {
        match &self.averaged {
            Some(m) if m.saved => format!("mean of epochs {}-{}", m.first_epoch, m.last_epoch),
            _ => format!("best epoch {}", self.best_epoch),
        }
    }
}

/// The dev result of the averaged weights and whether they became the saved model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AveragedSummary {
    pub first_epoch: usize,
    pub last_epoch: usize,
    #[serde(flatten)]
    pub metrics: DevMetrics,
    pub saved: bool,
}

/// The five headline dev metrics and their mean, the score early stopping maximises.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevMetrics {
    pub dev_score: f64,
    pub entity_f1: f64,
    pub promo_char_f1: f64,
    pub sentence_macro_f1: f64,
    pub document_macro_f1: f64,
    pub clickbait_auc: f64,
}

impl DevMetrics {
    pub fn of(r: &Report) -> Self {
        DevMetrics {
            dev_score: dev_score(r),
            entity_f1: r.entities_exact.micro.f1,
            promo_char_f1: r.promo_char.f1,
            sentence_macro_f1: r.sentence_sentiment.macro_f1,
            document_macro_f1: r.document_sentiment.macro_f1,
            clickbait_auc: r.clickbait.roc_auc.unwrap_or(0.0),
        }
    }
}

/// A running sum of a model's trainable weights, one tensor per variable.
struct WeightSum {
    sums: Vec<(String, Tensor)>,
    first_epoch: usize,
    last_epoch: usize,
    count: usize,
}

impl WeightSum {
    fn new() -> Self {
        WeightSum { sums: Vec::new(), first_epoch: 0, last_epoch: 0, count: 0 }
    }

    fn add(&mut self, vs: &nn::VarStore, epoch: usize) -> Result<()> {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        if self.sums.is_empty() {
            self.sums = tch::no_grad(|| vars.iter().map(|(n, v)| (n.clone(), v.detach().copy())).collect());
            self.first_epoch = epoch;
        } else {
            if vars.len() != self.sums.len() {
                return Err(FintagError::Invalid(format!(
                    "has {} tensors where the first has {}: only models of one shape can be averaged",
                    vars.len(),
                    self.sums.len()
                )));
            }
            // every tensor is checked before any is added, so a refused model leaves the sum as it was
            if let Some((name, _)) = self.sums.iter().zip(&vars).find(|((n, s), (o, v))| n != o || s.size() != v.size()).map(|p| p.0) {
                return Err(FintagError::Invalid(format!("tensor {name} is missing or has another shape than in the first")));
            }
            for ((_, sum), (_, v)) in self.sums.iter_mut().zip(&vars) {
                let _sum = tch::no_grad(|| sum.f_add_(v))?; // in place; the returned handle aliases `sum`
            }
        }
        self.last_epoch = epoch;
        self.count += 1;
        Ok(())
    }

    /// Copies the mean into the variables and returns their previous values.
    fn swap_in_mean(&self, vs: &nn::VarStore) -> Result<Vec<(String, Tensor)>> {
        let mut vars = vs.variables();
        let mut previous = Vec::new();
        for (name, sum) in &self.sums {
            let var = vars.get_mut(name).ok_or_else(|| FintagError::Invalid(format!("variable {name} vanished")))?;
            previous.push((name.clone(), var.detach().copy()));
            tch::no_grad(|| var.f_copy_(&(sum / self.count as f64)))?;
        }
        Ok(previous)
    }
}

/// The uniform mean of several trained models' weights (a "model soup"), for `fintag model
/// average`: each directory is loaded and checked like any model, all must have the same
/// tensors, and the result takes the first model's config (decoder thresholds included,
/// which are worth tuning again for the mean).
pub fn average_models(model_dirs: &[PathBuf], base_dir: &Path) -> Result<Tagger> {
    let first = model_dirs.first().ok_or_else(|| FintagError::Invalid("no model to average".into()))?;
    let mean = Tagger::load(first, base_dir)?;
    let mut sum = WeightSum::new();
    sum.add(&mean.tuned_vs, 1)?;
    for (i, dir) in model_dirs.iter().enumerate().skip(1) {
        let other = Tagger::load(dir, base_dir)?;
        sum.add(&other.tuned_vs, i + 1).map_err(|e| FintagError::Model { dir: dir.clone(), message: e.to_string() })?;
    }
    sum.swap_in_mean(&mean.tuned_vs)?;
    Ok(mean)
}

fn restore(vs: &nn::VarStore, values: &[(String, Tensor)]) -> Result<()> {
    let mut vars = vs.variables();
    for (name, value) in values {
        if let Some(var) = vars.get_mut(name) {
            tch::no_grad(|| var.f_copy_(value))?;
        }
    }
    Ok(())
}

/// A training example: prepared tokens, targets and the cached frozen-layer output.
struct Example {
    doc: PreparedDoc,
    entity_tags: Tensor,
    promo_tags: Tensor,
    sentence_labels: Tensor,
    /// 1 for a sentence at least half covered by gold PROMO, else 0.
    promo_sentences: Tensor,
    document_label: Tensor,
    clickbait: Tensor,
    frozen: Tensor,
    mask: Tensor,
}

/// Token-level BIO targets from gold spans: a token is inside a span when it overlaps it.
pub fn token_targets(doc: &PreparedDoc, gold: &LabelledDocument) -> (Vec<i64>, Vec<i64>) {
    let n = doc.encoding.tokens.len();
    let mut ent = vec![0i64; n];
    let mut promo = vec![0i64; n];
    for span in &gold.spans {
        let mut first = true;
        for (t, tok) in doc.encoding.tokens.iter().enumerate() {
            let (s, e) = (tok.start, tok.end.max(tok.start + 1));
            if tok.end == tok.start || s >= span.end || e <= span.start {
                continue;
            }
            match span.label {
                SpanLabel::Entity(l) => {
                    if ent[t] == 0 {
                        ent[t] = if first { l.begin_tag() } else { l.inside_tag() } as i64;
                    }
                }
                SpanLabel::Promo => {
                    if promo[t] == 0 {
                        promo[t] = if first { 1 } else { 2 };
                    }
                }
            }
            first = false;
        }
    }
    (ent, promo)
}

/// Sentence-level PROMO targets: 1 when gold PROMO spans cover at least half of a sentence's
/// non-space characters (the decoder's whole-sentence spans), else 0.
pub fn sentence_promo_targets(gold: &LabelledDocument) -> Vec<f32> {
    let chars: Vec<char> = gold.text.chars().collect();
    let mut promo = vec![false; chars.len()];
    for s in gold.spans.iter().filter(|s| s.label.is_promo()) {
        promo[s.start.min(chars.len())..s.end.min(chars.len())].iter_mut().for_each(|x| *x = true);
    }
    gold.sentences
        .iter()
        .map(|s| {
            let content: Vec<usize> = (s.start..s.end.min(chars.len())).filter(|&i| !chars[i].is_whitespace()).collect();
            let covered = content.iter().filter(|&&i| promo[i]).count();
            if !content.is_empty() && 2 * covered >= content.len() {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

fn class_weights(counts: &[f64], floor: f64, cap: f64) -> Tensor {
    let total: f64 = counts.iter().sum();
    let k = counts.len() as f64;
    let w: Vec<f32> = counts.iter().map(|&c| ((total / (k * c.max(1.0))).sqrt()).clamp(floor, cap) as f32).collect();
    Tensor::of_slice(&w)
}

/// Prepares training examples with the encoder's layers below `split` run once and cached.
fn prepare_examples(tagger: &Tagger, docs: &[LabelledDocument], split: usize) -> Result<Vec<Example>> {
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let sentences: Vec<SentenceBounds> = d.sentences.iter().map(|s| SentenceBounds { start: s.start, end: s.end }).collect();
        // the model reads a training text as it reads any other (lines in small letters with capitals)
        let read = tagger.reading(&d.text.chars().collect::<Vec<_>>()).1.map(String::from_iter);
        let doc = tagger.prepare(read.as_deref().unwrap_or(&d.text), sentences)?;
        if doc.encoding.tokens.is_empty() {
            continue;
        }
        let (ent, promo) = token_targets(&doc, d);
        let wins: Vec<&crate::encode::Window> = doc.windows.iter().collect();
        let (frozen, mask) = tch::no_grad(|| tagger.run_windows(&wins, None, 0, split, false));
        let sentence_labels: Vec<i64> = d.sentences.iter().map(|s| s.sentiment.index() as i64).collect();
        out.push(Example {
            entity_tags: Tensor::of_slice(&ent),
            promo_tags: Tensor::of_slice(&promo),
            sentence_labels: Tensor::of_slice(&sentence_labels),
            promo_sentences: Tensor::of_slice(&sentence_promo_targets(d)),
            document_label: Tensor::of_slice(&[d.sentiment.index() as i64]),
            clickbait: Tensor::from(if d.has_promo() { 1f32 } else { 0f32 }),
            frozen,
            mask,
            doc,
        });
    }
    Ok(out)
}

/// Dev evaluation with the real inference path (splitter sentences, decoder).
pub fn evaluate_tagger(tagger: &Tagger, gold: &[LabelledDocument], decode: &DecodeConfig) -> Result<Report> {
    let inputs: Vec<Document> = gold.iter().map(LabelledDocument::unlabelled).collect();
    let mut preds = Vec::new();
    for chunk in inputs.chunks(16) {
        for (p, d) in predict_with(tagger, decode, crate::pipeline::DEFAULT_BATCH_TOKENS, DEFAULT_MAX_CHARS, chunk).into_iter().zip(chunk) {
            // A dev document without a prediction would count as all-missed and steer early
            // stopping; the documents are checked before training, so this is a model failure.
            preds.push(p.map_err(|e| FintagError::in_document("cannot evaluate dev document", &d.id, e))?);
        }
    }
    Ok(evaluate(gold, &preds, 0.5))
}

/// The number early stopping maximises: the mean of the five headline metrics. A dev set of
/// one clickbait class has no AUC; it counts 0 then, the same for every epoch.
pub fn dev_score(r: &Report) -> f64 {
    let auc = r.clickbait.roc_auc.unwrap_or(0.0);
    (r.entities_exact.micro.f1 + r.promo_char.f1 + r.sentence_sentiment.macro_f1 + r.document_sentiment.macro_f1 + auc) / 5.0
}

/// Evaluates the model on dev; when it beats `best_score`, raises it and writes the
/// checkpoint and dev_report.json into `out`. Returns the metrics and whether it was kept.
fn evaluate_and_keep(
    tagger: &Tagger,
    dev_docs: &[LabelledDocument],
    decode: &DecodeConfig,
    out: &Path,
    best_score: &mut f64,
) -> Result<(DevMetrics, bool)> {
    let report = evaluate_tagger(tagger, dev_docs, decode)?;
    let metrics = DevMetrics::of(&report);
    let kept = metrics.dev_score > *best_score;
    if kept {
        *best_score = metrics.dev_score;
        tagger.save(out)?;
        write_json(&out.join("dev_report.json"), &report)?;
    }
    Ok((metrics, kept))
}

/// The training record written next to the checkpoint.
pub const METRICS_FILE: &str = "metrics.json";
/// The training curves page written next to metrics.json.
pub const TRAINING_PAGE: &str = "training.html";

/// Writes `dir`/training.html from a training record.
pub fn write_training_page(dir: &Path, outcome: &TrainOutcome) -> Result<()> {
    let path = dir.join(TRAINING_PAGE);
    std::fs::write(&path, crate::formats::report::training_page(outcome)).map_err(|e| FintagError::io(path, e))
}

/// Reads the training record (metrics.json) of a model directory.
pub fn read_outcome(dir: &Path) -> Result<TrainOutcome> {
    let path = dir.join(METRICS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| FintagError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| FintagError::Invalid(format!("{}: {e}", path.display())))
}

/// Trains a model and writes the best epoch's checkpoint, metrics.json and training.html into `out`; also
/// returns the model as it is after the last epoch (tests compare it with the checkpoint).
pub fn train_model(
    base_dir: &Path,
    train_docs: &[LabelledDocument],
    dev_docs: &[LabelledDocument],
    out: &Path,
    cfg: &TrainConfig,
    obs: &mut dyn TrainObserver,
) -> Result<(TrainOutcome, Tagger)> {
    if train_docs.is_empty() {
        return Err(FintagError::Invalid("no training documents".into()));
    }
    let t0 = Instant::now();
    // The model and the number of its lower layers that stay frozen (run once and cached).
    let (tagger, split) = match &cfg.from_model {
        // From a finished model nothing in the encoder trains: all of it is cached.
        Some(dir) if cfg.promo_sentence_head => {
            let t = Tagger::load_for_promo_sentence_head(dir, base_dir, cfg.seed as i64)?;
            let all = t.encoder.layers.len();
            (t, all)
        }
        // Otherwise training goes on from its weights: the same tuned layers and heads.
        Some(dir) => {
            let mut t = Tagger::load_to_continue(dir, base_dir)?;
            t.config.name = cfg.name.clone();
            let split = t.split_layer();
            (t, split)
        }
        None => {
            let mut t = Tagger::fresh(base_dir, &cfg.fresh_model())?;
            t.learn_spelling(train_docs.iter().map(|d| d.text.as_str()));
            let split = t.split_layer();
            (t, split)
        }
    };
    // Every dev document must be taggable, or each epoch's dev pass would fail; say so now.
    for d in dev_docs {
        crate::pipeline::prepare(&tagger, DEFAULT_MAX_CHARS, &d.unlabelled())
            .map_err(|e| FintagError::in_document("cannot train with dev document", &d.id, e))?;
    }
    obs.message(&format!("caching the frozen layers 0..{split} for {} documents", train_docs.len()));
    let mut examples = prepare_examples(&tagger, train_docs, split)?;
    let cache_seconds = t0.elapsed().as_secs_f64();

    // Class weights from the training tags (rare labels count more, within bounds).
    let mut ent_counts = vec![0f64; EntityLabel::NUM_BIO_TAGS];
    let mut promo_counts = vec![0f64; 3];
    for ex in &examples {
        for t in Vec::<i64>::try_from(&ex.entity_tags).unwrap_or_default() {
            ent_counts[t as usize] += 1.0;
        }
        for t in Vec::<i64>::try_from(&ex.promo_tags).unwrap_or_default() {
            promo_counts[t as usize] += 1.0;
        }
    }
    // Mild weights: strong ones buy recall with precision (measured: P 0.19 / R 0.46 on INSTRUMENT).
    let ent_w = class_weights(&ent_counts, 1.0, 2.0);
    let promo_w = class_weights(&promo_counts, 1.0, 2.0);

    let steps_per_epoch = examples.len().div_ceil(cfg.docs_per_step.max(1));
    let mut total_steps = steps_per_epoch * cfg.epochs;
    if cfg.max_steps > 0 {
        total_steps = total_steps.min(cfg.max_steps);
    }
    let warmup = ((total_steps as f64) * cfg.warmup_fraction).ceil().max(1.0) as usize;
    let mut opt = nn::AdamW { wd: cfg.weight_decay, ..Default::default() }.build(&tagger.tuned_vs, cfg.encoder_lr)?;
    let set_lr = |opt: &mut nn::Optimizer, step: usize| {
        let f = if step < warmup {
            (step + 1) as f64 / warmup as f64
        } else {
            ((total_steps - step) as f64 / (total_steps - warmup).max(1) as f64).max(0.0)
        };
        opt.set_lr_group(0, cfg.encoder_lr * f);
        opt.set_lr_group(1, cfg.head_lr * f);
    };
    obs.started(total_steps, examples.len(), dev_docs.len());
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let layers = tagger.encoder.layers.len();
    let decode_cfg = DecodeConfig::default();
    let mut epochs = Vec::new();
    let (mut best_score, mut best_epoch, mut stale) = (f64::MIN, 0, 0);
    let mut step = 0;
    let mut weight_sum = WeightSum::new();
    // sentence and document sentiment: the one place label smoothing applies
    let sentiment_loss =
        |logits: &Tensor, target: &Tensor| logits.cross_entropy_loss::<Tensor>(target, None, Reduction::Mean, -100, cfg.label_smoothing);
    let average_from = cfg.epochs.saturating_sub(cfg.average_last) + 1;
    'outer: for epoch in 1..=cfg.epochs {
        let te = Instant::now();
        examples.shuffle(&mut rng);
        let mut epoch_loss = 0.0;
        let mut seen = 0;
        for batch in examples.chunks(cfg.docs_per_step.max(1)) {
            if cfg.max_steps > 0 && step >= cfg.max_steps {
                break 'outer;
            }
            set_lr(&mut opt, step);
            opt.zero_grad();
            let mut batch_loss = 0.0;
            for ex in batch {
                let hidden = tagger.encoder.run_layers(ex.frozen.shallow_clone(), &ex.mask, split, layers, true);
                let o = tagger.heads_for(&ex.doc, &hidden, true);
                let ent = o.entity_logits.cross_entropy_loss(&ex.entity_tags, Some(&ent_w), Reduction::Mean, -100, 0.0);
                let promo = o.promo_logits.cross_entropy_loss(&ex.promo_tags, Some(&promo_w), Reduction::Mean, -100, 0.0);
                let mut loss = ent + promo;
                if ex.doc.sentences.len() > 0 {
                    loss = loss + sentiment_loss(&o.sentence_logits, &ex.sentence_labels);
                    if let Some(l) = &o.promo_sentence_logits {
                        loss = loss + l.binary_cross_entropy_with_logits::<Tensor>(&ex.promo_sentences, None, None, Reduction::Mean);
                    }
                }
                let doc_loss = sentiment_loss(&o.document_logits.unsqueeze(0), &ex.document_label)
                    + o.clickbait_logit.binary_cross_entropy_with_logits::<Tensor>(&ex.clickbait, None, None, Reduction::Mean);
                loss = (loss + doc_loss * 0.5) / batch.len() as f64;
                loss.backward();
                batch_loss += loss.double_value(&[]);
            }
            if !batch_loss.is_finite() {
                // diverged (a learning rate far too high): every later step would be NaN too
                return Err(FintagError::Invalid(format!(
                    "training diverged at step {}: the loss is {batch_loss}; lower --lr / --head-lr",
                    step + 1
                )));
            }
            clip_grad_norm(&tagger.tuned_vs, cfg.clip_norm)?;
            opt.step();
            step += 1;
            seen += 1;
            epoch_loss += batch_loss;
            obs.step(epoch, step, batch_loss);
        }
        let (metrics, improved) = evaluate_and_keep(&tagger, dev_docs, &decode_cfg, out, &mut best_score)?;
        if improved {
            best_epoch = epoch;
            stale = 0;
        } else {
            stale += 1;
        }
        let summary = EpochSummary {
            epoch,
            train_loss: epoch_loss / seen.max(1) as f64,
            metrics,
            seconds: te.elapsed().as_secs_f64(),
            best: improved,
        };
        obs.epoch(&summary);
        epochs.push(summary);
        if cfg.average_last > 1 && epoch >= average_from {
            weight_sum.add(&tagger.tuned_vs, epoch)?;
        }
        if stale >= cfg.patience {
            obs.message(&format!("early stop: no dev improvement for {stale} epochs"));
            break;
        }
    }
    if best_epoch == 0 {
        // max_steps ended training before the first evaluation: keep what there is.
        tagger.save(out)?;
    }
    let mut averaged = None;
    if weight_sum.count > 1 {
        let last_weights = weight_sum.swap_in_mean(&tagger.tuned_vs)?;
        let (metrics, saved) = evaluate_and_keep(&tagger, dev_docs, &decode_cfg, out, &mut best_score)?;
        obs.message(&format!(
            "mean of the weights after epochs {}-{}: dev score {:.4}{}",
            weight_sum.first_epoch,
            weight_sum.last_epoch,
            metrics.dev_score,
            if saved { " * (saved)" } else { " (best epoch kept)" }
        ));
        averaged = Some(AveragedSummary { first_epoch: weight_sum.first_epoch, last_epoch: weight_sum.last_epoch, metrics, saved });
        restore(&tagger.tuned_vs, &last_weights)?;
    }
    let outcome = TrainOutcome {
        epochs,
        best_epoch,
        best_dev_score: best_score,
        seconds: t0.elapsed().as_secs_f64(),
        cache_seconds,
        train_docs: train_docs.len(),
        dev_docs: dev_docs.len(),
        averaged,
        config: cfg.clone(),
    };
    write_json(&out.join(METRICS_FILE), &outcome)?;
    write_training_page(out, &outcome)?;
    Ok((outcome, tagger))
}

/// Scales the gradients so that their joint norm is at most `max`. Unlike tch's
/// `Optimizer::clip_grad_norm` it skips variables without a gradient (frozen ones).
fn clip_grad_norm(vs: &nn::VarStore, max: f64) -> Result<()> {
    let grads: Vec<Tensor> = vs.trainable_variables().iter().map(|v| v.grad()).filter(|g| g.defined()).collect();
    if grads.is_empty() {
        return Ok(());
    }
    tch::no_grad(|| -> Result<()> {
        let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
        let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
        let coef = max / (total + 1e-6);
        if coef < 1.0 {
            for g in &grads {
                let _scaled = g.shallow_clone().f_mul_scalar_(coef)?; // in place
            }
        }
        Ok(())
    })
}

/// The training loss of a model on documents, without updating it (for tests and reports).
pub fn mean_loss(tagger: &Tagger, docs: &[LabelledDocument]) -> Result<f64> {
    let split = tagger.split_layer();
    let examples = prepare_examples(tagger, docs, split)?;
    let layers = tagger.encoder.layers.len();
    let mut total = 0.0;
    tch::no_grad(|| {
        for ex in &examples {
            let hidden = tagger.encoder.run_layers(ex.frozen.shallow_clone(), &ex.mask, split, layers, false);
            let o = tagger.heads_for(&ex.doc, &hidden, false);
            let mut l = o.entity_logits.cross_entropy_loss::<Tensor>(&ex.entity_tags, None, Reduction::Mean, -100, 0.0)
                + o.promo_logits.cross_entropy_loss::<Tensor>(&ex.promo_tags, None, Reduction::Mean, -100, 0.0)
                + o.sentence_logits.cross_entropy_loss::<Tensor>(&ex.sentence_labels, None, Reduction::Mean, -100, 0.0);
            if let (Some(p), true) = (&o.promo_sentence_logits, !ex.doc.sentences.is_empty()) {
                l = l + p.binary_cross_entropy_with_logits::<Tensor>(&ex.promo_sentences, None, None, Reduction::Mean);
            }
            total += l.double_value(&[]);
        }
    });
    let _ = Kind::Float;
    Ok(total / examples.len().max(1) as f64)
}

/// One decoder setting tried by [`tune_decoder`]: dev PROMO character F1, dev score, and
/// whether it finds every PROMO character of the required documents and nothing else.
pub type TunedSetting = (DecodeConfig, f64, f64, bool);

/// Grid-searches the decoder thresholds on labelled (dev) documents: the model runs once,
/// decoding runs per setting. Returns the best setting by PROMO character F1 (ties: the
/// mean headline score, then the order of the grid) among those that decode the `required`
/// documents' PROMO exactly (all of them when there are none, or when no setting manages
/// it), and the whole table.
pub fn tune_decoder(
    pipeline: &crate::pipeline::Pipeline,
    gold: &[LabelledDocument],
    required: &[LabelledDocument],
    workers: usize,
    threads_per_worker: usize,
) -> Result<(DecodeConfig, Vec<TunedSetting>)> {
    // A document the model cannot tag would count as all-missed in every setting and bend
    // the choice, so it stops the tuning instead.
    let with_probs = |gold: &[LabelledDocument]| -> Result<Vec<_>> {
        let docs: Vec<Document> = gold.iter().map(LabelledDocument::unlabelled).collect();
        pipeline
            .head_probs(&docs, workers, threads_per_worker)
            .into_iter()
            .zip(docs)
            .map(|(r, d)| match r {
                Ok(x) => Ok((d, x)),
                Err(e) => Err(FintagError::in_document("cannot tune on document", &d.id, e)),
            })
            .collect()
    };
    let (probs, required_probs) = (with_probs(gold)?, with_probs(required)?);
    let decode_all = |probs: &[(Document, _)], cfg: &DecodeConfig| -> Vec<_> {
        probs.iter().map(|(d, (p, h))| crate::decode::decode(&d.id, &d.text, p, h, cfg)).collect()
    };
    let mut table = Vec::new();
    // With a sentence PROMO head the whole-sentence decision is its threshold; without one,
    // the share of hot tokens.
    let wholes: Vec<(f32, f32)> = if pipeline.tagger.config.promo_sentence_head {
        [0.3f32, 0.4, 0.5, 0.6, 0.7].iter().map(|&t| (pipeline.decode.whole_sentence_share, t)).collect()
    } else {
        [0.3f32, 0.4, 0.5, 0.6].iter().map(|&s| (s, pipeline.decode.promo_sentence_threshold)).collect()
    };
    // Strictest first, so that on a tie (dev cannot tell them apart) the setting wins whose
    // PROMO spans agree with the clickbait decision (1.01: no PROMO in unflagged documents;
    // ANNOTATION.md 1c: clickbait means at least one PROMO span).
    for threshold in [1.01f32, 0.9, 0.7, 0.5] {
        for flagged in [0.15f32, 0.2, 0.3, 0.4, 0.5] {
            for &(share, sentence_threshold) in &wholes {
                for min_clause in [3usize, 4, 6] {
                    let cfg = DecodeConfig {
                        promo_threshold: threshold,
                        promo_threshold_flagged: flagged,
                        whole_sentence_share: share,
                        promo_sentence_threshold: sentence_threshold,
                        min_clause_tokens: min_clause,
                        ..pipeline.decode
                    };
                    let r = evaluate(gold, &decode_all(&probs, &cfg), 0.5);
                    let exact = required.is_empty() || evaluate(required, &decode_all(&required_probs, &cfg), 0.5).promo_char.f1 >= 0.9999;
                    table.push((cfg, r.promo_char.f1, dev_score(&r), exact));
                }
            }
        }
    }
    let any_exact = table.iter().any(|r| r.3);
    let best = table
        .iter()
        .filter(|r| r.3 || !any_exact)
        .fold(None::<&TunedSetting>, |b, r| match b {
            Some(b) if (b.1, b.2) >= (r.1, r.2) => Some(b),
            _ => Some(r),
        })
        .map(|r| r.0)
        .unwrap_or(pipeline.decode);
    Ok((best, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(vars: &[(&str, &[i64], f64)]) -> nn::VarStore {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        for &(name, shape, value) in vars {
            let _ = vs.root().var(name, shape, nn::Init::Const(value));
        }
        vs
    }

    #[test]
    fn weight_sum_averages_one_shape_and_refuses_another() {
        let mut sum = WeightSum::new();
        sum.add(&store(&[("a", &[2, 3], 1.0), ("b", &[4], 0.0)]), 1).unwrap();
        // another shape, another name, another count: each refused, naming the tensor
        let err = sum.add(&store(&[("a", &[3, 2], 1.0), ("b", &[4], 0.0)]), 2).unwrap_err().to_string();
        assert!(err.contains("tensor a"), "{err}");
        let err = sum.add(&store(&[("a", &[2, 3], 1.0), ("c", &[4], 0.0)]), 2).unwrap_err().to_string();
        assert!(err.contains("tensor b"), "{err}");
        assert!(sum.add(&store(&[("a", &[2, 3], 1.0)]), 2).is_err());
        // the refused models left the sum as it was
        sum.add(&store(&[("a", &[2, 3], 3.0), ("b", &[4], 1.0)]), 2).unwrap();
        let target = store(&[("a", &[2, 3], 0.0), ("b", &[4], 0.0)]);
        let previous = sum.swap_in_mean(&target).unwrap();
        assert_eq!(previous.len(), 2);
        let vars = target.variables();
        assert!(vars["a"].equal(&tch::Tensor::full(&[2, 3], 2.0, (tch::Kind::Float, tch::Device::Cpu))));
        assert!(vars["b"].equal(&tch::Tensor::full(&[4], 0.5, (tch::Kind::Float, tch::Device::Cpu))));
        assert_eq!((sum.first_epoch, sum.last_epoch, sum.count), (1, 2, 2));
    }

    #[test]
    fn a_sentence_is_a_promo_target_when_gold_promo_covers_half_of_it() {
        use crate::document::{SentenceSentiment, Span};
        use crate::labels::Sentiment;
        let text = "Jetzt kaufen! Der Umsatz stieg, ein echter Geheimtipp. Die Zahlen kommen am Montag.";
        let sent = |start, end| SentenceSentiment { start, end, sentiment: Sentiment::Neutral };
        let promo = |start, end| Span { start, end, label: SpanLabel::Promo };
        let doc = LabelledDocument {
            id: "x".into(),
            text: text.into(),
            // whole sentence 1; a clause of sentence 2 (19 of its 35 non-space characters)
            spans: vec![promo(0, 13), promo(32, 53)],
            sentences: vec![sent(0, 13), sent(14, 54), sent(55, 83)],
            sentiment: Sentiment::Neutral,
            clickbait: true,
            genre: None,
            source: None,
        };
        assert_eq!(sentence_promo_targets(&doc), [1.0, 1.0, 0.0]);
        let short_clause = LabelledDocument { spans: vec![promo(43, 53)], ..doc };
        assert_eq!(sentence_promo_targets(&short_clause), [0.0, 0.0, 0.0]);
    }

    #[test]
    fn weight_sum_swaps_in_the_mean_and_restores_the_last_weights() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let w = vs.root().zeros("w", &[2]);
        let b = vs.root().zeros("b", &[1]);
        let set = |t: &Tensor, v: &[f32]| tch::no_grad(|| t.shallow_clone().copy_(&Tensor::of_slice(v)));
        let get = |t: &Tensor| Vec::<f32>::try_from(t).unwrap();
        let mut sum = WeightSum::new();
        for (epoch, (wv, bv)) in [(5, ([1.0, 2.0], [4.0])), (6, ([3.0, 6.0], [0.0])), (7, ([5.0, 1.0], [2.0]))] {
            set(&w, &wv);
            set(&b, &bv);
            sum.add(&vs, epoch).unwrap();
        }
        assert_eq!((sum.first_epoch, sum.last_epoch, sum.count), (5, 7, 3));
        let last = sum.swap_in_mean(&vs).unwrap();
        assert_eq!(get(&w), vec![3.0, 3.0]);
        assert_eq!(get(&b), vec![2.0]);
        restore(&vs, &last).unwrap();
        assert_eq!(get(&w), vec![5.0, 1.0]);
        assert_eq!(get(&b), vec![2.0]);
    }
}
