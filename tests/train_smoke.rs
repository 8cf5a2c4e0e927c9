//! A short real training run: a few steps on a handful of documents lower the loss, and the
//! written checkpoint reloads to exactly the outputs of the model in memory.

mod common;

use fintag::document::{Document, LabelledDocument};
use fintag::formats::jsonl::read_labelled;
use fintag::model::tagger::{FreshModel, Tagger};
use fintag::pipeline::Pipeline;
use fintag::train::{mean_loss, train_model, Silent, TrainConfig};

/// libtorch's random generator is global to the process: tests that seed it and then draw
/// from it (head initialisation, dropout) would interleave their draws when run in parallel,
/// and a run would no longer repeat itself. Each test holds this lock while it trains.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn torch_rng() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The first `n` training documents shorter than `max_chars` (short documents keep the tests quick).
fn short_train_docs(max_chars: usize, n: usize) -> Vec<LabelledDocument> {
    let all = read_labelled(&common::repo().join("data/train.jsonl")).unwrap().docs;
    all.into_iter().map(|(_, d)| d).filter(|d| d.text.len() < max_chars).take(n).collect()
}

#[test]
fn few_steps_lower_the_loss_and_the_checkpoint_reloads_identically() {
    let _rng = torch_rng();
    let base = common::base_dir();
    let docs = short_train_docs(1200, 6);
    let (train, dev) = docs.split_at(4);
    let cfg = TrainConfig {
        epochs: 1,
        tuned_layers: 1,
        encoder_lr: 2e-4,
        head_lr: 3e-3,
        docs_per_step: 1,
        warmup_fraction: 0.0,
        seed: 5,
        patience: 1,
        document_sees_sentences: true,
        ..TrainConfig::default()
    };
    let before = mean_loss(&Tagger::fresh(&base, &cfg.fresh_model()).unwrap(), train).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smoke");
    let (outcome, trained) = train_model(&base, train, dev, &out, &cfg, &mut Silent).unwrap();
    assert_eq!(outcome.best_epoch, 1);
    for f in ["config.json", "weights.ot", "casing.txt", "umlauts.txt", "metrics.json", "dev_report.json", "training.html"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let reloaded = Tagger::load(&out, &base).unwrap();
    assert!(reloaded.config.document_sees_sentences, "the head's shape option is saved with the model");
    let after = mean_loss(&reloaded, train).unwrap();
    eprintln!("loss before {before:.4}, after 4 steps {after:.4}");
    assert!(after < before, "loss did not go down: {before} -> {after}");
    // identical outputs from the model in memory and the reloaded checkpoint
    let docs: Vec<Document> = dev.iter().map(|d| Document { id: d.id.clone(), text: d.text.clone() }).collect();
    let a: Vec<_> = Pipeline::new(trained).predict_batch(&docs).into_iter().map(|r| r.unwrap()).collect();
    let b: Vec<_> = Pipeline::new(reloaded).predict_batch(&docs).into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(a, b);
    // the spelling tables learnt from the training texts are saved with the model and needed by it
    let texts = || train.iter().map(|d| d.text.as_str());
    let (casing, umlauts) = (fintag::text::Casing::learn(texts()), fintag::text::UmlautForms::learn(texts()));
    assert!(!casing.is_empty() && !umlauts.is_empty());
    let again = Tagger::load(&out, &base).unwrap();
    assert_eq!((again.casing.as_deref(), again.umlauts.as_deref()), (Some(&casing), Some(&umlauts)));
    std::fs::remove_file(out.join("umlauts.txt")).unwrap();
    let err = Tagger::load(&out, &base).err().unwrap().to_string();
    assert!(err.contains("umlauts.txt") && err.contains("restore_umlauts"), "{err}");
    std::fs::remove_file(out.join("casing.txt")).unwrap();
    let err = Tagger::load(&out, &base).err().unwrap().to_string();
    assert!(err.contains("casing.txt") && err.contains("restore_case"), "{err}");
}

#[test]
fn the_weight_average_of_the_last_epochs_is_saved_only_when_it_beats_every_epoch_on_dev() {
    let _rng = torch_rng();
    let base = common::base_dir();
    let docs = short_train_docs(900, 7);
    let (train, dev) = docs.split_at(4);
    let cfg = TrainConfig {
        epochs: 3,
        tuned_layers: 1,
        head_lr: 3e-3,
        docs_per_step: 2,
        seed: 7,
        patience: 3,
        average_last: 2,
        promo_sentence_head: true,
        ..TrainConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("avg");
    let (outcome, last) = train_model(&base, train, dev, &out, &cfg, &mut Silent).unwrap();
    assert_eq!(outcome.epochs.len(), 3);
    let avg = outcome.averaged.clone().expect("the average of epochs 2-3 was evaluated");
    assert_eq!((avg.first_epoch, avg.last_epoch), (2, 3));
    let best_epoch = outcome.epochs.iter().map(|e| e.metrics.dev_score).fold(f64::MIN, f64::max);
    assert_eq!(avg.saved, avg.metrics.dev_score > best_epoch);
    assert_eq!(outcome.best_dev_score, best_epoch.max(avg.metrics.dev_score));
    let metrics = std::fs::read_to_string(out.join("metrics.json")).unwrap();
    assert!(metrics.contains("\"averaged\"") && metrics.contains("\"average_last\": 2"), "{metrics}");
    // the curves page: both charts, one table row per epoch, and what was kept
    let page = std::fs::read_to_string(out.join("training.html")).unwrap();
    assert_eq!(page.matches("<svg").count(), 2);
    assert_eq!(page.matches("<tr").count(), 1 + 3, "a header and three epochs");
    let kept = if avg.saved { "kept: mean of epochs 2-3 (dev score" } else { "; the mean of epochs 2-3 scored" };
    assert!(page.contains(kept), "{kept}");
    // `fintag model training-page` rebuilds the same page from metrics.json
    assert_eq!(fintag::formats::report::training_page(&fintag::train::read_outcome(&out).unwrap()), page);
    // the model handed back is the last epoch's, not the average
    let last_score = fintag::train::dev_score(&fintag::train::evaluate_tagger(&last, dev, &Default::default()).unwrap());
    assert!((last_score - outcome.epochs[2].metrics.dev_score).abs() < 1e-9, "{last_score} vs {}", outcome.epochs[2].metrics.dev_score);
    // the checkpoint on disk scores what the outcome says was kept
    let saved = Tagger::load(&out, &base).unwrap();
    assert!(saved.config.promo_sentence_head, "the sentence PROMO head is saved with the model");
    let saved_score = fintag::train::dev_score(&fintag::train::evaluate_tagger(&saved, dev, &Default::default()).unwrap());
    assert!((saved_score - outcome.best_dev_score).abs() < 1e-3, "{saved_score} vs {}", outcome.best_dev_score);
}

#[test]
fn training_from_a_model_adds_a_sentence_promo_head_or_goes_on_training_the_model() {
    let _rng = torch_rng();
    let base = common::base_dir();
    let docs = short_train_docs(1000, 6);
    let (train, dev) = docs.split_at(4);
    let dir = tempfile::tempdir().unwrap();
    let (source, out) = (dir.path().join("source"), dir.path().join("with-head"));
    let shape = FreshModel { name: "source", tuned_layers: 1, document_sees_sentences: false, promo_sentence_head: false, seed: 2 };
    Tagger::fresh(&base, &shape).unwrap().save(&source).unwrap();
    let cfg = TrainConfig {
        epochs: 1,
        head_lr: 3e-3,
        docs_per_step: 1,
        warmup_fraction: 0.0,
        seed: 3,
        patience: 1,
        promo_sentence_head: true,
        from_model: Some(source.clone()),
        ..TrainConfig::default()
    };
    let before = mean_loss(&Tagger::load_for_promo_sentence_head(&source, &base, 3).unwrap(), train).unwrap();
    train_model(&base, train, dev, &out, &cfg, &mut Silent).unwrap();
    let trained = Tagger::load(&out, &base).unwrap();
    assert!(trained.config.promo_sentence_head);
    let after = mean_loss(&trained, train).unwrap();
    eprintln!("loss before {before:.4}, after 4 head-only steps {after:.4}");
    assert!(after < before, "the head's loss did not go down: {before} -> {after}");
    // every weight of the source model is unchanged; the new head is all that was added
    let old = Tagger::load(&source, &base).unwrap().tuned_vs.variables();
    let mut new_names = Vec::new();
    for (name, w) in trained.tuned_vs.variables() {
        match old.get(&name) {
            Some(o) => assert!(o.equal(&w), "{name} changed"),
            None => new_names.push(name),
        }
    }
    new_names.sort();
    assert_eq!(
        new_names,
        [
            "heads.promo_sentence_out.bias",
            "heads.promo_sentence_out.weight",
            "heads.promo_sentence_proj.bias",
            "heads.promo_sentence_proj.weight"
        ]
    );
    // without the head, training goes on from the model's weights: the model's shape is kept
    // (one tuned layer, though the configuration's default is six), every weight trains, and
    // the loss goes on down from where the model left it
    let cont = dir.path().join("continued");
    let cfg = TrainConfig { promo_sentence_head: false, encoder_lr: 2e-4, ..cfg };
    let start = Tagger::load(&source, &base).unwrap();
    let before = mean_loss(&start, train).unwrap();
    train_model(&base, train, dev, &cont, &cfg, &mut Silent).unwrap();
    let continued = Tagger::load(&cont, &base).unwrap();
    assert_eq!(continued.config.tuned_layers, 1);
    assert!(!continued.config.promo_sentence_head);
    let after = mean_loss(&continued, train).unwrap();
    eprintln!("loss before {before:.4}, after 4 more steps {after:.4}");
    assert!(after < before, "continued training did not lower the loss: {before} -> {after}");
    let start = start.tuned_vs.variables();
    let trained = continued.tuned_vs.variables();
    let names: std::collections::BTreeSet<&String> = trained.keys().collect();
    assert_eq!(names, start.keys().collect(), "the same variables");
    let changed = |heads: bool| names.iter().filter(|n| n.starts_with("heads.") == heads).any(|n| !start[*n].equal(&trained[*n]));
    assert!(changed(true) && changed(false), "the heads and the tuned encoder layer both train");
}

#[test]
fn a_model_on_another_base_is_refused_with_the_reason() {
    let _rng = torch_rng();
    let base = common::base_dir();
    let dir = tempfile::tempdir().unwrap();
    let t = Tagger::fresh(
        &base,
        &FreshModel { name: "x", tuned_layers: 1, document_sees_sentences: false, promo_sentence_head: false, seed: 1 },
    )
    .unwrap();
    t.save(dir.path()).unwrap();
    let cfg_path = dir.path().join("config.json");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let sha = &t.config.base_sha256;
    std::fs::write(&cfg_path, cfg.replace(sha.as_str(), &"0".repeat(64))).unwrap();
    let err = Tagger::load(dir.path(), &base).err().unwrap().to_string();
    assert!(err.contains("was trained on base model") && err.contains("make setup"), "{err}");
    // corrupt weights
    std::fs::write(&cfg_path, cfg).unwrap();
    std::fs::write(dir.path().join("weights.ot"), b"not a tensor archive").unwrap();
    let err = Tagger::load(dir.path(), &base).err().unwrap().to_string();
    assert!(err.contains("weights.ot"), "{err}");
    // missing config
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let err = Tagger::load(dir.path(), &base).err().unwrap().to_string();
    assert!(err.contains("not a fintag model directory"), "{err}");
}

/// A dev document the model cannot take would fail every epoch's dev pass (or, skipped,
/// count as all-missed and steer early stopping): training refuses it before the first step.
#[test]
fn an_untaggable_dev_document_stops_training_before_it_starts() {
    let base = common::base_dir();
    let docs = short_train_docs(1200, 3);
    let mut blank = docs[2].clone();
    blank.id = "blank-dev".into();
    blank.text = " \n ".into();
    let cfg = TrainConfig { epochs: 1, tuned_layers: 1, ..TrainConfig::default() };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let err = match train_model(&base, &docs[..2], &[docs[2].clone(), blank], &out, &cfg, &mut Silent) {
        Ok(_) => panic!("training went ahead with an empty dev document"),
        Err(e) => e.to_string(),
    };
    assert_eq!(err, "cannot train with dev document blank-dev: empty document");
    assert!(!out.join("weights.ot").exists(), "nothing was trained or saved");
}
