//! Stage 2: text to tokens with code-point offsets, and tokens to model windows.

use crate::error::{FintagError, Result};
use crate::text::CharIndex;
use std::path::Path;

/// One content token: vocabulary id and the code-point range of text it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub id: i64,
    pub start: usize,
    pub end: usize,
}

/// The tokens of a whole document, without special tokens.
#[derive(Debug, Clone, Default)]
pub struct Encoding {
    pub tokens: Vec<Token>,
}

/// XLM-R SentencePiece tokenizer from a tokenizer.json, reporting code-point offsets.
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    pub bos_id: i64,
    pub eos_id: i64,
    pub pad_id: i64,
}

impl TextTokenizer {
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| FintagError::Tokenizer(format!("{}: {e}", path.display())))?;
        let id = |t: &str| -> Result<i64> {
            inner.token_to_id(t).map(|i| i as i64).ok_or_else(|| FintagError::Tokenizer(format!("{}: no {t} token", path.display())))
        };
        Ok(TextTokenizer { bos_id: id("<s>")?, eos_id: id("</s>")?, pad_id: id("<pad>")?, inner })
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Tokenizes `text`; every token's offsets are code points inside `text`.
    pub fn encode(&self, text: &str) -> Result<Encoding> {
        let enc = self.inner.encode(text, false).map_err(|e| FintagError::Tokenizer(e.to_string()))?;
        let index = CharIndex::new(text);
        let chars: Vec<char> = text.chars().collect();
        let tokens = enc
            .get_ids()
            .iter()
            .zip(enc.get_offsets())
            .map(|(&id, &(bs, be))| {
                let mut start = index.char_at_byte(bs.min(text.len()));
                let end = index.char_end_at_byte(be.min(text.len())).max(start);
                // The SentencePiece marker stands for the space before a word: the token's
                // text is the word, so a covered leading space is not part of its range.
                while start < end && chars[start].is_whitespace() {
                    start += 1;
                }
                Token { id: id as i64, start, end }
            })
            .collect();
        Ok(Encoding { tokens })
    }
}

/// A slice of a document's tokens that fits the model: `[start, end)` token indices and
/// the ids with `<s>` and `</s>` around them.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
    pub ids: Vec<i64>,
}

/// How documents are cut into windows.
#[derive(Debug, Clone, Copy)]
pub struct WindowConfig {
    /// Content tokens per window (the model's 512 positions minus `<s>` and `</s>`).
    pub max_tokens: usize,
    /// Tokens shared by neighbouring windows, so each token sees context on both sides.
    pub overlap: usize,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig { max_tokens: 510, overlap: 128 }
    }
}

/// Cuts `n` tokens into overlapping windows (one empty window for an empty document).
pub fn window_ranges(n: usize, cfg: WindowConfig) -> Vec<(usize, usize)> {
    let max = cfg.max_tokens.max(1);
    let stride = max.saturating_sub(cfg.overlap.min(max - 1)).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + max).min(n);
        out.push((start, end));
        if end >= n {
            break;
        }
        start += stride;
    }
    out
}

pub fn make_windows(enc: &Encoding, tok: &TextTokenizer, cfg: WindowConfig) -> Vec<Window> {
    window_ranges(enc.tokens.len(), cfg)
        .into_iter()
        .map(|(start, end)| {
            let mut ids = Vec::with_capacity(end - start + 2);
            ids.push(tok.bos_id);
            ids.extend(enc.tokens[start..end].iter().map(|t| t.id));
            ids.push(tok.eos_id);
            Window { start, end, ids }
        })
        .collect()
}

/// For each token, the window whose output it takes: in an overlap the earlier window
/// owns the first half and the later window the second, so every token is owned exactly once
/// and always has at least `overlap / 2` tokens of context on its inner side.
pub fn token_owners(ranges: &[(usize, usize)], n: usize) -> Vec<usize> {
    let mut owner = vec![0usize; n];
    for (w, &(s, e)) in ranges.iter().enumerate() {
        let from = if w == 0 { s } else { (s + ranges[w - 1].1).div_ceil(2) };
        let to = if w + 1 < ranges.len() { (ranges[w + 1].0 + e).div_ceil(2) } else { e };
        for o in owner.iter_mut().take(to.min(n)).skip(from) {
            *o = w;
        }
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_token_once() {
        for n in [0usize, 1, 509, 510, 511, 1000, 1021, 5000] {
            let cfg = WindowConfig::default();
            let r = window_ranges(n, cfg);
            assert!(r.iter().all(|(s, e)| e - s <= 510 && s <= e));
            assert_eq!(r.first().map(|x| x.0), Some(0));
            assert_eq!(r.last().map(|x| x.1), Some(n));
            for w in r.windows(2) {
                assert!(w[1].0 < w[0].1, "windows must overlap");
            }
            let owners = token_owners(&r, n);
            for (t, &w) in owners.iter().enumerate() {
                assert!(r[w].0 <= t && t < r[w].1, "token {t} owned by window {w} {:?}", r[w]);
            }
            // owners never go backwards: merged output keeps token order
            assert!(owners.windows(2).all(|p| p[0] <= p[1]));
        }
    }
}
