//! Stage 4: model outputs to scored spans with code-point offsets.
//!
//! Entities: the most probable valid BIO tag sequence (constrained Viterbi) → spans, widened
//! to whole words, trimmed of quotes, brackets and other edge punctuation (a sentence's
//! full stop too, an abbreviation's dot not), pieces of one name joined, never across a
//! line break, names without leading adjectives or (ORG, PER, LOC) a trailing bare number,
//! a surname's initial with its dot, a product named in quotes taken as the whole quoted
//! title, amounts without a unit dropped. PROMO: per-sentence decision — mostly
//! promotional sentences become one whole-sentence span, otherwise runs of promotional
//! tokens become clause spans that stop before the final punctuation, take hyphenated
//! compounds whole, never end inside an entity, keep quotes balanced, and are one span
//! when only blanks and commas part them. Models with a sentence PROMO head take the
//! whole-sentence decision from that head instead of the share of hot tokens.

use crate::document::{Prediction, ScoredSentence, ScoredSpan, SentimentScores};
use crate::labels::{EntityLabel, Sentiment, SpanLabel};
use crate::model::heads::HeadOutputs;
use crate::model::tagger::PreparedDoc;
use crate::text::is_emoji;
use crate::text::offsets::{trim_back, trim_front};

/// Thresholds of the decoder.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DecodeConfig {
    /// A token is promotional above this probability (B + I) in documents the clickbait head
    /// does not flag ...
    pub promo_threshold: f32,
    /// ... and above this one in documents it flags (clickbait >= `clickbait_gate`): the
    /// document-level decision, which is far more reliable than single tokens, sets how much
    /// evidence a sentence needs.
    pub promo_threshold_flagged: f32,
    pub clickbait_gate: f32,
    /// Share of a sentence's tokens that makes the whole sentence one PROMO span.
    pub whole_sentence_share: f32,
    /// Models with a sentence PROMO head: the probability at which a sentence becomes one
    /// whole-sentence PROMO span (in unflagged documents at least `promo_threshold`).
    pub promo_sentence_threshold: f32,
    /// Widen entity spans to whole words and trim edge punctuation (ablation switch).
    pub snap_entities: bool,
    /// Decide PROMO per sentence (whole sentence or clause); off: raw token runs (ablation switch).
    pub promo_by_sentence: bool,
    /// Shortest promotional clause, in tokens (stray single tokens are noise, not clauses).
    pub min_clause_tokens: usize,
    /// Entity tags from label mass (B + I) instead of plain argmax (ablation switch).
    pub entity_label_mass: bool,
    /// Join same-label entity spans separated by a single space or hyphen (ablation switch).
    pub merge_adjacent_entities: bool,
    /// Entity tags as the most probable valid BIO sequence (constrained Viterbi: I-x only
    /// after B-x or I-x) instead of token by token (ablation switch).
    pub entity_viterbi: bool,
    /// Drop MONEY spans without a currency and PERCENT spans without a percent unit: counts
    /// and price-target starting points ("von 65 auf 62 Euro") are not amounts (ablation switch).
    pub require_units: bool,
    /// Trim name edges: ORG, PER and LOC spans end before a trailing bare number ("hatte
    /// [Porsche] 5 bis 7 Prozent", "[Zalando] 2008 gegründet": no gold name of those labels
    /// ends in one, while products and indices do, "PlayStation 5", "Nikkei 225"), and
    /// ORG, PER, LOC and PRODUCT spans start after leading lower-case words when a later
    /// word is capitalised ("der neuen [Core Ultra]-Serie": adjectives are not labelled;
    /// all-lower-case brands such as "mwb research" stay whole); a PER name ending in a
    /// surname's initial keeps its dot ("Marco S.") (ablation switch).
    pub trim_name_edges: bool,
    /// A product named in quotes is the whole quoted title: a PRODUCT span that starts right
    /// after an opening quote ends at the closing one ("„[IPO-Radar Asien|PRODUCT]“", not
    /// "IPO-Radar" and LOC "Asien"; every one of the corpus's 236 quoted products is the
    /// whole quote) (ablation switch).
    pub whole_quoted_titles: bool,
    /// A web or e-mail address is one word: no entity is cut out of it
    /// ("www.boerse.de/[siemens]-studie"), and a PROMO clause that reaches into it takes it
    /// whole ("jetzt herunterladen: www" → "… www.app.de/download"); bare host names stay
    /// (ablation switch).
    pub whole_addresses: bool,
    /// MONEY and PERCENT spans take the sign written right before their first digit, the
    /// typographic minus included ("[−0,3 %]"; every signed amount of the corpus has its
    /// sign in the span), and MONEY spans a currency symbol before them ("[$415]") (ablation
    /// switch).
    pub join_signs: bool,
    /// A weekday and the date written after it with a comma are one DATE ("[Mittwoch, 6.
    /// Mai]"), as in 37 of the corpus's 41 such pairs (the other four are datelines of one
    /// batch) (ablation switch).
    pub join_weekday_dates: bool,
    /// A WKN is one INSTRUMENT span with its prefix, a colon after the prefix included
    /// ("[WKN: 716460]", which the corpus never writes and the model cut into "WKN" and the
    /// code, or tagged the prefix alone) (ablation switch).
    pub whole_wkns: bool,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            promo_threshold: 0.5,
            promo_threshold_flagged: 0.5,
            clickbait_gate: 0.5,
            whole_sentence_share: 0.6,
            promo_sentence_threshold: 0.5,
            snap_entities: true,
            promo_by_sentence: true,
            min_clause_tokens: 3,
            entity_label_mass: true,
            merge_adjacent_entities: true,
            entity_viterbi: true,
            require_units: true,
            trim_name_edges: true,
            whole_quoted_titles: true,
            whole_addresses: true,
            join_signs: true,
            join_weekday_dates: true,
            whole_wkns: true,
        }
    }
}

impl DecodeConfig {
    /// The PROMO token threshold for a document with this clickbait probability.
    pub fn promo_threshold_for(&self, clickbait: f32) -> f32 {
        if clickbait >= self.clickbait_gate {
            self.promo_threshold_flagged
        } else {
            self.promo_threshold
        }
    }

    /// The sentence PROMO head's threshold for a document with this clickbait probability.
    pub fn promo_sentence_threshold_for(&self, clickbait: f32) -> f32 {
        if clickbait >= self.clickbait_gate {
            self.promo_sentence_threshold
        } else {
            self.promo_sentence_threshold.max(self.promo_threshold)
        }
    }
}

/// Plain numbers copied out of the head tensors.
pub struct HeadProbs {
    pub entity: Vec<Vec<f32>>,
    pub promo: Vec<f32>,
    /// Per sentence, the sentence PROMO head's probability (empty without that head).
    pub promo_sentence: Vec<f32>,
    pub sentence: Vec<Vec<f32>>,
    pub document: Vec<f32>,
    pub clickbait: f32,
}

fn rows(t: &tch::Tensor) -> Vec<Vec<f32>> {
    let size = t.size();
    if size.len() != 2 || size[0] == 0 {
        return Vec::new();
    }
    let flat: Vec<f32> = Vec::<f32>::try_from(t.contiguous().view([-1])).unwrap_or_default();
    flat.chunks(size[1] as usize).map(|c| c.to_vec()).collect()
}

impl HeadProbs {
    pub fn from_outputs(o: &HeadOutputs) -> Self {
        let entity = rows(&o.entity_logits.softmax(-1, tch::Kind::Float));
        let promo_p = rows(&o.promo_logits.softmax(-1, tch::Kind::Float));
        let promo = promo_p.iter().map(|p| p[1] + p[2]).collect();
        let promo_sentence =
            o.promo_sentence_logits.as_ref().and_then(|l| Vec::<f32>::try_from(l.sigmoid().contiguous()).ok()).unwrap_or_default();
        let sentence = rows(&o.sentence_logits.softmax(-1, tch::Kind::Float));
        let document = Vec::<f32>::try_from(o.document_logits.softmax(-1, tch::Kind::Float)).unwrap_or_default();
        let clickbait = o.clickbait_logit.sigmoid().double_value(&[]) as f32;
        HeadProbs { entity, promo, promo_sentence, sentence, document, clickbait }
    }
}

fn argmax(v: &[f32]) -> (usize, f32) {
    v.iter().copied().enumerate().fold((0, f32::MIN), |best, (i, x)| if x > best.1 { (i, x) } else { best })
}

/// Characters that never stand at the edge of an entity span.
fn edge_trim(c: char) -> bool {
    c.is_whitespace()
        || matches!(c, '-' | '–' | '—' | '/' | '&')
        || matches!(
            c,
            '„' | '“'
                | '”'
                | '"'
                | '\''
                | '‚'
                | '‘'
                | '’'
                | '«'
                | '»'
                | '('
                | ')'
                | '['
                | ']'
                | ','
                | ';'
                | ':'
                | '!'
                | '?'
                | '$'
                | '#'
                | '*'
                | '…'
        )
        || is_emoji(c)
        || invisible(c)
}

fn word_char(c: char) -> bool {
    // a soft hyphen or zero-width space sits inside a word ("Unterneh\u{ad}mens")
    c.is_alphanumeric() || crate::encode::is_invisible(c)
}

/// Widens [s, e) to whole words and trims edge punctuation. None for a span in a word
/// joined by underscores: a user handle or identifier ("Laborratte_Lea"), which is no
/// entity (no span of the corpus touches an underscore).
fn snap_entity(chars: &[char], mut s: usize, mut e: usize) -> Option<(usize, usize)> {
    while s > 0 && s < chars.len() && word_char(chars[s]) && word_char(chars[s - 1]) {
        s -= 1;
    }
    while e < chars.len() && e > 0 && word_char(chars[e - 1]) && word_char(chars[e]) {
        e += 1;
    }
    // one underscore joins a handle; a run of them is Markdown emphasis ("__Rheinmetall__")
    let underscore = |i: usize| chars.get(i) == Some(&'_');
    let joining = |i: usize| underscore(i) && !(i > 0 && underscore(i - 1)) && !underscore(i + 1);
    if (s > 0 && joining(s - 1)) || joining(e) || (s..e).any(joining) {
        return None;
    }
    // a sign before a number belongs to MONEY/PERCENT ("-1,2 Millionen Euro"), and so does a
    // dollar sign beside one ("$415", "212 $"; a cashtag's "$" before letters goes)
    let digit_at = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let dollar_before_number = |i: usize| chars[i] == '$' && (digit_at(i + 1) || (chars.get(i + 1) == Some(&' ') && digit_at(i + 2)));
    let dollar_after_number = |i: usize| chars[i] == '$' && i > 0 && (digit_at(i - 1) || (i > 1 && chars[i - 1] == ' ' && digit_at(i - 2)));
    let s = trim_front(s, e, |i| {
        edge_trim(chars[i]) && !(matches!(chars[i], '-' | '–') && i + 1 < e && chars[i + 1].is_ascii_digit()) && !dollar_before_number(i)
    });
    // a final dot goes unless it ends an abbreviation ("Corp.", "Mrd.") or a one-letter
    // word ("S.A.", "e.V."); a sentence's full stop after an amount does go ("15,1 Mrd. Euro.")
    let e = trim_back(s, e, |i| {
        (edge_trim(chars[i]) && !dollar_after_number(i))
            || (chars[i] == '.' && i > s && !abbreviation_dot(chars, s, i + 1) && !one_letter_before(chars, s, i))
    });
    (s < e).then_some((s, e))
}

/// [s, e) cut at every line break, the breaks themselves left out.
fn line_pieces(chars: &[char], s: usize, e: usize) -> Vec<(usize, usize)> {
    let mut pieces = Vec::new();
    let mut from = s;
    for i in s..e {
        if matches!(chars[i], '\n' | '\r' | '\u{2028}' | '\u{2029}') {
            pieces.push((from, i));
            from = i + 1;
        }
    }
    pieces.push((from, e));
    pieces.retain(|(a, b)| a < b);
    pieces
}

/// The start of [s, e) after its leading all-lower-case words ("neuen Core Ultra" → "Core
/// Ultra"), when a capitalised word follows them; otherwise `s`.
fn without_leading_lowercase(chars: &[char], s: usize, e: usize) -> usize {
    let mut at = s;
    loop {
        let mut w = at;
        while w < e && chars[w].is_alphabetic() && chars[w].is_lowercase() {
            w += 1;
        }
        // a whole lower-case word followed by a space, then more of the name
        if w == at || w >= e || chars[w] != ' ' {
            break;
        }
        at = w + 1;
    }
    if at > s && at < e && chars[at].is_uppercase() {
        at
    } else {
        s
    }
}

/// [s, e) without its trailing words made only of digits and number punctuation
/// ("Porsche 5" → "Porsche"); None when nothing else is left.
fn without_trailing_number(chars: &[char], s: usize, mut e: usize) -> Option<(usize, usize)> {
    loop {
        let w = trim_back(s, e, |i| chars[i].is_ascii_digit() || matches!(chars[i], '.' | ','));
        let bare = w < e && chars[w..e].iter().any(char::is_ascii_digit) && w > s && chars[w - 1] == ' ';
        if !bare {
            return (s < e).then_some((s, e));
        }
        e = trim_back(s, w - 1, |i| chars[i].is_whitespace());
    }
}

/// A person's name that ends in an abbreviated surname keeps its dot ("Leser [Marco S.]
/// aus Linz", as every such name of the corpus is labelled): [s, e) widened by the dot
/// when its last word is one capital letter after another word.
fn with_initial_dot(chars: &[char], s: usize, e: usize) -> (usize, usize) {
    let initial = e >= s + 3 && chars[e - 1].is_uppercase() && chars[e - 2] == ' ';
    if initial && chars.get(e) == Some(&'.') {
        (s, e + 1)
    } else {
        (s, e)
    }
}

/// An amount's start moved onto the sign written right before it ("−0,3 %", "(+2,1 %)"):
/// every signed MONEY and PERCENT span of the corpus includes its sign. The corpus writes
/// only "+" and "-", which the model takes in; the minus sign (U+2212) and an en dash used
/// as one it leaves out.
fn with_sign(chars: &[char], s: usize) -> usize {
    let sign = s > 0 && matches!(chars[s - 1], '+' | '-' | '−' | '–');
    if sign && starts_word(chars, s - 1) && chars.get(s).is_some_and(char::is_ascii_digit) {
        s - 1
    } else {
        s
    }
}

/// Whether position `i` begins a word: the text's start, or after a blank, an opening
/// bracket, a slash or a colon.
fn starts_word(chars: &[char], i: usize) -> bool {
    i == 0 || chars[i - 1].is_whitespace() || matches!(chars[i - 1], '(' | '[' | '/' | ':')
}

/// An amount's start moved onto a currency symbol written before it ("$415", "€ 0,8 Mio."),
/// which the unit check then finds; the model, which saw dollar signs only after amounts
/// ("11,20 $"), leaves one before an amount out.
fn with_currency_symbol(chars: &[char], s: usize) -> usize {
    let symbol = |i: usize| matches!(chars[i], '$' | '€' | '£' | '¥');
    if s > 0 && symbol(s - 1) && starts_word(chars, s - 1) {
        s - 1
    } else if s > 1 && chars[s - 1] == ' ' && symbol(s - 2) && starts_word(chars, s - 2) {
        s - 2
    } else {
        s
    }
}

/// Only whitespace trimmed (the decoder without word snapping).
fn trim_space(chars: &[char], s: usize, e: usize) -> Option<(usize, usize)> {
    let space = |i: usize| chars[i].is_whitespace();
    let s = trim_front(s, e, space);
    let e = trim_back(s, e, space);
    (s < e).then_some((s, e))
}

/// Whether a trailing dot belongs to the span ("Mrd.", "Inc.", "Co.").
fn abbreviation_dot(chars: &[char], s: usize, e: usize) -> bool {
    let w = trim_back(s, e - 1, |i| word_char(chars[i]));
    let word: String = chars[w..e - 1].iter().collect::<String>().to_lowercase();
    matches!(word.as_str(), "inc" | "co" | "corp" | "ltd" | "mrd" | "mio" | "bio" | "tsd" | "st" | "cie" | "jr")
}

/// Whether the word ending at `dot` (within [s, dot)) is a single letter: an initial or a
/// dotted abbreviation's last letter ("N.V.", "a.s.").
fn one_letter_before(chars: &[char], s: usize, dot: usize) -> bool {
    let w = trim_back(s, dot, |i| word_char(chars[i]));
    dot == w + 1 && chars[w].is_alphabetic()
}

/// Entity spans from BIO probabilities.
/// A token's tag from label mass: the token is inside an entity when P(B-x) + P(I-x) of its
/// best label x beats P(O), and begins one when P(B-x) > P(I-x). Plain argmax splits the mass
/// of one label between B and I and so drops tokens to O inside multi-token names.
fn tag_by_label_mass(p: &[f32]) -> (usize, f32) {
    let o = p.first().copied().unwrap_or(1.0);
    let mut best = (0usize, o);
    for l in EntityLabel::ALL {
        let (b, i) = (p.get(l.begin_tag()).copied().unwrap_or(0.0), p.get(l.inside_tag()).copied().unwrap_or(0.0));
        if b + i > best.1 {
            best = (if b > i { l.begin_tag() } else { l.inside_tag() }, b + i);
        }
    }
    best
}

/// Whether a MONEY or PERCENT span names its unit (a currency, "Prozent", "%", Basispunkte);
/// other labels always pass.
fn names_unit(label: EntityLabel, text: &str) -> bool {
    const CURRENCIES: &[&str] = &[
        "euro", "dollar", "cent", "franken", "rappen", "pfund", "pence", "yen", "yuan", "renminbi", "won", "rupie", "rubel", "kron",
        "real", "peso", "lira", "zloty", "złoty", "forint", "rand", "ringgit", "baht", "dirham", "riyal", "rial", "schekel", "bitcoin",
        "ether", "token", "coin", "satoshi",
    ];
    let lower = text.to_lowercase();
    match label {
        EntityLabel::Money => {
            text.chars().any(|c| matches!(c, '€' | '$' | '£' | '¥' | '₿' | '₩' | '₹' | '₽' | '₺'))
                || CURRENCIES.iter().any(|w| lower.contains(w))
                // ISO codes: CHF, CAD, HKD, USD …
                || text.split(|c: char| !c.is_alphanumeric()).any(|w| w.len() == 3 && w.chars().all(|c| c.is_ascii_uppercase()))
        }
        EntityLabel::Percent => {
            text.contains('%') || text.contains('‰') || ["prozent", "basispunkt", "promille"].iter().any(|w| lower.contains(w))
        }
        _ => true,
    }
}

/// Probability mass of the label a tag belongs to (B + I; O for O).
fn tag_mass(p: &[f32], tag: usize) -> f32 {
    match EntityLabel::from_tag(tag) {
        Some((l, _)) => p.get(l.begin_tag()).copied().unwrap_or(0.0) + p.get(l.inside_tag()).copied().unwrap_or(0.0),
        None => p.first().copied().unwrap_or(1.0),
    }
}

/// The most probable tag sequence (sum of log probabilities) in which I-x only follows
/// B-x or I-x: a name cannot begin with an inside tag, and labels cannot change mid-name.
fn viterbi_tags(probs: &[Vec<f32>]) -> Vec<usize> {
    const K: usize = EntityLabel::NUM_BIO_TAGS;
    let allowed = |from: Option<usize>, to: usize| match EntityLabel::from_tag(to) {
        Some((l, false)) => matches!(from.and_then(EntityLabel::from_tag), Some((m, _)) if m == l),
        _ => true,
    };
    let emit = |p: &[f32], t: usize| p.get(t).copied().unwrap_or(0.0).max(1e-9).ln();
    let Some(first) = probs.first() else { return Vec::new() };
    let mut score: [f32; K] = std::array::from_fn(|t| if allowed(None, t) { emit(first, t) } else { f32::NEG_INFINITY });
    let mut back = vec![[0usize; K]; probs.len()];
    for (i, p) in probs.iter().enumerate().skip(1) {
        let mut next = [f32::NEG_INFINITY; K];
        for (to, slot) in next.iter_mut().enumerate() {
            for (from, &s) in score.iter().enumerate() {
                if s > f32::NEG_INFINITY && allowed(Some(from), to) && s > *slot {
                    *slot = s;
                    back[i][to] = from;
                }
            }
            *slot += emit(p, to);
        }
        score = next;
    }
    let mut tags = vec![0; probs.len()];
    let mut t = argmax(&score).0;
    for i in (0..probs.len()).rev() {
        tags[i] = t;
        t = back[i][t];
    }
    tags
}

pub fn decode_entities(chars: &[char], doc: &PreparedDoc, probs: &[Vec<f32>], cfg: &DecodeConfig) -> Vec<ScoredSpan> {
    let (snap, merge_adjacent, trim_edges) = (cfg.snap_entities, cfg.merge_adjacent_entities, cfg.trim_name_edges);
    // Tokens without characters (SentencePiece's lone space marker before a word it has no
    // piece for: "UCITS" + "▁" + "ETF") are trained as O; read as O they would end the name
    // they stand in, so decoding skips them.
    let content: Vec<usize> =
        (0..probs.len().min(doc.encoding.tokens.len())).filter(|&t| doc.encoding.tokens[t].end > doc.encoding.tokens[t].start).collect();
    let content_probs: Vec<Vec<f32>> = content.iter().map(|&t| probs[t].clone()).collect();
    let path = if cfg.entity_viterbi { viterbi_tags(&content_probs) } else { Vec::new() };
    let mut spans = Vec::new();
    let mut current: Option<(EntityLabel, usize, usize, Vec<f32>)> = None; // label, first tok, last tok, scores
    let flush = |cur: Option<(EntityLabel, usize, usize, Vec<f32>)>, spans: &mut Vec<ScoredSpan>| {
        if let Some((label, a, b, scores)) = cur {
            let toks = &doc.encoding.tokens;
            let score = scores.iter().sum::<f32>() / scores.len().max(1) as f32;
            // A name never runs over a line break (headline lists: "… Tochter Cainiao" /
            // "Reserve Bank of India belässt …"): each line's piece is its own span.
            for (ls, le) in line_pieces(chars, toks[a].start, toks[b].end) {
                let mut range = if snap { snap_entity(chars, ls, le) } else { trim_space(chars, ls, le) };
                if trim_edges && matches!(label, EntityLabel::Org | EntityLabel::Per | EntityLabel::Loc) {
                    range = range.and_then(|(s, e)| without_trailing_number(chars, s, e));
                }
                if trim_edges && label == EntityLabel::Per {
                    range = range.map(|(s, e)| with_initial_dot(chars, s, e));
                }
                if cfg.join_signs && matches!(label, EntityLabel::Money | EntityLabel::Percent) {
                    range = range.map(|(s, e)| (with_sign(chars, s), e));
                }
                if cfg.join_signs && label == EntityLabel::Money {
                    range = range.map(|(s, e)| (with_currency_symbol(chars, s), e));
                }
                if let Some((s, e)) = range {
                    spans.push(ScoredSpan { start: s, end: e, label: SpanLabel::Entity(label), score, text: String::new() });
                }
            }
        }
    };
    for (k, (&t, p)) in content.iter().zip(&content_probs).enumerate() {
        let (tag, score) = match path.get(k) {
            Some(&tag) => (tag, tag_mass(p, tag)),
            None if cfg.entity_label_mass => tag_by_label_mass(p),
            None => argmax(p),
        };
        match EntityLabel::from_tag(tag) {
            None => {
                flush(current.take(), &mut spans);
            }
            Some((label, begin)) => {
                let continues = matches!(&current, Some((l, _, _, _)) if *l == label) && !begin;
                // A new word that starts inside the same label without B still continues.
                if continues {
                    if let Some(c) = current.as_mut() {
                        c.2 = t;
                        c.3.push(score);
                    }
                } else {
                    flush(current.take(), &mut spans);
                    current = Some((label, t, t, vec![score]));
                }
            }
        }
    }
    flush(current.take(), &mut spans);
    // Word snapping can make neighbours touch or overlap: keep the better-scored one.
    spans.sort_by_key(|s| (s.start, s.end));
    let mut out: Vec<ScoredSpan> = Vec::new();
    for s in spans {
        if let Some(last) = out.last_mut() {
            // "Falkwerk" + "Drohnentechnik AG", "Sonnenstrom" + "Depot": one name split by a
            // B tag; same label and only a space or hyphen between them is one span (the
            // corpus has no two same-label names joined that way).
            // "Mittwoch" + ", " + "6. Mai" is one DATE as well
            let pieces =
                merge_adjacent && s.label == last.label && s.start == last.end + 1 && matches!(chars.get(last.end), Some(' ' | '-'));
            if pieces || (cfg.join_weekday_dates && weekday_then_date(chars, last, &s)) {
                last.score = (last.score + s.score) / 2.0;
                last.end = s.end;
                continue;
            }
            if s.start < last.end {
                if s.score > last.score {
                    *last = s;
                }
                continue;
            }
        }
        out.push(s);
    }
    if trim_edges {
        // after joining: a lone adjective tagged as its own piece has been joined to the name
        for s in out.iter_mut() {
            if matches!(s.label, SpanLabel::Entity(EntityLabel::Org | EntityLabel::Per | EntityLabel::Loc | EntityLabel::Product)) {
                let from = without_leading_lowercase(chars, s.start, s.end);
                if from > s.start {
                    s.start = from;
                }
            }
        }
    }
    if cfg.whole_quoted_titles {
        out = with_whole_quoted_titles(chars, out);
    }
    if cfg.whole_wkns {
        out = with_whole_wkns(chars, out);
    }
    if cfg.whole_addresses {
        // a web address or e-mail address is one word: a name inside it is no entity
        let links = crate::text::address_words(chars);
        out.retain(|s| !links.iter().any(|&(a, b)| s.start < b && s.end > a));
    }
    // the edges are final: each span's text is read once, here
    for s in out.iter_mut() {
        s.text = chars[s.start..s.end].iter().collect();
    }
    if cfg.require_units {
        out.retain(|s| match s.label {
            SpanLabel::Entity(l) => names_unit(l, &s.text),
            _ => true,
        });
    }
    out
}

/// The quote that closes one opened by `c` (German, English, French and straight quotes).
fn closing_quote(c: char) -> Option<char> {
    match c {
        '„' => Some('“'),
        '“' => Some('”'),
        '‚' => Some('‘'),
        '»' => Some('«'),
        '«' => Some('»'),
        '"' => Some('"'),
        _ => None,
    }
}

/// Longest quoted title taken whole, in words (the corpus's longest has five) ...
const MAX_TITLE_WORDS: usize = 6;
/// ... and how far past a product the closing quote is looked for, in characters (bounds the
/// scan on huge single-line documents; the corpus's longest quoted product has 40).
const MAX_TITLE_SCAN: usize = 120;

/// Widens each PRODUCT span that starts right after an opening quote to the closing quote on
/// the same line, when the quoted text is a title of at most [`MAX_TITLE_WORDS`] words (a
/// quoted sentence is left alone); entity spans inside the widened title are dropped.
/// `spans` are sorted by start and do not overlap.
fn with_whole_quoted_titles(chars: &[char], spans: Vec<ScoredSpan>) -> Vec<ScoredSpan> {
    let mut out: Vec<ScoredSpan> = Vec::with_capacity(spans.len());
    for mut s in spans {
        if out.last().is_some_and(|last| s.start < last.end) {
            continue; // inside the title just widened
        }
        let close = s.start.checked_sub(1).and_then(|i| closing_quote(chars[i]));
        if let (SpanLabel::Entity(EntityLabel::Product), Some(close)) = (s.label, close) {
            let end = chars[s.end..].iter().take(MAX_TITLE_SCAN).position(|&c| c == close || c == '\n').map(|off| s.end + off);
            if let Some(end) = end.filter(|&e| e > s.end && chars[e] == close) {
                let e = trim_back(s.end, end, |i| edge_trim(chars[i]));
                let words = chars[s.start..e].split(|c| c.is_whitespace()).filter(|w| !w.is_empty()).count();
                if e > s.end && words <= MAX_TITLE_WORDS {
                    s.end = e;
                }
            }
        }
        out.push(s);
    }
    out
}

/// The [start, end) of each WKN with its prefix: "WKN", then blanks or a colon and blanks
/// (at most three characters), then a code of six capitals and digits with at least one
/// digit ("WKN 716460", "WKN: A0D655", "WKN:ENER6Y").
fn wkn_ranges(chars: &[char]) -> Vec<(usize, usize)> {
    let alnum = |i: usize| chars.get(i).is_some_and(|c| c.is_alphanumeric());
    let mut out = Vec::new();
    for (s, e) in crate::text::char_runs(chars, char::is_alphanumeric) {
        if chars[s..e] != ['W', 'K', 'N'] {
            continue;
        }
        let mut k = e;
        while k < e + 3 && matches!(chars.get(k), Some(' ' | '\u{a0}' | ':')) {
            k += 1;
        }
        let code = k..k + 6;
        let is_code = k > e
            && !chars[e..k].iter().skip(1).any(|&c| c == ':')
            && chars.get(code.clone()).is_some_and(|c| c.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
            && chars[code.clone()].iter().any(char::is_ascii_digit)
            && !alnum(k + 6);
        if is_code {
            out.push((s, k + 6));
        }
    }
    out
}

/// A WKN with its prefix ([`wkn_ranges`]) that holds an INSTRUMENT span becomes one
/// INSTRUMENT span over the whole range, every span inside it a piece of it (the mean of
/// their scores). `spans` are sorted by start and do not overlap.
fn with_whole_wkns(chars: &[char], spans: Vec<ScoredSpan>) -> Vec<ScoredSpan> {
    const INSTRUMENT: SpanLabel = SpanLabel::Entity(EntityLabel::Instrument);
    let inside = |s: &ScoredSpan, &(a, b): &(usize, usize)| a <= s.start && s.end <= b;
    let wkns: Vec<(usize, usize)> =
        wkn_ranges(chars).into_iter().filter(|r| spans.iter().any(|s| s.label == INSTRUMENT && inside(s, r))).collect();
    let mut out: Vec<ScoredSpan> = Vec::with_capacity(spans.len());
    for s in spans {
        match wkns.iter().find(|r| inside(&s, r)) {
            Some(&(a, b)) => match out.last_mut().filter(|last| (last.start, last.end) == (a, b)) {
                Some(last) => last.score = (last.score + s.score) / 2.0,
                None => out.push(ScoredSpan { start: a, end: b, label: INSTRUMENT, ..s }),
            },
            None => out.push(s),
        }
    }
    out
}

/// The sentence PROMO head's view of one document: per sentence probabilities and the
/// threshold that makes a sentence wholly PROMO.
#[derive(Debug, Clone, Copy)]
pub struct SentencePromo<'a> {
    pub probs: &'a [f32],
    pub threshold: f32,
}

/// PROMO spans, decided per sentence.
/// `threshold`: the token threshold for this document (see [`DecodeConfig::promo_threshold_for`]).
/// `sentence_head`: when the model has a sentence PROMO head, it alone decides which
/// sentences are wholly PROMO; the token runs of the others still become clause spans.
pub fn decode_promo(
    chars: &[char],
    doc: &PreparedDoc,
    promo: &[f32],
    threshold: f32,
    sentence_head: Option<SentencePromo>,
    entities: &[ScoredSpan],
    cfg: &DecodeConfig,
) -> Vec<ScoredSpan> {
    let addresses = if cfg.whole_addresses { crate::text::address_words(chars) } else { Vec::new() };
    let mut out = Vec::new();
    for (si, sent) in doc.sentences.iter().enumerate() {
        let toks = &doc.sentence_tokens[si];
        let content: Vec<usize> = toks.iter().copied().filter(|&t| doc.encoding.tokens[t].end > doc.encoding.tokens[t].start).collect();
        if content.is_empty() {
            continue;
        }
        let hot: Vec<bool> = content.iter().map(|&t| promo[t] > threshold).collect();
        let share = hot.iter().filter(|h| **h).count() as f32 / content.len() as f32;
        let head = sentence_head.and_then(|h| h.probs.get(si).map(|&p| (p, p >= h.threshold)));
        let whole = match head {
            Some((_, whole)) => whole,
            None => share > 0.0 && share >= cfg.whole_sentence_share,
        };
        if cfg.promo_by_sentence && whole {
            let s = trim_front(sent.start, sent.end, |i| promo_blank(chars[i]));
            let e = trim_back(s, sent.end, |i| promo_blank(chars[i]));
            if s < e {
                let score = match head {
                    Some((p, _)) => p,
                    None => content.iter().map(|&t| promo[t]).sum::<f32>() / content.len() as f32,
                };
                out.push(ScoredSpan { start: s, end: e, label: SpanLabel::Promo, score, text: chars[s..e].iter().collect() });
            }
            continue;
        }
        if share == 0.0 {
            continue;
        }
        // Clause spans: runs of promotional tokens.
        let mut runs = Vec::new(); // (start, end, summed probability, tokens)
        let mut i = 0;
        while i < content.len() {
            if !hot[i] {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < content.len() && hot[j] {
                j += 1;
            }
            let ts = &doc.encoding.tokens;
            let (raw_s, raw_e) = (ts[content[i]].start.max(sent.start), ts[content[j - 1]].end.min(sent.end));
            let (s, e) = if cfg.promo_by_sentence {
                snap_clause(chars, sent.start, sent.end, raw_s, raw_e)
            } else {
                trim_space(chars, raw_s, raw_e).unwrap_or((raw_s, raw_s))
            };
            let (s, e) = over_addresses(&addresses, s, e);
            let long_enough = !cfg.promo_by_sentence || j - i >= cfg.min_clause_tokens;
            if e > s + 1 && long_enough {
                runs.push((s, e, content[i..j].iter().map(|&t| promo[t]).sum::<f32>(), j - i));
            }
            i = j;
        }
        if cfg.promo_by_sentence {
            runs = settle_clauses(chars, (sent.start, sent.end), runs, entities);
        }
        for (s, e, sum, n) in runs {
            out.push(ScoredSpan { start: s, end: e, label: SpanLabel::Promo, score: sum / n as f32, text: chars[s..e].iter().collect() });
        }
    }
    out.into_iter().flat_map(|span| without_pictographs(chars, span)).collect()
}

/// A span cut where pictographs stand inside it ("… nur noch 5 Plätze frei 👉 t.me/xyz" →
/// two spans; ANNOTATION.md: emoji are never inside a span); pieces without a letter or
/// digit go.
fn without_pictographs(chars: &[char], span: ScoredSpan) -> Vec<ScoredSpan> {
    if !chars[span.start..span.end].iter().any(|&c| edge_symbol(c)) {
        return vec![span];
    }
    let blank = |i: usize| promo_blank(chars[i]);
    let mut pieces = Vec::new();
    let mut from = span.start;
    for i in span.start..=span.end {
        if i == span.end || edge_symbol(chars[i]) {
            // a piece that starts after a pictograph starts after the punctuation behind it too
            let s = if from > span.start { trim_front(from, i, |k| clause_blank(chars[k])) } else { trim_front(from, i, blank) };
            let e = trim_back(s, i, blank);
            if chars[s..e].iter().any(|c| c.is_alphanumeric()) {
                pieces.push(ScoredSpan { start: s, end: e, text: chars[s..e].iter().collect(), ..span.clone() });
            }
            from = i + 1;
        }
    }
    pieces
}

/// What a PROMO span never starts or ends with: blanks, pictographs, invisible characters.
fn promo_blank(c: char) -> bool {
    c.is_whitespace() || edge_symbol(c) || invisible(c)
}

/// ... and, for a clause span, the punctuation that parts clauses.
fn clause_blank(c: char) -> bool {
    promo_blank(c) || matches!(c, ',' | ';' | ':' | '–' | '—' | '-')
}

/// Characters that take no room: zero-width spaces and joiners' kin, byte-order marks, soft
/// hyphens, direction marks. None stands at the edge of a span.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{200C}' | '\u{200E}' | '\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Pictographs at a PROMO span's edge that go with the blanks: emoji, and the symbols of
/// other blocks that stand as emoji ("⏳", "⏰", "⭐", "↗").
fn edge_symbol(c: char) -> bool {
    is_emoji(c) || matches!(c as u32, 0x20E3 | 0x2190..=0x21FF | 0x2300..=0x23FF | 0x25A0..=0x25FF | 0x2B00..=0x2BFF | 0x2934..=0x2935)
}

/// Characters that join two parts of one word: a hyphen between letters or digits
/// ("Norrsken-Aktie", "Ad-hoc").
fn joins_word(chars: &[char], i: usize) -> bool {
    matches!(chars[i], '-' | '‐') && i > 0 && i + 1 < chars.len() && word_char(chars[i - 1]) && word_char(chars[i + 1])
}

/// A DATE that is a weekday's name, then ", ", then a DATE that starts with a digit
/// ("Mittwoch" + "6. Mai").
fn weekday_then_date(chars: &[char], day: &ScoredSpan, date: &ScoredSpan) -> bool {
    const WEEKDAYS: [&str; 8] = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonnabend", "Sonntag"];
    let is_date = |s: &ScoredSpan| s.label == SpanLabel::Entity(EntityLabel::Date);
    is_date(day)
        && is_date(date)
        && date.start == day.end + 2
        && chars.get(day.end..date.start) == Some(&[',', ' '][..])
        && chars.get(date.start).is_some_and(char::is_ascii_digit)
        && WEEKDAYS.contains(&chars[day.start..day.end].iter().collect::<String>().as_str())
}

/// [s, e) widened to the whole of each address an edge falls inside.
fn over_addresses(addresses: &[(usize, usize)], mut s: usize, mut e: usize) -> (usize, usize) {
    for &(a, b) in addresses {
        if a < s && s < b {
            s = a;
        }
        if a < e && e < b {
            e = b;
        }
    }
    (s, e)
}

/// The clause spans of one sentence made final: spans with only blanks and commas between
/// them are one clause; no edge falls inside an entity span (the edge moves out of it,
/// into the clause); quotes are balanced ("„Wasserwerte-Monitor“" whole, not its opening
/// quote alone).
fn settle_clauses(
    chars: &[char],
    (ss, se): (usize, usize),
    runs: Vec<(usize, usize, f32, usize)>,
    entities: &[ScoredSpan],
) -> Vec<(usize, usize, f32, usize)> {
    let se = se.min(chars.len());
    let mut merged: Vec<(usize, usize, f32, usize)> = Vec::new();
    for r in runs {
        // runs widened to whole words may touch or overlap
        let joins = |last: &(usize, usize, f32, usize)| {
            r.0 <= last.1 || chars[last.1..r.0].iter().all(|&c| !word_char(c) && !matches!(c, '.' | '!' | '?'))
        };
        match merged.last_mut() {
            Some(last) if joins(last) => *last = (last.0.min(r.0), last.1.max(r.1), last.2 + r.2, last.3 + r.3),
            _ => merged.push(r),
        }
    }
    let opening = |c: char| matches!(c, '„' | '‚');
    merged
        .into_iter()
        .filter_map(|(mut s, mut e, sum, n)| {
            for ent in entities {
                if ent.start < s && s < ent.end {
                    s = ent.end;
                }
                if ent.start < e && e < ent.end {
                    e = ent.start;
                }
            }
            if s >= e {
                return None; // the whole run lay inside one entity
            }
            s = trim_front(s, e, |i| clause_blank(chars[i]));
            e = trim_back(s, e, |i| clause_blank(chars[i]) || opening(chars[i]) || matches!(chars[i], '.' | '!' | '?'));
            let count = |s: usize, e: usize, c: char| chars[s..e].iter().filter(|&&x| x == c).count();
            if count(s, e, '„') > count(s, e, '“') && e < se && chars[e] == '“' {
                e += 1;
            }
            if count(s, e, '“') > count(s, e, '„') && s > ss && chars[s - 1] == '„' {
                s -= 1;
            }
            (e > s + 1).then_some((s, e, sum, n))
        })
        .collect()
}

/// A clause span: widened to whole words (a hyphenated compound is one word), without edge
/// punctuation; it ends before the sentence's final punctuation.
fn snap_clause(chars: &[char], ss: usize, se: usize, mut s: usize, e: usize) -> (usize, usize) {
    let (se, mut e) = (se.min(chars.len()), e.min(chars.len()));
    s = s.min(e);
    let inner = |i: usize| word_char(chars[i]) || joins_word(chars, i);
    while s > ss && s < chars.len() && inner(s) && inner(s - 1) {
        s -= 1;
    }
    while e > 0 && e < se && inner(e - 1) && inner(e) {
        e += 1;
    }
    let s = trim_front(s, e, |i| clause_blank(chars[i]));
    let e = trim_back(s, e, |i| clause_blank(chars[i]) || matches!(chars[i], '.' | '!' | '?'));
    (s, e)
}

/// The full prediction for one document.
pub fn decode(id: &str, text: &str, doc: &PreparedDoc, probs: &HeadProbs, cfg: &DecodeConfig) -> Prediction {
    let mut chars: Vec<char> = doc.read.clone().unwrap_or_else(|| text.chars().collect());
    // the decisions read wrapping line breaks as spaces, character references as their
    // characters and lines in small letters with capitals; the spans quote the text as written
    let written = (!doc.soft_breaks.is_empty() || doc.read.is_some()).then(|| text.chars().collect::<Vec<char>>());
    for &p in &doc.soft_breaks {
        crate::text::wraps::blank_break(&mut chars, p);
    }
    let mut spans = decode_entities(&chars, doc, &probs.entity, cfg);
    let sentence_head = (!probs.promo_sentence.is_empty())
        .then(|| SentencePromo { probs: &probs.promo_sentence, threshold: cfg.promo_sentence_threshold_for(probs.clickbait) });
    let promo = decode_promo(&chars, doc, &probs.promo, cfg.promo_threshold_for(probs.clickbait), sentence_head, &spans, cfg);
    spans.extend(promo);
    if let Some(written) = &written {
        for s in spans.iter_mut() {
            s.text = written[s.start..s.end].iter().collect();
        }
    }
    spans.sort_by(|a, b| (a.start, a.label.is_promo(), a.end).cmp(&(b.start, b.label.is_promo(), b.end)));
    let sentences = doc
        .sentences
        .iter()
        .zip(&probs.sentence)
        .map(|(s, p)| {
            let (i, score) = argmax(p);
            ScoredSentence { start: s.start, end: s.end, sentiment: Sentiment::from_index(i), score }
        })
        .collect();
    let (di, _) = argmax(&probs.document);
    Prediction {
        id: id.to_string(),
        sentiment: Sentiment::from_index(di),
        sentiment_scores: SentimentScores::from_probs(&probs.document),
        clickbait: probs.clickbait,
        sentences,
        spans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn snapping_widens_to_words_and_trims_quotes() {
        let c: Vec<char> = "die „Agent OS“ und Nvidias Chips, $RHM.".chars().collect();
        // "„Agent OS“" → "Agent OS"
        assert_eq!(snap_entity(&c, 4, 14), Some((5, 13)));
        // "Nvidia" inside "Nvidias" widens to the word
        assert_eq!(snap_entity(&c, 19, 25), Some((19, 26)));
        // "$RHM." → "RHM"
        assert_eq!(snap_entity(&c, 34, 39), Some((35, 38)));
        // hyphens at the edges go, a sign before a number stays
        let d: Vec<char> = "die EZB-Sitzung, -1,2 Mio. Euro".chars().collect();
        assert_eq!(snap_entity(&d, 4, 8), Some((4, 7)));
        assert_eq!(snap_entity(&d, 17, 31), Some((17, 31)));
        // a name inside a user handle, or the whole handle, is no entity; a name beside it is
        let h: Vec<char> = "Antwort von Laborratte_Lea: Lea".chars().collect();
        assert_eq!(snap_entity(&h, 23, 26), None);
        assert_eq!(snap_entity(&h, 12, 22), None);
        assert_eq!(snap_entity(&h, 12, 26), None);
        assert_eq!(snap_entity(&h, 28, 31), Some((28, 31)));
        // a run of underscores is Markdown emphasis, not a handle
        let m: Vec<char> = "laut __Rheinmetall__ und".chars().collect();
        assert_eq!(snap_entity(&m, 7, 18), Some((7, 18)));
    }

    /// A prepared document with one token per word and the given sentence bounds.
    fn words_doc(text: &str, sentences: &[(usize, usize)]) -> PreparedDoc {
        let chars: Vec<char> = text.chars().collect();
        let tokens: Vec<crate::encode::Token> =
            crate::text::blank_words(&chars).into_iter().map(|(start, end)| crate::encode::Token { id: 5, start, end }).collect();
        prepared(tokens, sentences.iter().map(|&(start, end)| crate::text::SentenceBounds { start, end }).collect())
    }

    /// A prepared document of these tokens and sentences, each sentence holding the tokens
    /// inside it.
    fn prepared(tokens: Vec<crate::encode::Token>, sentences: Vec<crate::text::SentenceBounds>) -> PreparedDoc {
        let sentence_tokens = sentences
            .iter()
            .map(|b| (0..tokens.len()).filter(|&t| tokens[t].start >= b.start && tokens[t].end <= b.end).collect())
            .collect();
        PreparedDoc::new(crate::encode::Encoding { tokens }, Vec::new(), Vec::new(), sentences, sentence_tokens)
    }

    #[test]
    fn a_sentence_promo_head_decides_whole_sentences_and_tokens_still_give_clauses() {
        let text = "Die Analyse liefert die Antwort. Der Umsatz stieg um drei Prozent, jetzt sofort zugreifen und kaufen.";
        let doc = words_doc(text, &[(0, 32), (33, 101)]);
        let c: Vec<char> = text.chars().collect();
        // token probabilities: the calm teaser is cold, the push at the end of sentence 2 hot
        let promo = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9];
        let cfg = DecodeConfig { whole_sentence_share: 0.3, ..DecodeConfig::default() };
        let texts = |spans: Vec<ScoredSpan>| spans.into_iter().map(|s| s.text).collect::<Vec<_>>();
        // without the head: the hot share of sentence 2 (5 of 11) makes it whole, sentence 1 has none
        assert_eq!(texts(decode_promo(&c, &doc, &promo, 0.5, None, &[], &cfg)), [&text[33..]]);
        // with the head: sentence 1 is whole by the head, sentence 2 is not, its hot run is a clause
        let head = SentencePromo { probs: &[0.8, 0.2], threshold: 0.5 };
        let spans = decode_promo(&c, &doc, &promo, 0.5, Some(head), &[], &cfg);
        assert_eq!(spans[0].score, 0.8);
        assert_eq!(texts(spans), ["Die Analyse liefert die Antwort.", "jetzt sofort zugreifen und kaufen"]);
        // unflagged documents need at least the token threshold: 1.01 means no whole sentence
        let strict = DecodeConfig { promo_threshold: 1.01, ..cfg };
        assert_eq!(strict.promo_sentence_threshold_for(0.1), 1.01);
        assert_eq!(strict.promo_sentence_threshold_for(0.9), 0.5);
    }

    /// One token row: probability `p` on `tag`, the rest spread over the other tags.
    fn row(tag: usize, p: f32) -> Vec<f32> {
        let rest = (1.0 - p) / (EntityLabel::NUM_BIO_TAGS - 1) as f32;
        (0..EntityLabel::NUM_BIO_TAGS).map(|t| if t == tag { p } else { rest }).collect()
    }

    #[test]
    fn viterbi_keeps_names_whole_and_valid() {
        let (b_org, i_org) = (EntityLabel::Org.begin_tag(), EntityLabel::Org.inside_tag());
        let (b_prod, i_prod) = (EntityLabel::Product.begin_tag(), EntityLabel::Product.inside_tag());
        // token by token O, I-ORG, I-ORG: an inside tag cannot open a name, so the name
        // begins on the second token
        let opened_inside = vec![row(0, 0.9), row(i_org, 0.6), row(i_org, 0.6)];
        assert_eq!(viterbi_tags(&opened_inside), vec![0, b_org, i_org]);
        // B-PRODUCT, I-PRODUCT, I-ORG (weakly), I-PRODUCT: one label through the name
        let mut mixed = vec![row(b_prod, 0.9), row(i_prod, 0.8), row(i_org, 0.4), row(i_prod, 0.8)];
        mixed[2][i_prod] = 0.35;
        assert_eq!(viterbi_tags(&mixed), vec![b_prod, i_prod, i_prod, i_prod]);
        // a confident sequence is left as it is
        let clear = vec![row(b_org, 0.9), row(i_org, 0.9), row(0, 0.9)];
        assert_eq!(viterbi_tags(&clear), vec![b_org, i_org, 0]);
        assert!(viterbi_tags(&[]).is_empty());
    }

    #[test]
    fn a_lone_space_marker_inside_a_name_does_not_end_it() {
        // "in den Xtrackers UCITS ETF": SentencePiece gives "ETF" its space marker as a token
        // of its own, without characters, which training labels O
        let text = "in den Xtrackers UCITS ETF";
        let mut doc = words_doc(text, &[(0, 26)]);
        doc.encoding.tokens.insert(4, crate::encode::Token { id: 6, start: 23, end: 23 });
        let (b, i) = (EntityLabel::Instrument.begin_tag(), EntityLabel::Instrument.inside_tag());
        let probs = vec![row(0, 0.99), row(0, 0.99), row(b, 0.99), row(i, 0.99), row(0, 0.99), row(i, 0.99)];
        let c: Vec<char> = text.chars().collect();
        for viterbi in [true, false] {
            let cfg = DecodeConfig { entity_viterbi: viterbi, ..DecodeConfig::default() };
            let spans = decode_entities(&c, &doc, &probs, &cfg);
            let found: Vec<&str> = spans.iter().map(|s| s.text.as_str()).collect();
            assert_eq!(found, ["Xtrackers UCITS ETF"], "viterbi {viterbi}");
        }
    }

    /// The code-point position of `needle`'s first occurrence in `text`.
    fn position(text: &str, needle: &str) -> usize {
        text[..text.find(needle).unwrap()].chars().count()
    }

    #[test]
    fn an_amount_takes_the_sign_written_before_it() {
        let text = "MDAX (−0,3 %), Gold –1,2 %, Kurs 5-7 %, Plus: +2 %, A −x";
        let c: Vec<char> = text.chars().collect();
        let at = |needle: &str| position(text, needle);
        // the minus sign and an en dash written as one join; a range's hyphen does not
        assert_eq!(with_sign(&c, at("0,3")), at("−0,3"));
        assert_eq!(with_sign(&c, at("1,2")), at("–1,2"));
        assert_eq!(with_sign(&c, at("7 %")), at("7 %"));
        assert_eq!(with_sign(&c, at("+2 %") + 1), at("+2 %"));
        // no digit after the sign: nothing to join
        assert_eq!(with_sign(&c, at("x")), at("x"));
        assert_eq!(with_sign(&c, 0), 0);
        // currency symbols before an amount join MONEY; a cashtag's "$" is no currency
        let text = "Microsoft $415, Bitcoin $ 98.000, Kurs€5, $RHM";
        let d: Vec<char> = text.chars().collect();
        let at = |needle: &str| position(text, needle);
        assert_eq!(with_currency_symbol(&d, at("415")), at("$415"));
        assert_eq!(with_currency_symbol(&d, at("98.000")), at("$ 98.000"));
        assert_eq!(with_currency_symbol(&d, at("5,")), at("5,"));
        // snapping keeps a dollar sign beside a number and trims a cashtag's
        assert_eq!(snap_entity(&d, at("$415"), at("$415") + 4), Some((at("$415"), at("$415") + 4)));
        assert_eq!(snap_entity(&d, at("$RHM"), at("$RHM") + 4), Some((at("RHM"), at("RHM") + 3)));
        let e: Vec<char> = "kostet 212 $, dann 120$.".chars().collect();
        assert_eq!(snap_entity(&e, 7, 12), Some((7, 12)));
        assert_eq!(snap_entity(&e, 19, 24), Some((19, 23)));
    }

    #[test]
    fn a_weekday_and_the_date_after_it_are_one_date() {
        let text = "am Mittwoch, 6. Mai und Freitag, dem 8. Mai, Montag 4. Mai, Bayer, 5. Mai";
        let c: Vec<char> = text.chars().collect();
        let span = |needle: &str, label: EntityLabel| {
            let start = position(text, needle);
            ScoredSpan { start, end: start + needle.chars().count(), label: SpanLabel::Entity(label), score: 0.9, text: String::new() }
        };
        let date = |needle: &str| span(needle, EntityLabel::Date);
        assert!(weekday_then_date(&c, &date("Mittwoch"), &date("6. Mai")));
        // only ", " between them, a date that starts with its day, two DATE spans, a weekday
        assert!(!weekday_then_date(&c, &date("Freitag"), &date("8. Mai")));
        assert!(!weekday_then_date(&c, &date("Montag"), &date("4. Mai")));
        assert!(!weekday_then_date(&c, &date("Mittwoch"), &span("6. Mai", EntityLabel::Money)));
        assert!(!weekday_then_date(&c, &date("Bayer"), &date("5. Mai")));
        assert!(!weekday_then_date(&c, &date("Mittwoch"), &date("Mittwoch")));
    }

    #[test]
    fn a_wkn_is_one_span_with_its_prefix_colon_or_not() {
        let text = "SAP (WKN: 716460), BASF (WKN:BASF11), Bayer WKN BAY001; WKN: ABCDEF, WKN 12345, WKN: 7164601";
        let c: Vec<char> = text.chars().collect();
        let at = |needle: &str| {
            let start = position(text, needle);
            (start, start + needle.chars().count())
        };
        assert_eq!(wkn_ranges(&c), vec![at("WKN: 716460"), at("WKN:BASF11"), at("WKN BAY001")]);
        let span = |needle: &str, label: EntityLabel| {
            let (start, end) = at(needle);
            ScoredSpan { start, end, label: SpanLabel::Entity(label), score: 0.8, text: String::new() }
        };
        let instrument = |needle: &str| span(needle, EntityLabel::Instrument);
        let mut prefix = instrument("WKN: 716460");
        prefix.end = prefix.start + 3; // "WKN" alone
        let spans = vec![span("SAP", EntityLabel::Org), prefix, instrument("BASF11"), instrument("WKN BAY001"), instrument("ABCDEF")];
        let got: Vec<(usize, usize, f32)> = with_whole_wkns(&c, spans).iter().map(|s| (s.start, s.end, s.score)).collect();
        let (sap, wkn1, wkn2, wkn3, none) = (at("SAP"), at("WKN: 716460"), at("WKN:BASF11"), at("WKN BAY001"), at("ABCDEF"));
        assert_eq!(
            got,
            vec![(sap.0, sap.1, 0.8), (wkn1.0, wkn1.1, 0.8), (wkn2.0, wkn2.1, 0.8), (wkn3.0, wkn3.1, 0.8), (none.0, none.1, 0.8)]
        );
        // the prefix and the code tagged apart become one span with their mean score
        let mut code = instrument("716460");
        code.score = 0.6;
        let mut prefix = instrument("WKN: 716460");
        prefix.end = prefix.start + 3;
        let joined = with_whole_wkns(&c, vec![prefix.clone(), code.clone()]);
        assert_eq!(joined.len(), 1);
        assert_eq!((joined[0].start, joined[0].end), wkn1);
        assert!((joined[0].score - 0.7).abs() < 1e-6);
        // a prefix tagged ORG is a piece too, when the code is INSTRUMENT; alone it stays
        prefix.label = SpanLabel::Entity(EntityLabel::Org);
        let joined = with_whole_wkns(&c, vec![prefix.clone(), code]);
        assert_eq!(
            joined.iter().map(|s| (s.start, s.end, s.label)).collect::<Vec<_>>(),
            vec![(wkn1.0, wkn1.1, SpanLabel::Entity(EntityLabel::Instrument))]
        );
        assert_eq!(with_whole_wkns(&c, vec![prefix.clone()]), vec![prefix]);
    }

    #[test]
    fn names_inside_web_and_mail_addresses_are_no_entities() {
        let text = "Studie zu Siemens unter www.radar24.de/siemens-studie, Chat: t.me/siemensfans (oder \
                    info@siemens-brief.de). JD.com und onvista.de, EUR/USD, S.A./N.V.";
        let c: Vec<char> = text.chars().collect();
        let addresses = crate::text::address_words(&c);
        let links: Vec<String> = addresses.iter().map(|&(s, e)| c[s..e].iter().collect()).collect();
        assert_eq!(links, ["www.radar24.de/siemens-studie", "t.me/siemensfans", "info@siemens-brief.de"]);
        // a PROMO clause edge inside an address moves to its edge: "… unter www" takes it whole
        let www = text.find("www").unwrap();
        assert_eq!(over_addresses(&addresses, 0, www + 3), (0, www + 29));
        assert_eq!(over_addresses(&addresses, www + 4, www + 34), (www, www + 34));
        assert_eq!(over_addresses(&addresses, 0, 10), (0, 10));
        // decoding: one ORG per "Siemens"/"siemens" the model would tag; those in addresses go
        let doc = words_doc(text, &[(0, c.len())]);
        let (b, o) = (EntityLabel::Org.begin_tag(), 0);
        let tagged = |t: &crate::encode::Token| {
            let w: String = c[t.start..t.end].iter().collect::<String>().to_lowercase();
            w.contains("siemens") || w.starts_with("jd.com")
        };
        let probs: Vec<Vec<f32>> = doc.encoding.tokens.iter().map(|t| row(if tagged(t) { b } else { o }, 0.99)).collect();
        let texts = |cfg: &DecodeConfig| decode_entities(&c, &doc, &probs, cfg).into_iter().map(|s| s.text).collect::<Vec<_>>();
        assert_eq!(texts(&DecodeConfig::default()), ["Siemens", "JD.com"]);
        // the ablation switch keeps them
        let raw = DecodeConfig { whole_addresses: false, ..DecodeConfig::default() };
        assert_eq!(texts(&raw), ["Siemens", "www.radar24.de/siemens-studie", "t.me/siemensfans", "info@siemens-brief.de", "JD.com"]);
    }

    #[test]
    fn names_stop_at_line_breaks() {
        let c: Vec<char> = "Tochter Cainiao\nReserve Bank of India belässt".chars().collect();
        let pieces: Vec<String> = line_pieces(&c, 8, 37).into_iter().map(|(s, e)| c[s..e].iter().collect()).collect();
        assert_eq!(pieces, ["Cainiao", "Reserve Bank of India"]);
        assert_eq!(line_pieces(&c, 8, 15), vec![(8, 15)]);
        // a run that is only the break yields nothing
        assert!(line_pieces(&c, 15, 16).is_empty());
    }

    #[test]
    fn a_surname_initial_keeps_its_dot() {
        let c: Vec<char> = "erzählt Marco S. aus Linz, sagt Tesla. Kunde B. zahlt, Werk X.".chars().collect();
        let text = |(s, e): (usize, usize)| c[s..e].iter().collect::<String>();
        assert_eq!(text(with_initial_dot(&c, 8, 15)), "Marco S.");
        // not after a longer word, a lone letter, or without a dot
        assert_eq!(text(with_initial_dot(&c, 32, 37)), "Tesla");
        assert_eq!(text(with_initial_dot(&c, 45, 46)), "B");
        assert_eq!(text(with_initial_dot(&c, 8, 13)), "Marco");
        // at the end of the text
        assert_eq!(text(with_initial_dot(&c, 55, 61)), "Werk X.");
    }

    #[test]
    fn names_end_before_a_bare_number() {
        let c: Vec<char> = "hatte Porsche 5 bis 7 Prozent, Zalando 2008 und 1&1 2,5".chars().collect();
        let cut = |s: usize, e: usize| without_trailing_number(&c, s, e).map(|(a, b)| c[a..b].iter().collect::<String>());
        assert_eq!(cut(6, 15).as_deref(), Some("Porsche"));
        assert_eq!(cut(31, 43).as_deref(), Some("Zalando"));
        // a number inside the word and a name with no number stay as they are
        assert_eq!(cut(48, 51).as_deref(), Some("1&1"));
        assert_eq!(cut(6, 13).as_deref(), Some("Porsche"));
        // "1&1 2,5": only the bare number goes; a span that is only a number is kept (nothing to trim to)
        assert_eq!(cut(48, 55).as_deref(), Some("1&1"));
        assert_eq!(cut(14, 15).as_deref(), Some("5"));
    }

    #[test]
    fn names_start_after_leading_adjectives() {
        let c: Vec<char> = "der neuen Core Ultra, mwb research, ifo Institut, iPhone Air, Eli Lillys".chars().collect();
        let from = |s: usize, e: usize| c[without_leading_lowercase(&c, s, e)..e].iter().collect::<String>();
        assert_eq!(from(4, 20), "Core Ultra");
        assert_eq!(from(0, 20), "Core Ultra");
        // all lower case, or a mixed-case first word: whole
        assert_eq!(from(22, 34), "mwb research");
        assert_eq!(from(50, 60), "iPhone Air");
        assert_eq!(from(62, 72), "Eli Lillys");
    }

    fn product(c: &[char], s: usize, e: usize) -> ScoredSpan {
        ScoredSpan { start: s, end: e, label: SpanLabel::Entity(EntityLabel::Product), score: 0.9, text: c[s..e].iter().collect() }
    }

    #[test]
    fn quoted_products_are_whole_titles() {
        let c: Vec<char> =
            "Brief „IPO-Radar Asien“ und „Agent OS“ sowie „Alpha ist heute wirklich ganz klar die beste Wahl“".chars().collect();
        let loc = ScoredSpan { label: SpanLabel::Entity(EntityLabel::Loc), ..product(&c, 17, 22) };
        let out = with_whole_quoted_titles(&c, vec![product(&c, 7, 16), loc, product(&c, 29, 37), product(&c, 46, 51)]);
        let texts: Vec<String> = out.iter().map(|s| c[s.start..s.end].iter().collect()).collect();
        // "IPO-Radar" + LOC "Asien" → one title; a whole title stays; a quoted sentence is not a title
        assert_eq!(texts, ["IPO-Radar Asien", "Agent OS", "Alpha"]);
        assert_eq!((out[0].start, out[0].end), (7, 22));
        // without a closing quote on the same line nothing changes
        let d: Vec<char> = "„Depot Plus\nNeu“".chars().collect();
        let same = &with_whole_quoted_titles(&d, vec![product(&d, 1, 6)])[0];
        assert_eq!((same.start, same.end), (1, 6));
    }

    #[test]
    fn amounts_need_their_unit() {
        for money in ["198,56 US-Dollar", "2,3 Mrd. Euro", "50 Cent", "$5", "12 CHF", "0,42 CAD", "5.400 Pence", "3,5 Mio. €"] {
            assert!(names_unit(EntityLabel::Money, money), "{money}");
        }
        for count in ["40.000", "2,28 Millionen", "65", "4,2"] {
            assert!(!names_unit(EntityLabel::Money, count), "{count}");
        }
        for pct in ["34 Prozent", "+6,2 %", "150 Basispunkte", "100-prozentiger", "0,5 Prozentpunkte"] {
            assert!(names_unit(EntityLabel::Percent, pct), "{pct}");
        }
        for not_pct in ["2,28", "Drittel", "5x"] {
            assert!(!names_unit(EntityLabel::Percent, not_pct), "{not_pct}");
        }
        assert!(names_unit(EntityLabel::Org, "SAP"));
    }

    #[test]
    fn a_full_stop_after_an_amount_goes_an_abbreviations_dot_stays() {
        let span = |text: &str, from: &str| {
            let c: Vec<char> = text.chars().collect();
            let s = text[..text.find(from).unwrap()].chars().count();
            snap_entity(&c, s, c.len()).map(|(s, e)| c[s..e].iter().collect::<String>())
        };
        assert_eq!(span("Umsatz von 15,1 Mrd. Euro.", "15").as_deref(), Some("15,1 Mrd. Euro"));
        assert_eq!(span("bei 5.610 €.", "5").as_deref(), Some("5.610 €"));
        assert_eq!(span("bei 7 Mrd.", "7").as_deref(), Some("7 Mrd."));
        assert_eq!(span("von Merck & Co.", "Merck").as_deref(), Some("Merck & Co."));
        assert_eq!(span("die Proteins N.V.", "Proteins").as_deref(), Some("Proteins N.V."));
        assert_eq!(span("der Heimatverein e.V.", "Heimatverein").as_deref(), Some("Heimatverein e.V."));
        assert_eq!(span("die Siemens AG.", "Siemens").as_deref(), Some("Siemens AG"));
    }

    #[test]
    fn clause_spans_are_settled_on_words_entities_and_quotes() {
        let run = |s: usize, e: usize| (s, e, 0.8, 2);
        let settled = |text: &str, runs: Vec<(usize, usize, f32, usize)>, entities: &[ScoredSpan]| {
            let c: Vec<char> = text.chars().collect();
            let out = settle_clauses(&c, (0, c.len()), runs, entities);
            out.into_iter().map(|(s, e, _, _)| c[s..e].iter().collect::<String>()).collect::<Vec<_>>()
        };
        // two runs with only ", " between them are one clause, their scores summed
        let text = "Sie rechnen damit, dass sich das vervielfacht.";
        let c: Vec<char> = text.chars().collect();
        let out = settle_clauses(&c, (0, c.len()), vec![run(4, 17), run(19, 45)], &[]);
        assert_eq!(out, [(4, 45, 1.6, 4)]);
        // a run of words is not joined across a sentence mark or another word
        assert_eq!(settled("Ja nein! Jetzt kaufen", vec![run(0, 7), run(9, 21)], &[]).len(), 2);
        // an edge inside an entity moves out of it, into the clause
        let text = "mit bis zu 18,4 Prozent – ein Wert, den Geologen selten sehen";
        let c: Vec<char> = text.chars().collect();
        let percent = ScoredSpan { label: SpanLabel::Entity(EntityLabel::Percent), ..product(&c, 11, 23) };
        assert_eq!(settled(text, vec![run(16, 61)], &[percent]), ["ein Wert, den Geologen selten sehen"]);
        // a title's opening quote comes with its closing one; a lone opening quote at the end goes
        let text = "im Börsenbrief „Wasserwerte-Monitor“ und im Seminar „Zinsen im Check“";
        assert_eq!(settled(text, vec![run(15, 35)], &[]), ["„Wasserwerte-Monitor“"]);
        let c: Vec<char> = text.chars().collect();
        assert_eq!(settled(text, vec![run(37, 53)], &[product(&c, 53, 68)]), ["und im Seminar"]);
    }

    #[test]
    fn clause_runs_that_overlap_or_lie_inside_an_entity_do_not_break_settling() {
        let text = "Die Aktie der Nordwind-Energie-Gruppe kaufen";
        let c: Vec<char> = text.chars().collect();
        // two runs snapped onto the same compound overlap: one span
        let out = settle_clauses(&c, (0, c.len()), vec![(14, 37, 1.0, 2), (14, 44, 1.0, 3)], &[]);
        assert_eq!(out, [(14, 44, 2.0, 5)]);
        // a run wholly inside an entity, and runs at the text's very edges: none, no panic
        let org = ScoredSpan { label: SpanLabel::Entity(EntityLabel::Org), ..product(&c, 14, 37) };
        assert!(settle_clauses(&c, (0, c.len()), vec![(20, 30, 1.0, 2)], std::slice::from_ref(&org)).is_empty());
        let out = settle_clauses(&c, (0, c.len() + 5), vec![(0, c.len(), 1.0, 2)], &[org]);
        assert_eq!(out, [(0, c.len(), 1.0, 2)]);
    }

    #[test]
    fn pictographs_cut_promo_spans_and_invisible_characters_never_edge_a_span() {
        let text = "Nur noch 5 Plätze frei 👉 t.me/xyz 🚀🚀";
        let c: Vec<char> = text.chars().collect();
        let span = ScoredSpan { start: 0, end: c.len(), label: SpanLabel::Promo, score: 0.9, text: text.into() };
        let pieces: Vec<String> = without_pictographs(&c, span).into_iter().map(|s| s.text).collect();
        assert_eq!(pieces, ["Nur noch 5 Plätze frei", "t.me/xyz"]);
        // a keycap's enclosing mark is a pictograph too, and a piece after one starts at a word
        let text = "Bonus sichern 1\u{FE0F}\u{20E3}: nur heute!";
        let c: Vec<char> = text.chars().collect();
        let span = ScoredSpan { start: 0, end: c.len(), label: SpanLabel::Promo, score: 0.9, text: text.into() };
        let pieces: Vec<String> = without_pictographs(&c, span).into_iter().map(|s| s.text).collect();
        assert_eq!(pieces, ["Bonus sichern 1", "nur heute!"]);
        // a zero-width space at a name's edge is trimmed like a space
        let c: Vec<char> = "die \u{200B}SAP\u{200B}-Aktie steigt".chars().collect();
        let (s, e) = snap_entity(&c, 4, 15).unwrap();
        assert_eq!(c[s..e].iter().collect::<String>(), "SAP\u{200B}-Aktie");
    }

    #[test]
    fn clause_snapping_keeps_compounds_whole_and_drops_edge_pictographs() {
        let c: Vec<char> = "Aktuell kostet die Norrsken-Aktie nur 0,42 Euro ⏳".chars().collect();
        // a run ending inside "Norrsken-Aktie" takes the whole compound
        let (s, e) = snap_clause(&c, 0, c.len(), 0, 27);
        assert_eq!(c[s..e].iter().collect::<String>(), "Aktuell kostet die Norrsken-Aktie");
        // the hourglass at the end is no part of a clause
        let (s, e) = snap_clause(&c, 0, c.len(), 34, c.len());
        assert_eq!(c[s..e].iter().collect::<String>(), "nur 0,42 Euro");
        assert!(edge_symbol('⏳') && edge_symbol('⏰') && edge_symbol('🚀') && !edge_symbol('€'));
    }

    /// A prepared document whose tokens are pieces of 1 to 4 characters of each word (cut
    /// where `cuts` says), with the splitter's sentences.
    fn pieces_doc(text: &str, cuts: &[u8]) -> PreparedDoc {
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let (mut i, mut k) = (0, 0);
        while i < chars.len() {
            if chars[i].is_whitespace() {
                i += 1;
                continue;
            }
            let len = 1 + cuts.get(k % cuts.len().max(1)).copied().unwrap_or(3) as usize % 4;
            k += 1;
            let s = i;
            while i < chars.len() && i < s + len && !chars[i].is_whitespace() {
                i += 1;
            }
            tokens.push(crate::encode::Token { id: 5, start: s, end: i });
        }
        prepared(tokens, crate::text::split_sentences(text))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Whatever the model says, decoding gives spans inside the text whose `text` is their
        /// slice, no two entities and no two PROMO spans overlapping, none starting or ending
        /// inside a word.
        #[test]
        fn any_probabilities_decode_to_valid_spans(
            text in "[a-zA-ZäöüßÄ0-9 \\n.,:;!?–„“€%⏳🚀-]{1,160}",
            cuts in proptest::collection::vec(0u8..8, 1..16),
            raw in proptest::collection::vec(0.0f32..1.0, 18..400),
            clickbait in 0.0f32..1.0,
            share in 0.0f32..1.0,
        ) {
            let doc = pieces_doc(&text, &cuts);
            let n = doc.encoding.tokens.len();
            let at = |i: usize| raw[i % raw.len()];
            let entity = (0..n).map(|t| (0..17).map(|j| at(t * 17 + j)).collect()).collect();
            let promo = (0..n).map(|t| at(t * 7 + 3)).collect();
            let probs = HeadProbs {
                entity,
                promo,
                promo_sentence: Vec::new(),
                sentence: vec![vec![0.2, 0.3, 0.5]; doc.sentences.len()],
                document: vec![0.2, 0.3, 0.5],
                clickbait,
            };
            let cfg = DecodeConfig { promo_threshold_flagged: 0.3, whole_sentence_share: share, ..DecodeConfig::default() };
            let p = decode("x", &text, &doc, &probs, &cfg);
            let c: Vec<char> = text.chars().collect();
            for (k, s) in p.spans.iter().enumerate() {
                proptest::prop_assert!(s.start < s.end && s.end <= c.len(), "{s:?}");
                proptest::prop_assert_eq!(&s.text, &c[s.start..s.end].iter().collect::<String>());
                proptest::prop_assert!(!(s.start > 0 && word_char(c[s.start - 1]) && word_char(c[s.start])), "{s:?}");
                proptest::prop_assert!(!(s.end < c.len() && word_char(c[s.end - 1]) && word_char(c[s.end])), "{s:?}");
                for o in &p.spans[k + 1..] {
                    let overlap = s.start < o.end && o.start < s.end;
                    proptest::prop_assert!(!(overlap && s.label.is_promo() == o.label.is_promo()), "{s:?} {o:?}");
                }
            }
        }
    }
}
