//! fintag: entity, promotion and sentiment tagging of German financial text.
//!
//! Pipeline stages, one module each: [`text`] (bytes, offsets, sentences) → [`encode`]
//! (tokens, windows) → [`model`] (encoder + heads). Beside them: [`document`] (the types
//! that flow between stages) and [`labels`].

pub mod document;
pub mod encode;
pub mod error;
pub mod labels;
pub mod model;
pub mod text;

pub use error::{FintagError, Result};
