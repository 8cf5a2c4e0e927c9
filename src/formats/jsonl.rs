//! JSON Lines: labelled documents (section 2), input documents (`id` + `text`) and
//! predictions (section 3). One bad line is a problem for that line, never the whole file.

use super::{Problem, ReadResult};
use crate::document::{LabelledDocument, Prediction};
use crate::error::{FintagError, Result};
use std::io::Write;
use std::path::Path;

/// Longest JSONL line read; longer lines are reported and skipped.
pub const MAX_LINE_BYTES: usize = 32 << 20;

/// Reads labelled documents from JSONL text.
pub fn parse_labelled(content: &str, path: &str) -> ReadResult {
    let mut out = ReadResult::default();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            out.problems.push(Problem {
                path: path.into(),
                line: i + 1,
                message: format!("line of {} bytes is over the limit", line.len()),
            });
            continue;
        }
        match serde_json::from_str::<LabelledDocument>(line) {
            Ok(d) => out.docs.push((i + 1, d)),
            Err(e) => out.problems.push(Problem { path: path.into(), line: i + 1, message: format!("not a labelled document: {e}") }),
        }
    }
    out
}

pub fn read_labelled(path: &Path) -> Result<ReadResult> {
    super::foreign::import_file(super::foreign::ImportFormat::Jsonl, path, &Default::default()).map(|(_, r)| r)
}

pub fn write_labelled<W: Write>(mut w: W, docs: &[LabelledDocument]) -> Result<()> {
    for d in docs {
        serde_json::to_writer(&mut w, d)?;
        w.write_all(b"\n").map_err(|e| FintagError::io("<output>", e))?;
    }
    Ok(())
}

/// Reads predictions (section 3); error records (`{"id", "error"}`) are returned as problems.
pub fn read_predictions(path: &Path) -> Result<(Vec<Prediction>, Vec<Problem>)> {
    let (content, mut problems) = super::read_utf8_lines(path)?;
    let mut preds = Vec::new();
    // id -> line of its first prediction; a second one is a problem, not a silent replacement
    let mut first_line: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let problem = |message: String| Problem { path: path.display().to_string(), line: i + 1, message };
        match serde_json::from_str::<Prediction>(line) {
            Ok(p) => match first_line.get(&p.id) {
                Some(first) => {
                    problems.push(problem(format!("id {:?} was predicted on line {first} already; this line is left out", p.id)))
                }
                None => {
                    first_line.insert(p.id.clone(), i + 1);
                    preds.push(p)
                }
            },
            Err(e) => {
                let v: Option<serde_json::Value> = serde_json::from_str(line).ok();
                match v.as_ref().and_then(|v| v.get("error")).and_then(|e| e.as_str()) {
                    Some(err) => problems.push(problem(format!("error record: {err}"))),
                    None => problems.push(problem(format!("not a prediction: {e}"))),
                }
            }
        }
    }
    problems.sort_by_key(|p| p.line);
    Ok((preds, problems))
}
