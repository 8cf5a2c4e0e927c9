//! The BERT encoder of multilingual-e5-small on tch: config + weights + forward.
//! Weight names follow Hugging Face's BertModel so converted weights load in either world.
//! GELU and the linear layers use libtorch's fused ops (`gelu`, `linear`), which is what
//! makes this faster than rust-bert's BertModel on the same libtorch.

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
    pub fn new(p: &nn::Path, cfg: &BertConfig) -> Self {
        let p = p / "embeddings";
        let h = cfg.hidden_size;
        Embeddings {
            word: (&p / "word_embeddings").var("weight", &[cfg.vocab_size, h], nn::Init::Const(0.)),
            position: (&p / "position_embeddings").var("weight", &[cfg.max_position_embeddings, h], nn::Init::Const(0.)),
            token_type: (&p / "token_type_embeddings").var("weight", &[cfg.type_vocab_size, h], nn::Init::Const(0.)),
            ln_w: (&p / "LayerNorm").var("weight", &[h], nn::Init::Const(1.)),
            ln_b: (&p / "LayerNorm").var("bias", &[h], nn::Init::Const(0.)),
            hidden: h,
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
}

impl Dense {
    fn new(p: nn::Path, out: i64, inp: i64) -> Self {
        Dense { w: p.var("weight", &[out, inp], nn::Init::Randn { mean: 0.0, stdev: 0.02 }), b: p.var("bias", &[out], nn::Init::Const(0.)) }
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.w, Some(&self.b))
    }
}

struct Norm {
    w: Tensor,
    b: Tensor,
}

impl Norm {
    fn sized(p: nn::Path, h: i64) -> Self {
        Norm { w: p.var("weight", &[h], nn::Init::Const(1.)), b: p.var("bias", &[h], nn::Init::Const(0.)) }
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
    /// `p` is the layer's path, e.g. `encoder.layer.11`.
    pub fn new(p: &nn::Path, cfg: &BertConfig) -> Self {
        let h = cfg.hidden_size;
        let f = cfg.intermediate_size;
        EncoderLayer {
            query: Dense::new(p / "attention" / "self" / "query", h, h),
            key: Dense::new(p / "attention" / "self" / "key", h, h),
            value: Dense::new(p / "attention" / "self" / "value", h, h),
            attn_out: Dense::new(p / "attention" / "output" / "dense", h, h),
            attn_norm: Norm::sized(p / "attention" / "output" / "LayerNorm", h),
            ffn_in: Dense::new(p / "intermediate" / "dense", f, h),
            ffn_out: Dense::new(p / "output" / "dense", h, f),
            out_norm: Norm::sized(p / "output" / "LayerNorm", h),
            heads: cfg.num_attention_heads,
            dropout: cfg.hidden_dropout_prob,
        }
    }

    /// x: [batch, seq, hidden]; mask_bias: [batch, 1, 1, seq] (0 for tokens, -1e4 for padding).
    pub fn forward(&self, x: &Tensor, mask_bias: &Tensor, train: bool) -> Tensor {
        let (b, t, h) = x.size3().unwrap_or((0, 0, 0));
        let hd = h / self.heads;
        let split = |y: Tensor| y.view([b, t, self.heads, hd]).transpose(1, 2);
        let q = split(self.query.forward(x));
        let k = split(self.key.forward(x));
        let v = split(self.value.forward(x));
        let scores = q.matmul(&k.transpose(-1, -2)) * (1.0 / (hd as f64).sqrt()) + mask_bias;
        let probs = scores.softmax(-1, x.kind()).dropout(self.dropout, train);
        let ctx = probs.matmul(&v).transpose(1, 2).contiguous().view([b, t, h]);
        let a = self.attn_out.forward(&ctx).dropout(self.dropout, train);
        let x = self.attn_norm.forward(&(a + x));
        let mid = self.ffn_in.forward(&x).gelu("none");
        let o = self.ffn_out.forward(&mid).dropout(self.dropout, train);
        self.out_norm.forward(&(o + x))
    }
}

/// Additive attention mask from a [batch, seq] 0/1 mask.
pub fn mask_bias(mask: &Tensor) -> Tensor {
    ((mask.to_kind(Kind::Float) * -1.0 + 1.0) * -10000.0).unsqueeze(1).unsqueeze(1)
}

/// The whole encoder; layers may live in different var stores (frozen base, tuned top).
pub struct Encoder {
    pub embeddings: Embeddings,
    pub layers: Vec<EncoderLayer>,
}

impl Encoder {
    pub fn new(p: &nn::Path, cfg: &BertConfig) -> Self {
        let layers = (0..cfg.num_hidden_layers).map(|i| EncoderLayer::new(&(p / "encoder" / "layer" / i), cfg)).collect();
        Encoder { embeddings: Embeddings::new(p, cfg), layers }
    }

    /// Runs layers `from..to` on hidden states.
    pub fn run_layers(&self, mut x: Tensor, mask: &Tensor, from: usize, to: usize, train: bool) -> Tensor {
        let bias = mask_bias(mask).to_kind(x.kind());
        for layer in &self.layers[from..to.min(self.layers.len())] {
            x = layer.forward(&x, &bias, train);
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

/// Loads named tensors from a tch `.ot` file into a var store's variables of the same name.
pub fn load_into(vs: &mut nn::VarStore, file: &Path) -> Result<()> {
    vs.load_partial(file)
        .map(|_| ())
        .map_err(|e| FintagError::Model { dir: file.to_path_buf(), message: format!("cannot load weights: {e}") })
}
