//! Task heads on top of the encoder's token states: entity BIO tags, PROMO BIO tags,
//! pooled sentence sentiment, document sentiment + clickbait, and (optional) a per-sentence
//! PROMO decision that reads each sentence beside its document.

use crate::labels::EntityLabel;
use tch::{nn, nn::Module, Kind, Tensor};

pub const PROMO_TAGS: i64 = 3; // O, B-PROMO, I-PROMO
pub const SENTIMENTS: i64 = 3; // positive, negative, neutral (labels::Sentiment order)

pub struct Heads {
    entity: nn::Linear,
    promo: nn::Linear,
    sentence_proj: nn::Linear,
    sentence_out: nn::Linear,
    document_proj: nn::Linear,
    document_out: nn::Linear,
    /// Optional sentence-level PROMO head: (projection, output).
    promo_sentence: Option<(nn::Linear, nn::Linear)>,
    dropout: f64,
    /// The document head also reads the mean sentence-sentiment distribution.
    document_sees_sentences: bool,
}

/// Raw outputs for one document.
pub struct HeadOutputs {
    /// [tokens, 17]
    pub entity_logits: Tensor,
    /// [tokens, 3]
    pub promo_logits: Tensor,
    /// [sentences, 3]
    pub sentence_logits: Tensor,
    /// [3] document sentiment
    pub document_logits: Tensor,
    /// [] clickbait logit
    pub clickbait_logit: Tensor,
    /// [sentences] PROMO logit per sentence (models with the sentence PROMO head)
    pub promo_sentence_logits: Option<Tensor>,
}

/// Whether a variable of a model's store belongs to the sentence PROMO head (the names
/// `Heads::new` gives it under "heads").
pub fn is_promo_sentence_var(name: &str) -> bool {
    name.starts_with("heads.promo_sentence_")
}

impl Heads {
    /// `document_sees_sentences`: the document head reads, beside the pooled states, the
    /// mean of the sentence-sentiment probabilities (held fixed for its gradient, so the
    /// document label never pulls a sentence towards the document's tone).
    ///
    /// `promo_sentence_head`: adds a per-sentence PROMO classifier over [sentence state;
    /// document mean; document max], so a plain-sounding sentence can be judged by the
    /// document it sits in (a pump mail or a news article).
    pub fn new(p: &nn::Path, hidden: i64, dropout: f64, document_sees_sentences: bool, promo_sentence_head: bool) -> Self {
        let p = p / "heads";
        let c = nn::LinearConfig::default();
        let document_in = 2 * hidden + if document_sees_sentences { SENTIMENTS } else { 0 };
        Heads {
            entity: nn::linear(&p / "entity", hidden, EntityLabel::NUM_BIO_TAGS as i64, c),
            promo: nn::linear(&p / "promo", hidden, PROMO_TAGS, c),
            sentence_proj: nn::linear(&p / "sentence_proj", hidden, hidden, c),
            sentence_out: nn::linear(&p / "sentence_out", hidden, SENTIMENTS, c),
            document_proj: nn::linear(&p / "document_proj", document_in, hidden, c),
            document_out: nn::linear(&p / "document_out", hidden, SENTIMENTS + 1, c),
            promo_sentence: promo_sentence_head.then(|| {
                (nn::linear(&p / "promo_sentence_proj", 3 * hidden, hidden, c), nn::linear(&p / "promo_sentence_out", hidden, 1, c))
            }),
            dropout,
            document_sees_sentences,
        }
    }

    /// A second handle on the same weights (no copy).
    pub fn shallow(&self) -> Self {
        let lin = |l: &nn::Linear| nn::Linear { ws: l.ws.shallow_clone(), bs: l.bs.as_ref().map(|b| b.shallow_clone()) };
        Heads {
            entity: lin(&self.entity),
            promo: lin(&self.promo),
            sentence_proj: lin(&self.sentence_proj),
            sentence_out: lin(&self.sentence_out),
            document_proj: lin(&self.document_proj),
            document_out: lin(&self.document_out),
            promo_sentence: self.promo_sentence.as_ref().map(|(a, b)| (lin(a), lin(b))),
            dropout: self.dropout,
            document_sees_sentences: self.document_sees_sentences,
        }
    }

    /// `tokens`: [n, hidden] merged token states of one document; `sentences`: [sentences,
    /// hidden] the mean token state of each sentence.
    pub fn forward(&self, tokens: &Tensor, sentences: &Tensor, train: bool) -> HeadOutputs {
        let x = tokens.dropout(self.dropout, train);
        let entity_logits = x.apply(&self.entity);
        let promo_logits = x.apply(&self.promo);
        let sentences = sentences.shallow_clone();
        let sentence_logits = self.sentence_proj.forward(&sentences.dropout(self.dropout, train)).tanh().apply(&self.sentence_out);
        let n_sent = sentences.size()[0];
        let mean = if n_sent > 0 {
            sentences.mean_dim(Some(&[0i64][..]), false, Kind::Float)
        } else {
            tokens.mean_dim(Some(&[0i64][..]), false, Kind::Float)
        };
        let max = tokens.amax(&[0i64][..], false);
        let promo_sentence_logits = self.promo_sentence.as_ref().map(|(proj, out)| {
            let context = Tensor::cat(&[&mean, &max], 0).unsqueeze(0).expand(&[n_sent, -1], false);
            let x = Tensor::cat(&[&sentences, &context], 1).dropout(self.dropout, train);
            proj.forward(&x).tanh().apply(out).view([-1])
        });
        let mut parts = vec![mean, max];
        if self.document_sees_sentences {
            let kind = parts[0].kind();
            parts.push(if n_sent > 0 {
                sentence_logits.detach().softmax(-1, Kind::Float).mean_dim(Some(&[0i64][..]), false, Kind::Float).to_kind(kind)
            } else {
                Tensor::full(&[SENTIMENTS], 1.0 / SENTIMENTS as f64, (kind, tokens.device()))
            });
        }
        let doc = Tensor::cat(&parts, 0).dropout(self.dropout, train);
        let d = self.document_proj.forward(&doc).tanh().apply(&self.document_out);
        HeadOutputs {
            entity_logits,
            promo_logits,
            sentence_logits,
            document_logits: d.narrow(0, 0, SENTIMENTS),
            clickbait_logit: d.get(SENTIMENTS),
            promo_sentence_logits,
        }
    }
}
