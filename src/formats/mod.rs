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
