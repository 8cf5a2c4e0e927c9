//! Readers and writers of every file format fintag speaks. Knows no model.
//!
//! - `jsonl`: the labelled format (ANNOTATION.md section 2) and predictions (section 3)
//! - `ann`: the hand-writable markup (section 4)
//! - `foreign`: Doccano, Label Studio, Prodigy, CoNLL-2003 and GermEval-2014 import/export
//! - `check`: validation of labelled documents with `file:line: message` reports

pub mod ann;
pub mod check;
pub mod foreign;
pub mod input;
pub mod jsonl;
pub mod report;

/// A problem found while reading or checking a file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

/// Documents read from a file, the line each started on, and the problems met on the way
/// (reading goes on after a bad line).
#[derive(Debug, Default)]
pub struct ReadResult {
    pub docs: Vec<(usize, crate::document::LabelledDocument)>,
    pub problems: Vec<Problem>,
}

/// The text of a line-based file. A line that is not UTF-8 is a problem of its own and
/// reads as an empty line, so every other line keeps its number and is still read.
pub fn read_utf8_lines(path: &std::path::Path) -> crate::error::Result<(String, Vec<Problem>)> {
    let bytes = std::fs::read(path).map_err(|e| crate::error::FintagError::io(path, e))?;
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return Ok((text, Vec::new())),
        Err(e) => e.into_bytes(),
    };
    let mut text = String::with_capacity(bytes.len());
    let mut problems = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            text.push('\n');
        }
        match std::str::from_utf8(line) {
            Ok(l) => text.push_str(l),
            Err(e) => problems.push(Problem {
                path: path.display().to_string(),
                line: i + 1,
                message: format!("not UTF-8 text (byte {} of the line); the line is left out", e.valid_up_to() + 1),
            }),
        }
    }
    Ok((text, problems))
}
