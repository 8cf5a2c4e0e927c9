//! The BERT encoder of multilingual-e5-small on tch: config + weights + forward.
//! Weight names follow Hugging Face's BertModel so converted weights load in either world.
//! GELU and the linear layers use libtorch's fused ops (`gelu`, `linear`), which is what
//! makes this faster than rust-bert's BertModel on the same libtorch.

use super::base::BaseWeights;
use crate::error::{FintagError, Result};
use rust_bert::bert::BertConfig;
use std::path::Path;
use tch::{nn, Kind, Tensor};

/// Reads a BertConfig (rust-bert's serde type) from config.json without panicking.
pub fn load_bert_config(path: &Path) -> Result<BertConfig> {
    let raw = std::fs::read_to_string(path).map_err(|e| FintagError::io(path, e))?;
    serde_json::from_str(&raw).map_err(|e| FintagError::Model { dir: path.to_path_buf(), message: format!("config.json: {e}") })
}

pub const LAYER_NORM_EPS: f64 = 1e-12;

/// Where a module's weights come from: trainable variables of a var store (the tuned top
/// layers), or read-only views of the memory-mapped base weights (everything frozen).
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Vars(&'a nn::Path<'a>),
    Base(&'a BaseWeights),
}

impl Source<'_> {
    /// The tensor `name` (a dotted Hugging Face name) of the given shape.
    fn get(&self, name: &str, shape: &[i64], init: nn::Init) -> Result<Tensor> {
        match self {
            Source::Base(w) => w.tensor(name, Some(shape)),
            Source::Vars(root) => {
                let parts: Vec<&str> = name.split('.').collect();
                let (last, dirs) = parts.split_last().ok_or_else(|| FintagError::Invalid("empty weight name".into()))?;
                let mut p: Option<nn::Path> = None;
                for d in dirs {
                    p = Some(match &p {
                        None => root.sub(*d),
                        Some(q) => q.sub(*d),
                    });
                }
                Ok(match p {
                    Some(p) => p.var(last, shape, init),
                    None => root.var(last, shape, init),
                })
            }
        }
    }
}

/// Token, position and type embeddings followed by a layer norm.
pub struct Embeddings {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    ln_w: Tensor,
    ln_b: Tensor,
    hidden: i64,
}

impl Embeddings {
    pub fn new(src: Source, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        let zero = nn::Init::Const(0.);
        Ok(Embeddings {
            word: src.get("embeddings.word_embeddings.weight", &[cfg.vocab_size, h], zero)?,
            position: src.get("embeddings.position_embeddings.weight", &[cfg.max_position_embeddings, h], zero)?,
            token_type: src.get("embeddings.token_type_embeddings.weight", &[cfg.type_vocab_size, h], zero)?,
            ln_w: src.get("embeddings.LayerNorm.weight", &[h], nn::Init::Const(1.))?,
            ln_b: src.get("embeddings.LayerNorm.bias", &[h], zero)?,
            hidden: h,
        })
    }

    fn shallow(&self) -> Self {
        Embeddings {
            word: self.word.shallow_clone(),
            position: self.position.shallow_clone(),
            token_type: self.token_type.shallow_clone(),
            ln_w: self.ln_w.shallow_clone(),
            ln_b: self.ln_b.shallow_clone(),
            hidden: self.hidden,
        }
    }

    /// ids: [batch, seq] int64; positions count from 0 as in e5.
    pub fn forward(&self, ids: &Tensor) -> Tensor {
        let seq = ids.size()[1];
        let pos = Tensor::arange(seq, (Kind::Int64, ids.device()));
        let x = Tensor::embedding(&self.word, ids, -1, false, false)
            + Tensor::embedding(&self.position, &pos, -1, false, false).unsqueeze(0)
            + self.token_type.get(0);
        x.layer_norm(&[self.hidden], Some(&self.ln_w), Some(&self.ln_b), LAYER_NORM_EPS, true)
    }
}

struct Dense {
    w: Tensor,
    b: Tensor,
    /// The int8 form of `w` and `b`, when the encoder is quantised.
    q: Option<super::quant::PackedLinear>,
}

impl Dense {
    fn new(src: Source, name: &str, out: i64, inp: i64) -> Result<Self> {
        Ok(Dense {
            // Zeros: every encoder weight is overwritten from the base or a checkpoint.
            w: src.get(&format!("{name}.weight"), &[out, inp], nn::Init::Const(0.))?,
            b: src.get(&format!("{name}.bias"), &[out], nn::Init::Const(0.))?,
            q: None,
        })
    }
    fn shallow(&self) -> Self {
        Dense { w: self.w.shallow_clone(), b: self.b.shallow_clone(), q: self.q.clone() }
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        match &self.q {
            // quantize() checked the int8 product on this layer, so a failure here is not
            // expected; if it comes, the float product answers instead.
            Some(q) => q.forward(x).unwrap_or_else(|_| x.linear(&self.w, Some(&self.b))),
            None => x.linear(&self.w, Some(&self.b)),
        }
    }
}

struct Norm {
    w: Tensor,
    b: Tensor,
}

impl Norm {
    fn new(src: Source, name: &str, h: i64) -> Result<Self> {
        Ok(Norm {
            w: src.get(&format!("{name}.weight"), &[h], nn::Init::Const(1.))?,
            b: src.get(&format!("{name}.bias"), &[h], nn::Init::Const(0.))?,
        })
    }
    fn shallow(&self) -> Self {
        Norm { w: self.w.shallow_clone(), b: self.b.shallow_clone() }
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.w.size()[0];
        x.layer_norm(&[h], Some(&self.w), Some(&self.b), LAYER_NORM_EPS, true)
    }
}

/// One transformer layer: self-attention and feed-forward, each with residual + layer norm.
pub struct EncoderLayer {
    query: Dense,
    key: Dense,
    value: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    ffn_in: Dense,
    ffn_out: Dense,
    out_norm: Norm,
    heads: i64,
    dropout: f64,
}

impl EncoderLayer {
    /// Layer `i` (weights `encoder.layer.{i}.…`) from `src`.
    pub fn new(src: Source, i: usize, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        let f = cfg.intermediate_size;
        let n = |part: &str| format!("encoder.layer.{i}.{part}");
        Ok(EncoderLayer {
            query: Dense::new(src, &n("attention.self.query"), h, h)?,
            key: Dense::new(src, &n("attention.self.key"), h, h)?,
            value: Dense::new(src, &n("attention.self.value"), h, h)?,
            attn_out: Dense::new(src, &n("attention.output.dense"), h, h)?,
            attn_norm: Norm::new(src, &n("attention.output.LayerNorm"), h)?,
            ffn_in: Dense::new(src, &n("intermediate.dense"), f, h)?,
            ffn_out: Dense::new(src, &n("output.dense"), h, f)?,
            out_norm: Norm::new(src, &n("output.LayerNorm"), h)?,
            heads: cfg.num_attention_heads,
            dropout: cfg.hidden_dropout_prob,
        })
    }

    fn denses(&mut self) -> [&mut Dense; 6] {
        [&mut self.query, &mut self.key, &mut self.value, &mut self.attn_out, &mut self.ffn_in, &mut self.ffn_out]
    }

    fn shallow(&self) -> Self {
        EncoderLayer {
            query: self.query.shallow(),
            key: self.key.shallow(),
            value: self.value.shallow(),
            attn_out: self.attn_out.shallow(),
            attn_norm: self.attn_norm.shallow(),
            ffn_in: self.ffn_in.shallow(),
            ffn_out: self.ffn_out.shallow(),
            out_norm: self.out_norm.shallow(),
            heads: self.heads,
            dropout: self.dropout,
        }
    }

    /// x: [batch, seq, hidden]; bias: None when no window is padded, else the additive key
    /// mask [batch * heads, 1, seq] (0 for tokens, -1e4 for padding).
    ///
    /// Attention runs over a few (window, head) pairs at a time: a [pairs, seq, seq] score
    /// block stays in cache, where one [batch, heads, seq, seq] tensor (200 MB for 16 windows
    /// of 512) would make every elementwise pass a trip to memory. The scale is folded into
    /// the queries and the mask into the score product (`baddbmm`), so no pass is spent on them.
    pub fn forward(&self, x: &Tensor, bias: Option<&Tensor>, train: bool) -> Tensor {
        let (b, t, h) = x.size3().unwrap_or((0, 0, 0));
        let hd = h / self.heads;
        let pairs = b * self.heads;
        let split = |y: Tensor| y.view([b, t, self.heads, hd]).transpose(1, 2).reshape(&[pairs, t, hd]);
        let q = split(self.query.forward(x) * (1.0 / (hd as f64).sqrt()));
        let k = split(self.key.forward(x)).transpose(1, 2);
        let v = split(self.value.forward(x));
        let mut parts = Vec::with_capacity((pairs / ATTENTION_PAIRS + 1) as usize);
        let mut s = 0;
        while s < pairs {
            let n = ATTENTION_PAIRS.min(pairs - s);
            let (qs, ks) = (q.narrow(0, s, n), k.narrow(0, s, n));
            let scores = match bias {
                Some(bias) => bias.narrow(0, s, n).baddbmm(&qs, &ks, 1.0, 1.0),
                None => qs.bmm(&ks),
            };
            let probs = scores.softmax(-1, x.kind()).dropout(self.dropout, train);
            parts.push(probs.bmm(&v.narrow(0, s, n)));
            s += n;
        }
        let ctx = Tensor::cat(&parts, 0).view([b, self.heads, t, hd]).transpose(1, 2).contiguous().view([b, t, h]);
        let a = self.attn_out.forward(&ctx).dropout(self.dropout, train);
        let x = self.attn_norm.forward(&(a + x));
        let mid = self.ffn_in.forward(&x).gelu("none");
        let o = self.ffn_out.forward(&mid).dropout(self.dropout, train);
        self.out_norm.forward(&(o + x))
    }
}

/// (window, head) pairs per attention block; 2 pairs of 512 tokens is a 2 MB score block.
const ATTENTION_PAIRS: i64 = 2;

/// Additive attention mask [batch * heads, 1, seq] from a [batch, seq] 0/1 mask, or None
/// when nothing is padded.
pub fn mask_bias(mask: &Tensor, heads: i64, kind: Kind) -> Option<Tensor> {
    if mask.numel() == 0 || mask.min().int64_value(&[]) == 1 {
        return None;
    }
    let (b, t) = mask.size2().unwrap_or((0, 0));
    let bias = (mask.to_kind(Kind::Float) * -1.0 + 1.0) * -10000.0;
    Some(bias.view([b, 1, 1, t]).expand(&[b, heads, 1, t], false).reshape(&[b * heads, 1, t]).to_kind(kind))
}

/// The whole encoder: embeddings and lower layers are views of the frozen base weights, the
/// top layers may be trainable variables of a var store (the fine-tuned part).
pub struct Encoder {
    pub embeddings: Embeddings,
    pub layers: Vec<EncoderLayer>,
}

impl Encoder {
    /// Layers `0..split` from the base weights, layers `split..` as variables under `tuned`
    /// (all layers from the base when `tuned` is None).
    pub fn from_base(base: &BaseWeights, cfg: &BertConfig, split: usize, tuned: Option<&nn::Path>) -> Result<Self> {
        let layers = (0..cfg.num_hidden_layers as usize)
            .map(|i| match tuned {
                Some(p) if i >= split => EncoderLayer::new(Source::Vars(p), i, cfg),
                _ => EncoderLayer::new(Source::Base(base), i, cfg),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Encoder { embeddings: Embeddings::new(Source::Base(base), cfg)?, layers })
    }

    /// Switches every linear layer to int8 dynamic quantisation (inference only), after
    /// checking the int8 product against the float one. Faster, but not free: see
    /// [`super::quant`] for what it costs in accuracy.
    pub fn quantize(&mut self) -> Result<()> {
        let engine = super::quant::QEngine::load()?;
        for layer in &mut self.layers {
            for d in layer.denses() {
                d.q = Some(tch::no_grad(|| engine.pack(&d.w, &d.b))?);
            }
        }
        if let Some((d, q)) = self.layers.first().and_then(|l| l.query.q.as_ref().map(|q| (&l.query, q))) {
            let x = Tensor::randn(&[4, d.w.size()[1]], (Kind::Float, tch::Device::Cpu));
            let want = tch::no_grad(|| x.linear(&d.w, Some(&d.b)));
            let got = tch::no_grad(|| q.forward(&x))?;
            let err = f64::try_from((&got - &want).norm() / want.norm().clamp_min(1e-9)).unwrap_or(f64::INFINITY);
            if !(err < 0.1) {
                return Err(FintagError::Invalid(format!("the int8 product is off by {err:.3} relative to float32")));
            }
        }
        Ok(())
    }

    /// A second handle on the same weights (no copy), for another inference thread.
    pub fn shallow(&self) -> Self {
        Encoder { embeddings: self.embeddings.shallow(), layers: self.layers.iter().map(|l| l.shallow()).collect() }
    }

    /// Runs layers `from..to` on hidden states.
    pub fn run_layers(&self, mut x: Tensor, mask: &Tensor, from: usize, to: usize, train: bool) -> Tensor {
        let heads = self.layers.first().map(|l| l.heads).unwrap_or(1);
        let bias = mask_bias(mask, heads, x.kind());
        for layer in &self.layers[from..to.min(self.layers.len())] {
            x = layer.forward(&x, bias.as_ref(), train);
        }
        x
    }

    /// Final hidden states [batch, seq, hidden] for ids and a 0/1 mask, both [batch, seq].
    pub fn forward(&self, ids: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let x = self.embeddings.forward(ids);
        self.run_layers(x, mask, 0, self.layers.len(), train)
    }
}

/// Masked mean pooling followed by L2 normalisation (e5's sentence embedding).
pub fn mean_pool_normalized(hidden: &Tensor, mask: &Tensor) -> Tensor {
    let m = mask.to_kind(Kind::Float).unsqueeze(-1);
    let sum = (hidden * &m).sum_dim_intlist(Some(&[1i64][..]), false, Kind::Float);
    let count = m.sum_dim_intlist(Some(&[1i64][..]), false, Kind::Float).clamp_min(1e-9);
    let mean = sum / count;
    let norm = mean.norm_scalaropt_dim(2.0, &[-1i64][..], true).clamp_min(1e-12);
    mean / norm
}
