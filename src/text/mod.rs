//! Stage 1: raw bytes to text, code-point offsets, sentences.

pub mod addresses;
pub mod decode;
pub mod offsets;
pub mod references;
pub mod sentences;
pub mod spelling;
pub mod wraps;

pub use addresses::{address_words, blank_words, char_runs, lines};
pub use decode::{decode_bytes, html_to_text, DecodedText, SourceEncoding};
pub use offsets::CharIndex;
pub use references::read_references;
pub use sentences::{is_emoji, quote_marks, split_sentences, SentenceBounds};
pub use spelling::{Casing, UmlautForms};
pub use wraps::{soft_line_breaks, unwrapped};
