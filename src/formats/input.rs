//! Input documents for classify/flag/eval: files, directories (recursive), `-` for stdin
//! and `.jsonl` corpora (one `{"id", "text"}` per line). Every failure is per document.

use crate::document::Document;
use crate::error::{FintagError, Result};
use crate::text::{decode_bytes, html_to_text};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// Default limit on one input file or JSONL line.
pub const DEFAULT_MAX_BYTES: u64 = 16 << 20;

/// Where a document comes from; its `id()` is the document id of the output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    File(PathBuf),
    Stdin,
    /// A line of a JSONL corpus; the id is known once the line is parsed.
    JsonlLine {
        path: PathBuf,
        line: usize,
    },
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "-".to_string(),
            Source::JsonlLine { path, line } => format!("{}:{line}", path.display()),
        }
    }
}

/// One item of input: a document or the error that kept it from being read.
pub type InputItem = std::result::Result<Document, (String, FintagError)>;

fn is_jsonl(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("jsonl") | Some("ndjson"))
}

fn is_html(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(), Some("html") | Some("htm") | Some("xhtml"))
}

/// Reads one text or HTML file into a document whose id is the path.
pub fn read_file(path: &Path, max_bytes: u64) -> Result<Document> {
    let id = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| FintagError::io(path, e))?;
    if meta.is_dir() {
        return Err(FintagError::Invalid(format!("{id}: is a directory")));
    }
    // FIFOs, sockets and devices: opening one can block forever or stream without end.
    if !meta.is_file() {
        return Err(FintagError::Invalid(format!("{id}: not a regular file")));
    }
    if meta.len() > max_bytes {
        return Err(FintagError::TooLarge { what: id, size: meta.len(), limit: max_bytes });
    }
    let f = std::fs::File::open(path).map_err(|e| FintagError::io(path, e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(max_bytes + 1).read_to_end(&mut bytes).map_err(|e| FintagError::io(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(FintagError::TooLarge { what: id, size: bytes.len() as u64, limit: max_bytes });
    }
    document_from_bytes(id, &bytes, is_html(path))
}

/// Decodes bytes (and reduces HTML) into a document.
pub fn document_from_bytes(id: String, bytes: &[u8], html: bool) -> Result<Document> {
    let decoded = decode_bytes(bytes, &id)?;
    let text = if html || looks_like_html(&decoded.text) { html_to_text(&decoded.text) } else { decoded.text };
    if text.trim().is_empty() {
        return Err(FintagError::Empty(id));
    }
    Ok(Document { id, text })
}

fn looks_like_html(t: &str) -> bool {
    let head: String = t.chars().take(512).collect::<String>().to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype html")
}

/// The `id` of a JSONL line too long to parse whole, when it is a string or integer among
/// the line's first 4 KB (where writers put it); read without parsing the rest.
fn leading_id(line: &str) -> Option<String> {
    let mut end = line.len().min(4096);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let head = &line[..end];
    let at = head.find("\"id\"")?;
    let rest = head[at + 4..].trim_start().strip_prefix(':')?.trim_start();
    let value = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>().next()?.ok()?;
    value.as_str().map(str::to_string).or_else(|| value.as_i64().map(|n| n.to_string()))
}

/// Parses one JSONL line of an input corpus.
pub fn parse_jsonl_line(line: &str, path: &Path, lineno: usize) -> InputItem {
    let label = format!("{}:{lineno}", path.display());
    let v: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return Err((
                label.clone(),
                FintagError::Parse { path: path.display().to_string(), line: lineno, message: format!("broken JSON: {e}") },
            ))
        }
    };
    let id =
        v.get("id").and_then(|x| x.as_str().map(str::to_string).or_else(|| x.as_i64().map(|n| n.to_string()))).unwrap_or(label.clone());
    match v.get("text").and_then(|t| t.as_str()) {
        Some(t) if !t.trim().is_empty() => Ok(Document { id, text: t.to_string() }),
        Some(_) => Err((id.clone(), FintagError::Empty(id))),
        None => Err((id, FintagError::Parse { path: path.display().to_string(), line: lineno, message: "no \"text\" string".into() })),
    }
}

/// Expands the command line's paths into sources, walking directories in sorted order.
/// Unreadable entries become errors; symlink loops are reported by walkdir, not followed.
pub fn expand_paths(paths: &[PathBuf]) -> Vec<std::result::Result<PathBuf, (String, FintagError)>> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Ok(p.clone()));
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => out.push(Err((p.display().to_string(), FintagError::io(p, e)))),
            Ok(m) if m.is_dir() => {
                for entry in walkdir::WalkDir::new(p).follow_links(true).sort_by_file_name() {
                    match entry {
                        // what an interrupted `classify -f json|html` left beside its output
                        Ok(e) if e.file_name().to_string_lossy().ends_with(STAGED_SUFFIX) => {}
                        Ok(e) if e.file_type().is_file() => out.push(Ok(e.into_path())),
                        Ok(_) => {}
                        Err(e) => {
                            let where_ = e.path().map(|x| x.display().to_string()).unwrap_or_else(|| p.display().to_string());
                            let msg = e.to_string();
                            out.push(Err((where_.clone(), FintagError::Invalid(format!("{where_}: {msg}")))));
                        }
                    }
                }
            }
            Ok(_) => out.push(Ok(p.clone())),
        }
    }
    out
}

/// The name ending of an output being written before it takes its name: directory walks
/// skip such files.
pub const STAGED_SUFFIX: &str = ".fintag-partial";

/// A lazy stream of input items over files, JSONL corpora and stdin.
pub struct InputStream {
    paths: std::vec::IntoIter<std::result::Result<PathBuf, (String, FintagError)>>,
    jsonl: Option<(PathBuf, std::io::Lines<Box<dyn BufRead + Send>>, usize)>,
    max_bytes: u64,
    /// Read `-` as a JSONL corpus (one document per line) instead of one document.
    stdin_jsonl: bool,
}

impl InputStream {
    pub fn new(paths: &[PathBuf], max_bytes: u64) -> Self {
        InputStream { paths: expand_paths(paths).into_iter(), jsonl: None, max_bytes, stdin_jsonl: false }
    }
    /// Treats `-` as JSONL (for pipes such as Spark's `RDD.pipe`).
    pub fn stdin_as_jsonl(mut self, yes: bool) -> Self {
        self.stdin_jsonl = yes;
        self
    }
}

impl Iterator for InputStream {
    type Item = InputItem;
    fn next(&mut self) -> Option<InputItem> {
        loop {
            if let Some((path, lines, n)) = self.jsonl.as_mut() {
                match lines.next() {
                    Some(Ok(line)) => {
                        *n += 1;
                        if line.trim().is_empty() {
                            continue;
                        }
                        if line.len() as u64 > self.max_bytes {
                            let label = format!("{}:{}", path.display(), n);
                            // the record keeps its document's id when the line names one up front
                            let id = leading_id(&line).unwrap_or_else(|| label.clone());
                            return Some(Err((id, FintagError::TooLarge { what: label, size: line.len() as u64, limit: self.max_bytes })));
                        }
                        return Some(parse_jsonl_line(&line, path, *n));
                    }
                    Some(Err(e)) => {
                        *n += 1;
                        let label = format!("{}:{}", path.display(), n);
                        let err =
                            FintagError::Parse { path: path.display().to_string(), line: *n, message: format!("unreadable line: {e}") };
                        if e.kind() != std::io::ErrorKind::InvalidData {
                            self.jsonl = None;
                        }
                        return Some(Err((label, err)));
                    }
                    None => self.jsonl = None,
                }
                continue;
            }
            let p = match self.paths.next()? {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            if p.as_os_str() == "-" && self.stdin_jsonl {
                let reader: Box<dyn BufRead + Send> = Box::new(std::io::BufReader::new(std::io::stdin()));
                self.jsonl = Some((PathBuf::from("-"), reader.lines(), 0));
                continue;
            }
            if p.as_os_str() == "-" {
                let mut bytes = Vec::new();
                return Some(match std::io::stdin().lock().take(self.max_bytes + 1).read_to_end(&mut bytes) {
                    Err(e) => Err(("-".into(), FintagError::io("-", e))),
                    Ok(_) if bytes.len() as u64 > self.max_bytes => {
                        Err(("-".into(), FintagError::TooLarge { what: "-".into(), size: bytes.len() as u64, limit: self.max_bytes }))
                    }
                    Ok(_) => document_from_bytes("-".into(), &bytes, false).map_err(|e| ("-".to_string(), e)),
                });
            }
            if is_jsonl(&p) {
                match std::fs::File::open(&p) {
                    Ok(f) => {
                        let reader: Box<dyn BufRead + Send> = Box::new(std::io::BufReader::new(f));
                        self.jsonl = Some((p, reader.lines(), 0));
                        continue;
                    }
                    Err(e) => return Some(Err((p.display().to_string(), FintagError::io(&p, e)))),
                }
            }
            return Some(read_file(&p, self.max_bytes).map_err(|e| (p.display().to_string(), e)));
        }
    }
}
