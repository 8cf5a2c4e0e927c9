//! The fintag model: a frozen base encoder (models/base), its top layers fine-tuned, and the
//! task heads (models/fintag-de). One forward pass per window, windows merged per token.

use super::base::{write_json, BaseModelDir, BaseWeights};
use super::encoder::Encoder;
use super::heads::{is_promo_sentence_var, HeadOutputs, Heads};
use crate::encode::{make_windows, token_owners, Encoding, InputRules, TextTokenizer, Window, WindowConfig};
use crate::error::{FintagError, Result};
use crate::text::spelling::{Forms, Respelling};
use crate::text::{Casing, SentenceBounds, UmlautForms};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{nn, Device, Kind, Tensor};

pub const WEIGHTS_FILE: &str = "weights.ot";
pub const CONFIG_FILE: &str = "config.json";

/// The choices that shape a model before training (`Tagger::fresh`).
#[derive(Debug, Clone)]
pub struct FreshModel<'a> {
    pub name: &'a str,
    /// How many of the encoder's top layers are trained (the rest stay frozen).
    pub tuned_layers: usize,
    /// The document head also reads the mean sentence-sentiment distribution.
    pub document_sees_sentences: bool,
    /// A per-sentence PROMO head beside the token-level one.
    pub promo_sentence_head: bool,
    /// Seeds libtorch before the heads are initialised.
    pub seed: i64,
}

/// The spelling table in a model directory that its config.json turns on with `flag`.
fn spelling_table<R: Respelling>(on: bool, flag: &str, dir: &Path) -> std::result::Result<Option<std::sync::Arc<Forms<R>>>, String> {
    if !on {
        return Ok(None);
    }
    let table = Forms::<R>::read(dir).map_err(|e| format!("{}: {e} ({CONFIG_FILE} has {flag} on, which reads it)", R::FILE))?;
    Ok(Some(std::sync::Arc::new(table)))
}

/// config.json of a fintag model directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaggerConfig {
    pub name: String,
    /// SHA-256 of the E5S1 file the base encoder was converted from.
    pub base_sha256: String,
    /// How many of the encoder's top layers this directory replaces.
    pub tuned_layers: usize,
    pub max_tokens: usize,
    pub overlap: usize,
    pub dropout: f64,
    /// Entity labels in BIO-tag order (tag 1 + 2i = B-label i, 2 + 2i = I-label i).
    pub entity_labels: Vec<String>,
    pub promo_tags: Vec<String>,
    pub sentiments: Vec<String>,
    /// Storage type of weights.ot.
    pub weights_dtype: String,
    /// The document head also reads the mean sentence-sentiment distribution (models
    /// trained before this option existed do not).
    #[serde(default)]
    pub document_sees_sentences: bool,
    /// A per-sentence PROMO head decides which sentences are wholly PROMO (models trained
    /// before this option existed have none).
    #[serde(default)]
    pub promo_sentence_head: bool,
    /// Web and e-mail addresses (text::address_words) are left out of the model's input.
    /// The corpus has none, and the model read them as calls to action: one link line
    /// added to a plain article ("… steht unter https://…pdf zum Download bereit.") made
    /// half of them clickbait. Their characters stay in the text, and the decoder treats
    /// each as one word (`DecodeConfig::whole_addresses`). Off in models whose config.json
    /// predates it.
    #[serde(default)]
    pub hide_addresses: bool,
    /// Lines written in capitals are read in sentence case (`InputRules::fold_shouting`).
    /// Off in models whose config.json predates it.
    #[serde(default)]
    pub fold_shouting: bool,
    /// Soft hyphens and other invisible characters are not read
    /// (`InputRules::drop_invisible`). Off in models whose config.json predates it.
    #[serde(default)]
    pub drop_invisible: bool,
    /// Markdown emphasis markers are not read (`InputRules::drop_emphasis`). Off in models
    /// whose config.json predates it.
    #[serde(default)]
    pub drop_emphasis: bool,
    /// The quote marks of mail replies are not read (`InputRules::drop_quote_marks`). Off in
    /// models whose config.json predates it.
    #[serde(default)]
    pub drop_quote_marks: bool,
    /// In hard-wrapped text (plain-text mail cut at one width) the line breaks inside a
    /// paragraph are read as spaces by the sentence splitter and the decoder
    /// (`text::soft_line_breaks`). Off in models whose config.json predates it.
    #[serde(default)]
    pub join_wrapped_lines: bool,
    /// Lines in small letters only are read with the capitals the training texts write
    /// (`text::Casing`, learnt by `fintag train` and stored as casing.txt). Off in models
    /// whose config.json predates it.
    #[serde(default)]
    pub restore_case: bool,
    /// Text written without umlauts ("Boerse", "fuer") is read with the umlauts the training
    /// texts write (`text::UmlautForms`, learnt by `fintag train` and stored as umlauts.txt).
    /// Off in models whose config.json predates it.
    #[serde(default)]
    pub restore_umlauts: bool,
    /// HTML character references left in plain text ("&amp;", "f&uuml;r") are read as the
    /// characters they stand for, by the splitter, the model and the decoder
    /// (`text::read_references`; the model reads the text without invisible characters, so
    /// this needs `drop_invisible`). Off in models whose config.json predates it.
    #[serde(default)]
    pub read_references: bool,
    /// Decoder thresholds, tuned on the dev set after training.
    #[serde(default)]
    pub decode: crate::decode::DecodeConfig,
}

impl TaggerConfig {
    pub fn new(name: &str, base_sha256: &str, tuned_layers: usize) -> Self {
        TaggerConfig {
            name: name.to_string(),
            base_sha256: base_sha256.to_string(),
            tuned_layers,
            max_tokens: WindowConfig::default().max_tokens,
            overlap: WindowConfig::default().overlap,
            dropout: 0.1,
            entity_labels: crate::labels::EntityLabel::ALL.iter().map(|l| l.as_str().to_string()).collect(),
            promo_tags: vec!["O".into(), "B-PROMO".into(), "I-PROMO".into()],
            sentiments: crate::labels::Sentiment::ALL.iter().map(|s| s.as_str().to_string()).collect(),
            weights_dtype: "float16".into(),
            document_sees_sentences: false,
            promo_sentence_head: false,
            hide_addresses: true,
            fold_shouting: true,
            drop_invisible: true,
            drop_emphasis: true,
            drop_quote_marks: true,
            join_wrapped_lines: true,
            restore_case: false,
            restore_umlauts: false,
            read_references: true,
            decode: crate::decode::DecodeConfig::default(),
        }
    }

    pub fn windows(&self) -> WindowConfig {
        WindowConfig { max_tokens: self.max_tokens, overlap: self.overlap }
    }

    /// Reads a model directory's config.json and checks its label maps against this
    /// version's labels (the weights are not touched).
    pub fn read(model_dir: &Path) -> Result<Self> {
        let err = |message: String| FintagError::Model { dir: model_dir.to_path_buf(), message };
        let cfg_path = model_dir.join(CONFIG_FILE);
        if !cfg_path.is_file() {
            return Err(err(format!("no {CONFIG_FILE} (not a fintag model directory; train one with `fintag train` or pass --model)")));
        }
        let raw = std::fs::read_to_string(&cfg_path).map_err(|e| FintagError::io(&cfg_path, e))?;
        let config: TaggerConfig = serde_json::from_str(&raw).map_err(|e| err(format!("{CONFIG_FILE}: {e}")))?;
        config.check_label_maps(model_dir)?;
        Ok(config)
    }

    fn check_label_maps(&self, dir: &Path) -> Result<()> {
        let fresh = TaggerConfig::new("", "", 0);
        if self.entity_labels != fresh.entity_labels || self.promo_tags != fresh.promo_tags || self.sentiments != fresh.sentiments {
            return Err(FintagError::Model {
                dir: dir.to_path_buf(),
                message: "label maps differ from this fintag version's labels".into(),
            });
        }
        Ok(())
    }
}

/// A document made ready for the model: tokens, windows and sentence membership.
#[derive(Debug, Clone)]
pub struct PreparedDoc {
    pub encoding: Encoding,
    pub windows: Vec<Window>,
    /// For each token, the window whose output it takes.
    pub owners: Vec<usize>,
    pub sentences: Vec<SentenceBounds>,
    /// For each sentence, the token indices it covers.
    pub sentence_tokens: Vec<Vec<usize>>,
    /// Line breaks that only wrap a paragraph (`TaggerConfig::join_wrapped_lines`): the
    /// decoder reads them as spaces. Found with the sentences (`pipeline::prepare`); empty
    /// from [`Tagger::prepare`] alone.
    pub soft_breaks: Vec<usize>,
    /// The text as the splitter, the model and the decoder read it when that differs from
    /// the text as written (`Tagger::reading`), one character for one; None otherwise. Set
    /// with the sentences (`pipeline::prepare`).
    pub read: Option<Vec<char>>,
}

impl PreparedDoc {
    /// A document read as written: no wrapped line breaks, no other reading (`pipeline::prepare`
    /// sets those).
    pub fn new(
        encoding: Encoding,
        windows: Vec<Window>,
        owners: Vec<usize>,
        sentences: Vec<SentenceBounds>,
        sentence_tokens: Vec<Vec<usize>>,
    ) -> Self {
        PreparedDoc { encoding, windows, owners, sentences, sentence_tokens, soft_breaks: Vec::new(), read: None }
    }

    /// Each sentence's mean token state: [sentences, hidden] from `tokens` [n, hidden].
    pub fn sentence_states(&self, tokens: &Tensor) -> Tensor {
        self.sentence_states_within(tokens, DENSE_POOLING_MAX)
    }

    /// Up to `dense_max` cells, the product with the row-normalised [sentences, tokens]
    /// membership matrix (the arithmetic every shipped model was trained with); beyond, the
    /// same means as sums of the member rows, which take memory in proportion to the tokens
    /// instead of sentences × tokens (25,000 one-word sentences would need 5 GB as a matrix).
    fn sentence_states_within(&self, tokens: &Tensor, dense_max: usize) -> Tensor {
        let n = self.encoding.tokens.len();
        let s = self.sentences.len();
        let weight = |toks: &Vec<usize>| 1.0 / toks.len().max(1) as f32;
        if s.saturating_mul(n) <= dense_max {
            let mut m = vec![0f32; s * n];
            for (i, toks) in self.sentence_tokens.iter().enumerate() {
                for &t in toks {
                    m[i * n + t] = weight(toks);
                }
            }
            return Tensor::of_slice(&m).view([s as i64, n as i64]).to_kind(tokens.kind()).matmul(tokens);
        }
        let (mut rows, mut sentence_of, mut weights) = (Vec::new(), Vec::new(), Vec::new());
        for (i, toks) in self.sentence_tokens.iter().enumerate() {
            for &t in toks {
                rows.push(t as i64);
                sentence_of.push(i as i64);
                weights.push(weight(toks));
            }
        }
        let members = tokens.index_select(0, &Tensor::of_slice(&rows)) * Tensor::of_slice(&weights).to_kind(tokens.kind()).unsqueeze(1);
        let hidden = tokens.size().get(1).copied().unwrap_or(0);
        Tensor::zeros(&[s as i64, hidden], (tokens.kind(), tokens.device())).index_add(0, &Tensor::of_slice(&sentence_of), &members)
    }
}

/// The largest sentences × tokens pooling matrix built whole (4 Mi cells, 16 MB).
const DENSE_POOLING_MAX: usize = 1 << 22;

pub struct Tagger {
    pub config: TaggerConfig,
    pub base: BaseModelDir,
    pub tokenizer: std::sync::Arc<TextTokenizer>,
    pub encoder: Encoder,
    pub heads: Heads,
    /// The frozen base weights the encoder's views come from.
    pub base_weights: BaseWeights,
    /// The trainable part: the tuned top layers and the heads (what weights.ot stores).
    /// Frozen base weights are not in it: they are views of models/base/encoder.bin.
    pub tuned_vs: nn::VarStore,
    /// How the training texts write their words (`TaggerConfig::restore_case`).
    pub casing: Option<std::sync::Arc<Casing>>,
    /// How the training texts write words with umlauts (`TaggerConfig::restore_umlauts`).
    pub umlauts: Option<std::sync::Arc<UmlautForms>>,
}

impl Tagger {
    /// Builds the model: embeddings and layers below the tuned ones are views of the base
    /// weights, the tuned layers and heads are variables of `tuned_vs`. The tokenizer (the
    /// slowest part of start-up) loads on another thread meanwhile.
    fn build(config: TaggerConfig, base: BaseModelDir) -> Result<Self> {
        let tok_path = base.tokenizer_path();
        let tokenizer = std::thread::spawn(move || TextTokenizer::from_file(&tok_path));
        let tuned_vs = nn::VarStore::new(Device::Cpu);
        let cfg = &base.config;
        let layers = cfg.num_hidden_layers as usize;
        if config.tuned_layers > layers {
            return Err(FintagError::Invalid(format!("tuned_layers {} exceeds the encoder's {layers} layers", config.tuned_layers)));
        }
        let weights = BaseWeights::open(&base)?;
        let encoder = Encoder::from_base(&weights, cfg, layers - config.tuned_layers, Some(&tuned_vs.root()))?;
        let heads = Heads::new(
            &tuned_vs.root().set_group(1),
            cfg.hidden_size,
            config.dropout,
            config.document_sees_sentences,
            config.promo_sentence_head,
        );
        let tokenizer = tokenizer.join().map_err(|_| FintagError::Tokenizer("the tokenizer failed to load".into()))??;
        Ok(Tagger {
            config,
            base,
            tokenizer: std::sync::Arc::new(tokenizer),
            encoder,
            heads,
            base_weights: weights,
            tuned_vs,
            casing: None,
            umlauts: None,
        })
    }

    /// A fresh model for training: tuned layers start from the base weights, heads random.
    pub fn fresh(base_dir: &Path, shape: &FreshModel) -> Result<Self> {
        tch::manual_seed(shape.seed);
        let base = BaseModelDir::open(base_dir)?;
        let config = TaggerConfig {
            document_sees_sentences: shape.document_sees_sentences,
            promo_sentence_head: shape.promo_sentence_head,
            ..TaggerConfig::new(shape.name, &base.manifest.source_sha256, shape.tuned_layers)
        };
        let t = Self::build(config, base)?;
        for (name, mut var) in t.tuned_vs.variables() {
            if name.starts_with("encoder.") {
                let src = t.base_weights.tensor(&name, Some(&var.size()))?;
                tch::no_grad(|| var.f_copy_(&src))?;
            }
        }
        Ok(t)
    }

    /// Loads a trained model directory on top of the base model directory.
    pub fn load(model_dir: &Path, base_dir: &Path) -> Result<Self> {
        Self::load_with(model_dir, base_dir, None)
    }

    /// Loads a trained model and gives it a sentence PROMO head to train on top of it: the
    /// head is initialised from `seed` (or taken from the model when it has one) and is the
    /// only trainable part; the encoder and the other heads stay as loaded.
    pub fn load_for_promo_sentence_head(model_dir: &Path, base_dir: &Path, seed: i64) -> Result<Self> {
        Self::load_with(model_dir, base_dir, Some(seed))
    }

    /// A trained model whose tuned layers and heads train on (`fintag train --from`).
    pub fn load_to_continue(model_dir: &Path, base_dir: &Path) -> Result<Self> {
        let mut t = Self::load_with(model_dir, base_dir, None)?;
        t.tuned_vs.unfreeze();
        Ok(t)
    }

    fn load_with(model_dir: &Path, base_dir: &Path, add_promo_sentence_head: Option<i64>) -> Result<Self> {
        let err = |message: String| FintagError::Model { dir: model_dir.to_path_buf(), message };
        let mut config = TaggerConfig::read(model_dir)?;
        if let Some(seed) = add_promo_sentence_head {
            tch::manual_seed(seed);
            config.promo_sentence_head = true;
        }
        let is_new_head = |name: &str| add_promo_sentence_head.is_some() && is_promo_sentence_var(name);
        let base = BaseModelDir::open(base_dir)?;
        if base.manifest.source_sha256 != config.base_sha256 {
            return Err(err(format!(
                "was trained on base model {} but {} holds {}; run `make setup` or pass the matching --base",
                config.base_sha256,
                base_dir.display(),
                base.manifest.source_sha256
            )));
        }
        let weights = model_dir.join(WEIGHTS_FILE);
        if !weights.is_file() {
            return Err(err(format!("{WEIGHTS_FILE} is missing")));
        }
        let mut t = Self::build(config, base)?;
        let stored = Tensor::load_multi(&weights).map_err(|e| {
            err(format!("{WEIGHTS_FILE} is unreadable (cut short, or not a weight file): {}", crate::error::first_line(&e.to_string())))
        })?;
        let stored: std::collections::HashMap<String, Tensor> = stored.into_iter().collect();
        // In name order, and every missing tensor before any wrong shape, so one broken file
        // always gets the same message.
        let mut vars: Vec<(String, Tensor)> = t.tuned_vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let mut pairs = Vec::with_capacity(vars.len());
        let mut missing = Vec::new();
        for (name, var) in vars {
            match stored.get(&name) {
                Some(src) => pairs.push((name, var, src)),
                None if is_new_head(&name) => {} // keeps its fresh initialisation
                None => missing.push(name),
            }
        }
        if let Some(first) = missing.first() {
            let more = if missing.len() > 1 { format!(" and {} more", missing.len() - 1) } else { String::new() };
            return Err(err(format!("{WEIGHTS_FILE} lacks tensor {first}{more}")));
        }
        // tensors the config has no place for (a config that names fewer tuned layers than
        // were trained would leave them unused and the model quietly wrong)
        let wanted: std::collections::HashSet<&str> = pairs.iter().map(|(n, _, _)| n.as_str()).collect();
        let mut unused: Vec<&String> = stored.keys().filter(|k| !wanted.contains(k.as_str())).collect();
        unused.sort();
        if let Some(first) = unused.first() {
            let more = if unused.len() > 1 { format!(" and {} more", unused.len() - 1) } else { String::new() };
            return Err(err(format!(
                "{WEIGHTS_FILE} holds tensor {first}{more} that {CONFIG_FILE} has no place for (tuned_layers {})",
                t.config.tuned_layers
            )));
        }
        for (name, mut var, src) in pairs {
            if src.size() != var.size() {
                return Err(err(format!("tensor {name} has shape {:?}, the model needs {:?}", src.size(), var.size())));
            }
            tch::no_grad(|| var.f_copy_(&src.to_kind(Kind::Float)))?;
        }
        t.casing = spelling_table(t.config.restore_case, "restore_case", model_dir).map_err(err)?;
        t.umlauts = spelling_table(t.config.restore_umlauts, "restore_umlauts", model_dir).map_err(err)?;
        t.tuned_vs.freeze();
        for (name, var) in t.tuned_vs.variables() {
            if is_new_head(&name) {
                let _ = var.set_requires_grad(true);
            }
        }
        Ok(t)
    }

    /// A second model over the same weights (no copy), for another inference thread; it
    /// has no variables of its own, so it cannot be trained or saved.
    pub fn replica(&self) -> Tagger {
        Tagger {
            config: self.config.clone(),
            base: self.base.clone(),
            tokenizer: self.tokenizer.clone(),
            encoder: self.encoder.shallow(),
            heads: self.heads.shallow(),
            base_weights: self.base_weights.clone(),
            tuned_vs: nn::VarStore::new(Device::Cpu),
            casing: self.casing.clone(),
            umlauts: self.umlauts.clone(),
        }
    }

    /// Gives the model the spelling tables of its training texts and turns on reading text
    /// in small letters with their capitals and text without umlauts with their umlauts.
    pub fn learn_spelling<'a>(&mut self, texts: impl IntoIterator<Item = &'a str> + Clone) {
        self.casing = Some(std::sync::Arc::new(Casing::learn(texts.clone())));
        self.umlauts = Some(std::sync::Arc::new(UmlautForms::learn(texts)));
        self.config.restore_case = true;
        self.config.restore_umlauts = true;
    }

    /// How texts are changed before this model reads them.
    pub fn input_rules(&self) -> InputRules<'_> {
        let c = &self.config;
        InputRules {
            fold_shouting: c.fold_shouting,
            drop_invisible: c.drop_invisible,
            drop_emphasis: c.drop_emphasis,
            drop_quote_marks: c.drop_quote_marks,
            umlauts: self.umlauts.as_deref().filter(|_| c.restore_umlauts),
        }
    }

    /// How the splitter, the model and the decoder read a text's characters beyond the
    /// input rules of [`InputRules`]: the line breaks that only wrap a paragraph
    /// (`TaggerConfig::join_wrapped_lines`), and the text as read, one character for one,
    /// None when that is the text as written: character references as their characters
    /// (`TaggerConfig::read_references`), then lines in small letters with capitals
    /// (`TaggerConfig::restore_case`; a wrapped paragraph counts as one line).
    pub fn reading(&self, chars: &[char]) -> (Vec<usize>, Option<Vec<char>>) {
        let c = &self.config;
        let referenced = if c.read_references { crate::text::read_references(chars) } else { None };
        let chars = referenced.as_deref().unwrap_or(chars);
        let soft_breaks = if c.join_wrapped_lines { crate::text::soft_line_breaks(chars) } else { Vec::new() };
        let recased = self.casing.as_ref().filter(|_| c.restore_case).and_then(|casing| {
            if soft_breaks.is_empty() {
                return casing.restore(chars);
            }
            let flat: Vec<char> = crate::text::unwrapped(chars, &soft_breaks).chars().collect();
            casing.restore(&flat).map(|mut r| {
                for &p in &soft_breaks {
                    r[p] = chars[p];
                    if p > 0 && chars[p - 1] == '\r' {
                        r[p - 1] = '\r';
                    }
                }
                r
            })
        });
        (soft_breaks, recased.or(referenced))
    }

    /// Writes config.json and weights.ot (tuned layers + heads, float16). The in-memory
    /// weights are rounded the same way, so a reloaded model gives identical outputs.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| FintagError::io(dir, e))?;
        let mut named: Vec<(String, Tensor)> = Vec::new();
        let mut vars: Vec<(String, Tensor)> = self.tuned_vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, mut var) in vars {
            let half = var.to_kind(Kind::Half);
            tch::no_grad(|| var.f_copy_(&half.to_kind(Kind::Float)))?;
            named.push((name, half));
        }
        let tmp = dir.join(format!("{WEIGHTS_FILE}.tmp"));
        Tensor::save_multi(&named, &tmp)?;
        std::fs::rename(&tmp, dir.join(WEIGHTS_FILE)).map_err(|e| FintagError::io(dir, e))?;
        if let Some(casing) = self.casing.as_ref().filter(|_| self.config.restore_case) {
            casing.write(dir)?;
        }
        if let Some(umlauts) = self.umlauts.as_ref().filter(|_| self.config.restore_umlauts) {
            umlauts.write(dir)?;
        }
        write_json(&dir.join(CONFIG_FILE), &self.config)
    }

    pub fn split_layer(&self) -> usize {
        self.encoder.layers.len() - self.config.tuned_layers
    }

    /// Tokens, windows and sentence membership for a text and its sentences.
    pub fn prepare(&self, text: &str, sentences: Vec<SentenceBounds>) -> Result<PreparedDoc> {
        let mut encoding = self.tokenizer.encode_with(text, self.input_rules())?;
        if self.config.hide_addresses {
            encoding.hide_ranges(&crate::text::address_words(&text.chars().collect::<Vec<_>>()));
        }
        let windows = make_windows(&encoding, &self.tokenizer, self.config.windows());
        let ranges: Vec<(usize, usize)> = windows.iter().map(|w| (w.start, w.end)).collect();
        let owners = token_owners(&ranges, encoding.tokens.len());
        let mut sentence_tokens = vec![Vec::new(); sentences.len()];
        let mut si = 0;
        for (ti, tok) in encoding.tokens.iter().enumerate() {
            while si < sentences.len() && sentences[si].end <= tok.start {
                si += 1;
            }
            // A token belongs to every sentence it overlaps (normally one).
            let mut sj = si;
            while sj < sentences.len() && sentences[sj].start < tok.end.max(tok.start + 1) {
                if sentences[sj].end > tok.start {
                    sentence_tokens[sj].push(ti);
                }
                sj += 1;
            }
        }
        Ok(PreparedDoc::new(encoding, windows, owners, sentences, sentence_tokens))
    }

    /// Runs the encoder layers `from..to` over windows (padded into one batch). `input` is
    /// the hidden state entering layer `from` ([windows, seq, hidden]); None embeds the ids.
    pub fn run_windows(&self, windows: &[&Window], input: Option<&Tensor>, from: usize, to: usize, train: bool) -> (Tensor, Tensor) {
        let seq = windows.iter().map(|w| w.ids.len()).max().unwrap_or(2);
        let mut ids = Vec::with_capacity(windows.len() * seq);
        let mut mask = Vec::with_capacity(windows.len() * seq);
        for w in windows {
            ids.extend(w.ids.iter().copied());
            mask.extend(std::iter::repeat(1i64).take(w.ids.len()));
            ids.extend(std::iter::repeat(self.tokenizer.pad_id).take(seq - w.ids.len()));
            mask.extend(std::iter::repeat(0i64).take(seq - w.ids.len()));
        }
        let shape = [windows.len() as i64, seq as i64];
        let mask = Tensor::of_slice(&mask).view(shape);
        let x = match input {
            Some(h) => h.shallow_clone(),
            None => self.encoder.embeddings.forward(&Tensor::of_slice(&ids).view(shape)),
        };
        (self.encoder.run_layers(x, &mask, from, to, train), mask)
    }

    /// Merges window outputs [windows, seq, hidden] of one document into [tokens, hidden].
    pub fn merge(&self, doc: &PreparedDoc, hidden: &Tensor) -> Tensor {
        self.merge_windows(doc, |w| hidden.get(w as i64))
    }

    /// [`Tagger::merge`] from each window's states as `window(w)` gives them.
    fn merge_windows(&self, doc: &PreparedDoc, window: impl Fn(usize) -> Tensor) -> Tensor {
        let mut parts = Vec::new();
        let mut t = 0;
        let n = doc.owners.len();
        while t < n {
            let w = doc.owners[t];
            let mut e = t;
            while e < n && doc.owners[e] == w {
                e += 1;
            }
            let offset = 1 + (t - doc.windows[w].start) as i64; // +1 skips <s>
            parts.push(window(w).narrow(0, offset, (e - t) as i64));
            t = e;
        }
        if parts.is_empty() {
            return Tensor::zeros(&[0, self.base.config.hidden_size], (Kind::Float, Device::Cpu));
        }
        Tensor::cat(&parts, 0)
    }

    /// Heads for one document from its window outputs.
    pub fn heads_for(&self, doc: &PreparedDoc, hidden: &Tensor, train: bool) -> HeadOutputs {
        self.heads_on(doc, &self.merge(doc, hidden), train)
    }

    /// Heads for one document from its merged token states [tokens, hidden].
    fn heads_on(&self, doc: &PreparedDoc, merged: &Tensor, train: bool) -> HeadOutputs {
        // The heads always run in float32, whatever precision the encoder ran in.
        let merged = merged.to_kind(Kind::Float);
        self.heads.forward(&merged, &doc.sentence_states(&merged), train)
    }

    /// Inference for several documents at once: windows of all documents are sorted by
    /// length and run in batches of at most `batch_tokens` padded tokens.
    pub fn infer(&self, docs: &[PreparedDoc], batch_tokens: usize) -> Vec<HeadOutputs> {
        tch::no_grad(|| {
            let mut all: Vec<(usize, usize)> = Vec::new(); // (doc, window)
            for (d, doc) in docs.iter().enumerate() {
                for w in 0..doc.windows.len() {
                    all.push((d, w));
                }
            }
            all.sort_by_key(|&(d, w)| docs[d].windows[w].ids.len());
            let layers = self.encoder.layers.len();
            let mut per_window: Vec<Vec<Option<Tensor>>> = docs.iter().map(|d| (0..d.windows.len()).map(|_| None).collect()).collect();
            let mut i = 0;
            while i < all.len() {
                let mut j = i;
                let mut longest = 0;
                while j < all.len() {
                    let len = docs[all[j].0].windows[all[j].1].ids.len();
                    if j > i && len.max(longest) * (j - i + 1) > batch_tokens {
                        break;
                    }
                    longest = longest.max(len);
                    j += 1;
                }
                let batch: Vec<&Window> = all[i..j].iter().map(|&(d, w)| &docs[d].windows[w]).collect();
                let (hidden, _) = self.run_windows(&batch, None, 0, layers, false);
                for (k, &(d, w)) in all[i..j].iter().enumerate() {
                    per_window[d][w] = Some(hidden.get(k as i64));
                }
                i = j;
            }
            docs.iter()
                .zip(per_window)
                .map(|(doc, wins)| {
                    // Tokens are read straight from their windows' states (no stacked copy),
                    // and the windows go before the heads run: a long document holds its
                    // states once.
                    let merged = self.merge_windows(doc, |w| match &wins[w] {
                        Some(t) => t.shallow_clone(),
                        None => Tensor::zeros(&[doc.windows[w].ids.len() as i64, self.base.config.hidden_size], (Kind::Float, Device::Cpu)),
                    });
                    drop(wins);
                    self.heads_on(doc, &merged, false)
                })
                .collect()
        })
    }
}

/// Where to look for models when no flag says: $FINTAG_MODEL, then `models/fintag-de`
/// beside the executable's checkout, then under the working directory.
pub fn default_model_dir() -> PathBuf {
    if let Ok(p) = std::env::var("FINTAG_MODEL") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(root) = exe.parent().and_then(|p| p.parent()).and_then(|p| p.parent()) {
            let cand = root.join("models/fintag-de");
            if cand.is_dir() {
                return cand;
            }
        }
    }
    PathBuf::from("models/fintag-de")
}

/// The base model directory that goes with a model directory: $FINTAG_BASE, else its
/// sibling `base`.
pub fn default_base_dir(model_dir: &Path) -> PathBuf {
    if let Ok(p) = std::env::var("FINTAG_BASE") {
        return PathBuf::from(p);
    }
    model_dir.parent().map(|p| p.join("base")).unwrap_or_else(|| PathBuf::from("models/base"))
}

impl Tagger {
    /// Every weight of the model (base layers, tuned layers, heads) under its Hugging Face /
    /// fintag name, for export to other runtimes.
    pub fn all_weights(&self) -> Result<Vec<(String, Tensor)>> {
        let tuned = self.tuned_vs.variables();
        let mut v: Vec<(String, Tensor)> = Vec::new();
        for name in self.base_weights.names() {
            if !tuned.contains_key(name) {
                v.push((name.to_string(), self.base_weights.tensor(name, None)?));
            }
        }
        v.extend(tuned);
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Token;
    use crate::text::SentenceBounds;

    #[test]
    fn sentence_means_are_the_same_as_a_matrix_product_and_as_row_sums() {
        // 7 tokens in 3 sentences; token 3 belongs to none (a blank), sentence 2 to one token
        let tokens = (0..7).map(|i| Token { id: 5, start: 2 * i, end: 2 * i + 1 }).collect();
        let sentence_tokens = vec![vec![0, 1, 2], vec![4, 5], vec![6]];
        let sentences = (0..3).map(|i| SentenceBounds { start: i, end: i + 1 }).collect();
        let doc = PreparedDoc::new(Encoding { tokens }, Vec::new(), Vec::new(), sentences, sentence_tokens);
        let states = Tensor::of_slice(&(0..28).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>()).view([7, 4]);
        let dense = doc.sentence_states_within(&states, usize::MAX);
        let sums = doc.sentence_states_within(&states, 0);
        assert_eq!(dense.size(), [3, 4]);
        assert!(dense.allclose(&sums, 1e-6, 1e-6, false));
        let first = states.narrow(0, 0, 3).mean_dim(Some(&[0i64][..]), false, tch::Kind::Float);
        assert!(sums.get(0).allclose(&first, 1e-6, 1e-6, false));
        assert!(sums.get(2).allclose(&states.get(6), 1e-6, 1e-6, false));
        // no sentences: an empty [0, hidden] either way
        let none = PreparedDoc { sentences: Vec::new(), sentence_tokens: Vec::new(), ..doc };
        assert_eq!(none.sentence_states_within(&states, 0).size(), [0, 4]);
        assert_eq!(none.sentence_states_within(&states, usize::MAX).size(), [0, 4]);
    }
}
