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
    #[error("{what}: too large ({size} bytes, limit {limit}); split it or raise --max-bytes")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("{path}:{line}: {message}")]
    Parse { path: String, line: usize, message: String },
    #[error("base model: {0}. Run `make setup` (scripts/setup.sh) to fetch and convert it")]
    BaseModel(String),
    #[error("model directory {dir}: {message}")]
    Model { dir: PathBuf, message: String },
    #[error("E5S1 file: {0}")]
    E5s1(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("torch: {0}")]
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
        let msg = e.to_string();
        let what = msg.strip_prefix(id).and_then(|m| m.strip_prefix(": ")).unwrap_or(&msg);
        FintagError::Invalid(format!("{context} {id}: {what}"))
    }
}
