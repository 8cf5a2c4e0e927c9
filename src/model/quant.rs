//! Int8 dynamic quantisation of the encoder's linear layers: weights int8 per output channel,
//! activations quantised per batch on the fly, results in float32. libtorch has the kernels
//! (the oneDNN engine here) but its C API, and so tch, does not expose them; two tiny
//! TorchScript functions do (qlinear.pt, written by scripts/make_qlinear.py and embedded in
//! the binary), called through tch's CModule.
//!
//! Processes that quantise should set `ONEDNN_PRIMITIVE_CACHE_CAPACITY=0` before their first
//! tensor operation (the fintag binary does): otherwise oneDNN keeps a kernel per batch shape.
//!
//! Measured on data/test.jsonl with the shipped model (2 cores): 1.24× the documents/s of
//! float32, but entity micro-F1 −5.1 points, PROMO character F1 −1.1, sentence macro-F1 −1.5.
//! Per-tensor 8-bit activations lose the outliers of the feed-forward blocks. Keeping those
//! in float32 recovers the accuracy (entity F1 +0.2 instead of −4.1, on the previous model)
//! but also gives back the whole speed-up, since the feed-forward blocks are two thirds of
//! the products. So int8 is an option (`--precision int8`), not the default.

use crate::error::{FintagError, Result};
use std::sync::Arc;
use tch::{jit::IValue, CModule, Tensor};

static QLINEAR_PT: &[u8] = include_bytes!("qlinear.pt");

/// The loaded TorchScript helper.
#[derive(Clone)]
pub struct QEngine {
    module: Arc<CModule>,
}

impl QEngine {
    pub fn load() -> Result<Self> {
        let module = CModule::load_data(&mut std::io::Cursor::new(QLINEAR_PT))
            .map_err(|e| FintagError::Invalid(format!("int8 kernels unavailable in this libtorch: {e}")))?;
        Ok(QEngine { module: Arc::new(module) })
    }

    /// Packs a float weight [out, in] and bias [out] for the int8 product.
    pub fn pack(&self, w: &Tensor, b: &Tensor) -> Result<PackedLinear> {
        let packed = self
            .module
            .method_is("pack", &[IValue::Tensor(w.shallow_clone()), IValue::Tensor(b.shallow_clone())])
            .map_err(|e| FintagError::Invalid(format!("cannot pack an int8 weight: {e}")))?;
        match packed {
            IValue::Object(_) => Ok(PackedLinear { packed: Arc::new(Packed(packed)), module: self.module.clone() }),
            _ => Err(FintagError::Invalid("int8 packing returned no packed weight".into())),
        }
    }
}

/// libtorch's packed int8 weight (a TorchScript object).
struct Packed(IValue);
// Safety: the packed weight is never changed after packing; libtorch counts references to
// it atomically, and its int8 product only reads it, so threads may share it.
unsafe impl Send for Packed {}
unsafe impl Sync for Packed {}

/// One int8 linear layer; clones share the packed weight.
#[derive(Clone)]
pub struct PackedLinear {
    packed: Arc<Packed>,
    module: Arc<CModule>,
}

impl PackedLinear {
    /// x [..., in] → [..., out] in float32.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (x, reduce_range) = (IValue::Tensor(x.shallow_clone()), IValue::Bool(false));
        // Inputs are borrowed: the packed object is handed over by reference count.
        match self.module.method_is::<&IValue>("linear", &[&x, &self.packed.0, &reduce_range]) {
            Ok(IValue::Tensor(t)) => Ok(t),
            Ok(_) => Err(FintagError::Invalid("the int8 product returned no tensor".into())),
            Err(e) => Err(FintagError::Invalid(format!("int8 product failed: {e}"))),
        }
    }
}
