//! The hand-writable `.ann` markup of ANNOTATION.md section 4, both directions.
//!
//! `=== id` starts a document, `# key: value` sets a field, each other line is one sentence:
//! optional `P` (whole sentence PROMO), optional `|` (joined with "\n" instead of " "), the
//! sentiment marker `+`/`-`/`0`, a space and the text with `[surface|LABEL]` entities and
//! `{{ }}` PROMO clauses. A blank line is a paragraph break ("\n\n").

use super::{Problem, ReadResult};
use crate::document::{LabelledDocument, SentenceSentiment, Span};
use crate::labels::{Sentiment, SpanLabel};

struct Draft {
    line: usize,
    id: String,
    text: String,
    len: usize,
    spans: Vec<Span>,
    sentences: Vec<SentenceSentiment>,
    sentiment: Option<Sentiment>,
    genre: Option<String>,
    source: Option<String>,
    paragraph_pending: bool,
}

/// Parses `.ann` text; every problem names its line and parsing goes on.
pub fn parse_ann(content: &str, path: &str) -> ReadResult {
    let mut out = ReadResult::default();
    let mut draft: Option<Draft> = None;
    let problem = |out: &mut ReadResult, line: usize, message: String| out.problems.push(Problem { path: path.to_string(), line, message });
    for (i, raw) in content.lines().enumerate() {
        let ln = i + 1;
        let line = raw.trim_end_matches('\r');
        if let Some(id) = line.strip_prefix("=== ") {
            if let Some(d) = draft.take() {
                finish(d, path, &mut out);
            }
            draft = Some(Draft {
                line: ln,
                id: id.trim().to_string(),
                text: String::new(),
                len: 0,
                spans: vec![],
                sentences: vec![],
                sentiment: None,
                genre: None,
                source: None,
                paragraph_pending: false,
            });
            continue;
        }
        let Some(d) = draft.as_mut() else {
            if !line.trim().is_empty() {
                problem(&mut out, ln, "text before the first `=== id` line".into());
            }
            continue;
        };
        if line.trim().is_empty() {
            d.paragraph_pending = !d.sentences.is_empty();
            continue;
        }
        if let Some(field) = line.strip_prefix("# ") {
            let (k, v) = field.split_once(':').unwrap_or((field, ""));
            let v = v.trim().to_string();
            match k.trim() {
                "sentiment" => match Sentiment::parse(&v) {
                    Some(s) => d.sentiment = Some(s),
                    None => problem(&mut out, ln, format!("unknown sentiment {v:?}")),
                },
                "genre" => d.genre = Some(v),
                "source" => d.source = Some(v),
                other => problem(&mut out, ln, format!("unknown field {other:?}")),
            }
            continue;
        }
        let mut rest = line;
        let whole_promo = rest.starts_with('P');
        if whole_promo {
            rest = &rest[1..];
        }
        let newline = rest.starts_with('|');
        if newline {
            rest = &rest[1..];
        }
        let mut chars = rest.chars();
        let sentiment = match chars.next() {
            Some('+') => Sentiment::Positive,
            Some('-') => Sentiment::Negative,
            Some('0') => Sentiment::Neutral,
            _ => {
                problem(&mut out, ln, format!("not a sentence line (expected [P][|]+/-/0 and a space): {:?}", truncate(line)));
                continue;
            }
        };
        let Some(body) = chars.as_str().strip_prefix(' ') else {
            problem(&mut out, ln, "a space must follow the sentiment marker".into());
            continue;
        };
        if !d.sentences.is_empty() {
            let joiner = if d.paragraph_pending {
                "\n\n"
            } else if newline {
                "\n"
            } else {
                " "
            };
            d.text.push_str(joiner);
            d.len += joiner.chars().count();
        }
        d.paragraph_pending = false;
        let start = d.len;
        let before = out.problems.len();
        let (plain, spans, promos) =
            parse_sentence(body, start, &mut |m| out.problems.push(Problem { path: path.to_string(), line: ln, message: m }));
        let _ = before;
        let n = plain.chars().count();
        if plain.trim() != plain || n == 0 {
            problem(&mut out, ln, "sentence text is empty or has surrounding whitespace".into());
        }
        d.text.push_str(&plain);
        d.len += n;
        d.sentences.push(SentenceSentiment { start, end: start + n, sentiment });
        d.spans.extend(spans);
        for (s, e) in promos {
            d.spans.push(Span { start: s, end: e, label: SpanLabel::Promo });
        }
        if whole_promo {
            d.spans.push(Span { start, end: start + n, label: SpanLabel::Promo });
        }
    }
    if let Some(d) = draft.take() {
        finish(d, path, &mut out);
    }
    out
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

fn finish(d: Draft, path: &str, out: &mut ReadResult) {
    let Some(sentiment) = d.sentiment else {
        out.problems.push(Problem { path: path.to_string(), line: d.line, message: format!("document {}: no `# sentiment:` line", d.id) });
        return;
    };
    let mut spans = d.spans;
    spans.sort_by_key(|s| (s.start, s.label.is_promo(), s.end));
    let clickbait = spans.iter().any(|s| s.label.is_promo());
    out.docs.push((
        d.line,
        LabelledDocument { id: d.id, text: d.text, spans, sentences: d.sentences, sentiment, clickbait, genre: d.genre, source: d.source },
    ));
}

/// Parses one sentence body: returns its plain text, entity spans and `{{ }}` ranges,
/// offset by `base` code points.
fn parse_sentence(body: &str, base: usize, report: &mut dyn FnMut(String)) -> (String, Vec<Span>, Vec<(usize, usize)>) {
    let mut text = String::new();
    let mut len = base;
    let mut spans = Vec::new();
    let mut promos = Vec::new();
    let mut promo_start: Option<usize> = None;
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") {
            if promo_start.is_some() {
                report("nested `{{`".into());
            }
            promo_start = Some(len);
            rest = &rest[2..];
            continue;
        }
        if rest.starts_with("}}") {
            match promo_start.take() {
                Some(s) => promos.push((s, len)),
                None => report("`}}` without `{{`".into()),
            }
            rest = &rest[2..];
            continue;
        }
        if c == '[' {
            if let Some((surface, label, used)) = entity_at(rest) {
                match SpanLabel::parse(label) {
                    Some(SpanLabel::Entity(l)) => {
                        let n = surface.chars().count();
                        spans.push(Span { start: len, end: len + n, label: SpanLabel::Entity(l) });
                        text.push_str(surface);
                        len += n;
                    }
                    _ => {
                        report(format!("unknown entity label {label:?}"));
                        text.push_str(surface);
                        len += surface.chars().count();
                    }
                }
                rest = &rest[used..];
                continue;
            }
            report(format!("`[` that does not open a `[surface|LABEL]` span: {:?}", truncate(rest)));
        }
        text.push(c);
        len += 1;
        rest = &rest[c.len_utf8()..];
    }
    if promo_start.is_some() {
        report("unclosed `{{`".into());
    }
    (text, spans, promos)
}

/// `[surface|LABEL]` at the start of `s`: (surface, label, bytes used).
fn entity_at(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find(']')?;
    let inner = &s[1..close];
    let (surface, label) = inner.rsplit_once('|')?;
    if surface.is_empty() || surface.contains('[') || !label.chars().all(|c| c.is_ascii_uppercase()) || label.is_empty() {
        return None;
    }
    Some((surface, label, close + 1))
}

/// Writes documents as `.ann`. Needs sentences covering the text with single spaces, "\n"
/// or "\n\n" between them, and PROMO spans that are whole sentences or lie inside one.
pub fn write_ann(docs: &[LabelledDocument]) -> crate::error::Result<String> {
    let mut out = String::new();
    for d in docs {
        out.push_str(&format!("=== {}\n# sentiment: {}\n", d.id, d.sentiment));
        if let Some(g) = &d.genre {
            out.push_str(&format!("# genre: {g}\n"));
        }
        if let Some(s) = &d.source {
            out.push_str(&format!("# source: {s}\n"));
        }
        let chars: Vec<char> = d.text.chars().collect();
        let mut prev_end: Option<usize> = None;
        for s in &d.sentences {
            let gap: String = prev_end.map(|p| chars[p.min(chars.len())..s.start.min(chars.len())].iter().collect()).unwrap_or_default();
            let bar = match (prev_end, gap.as_str()) {
                (None, _) | (_, " ") => "",
                (_, "\n") => "|",
                (_, "\n\n") => {
                    out.push('\n');
                    ""
                }
                (_, g) => {
                    return Err(crate::FintagError::Invalid(format!("{}: cannot write the gap {g:?} between sentences as .ann", d.id)))
                }
            };
            let whole = d.spans.iter().any(|p| p.label.is_promo() && p.start == s.start && p.end == s.end);
            let marker = match s.sentiment {
                Sentiment::Positive => '+',
                Sentiment::Negative => '-',
                Sentiment::Neutral => '0',
            };
            out.push_str(&format!("{}{}{} ", if whole { "P" } else { "" }, bar, marker));
            // Events inside the sentence: entity opens/closes and clause-PROMO braces.
            let mut cursor = s.start;
            let inner_promos: Vec<&Span> = d
                .spans
                .iter()
                .filter(|p| p.label.is_promo() && p.start >= s.start && p.end <= s.end && !(p.start == s.start && p.end == s.end))
                .collect();
            let entities: Vec<&Span> = d.spans.iter().filter(|p| !p.label.is_promo() && p.start >= s.start && p.end <= s.end).collect();
            let mut i = s.start;
            while i <= s.end {
                for p in &inner_promos {
                    if p.end == i && p.start != i {
                        out.extend(chars[cursor..i].iter());
                        cursor = i;
                        out.push_str("}}");
                    }
                }
                for p in &inner_promos {
                    if p.start == i {
                        out.extend(chars[cursor..i].iter());
                        cursor = i;
                        out.push_str("{{");
                    }
                }
                if let Some(e) = entities.iter().find(|e| e.start == i) {
                    out.extend(chars[cursor..i].iter());
                    out.push('[');
                    out.extend(chars[e.start..e.end].iter());
                    out.push_str(&format!("|{}]", e.label));
                    cursor = e.end;
                    i = e.end;
                    continue;
                }
                i += 1;
            }
            out.extend(chars[cursor..s.end].iter());
            out.push('\n');
            prev_end = Some(s.end);
        }
        out.push('\n');
    }
    Ok(out)
}
