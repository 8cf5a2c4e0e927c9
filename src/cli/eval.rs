//! `fintag eval`: metrics of the model (or of --pred predictions) on labelled data.

use super::{load_pipeline, ModelArgs, PromoThresholds};
use clap::Args;
use fintag::document::LabelledDocument;
use fintag::formats::foreign::{import_file, ImportFormat};
use fintag::formats::input::InputItem;
use fintag::formats::jsonl::read_predictions;
use fintag::formats::report::{html_report, text_table};
use fintag::metrics::evaluate;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Gold data: labelled JSONL, .ann, or any --gold-format
    #[arg(required = true)]
    pub gold: Vec<PathBuf>,
    /// Format of the gold files (default: by extension, .ann or JSONL)
    #[arg(long)]
    pub gold_format: Option<ImportFormat>,
    /// Score these predictions (ANNOTATION.md section 3 JSONL) instead of running the model
    #[arg(long)]
    pub pred: Option<PathBuf>,
    /// Write the full report as JSON
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write an HTML report with heatmaps, curves and the worst errors
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Clickbait decision threshold
    #[arg(long, default_value_t = 0.5, value_parser = probability)]
    pub threshold: f64,
    /// Write the model's predictions here (JSONL)
    #[arg(long)]
    pub save_pred: Option<PathBuf>,
    /// Ablation: entity spans straight from the tokens, no widening to words or edge trimming
    #[arg(long)]
    pub no_entity_snap: bool,
    /// Ablation: PROMO from raw token runs, without per-sentence whole/clause decisions
    #[arg(long)]
    pub no_promo_sentences: bool,
    /// Ablation: keep same-label entity spans separated by a space or hyphen apart
    #[arg(long)]
    pub no_entity_merge: bool,
    /// Ablation: entity tags by constrained BIO Viterbi (true) or token by token (false)
    /// instead of the model's setting
    #[arg(long)]
    pub entity_viterbi: Option<bool>,
    /// Ablation: keep MONEY/PERCENT spans that name no currency or percent unit
    #[arg(long)]
    pub no_unit_check: bool,
    /// Ablation: keep leading lower-case words ("neuen Core Ultra") and trailing bare numbers
    /// ("Porsche 5") in names, and leave a surname initial's dot out ("Marco S")
    #[arg(long)]
    pub no_name_trim: bool,
    /// Ablation: keep PRODUCT spans that start after an opening quote as tagged instead of
    /// widening them to the closing quote
    #[arg(long)]
    pub no_quoted_titles: bool,
    /// Ablation: keep entity spans inside web and e-mail addresses, let PROMO clause edges cut them
    #[arg(long)]
    pub no_whole_addresses: bool,
    /// Ablation: leave a sign written before an amount out of its MONEY/PERCENT span
    #[arg(long)]
    pub no_sign_join: bool,
    /// Ablation: keep a weekday and the date after it ("Mittwoch, 6. Mai") as two DATE spans
    #[arg(long)]
    pub no_weekday_join: bool,
    /// Ablation: keep the pieces of a WKN with a colon after its prefix ("WKN" + "716460") as the model tagged them
    #[arg(long)]
    pub no_whole_wkn: bool,
    /// Ablation: let the model read the tokens of web and e-mail addresses
    #[arg(long)]
    pub show_addresses: bool,
    /// Ablation: let the model read lines written in capitals as they are
    #[arg(long)]
    pub no_shouting_fold: bool,
    /// Ablation: let the model read soft hyphens and other invisible characters
    #[arg(long)]
    pub read_invisible: bool,
    /// Ablation: let the model read Markdown emphasis markers ("**", "__")
    #[arg(long)]
    pub read_emphasis: bool,
    /// Ablation: let the model read the quote marks of mail replies ("> " at a line's start)
    #[arg(long)]
    pub read_quote_marks: bool,
    /// Ablation: read every line break of hard-wrapped text as the end of a line
    #[arg(long)]
    pub no_unwrap: bool,
    /// Ablation: let the model read lines in small letters as they are (no capitals from casing.txt)
    #[arg(long)]
    pub keep_small_letters: bool,
    /// Ablation: let the model read words written without umlauts as they are ("Boerse", no umlauts.txt)
    #[arg(long)]
    pub keep_ascii_umlauts: bool,
    /// Ablation: read HTML character references ("&amp;", "f&uuml;r") as written
    #[arg(long)]
    pub keep_references: bool,
    /// Ablation: entity tags by plain argmax instead of label mass (with --entity-viterbi false)
    #[arg(long)]
    pub entity_argmax: bool,
    #[command(flatten)]
    pub thresholds: PromoThresholds,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// A probability: from 0 to 1.
fn probability(s: &str) -> Result<f64, String> {
    super::number_where(s, |x| (0.0..=1.0).contains(&x), "a probability is a number from 0 to 1")
}

/// Labelled documents for scoring, tuning or training. A line that cannot be read, a
/// document with offsets that do not fit its text (or overlapping spans of one layer), or an
/// id seen twice stops the command: scores over what is left would look like scores of the
/// whole. Untidy edges (whitespace, punctuation) are for `fintag data check` to report.
pub fn read_gold(paths: &[PathBuf], format: Option<ImportFormat>) -> anyhow::Result<Vec<LabelledDocument>> {
    let mut located = Vec::new();
    let mut bad = 0usize;
    for p in paths {
        let fmt = format.unwrap_or_else(|| if p.extension().is_some_and(|e| e == "ann") { ImportFormat::Ann } else { ImportFormat::Jsonl });
        let (_, r) = import_file(fmt, p, &HashMap::new())?;
        for pr in &r.problems {
            eprintln!("{pr}");
        }
        bad += r.problems.len();
        located.extend(r.docs.into_iter().map(|(line, d)| (p.display().to_string(), line, d)));
    }
    for pr in fintag::formats::check::unusable_documents(&located) {
        eprintln!("{pr}");
        bad += 1;
    }
    let docs: Vec<LabelledDocument> = located.into_iter().map(|(_, _, d)| d).collect();
    let names = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    anyhow::ensure!(bad == 0, "{names}: {} (listed above); `fintag data check` shows them all", super::counted(bad, "problem"));
    anyhow::ensure!(!docs.is_empty(), "{names}: no labelled documents");
    Ok(docs)
}

pub fn run(a: EvalArgs) -> anyhow::Result<i32> {
    let inputs: Vec<PathBuf> = a.gold.iter().chain(&a.pred).cloned().collect();
    for out in [&a.save_pred, &a.json, &a.html].into_iter().flatten() {
        super::check_out_apart(out, &inputs)?;
    }
    anyhow::ensure!(
        !(a.pred.is_some() && a.save_pred.is_some()),
        "--save-pred writes the model's predictions; with --pred there are none to write"
    );
    let gold = read_gold(&a.gold, a.gold_format)?;
    let mut unreadable = 0usize;
    let preds = match &a.pred {
        Some(p) => {
            let (preds, problems) = read_predictions(p)?;
            for pr in &problems {
                eprintln!("{pr}");
            }
            unreadable = problems.len();
            preds
        }
        None => {
            let mut pipeline = load_pipeline(&a.model)?;
            pipeline.decode.snap_entities = !a.no_entity_snap;
            pipeline.decode.promo_by_sentence = !a.no_promo_sentences;
            pipeline.decode.entity_label_mass = !a.entity_argmax;
            pipeline.decode.merge_adjacent_entities = !a.no_entity_merge;
            pipeline.decode.require_units = !a.no_unit_check;
            pipeline.decode.trim_name_edges = !a.no_name_trim;
            pipeline.decode.whole_quoted_titles = !a.no_quoted_titles;
            pipeline.decode.whole_addresses = !a.no_whole_addresses;
            pipeline.decode.join_signs = !a.no_sign_join;
            pipeline.decode.join_weekday_dates = !a.no_weekday_join;
            pipeline.decode.whole_wkns = !a.no_whole_wkn;
            let input = &mut pipeline.tagger.config;
            input.hide_addresses &= !a.show_addresses;
            input.fold_shouting &= !a.no_shouting_fold;
            input.drop_invisible &= !a.read_invisible;
            input.drop_emphasis &= !a.read_emphasis;
            input.drop_quote_marks &= !a.read_quote_marks;
            input.join_wrapped_lines &= !a.no_unwrap;
            input.restore_case &= !a.keep_small_letters;
            input.restore_umlauts &= !a.keep_ascii_umlauts;
            input.read_references &= !a.keep_references;
            if let Some(v) = a.entity_viterbi {
                pipeline.decode.entity_viterbi = v;
            }
            a.thresholds.apply(&mut pipeline.decode);
            let bar = ProgressBar::new(gold.len() as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {wide_bar} {pos}/{len} docs  {per_sec}  ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            // Batches of 16 go to model replicas with one libtorch thread each, as in
            // `classify`: one process using both cores through OpenMP slowed to a tenth of
            // its speed when other work shared the cores (measured: 9 s idle, 105 s beside
            // two busy processes; replicas: 9 s and 17 s).
            let docs: Vec<InputItem> = gold.iter().map(|d| Ok(d.unlabelled())).collect();
            let batches = fintag::pipeline::in_batches(docs.into_iter(), 16);
            let (workers, per_worker) = super::worker_split(super::cores(), None);
            let mut preds = Vec::new();
            pipeline.predict_stream(workers, per_worker, batches, |outcomes| -> anyhow::Result<()> {
                bar.inc(outcomes.len() as u64);
                for o in outcomes {
                    match o.result {
                        Ok(p) => preds.push(p),
                        Err(e) => bar.println(super::document_error_line(&o.id, &e.to_string())),
                    }
                }
                Ok(())
            })?;
            bar.finish_and_clear();
            if let Some(path) = &a.save_pred {
                let mut out = String::new();
                for p in &preds {
                    out.push_str(&serde_json::to_string(p)?);
                    out.push('\n');
                }
                super::write_output(path, out)?;
            }
            preds
        }
    };
    let report = evaluate(&gold, &preds, a.threshold);
    say_raw!("{}", text_table(&report));
    let missing = &report.missing_predictions;
    if !missing.is_empty() {
        let some: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
        eprintln!(
            "fintag: {} of {} gold documents have no prediction ({}{}); the scores above count their spans as missed",
            missing.len(),
            gold.len(),
            some.join(", "),
            if missing.len() > some.len() { ", …" } else { "" }
        );
    }
    if let Some(p) = &a.json {
        super::write_output(p, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    if let Some(p) = &a.html {
        let title = a.gold.iter().map(|g| g.display().to_string()).collect::<Vec<_>>().join(", ");
        super::write_output(p, html_report(&title, &report, 200))?;
        eprintln!("report written to {}", p.display());
    }
    // scores over a part of the gold documents are not the scores of the whole: like a
    // failed document in `classify`, that is exit code 2
    if report.unfit_predicted_spans > 0 {
        eprintln!(
            "fintag: {} predicted spans do not fit their document's text (empty, reversed or past its end) and were left out",
            report.unfit_predicted_spans
        );
    }
    if report.unfit_predicted_sentences > 0 {
        eprintln!(
            "fintag: {} predicted sentences do not fit their document's text (empty, reversed or past its end) and were left out",
            report.unfit_predicted_sentences
        );
    }
    let unfit = report.unfit_predicted_spans + report.unfit_predicted_sentences;
    Ok(if missing.is_empty() && unreadable == 0 && unfit == 0 { 0 } else { 2 })
}
