//! One `Document` in, one `Prediction` out: text → sentences → tokens/windows → model →
//! decoded spans. Never prints; errors are per document.

use crate::decode::{decode, DecodeConfig, HeadProbs};
use crate::document::{Document, Prediction};
use crate::error::{FintagError, Result};
use crate::model::tagger::Tagger;
use crate::text::split_sentences;
use std::path::Path;

/// Documents longer than this many code points are refused (a per-document error).
pub const DEFAULT_MAX_CHARS: usize = 500_000;

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
        Pipeline { decode: tagger.config.decode, tagger, batch_tokens: 8192, max_chars: DEFAULT_MAX_CHARS }
    }

    pub fn predict(&self, doc: &Document) -> Result<Prediction> {
        self.predict_batch(std::slice::from_ref(doc)).into_iter().next().unwrap_or_else(|| Err(FintagError::Invalid("no result".into())))
    }

    /// Predicts several documents in one batched pass; each gets its own result.
    pub fn predict_batch(&self, docs: &[Document]) -> Vec<Result<Prediction>> {
        predict_with(&self.tagger, &self.decode, self.batch_tokens, self.max_chars, docs)
    }
}

/// Prediction with any tagger (also one in training): per-document results.
pub fn predict_with(
    tagger: &Tagger,
    decode_cfg: &DecodeConfig,
    batch_tokens: usize,
    max_chars: usize,
    docs: &[Document],
) -> Vec<Result<Prediction>> {
    let mut results: Vec<Option<Result<Prediction>>> = (0..docs.len()).map(|_| None).collect();
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
                for ((p, o), i) in ready.iter().zip(outs).zip(&idx) {
                    let probs = HeadProbs::from_outputs(&o);
                    results[*i] = Some(Ok(decode(&docs[*i].id, &docs[*i].text, p, &probs, decode_cfg)));
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

fn prepare(tagger: &Tagger, max_chars: usize, d: &Document) -> Result<crate::model::tagger::PreparedDoc> {
    let n = d.text.chars().count();
    if d.text.trim().is_empty() {
        return Err(FintagError::Empty(d.id.clone()));
    }
    if n > max_chars {
        return Err(FintagError::TooLarge { what: d.id.clone(), size: n as u64, limit: max_chars as u64 });
    }
    let p = tagger.prepare(&d.text, split_sentences(&d.text))?;
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
    /// Whether each token is promotional (P(B) + P(I) above the threshold).
    pub promo: Vec<bool>,
    pub clickbait: f32,
}

impl Pipeline {
    /// Built on [`Pipeline::head_probs`], so documents are batched like everywhere else.
    pub fn token_decisions(&self, docs: &[Document]) -> Vec<Result<TokenDecisions>> {
        self.head_probs(docs)
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
                    promo: probs.promo.iter().map(|x| *x > self.decode.promo_threshold).collect(),
                    clickbait: probs.clickbait,
                })
            })
            .collect()
    }
}

impl Pipeline {
    /// Model outputs without decoding, for re-decoding under several decoder settings.
    pub fn head_probs(&self, docs: &[Document]) -> Vec<Result<(crate::model::tagger::PreparedDoc, HeadProbs)>> {
        let mut out = Vec::with_capacity(docs.len());
        for chunk in docs.chunks(16) {
            let mut prepared = Vec::new();
            let mut slots = Vec::new();
            for d in chunk {
                match prepare(&self.tagger, self.max_chars, d) {
                    Ok(p) => {
                        slots.push(Ok(prepared.len()));
                        prepared.push(p);
                    }
                    Err(e) => slots.push(Err(e)),
                }
            }
            let outs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.tagger.infer(&prepared, self.batch_tokens)));
            let mut probs: Vec<Option<HeadProbs>> = match outs {
                Ok(o) => o.iter().map(|x| Some(HeadProbs::from_outputs(x))).collect(),
                Err(_) => prepared.iter().map(|_| None).collect(),
            };
            for slot in slots {
                out.push(slot.and_then(|i| {
                    let p = probs[i].take().ok_or_else(|| FintagError::Invalid("the model failed on this document".into()))?;
                    Ok((prepared[i].clone(), p))
                }));
            }
        }
        out
    }
}
