//! Trimming the tokenizer vocabulary (and with it the embedding matrix) to the pieces German
//! text can use. multilingual-e5-small's 250,002 SentencePiece pieces cover a hundred
//! languages; a piece written in, say, Thai or Hangul can never match a text without those
//! characters. Dropping every piece that contains a character outside the Latin scripts,
//! Greek, punctuation, symbols and emoji leaves about 118,000 pieces: the tokenizer loads in
//! less than half the time, and on any text made only of kept characters the tokens (and so the
//! model's outputs) are exactly those of the full vocabulary. Characters outside the kept set
//! become `<unk>`.

use crate::error::{FintagError, Result};
use serde_json::Value;

/// Whether pieces containing `c` are kept.
pub fn keep_char(c: char) -> bool {
    matches!(c as u32,
        0..=0x024F            // Basic Latin, Latin-1, Latin Extended-A and -B
        | 0x0370..=0x03FF     // Greek (α, β, Δ, μ in finance and science)
        | 0x1E00..=0x1EFF     // Latin Extended Additional
        | 0x2000..=0x2BFF     // punctuation, currency, letterlike, arrows, maths, symbols, dingbats
        | 0x2E00..=0x2E7F     // supplemental punctuation
        | 0xFE0F              // emoji presentation selector
        | 0x1F000..=0x1FAFF   // emoji and pictographs
    )
}

/// A trimmed tokenizer: its JSON, and for each new id the id it had in the full vocabulary.
pub struct Trimmed {
    pub json: Value,
    pub kept: Vec<usize>,
}

/// Trims a Hugging Face tokenizer.json with a Unigram model. Special tokens are always kept;
/// every id in the file (model, added tokens, post-processor) is renumbered.
pub fn trim_tokenizer(mut json: Value) -> Result<Trimmed> {
    let bad = |m: &str| FintagError::Tokenizer(format!("cannot trim the tokenizer: {m}"));
    if json["model"]["type"] != "Unigram" {
        return Err(bad("its model is not Unigram"));
    }
    let special: std::collections::HashSet<u64> =
        json["added_tokens"].as_array().map(|a| a.iter().filter_map(|t| t["id"].as_u64()).collect()).unwrap_or_default();
    let vocab = json["model"]["vocab"].as_array().ok_or_else(|| bad("no vocab list"))?;
    let mut kept = Vec::new();
    let mut pieces = Vec::new();
    for (i, entry) in vocab.iter().enumerate() {
        let piece = entry.get(0).and_then(|p| p.as_str()).ok_or_else(|| bad(&format!("vocab entry {i} is not [piece, score]")))?;
        if special.contains(&(i as u64)) || piece.chars().all(keep_char) {
            kept.push(i);
            pieces.push(entry.clone());
        }
    }
    let mut new_id = vec![None; vocab.len()];
    for (n, &old) in kept.iter().enumerate() {
        new_id[old] = Some(n as u64);
    }
    let remap = |v: &Value| -> Result<Value> {
        let old = v.as_u64().ok_or_else(|| bad("an id is not a number"))? as usize;
        new_id.get(old).copied().flatten().map(Value::from).ok_or_else(|| bad(&format!("id {old} refers to no kept piece")))
    };
    json["model"]["vocab"] = Value::Array(pieces);
    if !json["model"]["unk_id"].is_null() {
        json["model"]["unk_id"] = remap(&json["model"]["unk_id"])?;
    }
    if let Some(tokens) = json["added_tokens"].as_array_mut() {
        for t in tokens {
            t["id"] = remap(&t["id"])?;
        }
    }
    // TemplateProcessing lists special tokens as {"id": "<s>", "ids": [0], "tokens": ["<s>"]}.
    if let Some(specials) = json["post_processor"]["special_tokens"].as_object_mut() {
        for s in specials.values_mut() {
            if let Some(ids) = s["ids"].as_array_mut() {
                for id in ids.iter_mut() {
                    *id = remap(id)?;
                }
            }
        }
    }
    Ok(Trimmed { json, kept })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_drops_foreign_scripts_and_renumbers_every_id() {
        let json = serde_json::json!({
            "added_tokens": [{"id": 0, "content": "<s>"}, {"id": 1, "content": "<unk>"}, {"id": 5, "content": "<mask>"}],
            "post_processor": {"type": "TemplateProcessing", "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
            "model": {"type": "Unigram", "unk_id": 1, "vocab": [
                ["<s>", 0.0], ["<unk>", 0.0], ["▁Aktie", -5.0], ["股票", -6.0], ["▁Börse", -7.0], ["<mask>", 0.0], ["🚀", -9.0], ["ร", -9.5]
            ]}
        });
        let t = trim_tokenizer(json).unwrap();
        assert_eq!(t.kept, vec![0, 1, 2, 4, 5, 6]);
        let pieces: Vec<&str> = t.json["model"]["vocab"].as_array().unwrap().iter().map(|e| e[0].as_str().unwrap()).collect();
        assert_eq!(pieces, vec!["<s>", "<unk>", "▁Aktie", "▁Börse", "<mask>", "🚀"]);
        assert_eq!(t.json["added_tokens"][2]["id"], 4);
        assert_eq!(t.json["model"]["unk_id"], 1);
        assert_eq!(t.json["post_processor"]["special_tokens"]["<s>"]["ids"][0], 0);
        assert!(trim_tokenizer(serde_json::json!({"model": {"type": "BPE"}})).is_err());
    }
}
