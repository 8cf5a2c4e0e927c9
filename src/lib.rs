//! fintag: entity, promotion and sentiment tagging of German financial text.
//!
//! Pipeline stages, one module each: [`text`] (bytes, offsets, sentences) → [`encode`]
//! (tokens, windows) → [`model`] (encoder + heads). Beside them: [`document`] (the types
//! that flow between stages) and [`labels`].

pub mod decode;
pub mod document;
pub mod encode;
pub mod error;
pub mod formats;
pub mod labels;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod text;
pub mod train;

pub use error::{FintagError, Result};
