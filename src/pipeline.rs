//! One `Document` in, one `Prediction` out: text → sentences → tokens/windows → model →
//! decoded spans. Never prints; errors are per document.

use crate::decode::{decode, DecodeConfig, HeadProbs};
use crate::document::{Document, Prediction};
use crate::error::{FintagError, Result};
use crate::formats::input::InputItem;
use crate::model::tagger::Tagger;
use crate::text::split_sentences;
use std::path::Path;

/// Documents longer than this many code points are refused (a per-document error).
pub const DEFAULT_MAX_CHARS: usize = 500_000;

/// Padded tokens per encoder batch. Small batches are faster on CPU, not slower: their
/// activations stay in cache (measured on 2 cores with 2 workers: 1,024 tokens 1.27× the
/// documents/s of 8,192, and 500 MB less peak memory).
pub const DEFAULT_BATCH_TOKENS: usize = 1024;

pub struct Pipeline {
    pub tagger: Tagger,
    pub decode: DecodeConfig,
    /// Padded tokens per encoder batch (bounds memory; larger is faster up to a point).
    pub batch_tokens: usize,
    pub max_chars: usize,
}

impl Pipeline {
    pub fn load(model_dir: &Path, base_dir: &Path) -> Result<Self> {
        Ok(Pipeline::new(Tagger::load(model_dir, base_dir)?))
    }

    pub fn new(tagger: Tagger) -> Self {
        Pipeline { decode: tagger.config.decode, tagger, batch_tokens: DEFAULT_BATCH_TOKENS, max_chars: DEFAULT_MAX_CHARS }
    }

    pub fn predict(&self, doc: &Document) -> Result<Prediction> {
        self.predict_batch(std::slice::from_ref(doc)).into_iter().next().unwrap_or_else(|| Err(FintagError::Invalid("no result".into())))
    }

    /// Predicts several documents in one batched pass; each gets its own result.
    pub fn predict_batch(&self, docs: &[Document]) -> Vec<Result<Prediction>> {
        predict_with(&self.tagger, &self.decode, self.batch_tokens, self.max_chars, docs)
    }
}

/// What became of one input item: its id, its text when it could be read, and its
/// prediction or error.
pub struct Outcome {
    pub id: String,
    pub text: Option<String>,
    pub result: Result<Prediction>,
}

/// One batch's outcomes, in input order.
pub type BatchResults = Vec<Outcome>;

impl Pipeline {
    /// A second pipeline over the same weights (no copy), for another thread.
    pub fn replica(&self) -> Pipeline {
        Pipeline { tagger: self.tagger.replica(), decode: self.decode, batch_tokens: self.batch_tokens, max_chars: self.max_chars }
    }

    /// Predicts a stream of batches on `workers` threads, each with its own replica of the
    /// model and `threads_per_worker` libtorch threads, and hands every batch's results to
    /// `sink` in input order. Items that failed before the model (an unreadable file, a
    /// broken JSONL line) pass through as errors. Stops at the first error of `sink`.
    ///
    /// On a few cores, several single-threaded workers beat one multi-threaded model: the
    /// small matrix products and elementwise passes of a transformer split poorly across
    /// threads (measured on 2 cores: 2 workers × 1 thread ≈ 1.2× one worker × 2 threads).
    pub fn predict_stream<I, F, E>(&self, workers: usize, threads_per_worker: usize, batches: I, sink: F) -> std::result::Result<(), E>
    where
        I: Iterator<Item = Vec<InputItem>> + Send + 'static,
        F: FnMut(BatchResults) -> std::result::Result<(), E>,
    {
        let work = |replica: &Pipeline, items: Vec<InputItem>| {
            let ids: Vec<String> = items.iter().map(|i| i.as_ref().map_or_else(|(id, _)| id.clone(), |d| d.id.clone())).collect();
            // Whatever goes wrong in a batch stays an error of its documents.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| replica.predict_items(items)))
                .unwrap_or_else(|_| ids.into_iter().map(|id| Outcome { result: Err(internal_error(&id)), id, text: None }).collect())
        };
        self.on_replicas(workers, threads_per_worker, batches, work, sink)
    }

    /// Runs `work` on every job of a stream on `workers` threads, each with its own replica
    /// of the model (no copy of the weights) and `threads_per_worker` libtorch threads, and
    /// hands the results to `sink` in input order. Stops at the first error of `sink`.
    fn on_replicas<J, R, I, W, F, E>(
        &self,
        workers: usize,
        threads_per_worker: usize,
        jobs: I,
        work: W,
        mut sink: F,
    ) -> std::result::Result<(), E>
    where
        J: Send + 'static,
        R: Send,
        I: Iterator<Item = J> + Send + 'static,
        W: Fn(&Pipeline, J) -> R + Sync,
        F: FnMut(R) -> std::result::Result<(), E>,
    {
        use std::sync::{mpsc, Arc, Mutex};
        let workers = workers.max(1);
        let (job_tx, job_rx) = mpsc::sync_channel::<(usize, J)>(workers);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (res_tx, res_rx) = mpsc::channel::<(usize, R)>();
        // The feeder is not joined: after an error of `sink` it may still be blocked reading
        // input (stdin, say); it ends when it next fails to hand over a job.
        std::thread::spawn(move || {
            for job in jobs.enumerate() {
                if job_tx.send(job).is_err() {
                    break;
                }
            }
        });
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let replica = self.replica();
                let (job_rx, res_tx, work) = (Arc::clone(&job_rx), res_tx.clone(), &work);
                scope.spawn(move || {
                    // libtorch's thread count is per calling thread (an OpenMP setting).
                    tch::set_num_threads(threads_per_worker.max(1) as i32);
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok((seq, job)) = job else { break };
                        if res_tx.send((seq, work(&replica, job))).is_err() {
                            break;
                        }
                    }
                });
            }
            // Only the workers hold the job queue and the result channel now, so when they stop
            // the feeder's next hand-over fails, and when they finish the loop below ends.
            drop(job_rx);
            drop(res_tx);
            // Results arrive in any order; hand them on in input order.
            let mut pending = std::collections::BTreeMap::new();
            let mut next = 0;
            for (seq, result) in res_rx {
                pending.insert(seq, result);
                while let Some(result) = pending.remove(&next) {
                    sink(result)?;
                    next += 1;
                }
            }
            Ok(())
        })
    }

    /// Predicts the documents of a batch of input items; failed items stay errors.
    pub fn predict_items(&self, items: Vec<InputItem>) -> BatchResults {
        let mut docs = Vec::new();
        let mut slots = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok(d) => {
                    slots.push(None);
                    docs.push(d);
                }
                Err((id, e)) => slots.push(Some((id, e))),
            }
        }
        let predictions = self.predict_batch(&docs);
        let mut done = docs.into_iter().zip(predictions);
        slots
            .into_iter()
            .filter_map(|slot| match slot {
                Some((id, e)) => Some(Outcome { id, text: None, result: Err(e) }),
                None => done.next().map(|(d, result)| Outcome { id: d.id, text: Some(d.text), result }),
            })
            .collect()
    }
}

/// The error of a document whose batch failed in a way the model did not report.
fn internal_error(id: &str) -> FintagError {
    FintagError::Invalid(format!("{id}: internal error while tagging this batch"))
}

/// Groups a stream of items into batches of `size` items (the last one may be shorter), as
/// `predict_stream` takes them.
pub fn in_batches<T>(mut items: impl Iterator<Item = T>, size: usize) -> impl Iterator<Item = Vec<T>> {
    let size = size.max(1);
    std::iter::from_fn(move || {
        let batch: Vec<T> = items.by_ref().take(size).collect();
        (!batch.is_empty()).then_some(batch)
    })
}

/// Prediction with any tagger (also one in training): per-document results.
pub fn predict_with(
    tagger: &Tagger,
    decode_cfg: &DecodeConfig,
    batch_tokens: usize,
    max_chars: usize,
    docs: &[Document],
) -> Vec<Result<Prediction>> {
    probs_with(tagger, batch_tokens, max_chars, docs)
        .into_iter()
        .zip(docs)
        .map(|(r, d)| r.map(|(p, probs)| decode(&d.id, &d.text, &p, &probs, decode_cfg)))
        .collect()
}

/// The head probabilities of any tagger for a batch of documents, each with its prepared
/// tokens: per-document results, what [`predict_with`] decodes.
fn probs_with(tagger: &Tagger, batch_tokens: usize, max_chars: usize, docs: &[Document]) -> Vec<Result<DocProbs>> {
    let mut results: Vec<Option<Result<DocProbs>>> = (0..docs.len()).map(|_| None).collect();
    let mut ready = Vec::new();
    let mut idx = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        match prepare(tagger, max_chars, d) {
            Ok(p) => {
                ready.push(p);
                idx.push(i);
            }
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    if !ready.is_empty() {
        // libtorch reports shape errors by unwinding; keep that from reaching a caller.
        let outputs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tagger.infer(&ready, batch_tokens)));
        match outputs {
            Ok(outs) => {
                for ((p, o), i) in ready.into_iter().zip(outs).zip(&idx) {
                    results[*i] = Some(Ok((p, HeadProbs::from_outputs(&o))));
                }
            }
            Err(_) => {
                for i in &idx {
                    results[*i] = Some(Err(FintagError::Invalid(format!("{}: the model failed on this document", docs[*i].id))));
                }
            }
        }
    }
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(FintagError::Invalid("no result".into())))).collect()
}

pub(crate) fn prepare(tagger: &Tagger, max_chars: usize, d: &Document) -> Result<crate::model::tagger::PreparedDoc> {
    let n = d.text.chars().count();
    if d.text.trim().is_empty() {
        return Err(FintagError::Empty(d.id.clone()));
    }
    if n > max_chars {
        return Err(FintagError::Invalid(format!("{}: too long for one document ({n} characters, at most {max_chars}); split it", d.id)));
    }
    // hard-wrapped paragraphs: the splitter (and later the decoder) reads their breaks as
    // spaces; character references and lines in small letters: the splitter, the model and
    // the decoder read them as their characters and with capitals
    let written: Vec<char> = d.text.chars().collect();
    let (soft_breaks, reading) = tagger.reading(&written);
    let read: std::borrow::Cow<str> = reading.as_ref().map_or((&d.text).into(), |r| r.iter().collect::<String>().into());
    let sentences = if soft_breaks.is_empty() {
        split_sentences(&read)
    } else {
        split_sentences(&crate::text::unwrapped(reading.as_deref().unwrap_or(&written), &soft_breaks))
    };
    let mut p = tagger.prepare(&read, sentences)?;
    p.soft_breaks = soft_breaks;
    p.read = reading;
    if p.encoding.tokens.is_empty() {
        return Err(FintagError::Empty(d.id.clone()));
    }
    Ok(p)
}

/// Per-token decisions of the model: what the decoder turns into spans. Two runtimes that
/// agree on these agree on every span.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TokenDecisions {
    pub id: String,
    pub ids: Vec<i64>,
    /// Argmax BIO tag per token (0 = O, see labels::EntityLabel::from_tag).
    pub entity: Vec<usize>,
    /// Whether each token is promotional: P(B) + P(I) above the threshold PROMO spans are
    /// decided at in documents the clickbait head flags (`promo_threshold_flagged`; the
    /// shipped decoder gives unflagged documents no PROMO at all).
    pub promo: Vec<bool>,
    pub clickbait: f32,
}

impl Pipeline {
    /// Built on [`Pipeline::head_probs`], so documents are batched like everywhere else.
    pub fn token_decisions(&self, docs: &[Document], workers: usize, threads_per_worker: usize) -> Vec<Result<TokenDecisions>> {
        self.head_probs(docs, workers, threads_per_worker)
            .into_iter()
            .zip(docs)
            .map(|(r, d)| {
                let (p, probs) = r?;
                let entity = probs
                    .entity
                    .iter()
                    .map(|e| e.iter().enumerate().fold((0, f32::MIN), |b, (i, x)| if *x > b.1 { (i, *x) } else { b }).0)
                    .collect();
                Ok(TokenDecisions {
                    id: d.id.clone(),
                    ids: p.encoding.tokens.iter().map(|t| t.id).collect(),
                    entity,
                    promo: probs.promo.iter().map(|x| *x > self.decode.promo_threshold_flagged).collect(),
                    clickbait: probs.clickbait,
                })
            })
            .collect()
    }
}

/// One document's prepared tokens and head probabilities: what the decoder works from.
pub type DocProbs = (crate::model::tagger::PreparedDoc, HeadProbs);

impl Pipeline {
    /// Model outputs without decoding, for re-decoding under several decoder settings, in
    /// input order. Runs on `workers` single-model replicas with `threads_per_worker`
    /// libtorch threads each, as `predict_stream` does (on a busy machine one model whose
    /// OpenMP threads wait on each other at every operation loses most of its speed).
    pub fn head_probs(&self, docs: &[Document], workers: usize, threads_per_worker: usize) -> Vec<Result<DocProbs>> {
        let chunks: Vec<Vec<Document>> = docs.chunks(16).map(<[Document]>::to_vec).collect();
        let work = |replica: &Pipeline, chunk: Vec<Document>| {
            // A panic is an error of the chunk's documents.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                probs_with(&replica.tagger, replica.batch_tokens, replica.max_chars, &chunk)
            }))
            .unwrap_or_else(|_| chunk.iter().map(|d| Err(internal_error(&d.id))).collect())
        };
        let mut out = Vec::with_capacity(docs.len());
        let collected = self.on_replicas(workers, threads_per_worker, chunks.into_iter(), work, |results| {
            out.extend(results);
            Ok::<(), std::convert::Infallible>(())
        });
        match collected {
            Ok(()) => out,
            Err(never) => match never {},
        }
    }
}
