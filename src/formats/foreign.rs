//! Foreign annotation formats: import of Doccano, Label Studio, Prodigy, CoNLL-2003 and
//! GermEval-2014 data into [`LabelledDocument`]s, and export to CoNLL and Doccano (our own
//! JSONL and `.ann` pass through to [`super::jsonl`] and [`super::ann`]).
//!
//! - Doccano JSONL: `{"text", "label": [[start, end, "LABEL"], ...]}` or
//!   `{"text", "entities": [{"start_offset", "end_offset", "label"}, ...]}`; the optional keys
//!   `sentiment`, `clickbait`, `sentences`, `genre` and `source` (written by our export) are
//!   honoured, so export → import is lossless.
//! - Label Studio JSON export: an array of tasks; the first (not cancelled) annotation's
//!   `labels` results, or the first prediction's when there is no annotation. A `choices`
//!   result naming a sentiment sets the document sentiment. Problems name the task number.
//! - Prodigy JSONL: `{"text", "spans": [{"start", "end", "label"}], "answer"}`; rejected and
//!   ignored records are skipped.
//! - CoNLL-2003: token first, NER tag (BIO, IOB1, BIOES) last; `-DOCSTART-` starts a document,
//!   a blank line ends a sentence. Text is rebuilt with single spaces between tokens and "\n"
//!   between sentences.
//! - GermEval-2014 TSV: `index TAB token TAB outer TAB inner`, `#` comment lines (kept as the
//!   document's `source`); every sentence is one document; outer tags only. Without an entry
//!   in the label map, `OTH` and the `*deriv`/`*part` labels are not entities (dropped
//!   silently).
//!
//! Offsets of every format are code points (Python string indices) like ours; Label Studio
//! offsets that only match the region's `text` when read as UTF-16 units are converted.
//! Whitespace at span edges is trimmed. A label is first looked up in the label map (a
//! mapping to `O` drops the span silently), then must be one of ours; otherwise the span is
//! dropped with a [`Problem`]. Documents without sentence annotations get the sentences of
//! [`split_sentences`], all neutral, a neutral document sentiment and `clickbait` = has a
//! PROMO span. Malformed input never panics: each bad line or record is a problem with its
//! line number and reading goes on.

use super::{Problem, ReadResult};
use crate::document::{LabelledDocument, SentenceSentiment, Span};
use crate::error::{FintagError, Result};
use crate::labels::{Sentiment, SpanLabel};
use crate::text::split_sentences;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// Formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    Jsonl,
    Ann,
    Doccano,
    LabelStudio,
    Prodigy,
    Conll,
    Germeval,
}

/// Formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Ann,
    Conll,
    Doccano,
}

/// Reads `content` (the text of the file `path`) in `format`. `label_map` maps foreign label
/// names to ours ("PERSON" -> "PER"); labels not in the map are used as-is; a label that is
/// then not one of ORG PER LOC PRODUCT INSTRUMENT MONEY PERCENT DATE PROMO is reported as a
/// problem on its line and the span dropped. A label mapped to "O" is dropped silently.
pub fn import(format: ImportFormat, content: &str, path: &str, label_map: &HashMap<String, String>) -> ReadResult {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    match format {
        ImportFormat::Jsonl => super::jsonl::parse_labelled(content, path),
        ImportFormat::Ann => super::ann::parse_ann(content, path),
        ImportFormat::Doccano => import_doccano(content, path, label_map),
        ImportFormat::LabelStudio => import_label_studio(content, path, label_map),
        ImportFormat::Prodigy => import_prodigy(content, path, label_map),
        ImportFormat::Conll => import_conll(content, path, label_map),
        ImportFormat::Germeval => import_germeval(content, path, label_map),
    }
}

/// Reads the file `path` in `format` (see [`import`]); lines that are not UTF-8 are problems
/// on their lines. Returns the file's text beside the documents.
pub fn import_file(format: ImportFormat, path: &Path, label_map: &HashMap<String, String>) -> Result<(String, ReadResult)> {
    let (content, mut problems) = super::read_utf8_lines(path)?;
    let mut r = import(format, &content, &path.display().to_string(), label_map);
    problems.append(&mut r.problems);
    problems.sort_by_key(|p| p.line);
    r.problems = problems;
    Ok((content, r))
}

/// Writes `docs` in `format`.
pub fn export(format: ExportFormat, docs: &[LabelledDocument]) -> Result<String> {
    match format {
        ExportFormat::Jsonl => {
            let mut buf: Vec<u8> = Vec::new();
            super::jsonl::write_labelled(&mut buf, docs)?;
            String::from_utf8(buf).map_err(|e| FintagError::Invalid(format!("JSONL output: {e}")))
        }
        ExportFormat::Ann => super::ann::write_ann(docs),
        ExportFormat::Conll => Ok(write_conll(docs)),
        ExportFormat::Doccano => write_doccano(docs),
    }
}

/// Parses "PERSON=PER,ORGANIZATION=ORG" into a map. Each target must be one of our labels
/// or `O` (drop the span). Empty entries (a trailing comma) are ignored.
pub fn parse_label_map(s: &str) -> std::result::Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for item in s.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("label map entry {item:?} is not FOREIGN=OURS (e.g. PERSON=PER)"));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(format!("label map entry {item:?} has an empty side (expected FOREIGN=OURS, e.g. PERSON=PER)"));
        }
        if v != "O" && SpanLabel::parse(v).is_none() {
            return Err(format!("label map entry {item:?}: {v:?} is not one of {} (or O to drop the span)", known_labels()));
        }
        if let Some(old) = map.insert(k.to_string(), v.to_string()) {
            if old != v {
                return Err(format!("label map maps {k:?} twice ({old:?} and {v:?})"));
            }
        }
    }
    Ok(map)
}

// ---------------------------------------------------------------------------------------
// Labels

fn known_labels() -> String {
    SpanLabel::all().iter().map(|l| l.as_str()).collect::<Vec<_>>().join(" ")
}

enum Resolved {
    Label(SpanLabel),
    Drop,
    Unknown(String),
}

/// GermEval labels that are not entities in our scheme unless the label map says otherwise.
fn germeval_non_entity(label: &str) -> bool {
    label == "OTH" || label.ends_with("deriv") || label.ends_with("part")
}

fn resolve_label(raw: &str, map: &HashMap<String, String>, germeval: bool) -> Resolved {
    let mapped = match map.get(raw) {
        Some(m) => {
            let m = m.trim();
            if m.is_empty() || m == "O" {
                return Resolved::Drop;
            }
            m
        }
        None => {
            if germeval && germeval_non_entity(raw) {
                return Resolved::Drop;
            }
            raw
        }
    };
    match SpanLabel::parse(mapped) {
        Some(l) => Resolved::Label(l),
        None => Resolved::Unknown(mapped.to_string()),
    }
}

fn unknown_label_message(raw: &str, mapped: &str) -> String {
    let via = if raw == mapped { String::new() } else { format!(" (mapped to {mapped:?})") };
    format!("unknown label {raw:?}{via}, not one of {}; span dropped (map it with a label map such as {raw}=ORG)", known_labels())
}

// ---------------------------------------------------------------------------------------
// Shared helpers of the character-offset formats (Doccano, Label Studio, Prodigy)

struct Sink<'a> {
    path: &'a str,
    problems: Vec<Problem>,
}

impl Sink<'_> {
    fn report(&mut self, line: usize, message: String) {
        self.problems.push(Problem { path: self.path.to_string(), line, message });
    }
}

/// A value that is present and not null.
fn field<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn id_of(v: Option<&Value>, path: &str, line: usize) -> String {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => format!("{path}:{line}"),
    }
}

fn offset_of(v: &Value) -> Option<usize> {
    if let Some(n) = v.as_u64() {
        return usize::try_from(n).ok();
    }
    // 12.0 from tools that write floats.
    v.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1e15).map(|f| f as usize)
}

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// Builds a span from foreign start/end/label values; problems go to `sink` at `line`.
#[allow(clippy::too_many_arguments)]
fn char_span(
    chars: &[char],
    start: &Value,
    end: &Value,
    label: &Value,
    map: &HashMap<String, String>,
    what: &str,
    line: usize,
    sink: &mut Sink,
) -> Option<Span> {
    let (Some(s), Some(e)) = (offset_of(start), offset_of(end)) else {
        sink.report(line, format!("{what}: start {} / end {} are not offsets", describe(start), describe(end)));
        return None;
    };
    let Some(raw) = label.as_str() else {
        sink.report(line, format!("{what}: label {} is not a string", describe(label)));
        return None;
    };
    checked_span(chars, s, e, raw, map, what, line, sink)
}

/// Validates the range, trims whitespace at its edges and resolves the label.
#[allow(clippy::too_many_arguments)]
fn checked_span(
    chars: &[char],
    mut s: usize,
    mut e: usize,
    raw: &str,
    map: &HashMap<String, String>,
    what: &str,
    line: usize,
    sink: &mut Sink,
) -> Option<Span> {
    if s >= e || e > chars.len() {
        sink.report(line, format!("{what} {s}..{e} ({raw}) is empty or outside the text ({} code points); span dropped", chars.len()));
        return None;
    }
    while s < e && chars[s].is_whitespace() {
        s += 1;
    }
    while e > s && chars[e - 1].is_whitespace() {
        e -= 1;
    }
    if s == e {
        sink.report(line, format!("{what} ({raw}) covers only whitespace; span dropped"));
        return None;
    }
    match resolve_label(raw, map, false) {
        Resolved::Label(label) => Some(Span { start: s, end: e, label }),
        Resolved::Drop => None,
        Resolved::Unknown(mapped) => {
            sink.report(line, unknown_label_message(raw, &mapped));
            None
        }
    }
}

/// Optional document fields honoured when present.
#[derive(Default)]
struct Extras {
    sentences: Option<Vec<SentenceSentiment>>,
    sentiment: Option<Sentiment>,
    clickbait: Option<bool>,
    genre: Option<String>,
    source: Option<String>,
}

fn default_sentences(text: &str) -> Vec<SentenceSentiment> {
    split_sentences(text).into_iter().map(|b| SentenceSentiment { start: b.start, end: b.end, sentiment: Sentiment::Neutral }).collect()
}

fn build_doc(id: String, text: String, mut spans: Vec<Span>, x: Extras) -> LabelledDocument {
    // Stable: spans that share a start keep their order (our export round-trips).
    spans.sort_by_key(|s| s.start);
    let sentences = x.sentences.unwrap_or_else(|| default_sentences(&text));
    let clickbait = x.clickbait.unwrap_or_else(|| spans.iter().any(|s| s.label.is_promo()));
    LabelledDocument {
        id,
        text,
        spans,
        sentences,
        sentiment: x.sentiment.unwrap_or(Sentiment::Neutral),
        clickbait,
        genre: x.genre,
        source: x.source,
    }
}

fn parse_json_object(line: &str, ln: usize, what: &str, sink: &mut Sink) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(o)) => Some(o),
        Ok(other) => {
            sink.report(ln, format!("not a {what} record: expected a JSON object, found {}", describe(&other)));
            None
        }
        Err(e) => {
            sink.report(ln, format!("not a {what} record: invalid JSON: {e}"));
            None
        }
    }
}

/// Runs `record` on every non-blank line of a JSONL file that is a JSON object; lines that
/// are not are reported as problems. `record` returns the document a line yields, if any.
fn jsonl_records(
    content: &str,
    path: &str,
    what: &str,
    mut record: impl FnMut(usize, &Map<String, Value>, &mut Sink) -> Option<LabelledDocument>,
) -> ReadResult {
    let mut out = ReadResult::default();
    let mut sink = Sink { path, problems: Vec::new() };
    for (i, line) in content.lines().enumerate() {
        let ln = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(doc) = parse_json_object(line, ln, what, &mut sink).and_then(|obj| record(ln, &obj, &mut sink)) {
            out.docs.push((ln, doc));
        }
    }
    out.problems = sink.problems;
    out
}

/// The record's "text" string, or a reported problem.
fn record_text<'o>(obj: &'o Map<String, Value>, ln: usize, what: &str, sink: &mut Sink) -> Option<&'o str> {
    let text = field(obj, "text").and_then(Value::as_str);
    if text.is_none() {
        sink.report(ln, format!("{what} record without a \"text\" string"));
    }
    text
}

/// Spans from a list of objects with start, end and label keys (Doccano "entities",
/// Prodigy "spans"); `item` names one entry in messages.
#[allow(clippy::too_many_arguments)]
fn object_spans(
    chars: &[char],
    list: &Value,
    list_name: &str,
    item: &str,
    (start_key, end_key): (&str, &str),
    map: &HashMap<String, String>,
    ln: usize,
    sink: &mut Sink,
) -> Vec<Span> {
    let Some(items) = list.as_array() else {
        sink.report(ln, format!("\"{list_name}\" is not a list: {}", describe(list)));
        return Vec::new();
    };
    let mut spans = Vec::new();
    for (k, entry) in items.iter().enumerate() {
        let what = format!("{item} {}", k + 1);
        match entry.as_object() {
            Some(o) => {
                let get = |key: &str| o.get(key).cloned().unwrap_or(Value::Null);
                spans.extend(char_span(chars, &get(start_key), &get(end_key), &get("label"), map, &what, ln, sink));
            }
            None => sink.report(ln, format!("{what} is not an object: {}", describe(entry))),
        }
    }
    spans
}

// ---------------------------------------------------------------------------------------
// Doccano

fn import_doccano(content: &str, path: &str, map: &HashMap<String, String>) -> ReadResult {
    jsonl_records(content, path, "Doccano", |ln, obj, sink| {
        let text = record_text(obj, ln, "Doccano", sink)?;
        let chars: Vec<char> = text.chars().collect();
        let id = id_of(field(obj, "id"), path, ln);
        let mut spans = Vec::new();
        if let Some(labels) = field(obj, "label").or_else(|| field(obj, "labels")) {
            match labels.as_array() {
                Some(items) => {
                    for (k, item) in items.iter().enumerate() {
                        match item.as_array() {
                            Some(t) if t.len() == 3 => {
                                let what = format!("label entry {}", k + 1);
                                spans.extend(char_span(&chars, &t[0], &t[1], &t[2], map, &what, ln, sink));
                            }
                            _ => sink.report(ln, format!("label entry {} is not [start, end, \"LABEL\"]: {}", k + 1, describe(item))),
                        }
                    }
                }
                None => sink.report(ln, format!("\"label\" is not a list: {}", describe(labels))),
            }
        }
        if let Some(ents) = field(obj, "entities") {
            spans.extend(object_spans(&chars, ents, "entities", "entity", ("start_offset", "end_offset"), map, ln, sink));
        }
        let extras = own_extras(obj, chars.len(), ln, sink);
        Some(build_doc(id, text.to_string(), spans, extras))
    })
}

/// The optional keys of our own format inside a foreign record.
fn own_extras(obj: &Map<String, Value>, len: usize, ln: usize, sink: &mut Sink) -> Extras {
    let mut x = Extras::default();
    if let Some(v) = field(obj, "sentiment") {
        match v.as_str().and_then(Sentiment::parse) {
            Some(s) => x.sentiment = Some(s),
            None => sink.report(ln, format!("sentiment {} is not positive, negative or neutral; using neutral", describe(v))),
        }
    }
    if let Some(v) = field(obj, "clickbait") {
        match v.as_bool() {
            Some(b) => x.clickbait = Some(b),
            None => sink.report(ln, format!("clickbait {} is not true or false", describe(v))),
        }
    }
    if let Some(v) = field(obj, "sentences") {
        match serde_json::from_value::<Vec<SentenceSentiment>>(v.clone()) {
            Ok(sents) => match sents.iter().find(|s| s.start >= s.end || s.end > len) {
                Some(bad) => sink.report(
                    ln,
                    format!("sentence {}..{} is empty or outside the text ({len} code points); sentences split anew", bad.start, bad.end),
                ),
                None => x.sentences = Some(sents),
            },
            Err(e) => sink.report(ln, format!("\"sentences\" is not a list of {{start, end, sentiment}}: {e}; sentences split anew")),
        }
    }
    x.genre = field(obj, "genre").and_then(Value::as_str).map(str::to_string);
    x.source = field(obj, "source").and_then(Value::as_str).map(str::to_string);
    x
}

#[derive(Serialize)]
struct DoccanoRecord<'a> {
    id: &'a str,
    text: &'a str,
    label: Vec<(usize, usize, &'static str)>,
    sentiment: Sentiment,
    clickbait: bool,
    sentences: &'a [SentenceSentiment],
    #[serde(skip_serializing_if = "Option::is_none")]
    genre: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
}

fn write_doccano(docs: &[LabelledDocument]) -> Result<String> {
    let mut out = String::new();
    for d in docs {
        let rec = DoccanoRecord {
            id: &d.id,
            text: &d.text,
            label: d.spans.iter().map(|s| (s.start, s.end, s.label.as_str())).collect(),
            sentiment: d.sentiment,
            clickbait: d.clickbait,
            sentences: &d.sentences,
            genre: d.genre.as_deref(),
            source: d.source.as_deref(),
        };
        out.push_str(&serde_json::to_string(&rec)?);
        out.push('\n');
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Label Studio

fn import_label_studio(content: &str, path: &str, map: &HashMap<String, String>) -> ReadResult {
    let mut out = ReadResult::default();
    let mut sink = Sink { path, problems: Vec::new() };
    if content.trim().is_empty() {
        return out;
    }
    // (line, task) pairs: array index + 1, or the line of a one-task-per-line file.
    let mut tasks: Vec<(usize, Value)> = Vec::new();
    match serde_json::from_str::<Value>(content) {
        Ok(Value::Array(items)) => tasks.extend(items.into_iter().enumerate().map(|(i, t)| (i + 1, t))),
        Ok(v @ Value::Object(_)) => tasks.push((1, v)),
        Ok(other) => sink.report(1, format!("not a Label Studio export: expected a JSON array of tasks, found {}", describe(&other))),
        Err(e) if content.trim_start().starts_with('[') => {
            sink.report(e.line().max(1), format!("not a Label Studio export: invalid JSON: {e}"))
        }
        Err(_) => {
            // JSON Lines, one task per line.
            for (i, line) in content.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                if let Some(o) = parse_json_object(line, i + 1, "Label Studio task", &mut sink) {
                    tasks.push((i + 1, Value::Object(o)));
                }
            }
        }
    }
    for (ln, task) in tasks {
        if let Some(doc) = label_studio_task(&task, ln, path, map, &mut sink) {
            out.docs.push((ln, doc));
        }
    }
    out.problems = sink.problems;
    out
}

fn label_studio_task(task: &Value, ln: usize, path: &str, map: &HashMap<String, String>, sink: &mut Sink) -> Option<LabelledDocument> {
    let Some(obj) = task.as_object() else {
        sink.report(ln, format!("task {ln} is not a JSON object: {}", describe(task)));
        return None;
    };
    let Some(data) = field(obj, "data").and_then(Value::as_object) else {
        sink.report(ln, format!("task {ln} has no \"data\" object"));
        return None;
    };
    let text = match field(data, "text").and_then(Value::as_str) {
        Some(t) => t,
        None => match data.values().find_map(Value::as_str) {
            Some(t) => t,
            None => {
                sink.report(ln, format!("task {ln}: \"data\" holds no text"));
                return None;
            }
        },
    };
    let chars: Vec<char> = text.chars().collect();
    let id = id_of(field(obj, "id"), path, ln);
    let first = |key: &str| -> Option<&Value> {
        field(obj, key)?.as_array()?.iter().find(|a| a.get("was_cancelled").and_then(Value::as_bool) != Some(true))
    };
    let chosen = first("annotations").or_else(|| first("predictions"));
    let mut spans = Vec::new();
    let mut extras = Extras::default();
    let results: &[Value] = match chosen.and_then(|a| a.get("result")) {
        None | Some(Value::Null) => &[],
        Some(Value::Array(r)) => r,
        Some(other) => {
            sink.report(ln, format!("task {ln}: \"result\" is not a list: {}", describe(other)));
            &[]
        }
    };
    for (k, r) in results.iter().enumerate() {
        let what = format!("task {ln} result {}", k + 1);
        let kind = r.get("type").and_then(Value::as_str).unwrap_or("");
        let value = r.get("value").and_then(Value::as_object);
        match (kind, value) {
            ("labels", Some(v)) => {
                let labels: Vec<&str> = match v.get("labels").and_then(Value::as_array) {
                    Some(ls) => ls.iter().filter_map(Value::as_str).collect(),
                    None => Vec::new(),
                };
                if labels.is_empty() {
                    sink.report(ln, format!("{what} has no \"labels\""));
                    continue;
                }
                let get = |key: &str| v.get(key).cloned().unwrap_or(Value::Null);
                let (Some(mut s), Some(mut e)) = (offset_of(&get("start")), offset_of(&get("end"))) else {
                    sink.report(ln, format!("{what}: start {} / end {} are not offsets", describe(&get("start")), describe(&get("end"))));
                    continue;
                };
                if let Some(surface) = v.get("text").and_then(Value::as_str) {
                    let at: String = chars.get(s.min(chars.len())..e.min(chars.len())).map(|c| c.iter().collect()).unwrap_or_default();
                    if at != surface {
                        match utf16_range(text, s, e).filter(|(a, b)| chars[*a..*b].iter().collect::<String>() == surface) {
                            Some((a, b)) => {
                                s = a;
                                e = b;
                            }
                            None => {
                                sink.report(
                                    ln,
                                    format!("{what}: region text {surface:?} is not the text at {s}..{e} ({at:?}); span dropped"),
                                );
                                continue;
                            }
                        }
                    }
                }
                for label in labels {
                    spans.extend(checked_span(&chars, s, e, label, map, &what, ln, sink));
                }
            }
            ("choices", Some(v)) => {
                let choices = v.get("choices").and_then(Value::as_array);
                if let Some(s) = choices.into_iter().flatten().filter_map(Value::as_str).find_map(|c| Sentiment::parse(&c.to_lowercase())) {
                    extras.sentiment = Some(s);
                }
            }
            ("labels", None) => sink.report(ln, format!("{what} has no \"value\" object")),
            _ => {}
        }
    }
    Some(build_doc(id, text.to_string(), spans, extras))
}

/// Reads `start..end` as UTF-16 code units of `text` and converts them to code points.
fn utf16_range(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let (mut u, mut a, mut b) = (0usize, None, None);
    for (i, c) in text.chars().enumerate() {
        if u == start {
            a = Some(i);
        }
        if u == end {
            b = Some(i);
        }
        u += c.len_utf16();
    }
    let n = text.chars().count();
    if u == start {
        a = Some(n);
    }
    if u == end {
        b = Some(n);
    }
    match (a, b) {
        (Some(a), Some(b)) if a < b => Some((a, b)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Prodigy

fn import_prodigy(content: &str, path: &str, map: &HashMap<String, String>) -> ReadResult {
    jsonl_records(content, path, "Prodigy", |ln, obj, sink| {
        if matches!(field(obj, "answer").and_then(Value::as_str), Some("reject" | "ignore")) {
            return None;
        }
        let text = record_text(obj, ln, "Prodigy", sink)?;
        let chars: Vec<char> = text.chars().collect();
        let meta = field(obj, "meta").and_then(Value::as_object);
        let id = match field(obj, "id") {
            Some(v) => id_of(Some(v), path, ln),
            None => id_of(meta.and_then(|m| field(m, "id")), path, ln),
        };
        let spans = match field(obj, "spans") {
            Some(list) => object_spans(&chars, list, "spans", "span", ("start", "end"), map, ln, sink),
            None => Vec::new(),
        };
        let extras =
            Extras { source: meta.and_then(|m| field(m, "source")).and_then(Value::as_str).map(str::to_string), ..Extras::default() };
        Some(build_doc(id, text.to_string(), spans, extras))
    })
}

// ---------------------------------------------------------------------------------------
// Token formats (CoNLL-2003, GermEval-2014)

struct Tok<'a> {
    text: &'a str,
    tag: &'a str,
    line: usize,
}

/// A tag as (prefix, label); `None` for O. Tags without a prefix are read as IO ("I-").
fn parse_tag(tag: &str) -> std::result::Result<Option<(char, &str)>, String> {
    if tag == "O" {
        return Ok(None);
    }
    if let Some((p, label)) = tag.split_once('-') {
        if let Some(c) = p.chars().next().filter(|_| p.chars().count() == 1) {
            if matches!(c, 'B' | 'I' | 'E' | 'S' | 'L' | 'U') {
                if label.is_empty() {
                    return Err(format!("tag {tag:?} has no label; read as O"));
                }
                return Ok(Some((c, label)));
            }
        }
    }
    if tag.is_empty() || tag == "-" {
        return Err(format!("tag {tag:?} is not a tag; read as O"));
    }
    Ok(Some(('I', tag)))
}

/// Joins sentences of tokens into one text (" " between tokens, "\n" between sentences) and
/// decodes their tags into spans.
fn assemble(
    sentences: &[Vec<Tok>],
    germeval: bool,
    map: &HashMap<String, String>,
    sink: &mut Sink,
) -> (String, Vec<Span>, Vec<SentenceSentiment>) {
    let mut text = String::new();
    let mut len = 0usize;
    let mut spans = Vec::new();
    let mut sents = Vec::new();
    for sentence in sentences {
        if sentence.is_empty() {
            continue;
        }
        if !sents.is_empty() {
            text.push('\n');
            len += 1;
        }
        let sent_start = len;
        // (raw label, start, end, line of the first token)
        let mut open: Option<(&str, usize, usize, usize)> = None;
        let close = |open: &mut Option<(&str, usize, usize, usize)>, spans: &mut Vec<Span>, sink: &mut Sink| {
            if let Some((raw, s, e, line)) = open.take() {
                match resolve_label(raw, map, germeval) {
                    Resolved::Label(label) => spans.push(Span { start: s, end: e, label }),
                    Resolved::Drop => {}
                    Resolved::Unknown(mapped) => sink.report(line, unknown_label_message(raw, &mapped)),
                }
            }
        };
        for (k, tok) in sentence.iter().enumerate() {
            if k > 0 {
                text.push(' ');
                len += 1;
            }
            let start = len;
            text.push_str(tok.text);
            len += tok.text.chars().count();
            match parse_tag(tok.tag) {
                Err(msg) => {
                    sink.report(tok.line, msg);
                    close(&mut open, &mut spans, sink);
                }
                Ok(None) => close(&mut open, &mut spans, sink),
                Ok(Some((prefix, label))) => {
                    let continues = matches!(prefix, 'I' | 'E' | 'L') && open.as_ref().is_some_and(|o| o.0 == label);
                    match open.as_mut() {
                        Some(o) if continues => o.2 = len,
                        _ => {
                            close(&mut open, &mut spans, sink);
                            open = Some((label, start, len, tok.line));
                        }
                    }
                    if matches!(prefix, 'E' | 'S' | 'L' | 'U') {
                        close(&mut open, &mut spans, sink);
                    }
                }
            }
        }
        close(&mut open, &mut spans, sink);
        sents.push(SentenceSentiment { start: sent_start, end: len, sentiment: Sentiment::Neutral });
    }
    (text, spans, sents)
}

fn token_doc(
    id: String,
    sentences: &[Vec<Tok>],
    germeval: bool,
    map: &HashMap<String, String>,
    sink: &mut Sink,
    source: Option<String>,
) -> LabelledDocument {
    let (text, spans, sents) = assemble(sentences, germeval, map, sink);
    build_doc(id, text, spans, Extras { sentences: Some(sents), source, ..Extras::default() })
}

fn import_conll(content: &str, path: &str, map: &HashMap<String, String>) -> ReadResult {
    let mut out = ReadResult::default();
    let mut sink = Sink { path, problems: Vec::new() };
    // The open document: its line and sentences; the open sentence.
    let mut doc: Option<(usize, Vec<Vec<Tok>>)> = None;
    let mut sentence: Vec<Tok> = Vec::new();
    let flush_doc = |doc: &mut Option<(usize, Vec<Vec<Tok>>)>, out: &mut ReadResult, sink: &mut Sink| {
        if let Some((line, sents)) = doc.take() {
            if sents.iter().any(|s| !s.is_empty()) {
                let d = token_doc(format!("{path}:{line}"), &sents, false, map, sink, None);
                out.docs.push((line, d));
            }
        }
    };
    for (i, raw) in content.lines().enumerate() {
        let ln = i + 1;
        let cols: Vec<&str> = raw.split_whitespace().collect();
        if cols.is_empty() {
            if let Some((_, sents)) = doc.as_mut() {
                if !sentence.is_empty() {
                    sents.push(std::mem::take(&mut sentence));
                }
            }
            continue;
        }
        if cols[0] == "-DOCSTART-" {
            if let Some((_, sents)) = doc.as_mut() {
                if !sentence.is_empty() {
                    sents.push(std::mem::take(&mut sentence));
                }
            }
            flush_doc(&mut doc, &mut out, &mut sink);
            doc = Some((ln, Vec::new()));
            continue;
        }
        if doc.is_none() {
            doc = Some((ln, Vec::new()));
        }
        let tag = if cols.len() < 2 {
            sink.report(ln, format!("expected a token and a tag, found {:?}; read as O", raw.trim()));
            "O"
        } else {
            cols[cols.len() - 1]
        };
        sentence.push(Tok { text: cols[0], tag, line: ln });
    }
    if let Some((_, sents)) = doc.as_mut() {
        if !sentence.is_empty() {
            sents.push(std::mem::take(&mut sentence));
        }
    }
    flush_doc(&mut doc, &mut out, &mut sink);
    out.problems = sink.problems;
    out
}

fn import_germeval(content: &str, path: &str, map: &HashMap<String, String>) -> ReadResult {
    let mut out = ReadResult::default();
    let mut sink = Sink { path, problems: Vec::new() };
    // The open sentence: line of its comment or first token, its comment, its tokens.
    let mut line0: Option<usize> = None;
    let mut comment: Option<String> = None;
    let mut toks: Vec<Tok> = Vec::new();
    let flush = |line0: &mut Option<usize>, comment: &mut Option<String>, toks: &mut Vec<Tok>, out: &mut ReadResult, sink: &mut Sink| {
        let source = comment.take();
        if let Some(line) = line0.take() {
            if !toks.is_empty() {
                let sents = vec![std::mem::take(toks)];
                let d = token_doc(format!("{path}:{line}"), &sents, true, map, sink, source);
                out.docs.push((line, d));
            }
        }
        toks.clear();
    };
    for (i, raw) in content.lines().enumerate() {
        let ln = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            flush(&mut line0, &mut comment, &mut toks, &mut out, &mut sink);
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            if !toks.is_empty() {
                flush(&mut line0, &mut comment, &mut toks, &mut out, &mut sink);
            }
            line0 = Some(ln);
            comment = Some(c.trim().to_string());
            continue;
        }
        let cols: Vec<&str> =
            if line.contains('\t') { line.split('\t').map(str::trim).collect() } else { line.split_whitespace().collect() };
        if cols.len() < 3 || cols[1].is_empty() || cols[1].chars().any(char::is_whitespace) {
            sink.report(ln, format!("expected index TAB token TAB outer-tag TAB inner-tag, found {:?}; line skipped", line.trim()));
            continue;
        }
        if line0.is_none() {
            line0 = Some(ln);
        }
        toks.push(Tok { text: cols[1], tag: cols[2], line: ln });
    }
    flush(&mut line0, &mut comment, &mut toks, &mut out, &mut sink);
    out.problems = sink.problems;
    out
}

/// CoNLL: `-DOCSTART-` per document, one `token TAB tag` line per whitespace-separated word
/// of each sentence, cut where an entity span starts or ends inside it ("Euro." after an
/// amount is "Euro" and "."), a blank line after each sentence. A token gets the BIO tag of
/// the entity span it lies in; PROMO is a separate layer and not written.
fn write_conll(docs: &[LabelledDocument]) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str("-DOCSTART-\tO\n\n");
        let chars: Vec<char> = d.text.chars().collect();
        let n = chars.len();
        let entities: Vec<&Span> = d.spans.iter().filter(|s| !s.label.is_promo()).collect();
        let ranges: Vec<(usize, usize)> = if d.sentences.is_empty() {
            split_sentences(&d.text).iter().map(|b| (b.start, b.end)).collect()
        } else {
            d.sentences.iter().map(|s| (s.start.min(n), s.end.min(n))).collect()
        };
        let cuts: std::collections::HashSet<usize> = entities.iter().flat_map(|p| [p.start, p.end]).collect();
        for (s, e) in ranges {
            let mut words = Vec::new();
            let mut i = s;
            while i < e {
                if chars[i].is_whitespace() {
                    i += 1;
                    continue;
                }
                let ws = i;
                i += 1;
                while i < e && !chars[i].is_whitespace() && !cuts.contains(&i) {
                    i += 1;
                }
                words.push((ws, i));
            }
            if words.is_empty() {
                continue;
            }
            let mut prev: Option<usize> = None;
            for (ws, we) in words {
                let hit = entities.iter().position(|p| p.start < we && p.end > ws);
                out.extend(chars[ws..we].iter());
                out.push('\t');
                match hit {
                    None => out.push('O'),
                    Some(k) => {
                        out.push_str(if prev == Some(k) { "I-" } else { "B-" });
                        out.push_str(entities[k].label.as_str());
                    }
                }
                out.push('\n');
                prev = hit;
            }
            out.push('\n');
        }
    }
    out
}
