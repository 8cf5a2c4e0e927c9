//! Validation of labelled documents against ANNOTATION.md, and corpus statistics.

use super::Problem;
use crate::document::LabelledDocument;
use crate::labels::{EntityLabel, Sentiment, SpanLabel};
use crate::text::is_emoji;
use std::collections::{BTreeMap, HashMap};

/// Every rule violation of one document, as messages.
pub fn check_document(d: &LabelledDocument) -> Vec<String> {
    issues(d).into_iter().map(|i| i.message).collect()
}

/// The violations that make a document unusable for training or scoring (not only untidy):
/// empty text, spans or sentences outside the text or reversed, overlapping sentences, and
/// spans of one layer overlapping each other.
pub fn unusable(d: &LabelledDocument) -> Vec<String> {
    issues(d).into_iter().filter(|i| i.breaks_use).map(|i| i.message).collect()
}

struct Issue {
    message: String,
    breaks_use: bool,
}

fn issues(d: &LabelledDocument) -> Vec<Issue> {
    let mut msgs: Vec<(bool, String)> = Vec::new(); // (breaks use, message)
    let chars: Vec<char> = d.text.chars().collect();
    let n = chars.len();
    if d.id.trim().is_empty() {
        msgs.push((false, "empty id".to_string()));
    }
    if d.text.trim().is_empty() {
        msgs.push((true, "empty text".to_string()));
    }
    let mut prev_start = 0;
    for s in &d.spans {
        let what = format!("{} span {}..{}", s.label, s.start, s.end);
        if s.start >= s.end || s.end > n {
            msgs.push((true, format!("{what} is empty or outside the text ({n} code points)")));
            continue;
        }
        if s.start < prev_start {
            msgs.push((false, format!("{what}: spans are not sorted by start")));
        }
        prev_start = s.start;
        let (first, last) = (chars[s.start], chars[s.end - 1]);
        if first.is_whitespace() || last.is_whitespace() {
            msgs.push((false, format!("{what} {:?} has whitespace at its edge", d.slice(s.start, s.end))));
        }
        if !s.label.is_promo()
            && (matches!(first, '„' | '"' | '“' | '(' | ',' | '.' | ':' | ';') || matches!(last, '“' | '"' | ')' | ',' | ':' | ';'))
        {
            msgs.push((false, format!("{what} {:?} has a quote or punctuation at its edge", d.slice(s.start, s.end))));
        }
        let word = |i: usize| chars[i].is_alphanumeric();
        if (s.start > 0 && word(s.start - 1) && word(s.start)) || (s.end < n && word(s.end - 1) && word(s.end)) {
            msgs.push((false, format!("{what} {:?} cuts a word", d.slice(s.start, s.end))));
        }
        if chars[s.start..s.end].iter().any(|c| is_emoji(*c)) {
            msgs.push((false, format!("{what} contains an emoji")));
        }
    }
    for promo in [false, true] {
        let mut layer: Vec<_> = d.spans.iter().filter(|s| s.label.is_promo() == promo && s.start < s.end && s.end <= n).collect();
        layer.sort_by_key(|s| (s.start, s.end));
        for w in layer.windows(2) {
            if w[1].start < w[0].end {
                msgs.push((
                    true,
                    format!("{} span {}..{} overlaps {} span {}..{}", w[1].label, w[1].start, w[1].end, w[0].label, w[0].start, w[0].end),
                ));
            }
        }
    }
    let mut covered = vec![false; n];
    let mut prev_end = 0;
    for s in &d.sentences {
        if s.start >= s.end || s.end > n {
            msgs.push((true, format!("sentence {}..{} is empty or outside the text", s.start, s.end)));
            continue;
        }
        if s.start < prev_end {
            msgs.push((true, format!("sentence {}..{} is out of order or overlaps the previous one", s.start, s.end)));
        }
        prev_end = s.end;
        if chars[s.start].is_whitespace() || chars[s.end - 1].is_whitespace() {
            msgs.push((false, format!("sentence {}..{} has whitespace at its edge", s.start, s.end)));
        }
        covered[s.start..s.end].iter_mut().for_each(|c| *c = true);
    }
    // the quote marks of a mail reply ("> " at a line's start) belong to no sentence
    for (s, e) in crate::text::lines(&chars) {
        let marks = crate::text::quote_marks(&chars[s..e]);
        covered[s..s + marks].iter_mut().for_each(|c| *c = true);
    }
    if let Some(p) = (0..n).find(|&i| !covered[i] && !chars[i].is_whitespace()) {
        msgs.push((false, format!("text at {p} ({:?}) is in no sentence", d.slice(p, (p + 20).min(n)))));
    }
    if d.clickbait != d.has_promo() {
        msgs.push((
            false,
            format!("clickbait is {} but the document has {} PROMO span", d.clickbait, if d.has_promo() { "a" } else { "no" }),
        ));
    }
    msgs.into_iter().map(|(breaks_use, message)| Issue { message, breaks_use }).collect()
}

/// Checks documents read from one or more files; `docs` carries (path, line, document).
pub fn check_documents(docs: &[(String, usize, LabelledDocument)]) -> Vec<Problem> {
    problems_of(docs, check_document)
}

/// Only what makes documents unusable for scoring or training ([`unusable`]), and ids seen
/// twice; `docs` as for [`check_documents`].
pub fn unusable_documents(docs: &[(String, usize, LabelledDocument)]) -> Vec<Problem> {
    problems_of(docs, unusable)
}

/// `issues` of each document, then every repeated id (naming where it was first seen).
fn problems_of(docs: &[(String, usize, LabelledDocument)], issues: fn(&LabelledDocument) -> Vec<String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen: HashMap<&str, (String, usize)> = HashMap::new();
    for (path, line, d) in docs {
        for m in issues(d) {
            problems.push(Problem { path: path.clone(), line: *line, message: format!("{}: {m}", d.id) });
        }
        if let Some((p, l)) = seen.get(d.id.as_str()) {
            problems.push(Problem { path: path.clone(), line: *line, message: format!("duplicate id {} (first at {p}:{l})", d.id) });
        } else {
            seen.insert(&d.id, (path.clone(), *line));
        }
    }
    problems
}

/// Counts a person wants to see about a corpus.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CorpusStats {
    pub documents: usize,
    pub sentences: usize,
    pub words: usize,
    pub spans: BTreeMap<String, usize>,
    pub promo_documents: usize,
    pub long_documents: usize,
    pub document_sentiment: BTreeMap<String, usize>,
    pub sentence_sentiment: BTreeMap<String, usize>,
    pub genres: BTreeMap<String, usize>,
}

impl CorpusStats {
    pub fn of<'a>(docs: impl IntoIterator<Item = &'a LabelledDocument>) -> Self {
        let mut s = CorpusStats::default();
        for l in SpanLabel::all() {
            s.spans.insert(l.as_str().to_string(), 0);
        }
        for d in docs {
            s.documents += 1;
            s.sentences += d.sentences.len();
            let words = d.text.split_whitespace().count();
            s.words += words;
            s.long_documents += usize::from(words > 450);
            s.promo_documents += usize::from(d.has_promo());
            for sp in &d.spans {
                *s.spans.entry(sp.label.as_str().to_string()).or_default() += 1;
            }
            *s.document_sentiment.entry(d.sentiment.to_string()).or_default() += 1;
            for se in &d.sentences {
                *s.sentence_sentiment.entry(se.sentiment.to_string()).or_default() += 1;
            }
            *s.genres.entry(d.genre.clone().unwrap_or_else(|| "(none)".into())).or_default() += 1;
        }
        s
    }

    /// A plain-text table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let pct = |a: usize, b: usize| {
            if b == 0 {
                0.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        t.push_str(&format!("documents            {:>7}\n", self.documents));
        t.push_str(&format!("sentences            {:>7}\n", self.sentences));
        t.push_str(&format!("words                {:>7}\n", self.words));
        t.push_str(&format!("documents with PROMO {:>7}  ({:.1}%)\n", self.promo_documents, pct(self.promo_documents, self.documents)));
        t.push_str(&format!("documents >450 words {:>7}\n", self.long_documents));
        t.push_str("spans\n");
        for l in EntityLabel::ALL.iter().map(|l| l.as_str()).chain(["PROMO"]) {
            t.push_str(&format!("  {:<18} {:>7}\n", l, self.spans.get(l).copied().unwrap_or(0)));
        }
        for (name, map) in [("document sentiment", &self.document_sentiment), ("sentence sentiment", &self.sentence_sentiment)] {
            t.push_str(&format!("{name}\n"));
            for s in Sentiment::ALL {
                t.push_str(&format!("  {:<18} {:>7}\n", s.as_str(), map.get(s.as_str()).copied().unwrap_or(0)));
            }
        }
        t.push_str(&format!("genres ({})\n", self.genres.len()));
        for (g, c) in &self.genres {
            t.push_str(&format!("  {g:<34} {c:>5}\n"));
        }
        t
    }
}

/// Indices of the documents in each split.
#[derive(Debug, Default)]
pub struct Split {
    pub train: Vec<usize>,
    pub dev: Vec<usize>,
    pub test: Vec<usize>,
    /// Pairs of similar documents found (kept in the same split), with their similarity.
    pub near_duplicates: Vec<(usize, usize, f64)>,
}

fn shingles(text: &str) -> std::collections::HashSet<u64> {
    let words: Vec<String> = text.split_whitespace().map(|w| w.to_lowercase()).collect();
    words
        .windows(5)
        .map(|w| {
            let mut h: u64 = 0xcbf29ce484222325;
            for b in w.join(" ").bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x100000001b3);
            }
            h
        })
        .collect()
}

/// Jaccard similarity of two shingle sets.
fn jaccard(x: &std::collections::HashSet<u64>, y: &std::collections::HashSet<u64>) -> f64 {
    if x.is_empty() || y.is_empty() {
        return 0.0;
    }
    let inter = x.intersection(y).count() as f64;
    inter / (x.len() as f64 + y.len() as f64 - inter)
}

/// Jaccard similarity of the 5-word shingles of two texts.
pub fn similarity(a: &str, b: &str) -> f64 {
    jaccard(&shingles(a), &shingles(b))
}

/// Jaccard similarity of 5-word shingles from which two texts count as near-duplicates.
const NEAR_DUPLICATE: f64 = 0.5;

/// Pairs (i in `a`, j in `b`, similarity) of near-duplicate texts (5-word-shingle Jaccard
/// ≥ [`NEAR_DUPLICATE`]) between two document sets: what must never sit on both sides of a split.
pub fn near_duplicates_between(a: &[LabelledDocument], b: &[&LabelledDocument]) -> Vec<(usize, usize, f64)> {
    let sb: Vec<_> = b.iter().map(|d| shingles(&d.text)).collect();
    let mut out = Vec::new();
    for (i, d) in a.iter().enumerate() {
        let sa = shingles(&d.text);
        for (j, s) in sb.iter().enumerate() {
            let jac = jaccard(&sa, s);
            if jac >= NEAR_DUPLICATE {
                out.push((i, j, jac));
            }
        }
    }
    out
}

/// Deterministic split stratified by (genre, clickbait); near-duplicate documents
/// (Jaccard of 5-word shingles >= 0.5) are grouped and always land in the same split.
pub fn split_corpus(docs: &[LabelledDocument], dev: f64, test: f64, seed: u64) -> Split {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let n = docs.len();
    let sh: Vec<_> = docs.iter().map(|d| shingles(&d.text)).collect();
    let mut group: Vec<usize> = (0..n).collect();
    fn find(g: &mut Vec<usize>, i: usize) -> usize {
        let mut r = i;
        while g[r] != r {
            r = g[r];
        }
        let mut j = i;
        while g[j] != r {
            let next = g[j];
            g[j] = r;
            j = next;
        }
        r
    }
    let mut near = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let jac = jaccard(&sh[i], &sh[j]);
            if jac >= NEAR_DUPLICATE {
                near.push((i, j, jac));
                let (a, b) = (find(&mut group, i), find(&mut group, j));
                group[a] = b;
            }
        }
    }
    // Groups, bucketed by the stratum of their first member.
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
    for i in 0..n {
        let r = find(&mut group, i);
        groups.entry(r).or_default().push(i);
    }
    let mut strata: std::collections::BTreeMap<(String, bool), Vec<Vec<usize>>> = std::collections::BTreeMap::new();
    for members in groups.into_values() {
        let d = &docs[members[0]];
        strata.entry((d.genre.clone().unwrap_or_default(), d.has_promo())).or_default().push(members);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Split { near_duplicates: near, ..Default::default() };
    // Carry fractional shares across strata so small strata still add up to the targets.
    let (mut dev_acc, mut test_acc) = (0.0f64, 0.0f64);
    for (_, mut gs) in strata {
        gs.shuffle(&mut rng);
        for g in gs {
            dev_acc += dev * g.len() as f64;
            test_acc += test * g.len() as f64;
            if test_acc >= 1.0 {
                test_acc -= g.len() as f64;
                out.test.extend(g);
            } else if dev_acc >= 1.0 {
                dev_acc -= g.len() as f64;
                out.dev.extend(g);
            } else {
                out.train.extend(g);
            }
        }
    }
    out.train.sort();
    out.dev.sort();
    out.test.sort();
    out
}
