//! The one error type of the library. Messages say what went wrong and what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FintagError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: not a text file (binary content, NUL bytes)")]
    Binary(String),
    #[error("{0}: empty document")]
    Empty(String),
    #[error("{what}: too large (at least {size} bytes, limit {limit}); split it or raise --max-bytes")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("{path}:{line}: {message}")]
    Parse { path: String, line: usize, message: String },
    #[error("base model: {0}. Run `make setup` (scripts/setup.sh) to fetch and convert it, or point --base (or FINTAG_BASE) at the directory it is in")]
    BaseModel(String),
    #[error("model directory {dir}: {message}")]
    Model { dir: PathBuf, message: String },
    #[error("E5S1 file: {0}")]
    E5s1(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// libtorch's own message, without the C++ stack trace it appends
    #[error("torch: {}", first_line(&.0.to_string()))]
    Torch(#[from] tch::TchError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, FintagError>;

impl FintagError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FintagError::Io { path: path.into(), source }
    }

    /// `e` as an error of document `id` in a whole-corpus step, naming the document once:
    /// "{context} {id}: {what went wrong}".
    pub fn in_document(context: &str, id: &str, e: FintagError) -> Self {
        FintagError::Invalid(format!("{context} {}", naming_document(id, &e.to_string())))
    }
}

/// The first line of a message (libtorch appends its C++ stack trace to its errors).
pub fn first_line(msg: &str) -> &str {
    msg.lines().next().unwrap_or_default()
}

/// `msg` about document `id`, naming it once: "{id}: {msg}", or `msg` itself when it
/// already begins with the id (messages about a file or a JSONL line name their path).
pub fn naming_document(id: &str, msg: &str) -> String {
    let names_it = msg.strip_prefix(id).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ']));
    if names_it && !id.is_empty() {
        msg.to_string()
    } else {
        format!("{id}: {msg}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_named_once() {
        assert_eq!(naming_document("a.txt", "a.txt: not UTF-8"), "a.txt: not UTF-8");
        assert_eq!(naming_document("a.txt", "a.txt is empty"), "a.txt is empty");
        assert_eq!(naming_document("a.txt", "empty text"), "a.txt: empty text");
        // an id that only begins the message's first word is not named by it
        assert_eq!(naming_document("h1", "h1-045: empty text"), "h1: h1-045: empty text");
        let e = FintagError::in_document("cannot tune on document", "d:3", FintagError::Invalid("d:3: no text".into()));
        assert_eq!(e.to_string(), "cannot tune on document d:3: no text");
    }
}
