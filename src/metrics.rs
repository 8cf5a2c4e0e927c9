//! Evaluation: compares predictions with gold documents. Runs no model.
//!
//! Entities follow seqeval's exact-match convention (a span counts when start, end and label
//! all match) plus a partial-overlap variant; PROMO is scored by characters and by span
//! overlap; sentiment by accuracy, macro-F1 and confusion matrices; clickbait by ROC-AUC,
//! PR-AUC and F1; scores by expected calibration error.

use crate::document::{LabelledDocument, Prediction};
use crate::labels::{EntityLabel, Sentiment, SpanLabel};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub tp: f64,
    pub predicted: f64,
    pub gold: f64,
}

impl Prf {
    pub fn from_counts(tp: f64, predicted: f64, gold: f64) -> Self {
        prf_split(tp, predicted, tp, gold)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EntityMetrics {
    pub per_label: BTreeMap<String, Prf>,
    pub micro: Prf,
    pub macro_f1: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClassMetrics {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class: BTreeMap<String, Prf>,
    /// confusion[gold][predicted], in labels::Sentiment order
    pub confusion: Vec<Vec<usize>>,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClickbaitMetrics {
    /// None (null in JSON) when the gold documents are all promotional or all not: the AUC
    /// is undefined then, and `one_class` says so
    pub roc_auc: Option<f64>,
    pub one_class: bool,
    pub pr_auc: f64,
    pub threshold: f64,
    pub at_threshold: Prf,
    pub best_threshold: f64,
    pub best_f1: f64,
    pub ece: f64,
    /// (false positive rate, true positive rate) points
    pub roc: Vec<(f64, f64)>,
    /// (recall, precision) points
    pub pr: Vec<(f64, f64)>,
}

/// One wrong or missed item, with context for the report.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorCase {
    pub doc: String,
    pub kind: String,
    pub start: usize,
    pub end: usize,
    pub gold: String,
    pub predicted: String,
    pub context: String,
    pub score: f32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub documents: usize,
    pub missing_predictions: Vec<String>,
    /// Predicted spans whose offsets do not fit the gold text (empty, reversed or past its
    /// end): left out of the scores.
    pub unfit_predicted_spans: usize,
    /// Predicted sentences that do not fit the gold text, the same way: left out.
    pub unfit_predicted_sentences: usize,
    pub entities_exact: EntityMetrics,
    pub entities_partial: EntityMetrics,
    pub promo_char: Prf,
    pub promo_span_overlap: Prf,
    pub sentence_sentiment: ClassMetrics,
    pub document_sentiment: ClassMetrics,
    pub clickbait: ClickbaitMetrics,
    pub span_score_ece: f64,
    pub errors: Vec<ErrorCase>,
}

/// Precision from matched predictions, recall from matched gold items (they differ when one
/// prediction may overlap several gold spans or none).
fn prf_split(tp_pred: f64, predicted: f64, tp_gold: f64, gold: f64) -> Prf {
    let precision = if predicted > 0.0 { tp_pred / predicted } else { 0.0 };
    let recall = if gold > 0.0 { tp_gold / gold } else { 0.0 };
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    Prf { precision, recall, f1, tp: tp_gold, predicted, gold }
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn context(text: &[char], s: usize, e: usize) -> String {
    let s = s.min(text.len());
    let e = e.clamp(s, text.len());
    let a = s.saturating_sub(40);
    let b = (e + 40).min(text.len());
    let mut out: String = text[a..s.min(text.len())].iter().collect();
    out.push('⟦');
    out.extend(text[s.min(text.len())..e.min(text.len())].iter());
    out.push('⟧');
    out.extend(text[e.min(text.len())..b].iter());
    out.replace('\n', " ⏎ ")
}

/// Expected calibration error over (score, correct) pairs, 10 equal-width bins.
pub fn ece(pairs: &[(f64, bool)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let mut bins = vec![(0.0f64, 0.0f64, 0usize); 10];
    for &(s, c) in pairs {
        let b = ((s * 10.0) as usize).min(9);
        bins[b].0 += s;
        bins[b].1 += f64::from(u8::from(c));
        bins[b].2 += 1;
    }
    bins.iter().filter(|b| b.2 > 0).map(|b| (b.0 / b.2 as f64 - b.1 / b.2 as f64).abs() * b.2 as f64).sum::<f64>() / pairs.len() as f64
}

/// ROC-AUC by the rank statistic (ties count half).
pub fn roc_auc(scores: &[(f64, bool)]) -> f64 {
    let pos: Vec<f64> = scores.iter().filter(|s| s.1).map(|s| s.0).collect();
    let neg: Vec<f64> = scores.iter().filter(|s| !s.1).map(|s| s.0).collect();
    if pos.is_empty() || neg.is_empty() {
        return 0.0;
    }
    let mut sum = 0.0;
    for p in &pos {
        for n in &neg {
            sum += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    sum / (pos.len() * neg.len()) as f64
}

fn curves(scores: &[(f64, bool)]) -> (Vec<(f64, f64)>, Vec<(f64, f64)>, f64) {
    let mut s = scores.to_vec();
    s.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let p = s.iter().filter(|x| x.1).count() as f64;
    let n = s.len() as f64 - p;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut roc = vec![(0.0, 0.0)];
    let mut pr = vec![(0.0, 1.0)];
    let mut ap = 0.0;
    let mut i = 0;
    while i < s.len() {
        let mut j = i;
        while j < s.len() && s[j].0 == s[i].0 {
            if s[j].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            j += 1;
        }
        let recall = if p > 0.0 { tp / p } else { 0.0 };
        let precision = tp / (tp + fp);
        ap += (recall - pr.last().map(|x| x.0).unwrap_or(0.0)) * precision;
        roc.push((if n > 0.0 { fp / n } else { 0.0 }, recall));
        pr.push((recall, precision));
        i = j;
    }
    (roc, pr, ap)
}

fn class_metrics(pairs: &[(Sentiment, Sentiment)]) -> ClassMetrics {
    let mut confusion = vec![vec![0usize; 3]; 3];
    for (g, p) in pairs {
        confusion[g.index()][p.index()] += 1;
    }
    let mut per_class = BTreeMap::new();
    let mut f1s = Vec::new();
    for s in Sentiment::ALL {
        let i = s.index();
        let tp = confusion[i][i] as f64;
        let predicted = (0..3).map(|g| confusion[g][i]).sum::<usize>() as f64;
        let gold = confusion[i].iter().sum::<usize>() as f64;
        let prf = Prf::from_counts(tp, predicted, gold);
        if gold > 0.0 || predicted > 0.0 {
            f1s.push(prf.f1);
        }
        per_class.insert(s.as_str().to_string(), prf);
    }
    let correct = (0..3).map(|i| confusion[i][i]).sum::<usize>() as f64;
    ClassMetrics {
        accuracy: if pairs.is_empty() { 0.0 } else { correct / pairs.len() as f64 },
        macro_f1: if f1s.is_empty() { 0.0 } else { f1s.iter().sum::<f64>() / f1s.len() as f64 },
        per_class,
        confusion,
        labels: Sentiment::ALL.iter().map(|s| s.as_str().to_string()).collect(),
    }
}

/// Scores `preds` against `gold` (matched by id). `threshold` applies to clickbait.
pub fn evaluate(gold: &[LabelledDocument], preds: &[Prediction], threshold: f64) -> Report {
    let by_id: BTreeMap<&str, &Prediction> = preds.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut r = Report { documents: gold.len(), ..Default::default() };
    let mut exact: BTreeMap<EntityLabel, (f64, f64, f64)> = BTreeMap::new();
    let mut partial: BTreeMap<EntityLabel, (f64, f64, f64)> = BTreeMap::new();
    // gold spans overlapped by a prediction of their label (recall side of partial matching)
    let mut partial_gold_hits: BTreeMap<EntityLabel, f64> = BTreeMap::new();
    let (mut pc_tp, mut pc_pred, mut pc_gold) = (0.0, 0.0, 0.0);
    let (mut ps_tp_p, mut ps_pred, mut ps_tp_g, mut ps_gold) = (0.0, 0.0, 0.0, 0.0);
    let mut sent_pairs = Vec::new();
    let mut doc_pairs = Vec::new();
    let mut click = Vec::new();
    let mut span_cal = Vec::new();
    for g in gold {
        // A document without a prediction has missed all its gold spans; its sentences,
        // sentiment and clickbait cannot be scored and are left out.
        let found = by_id.get(g.id.as_str()).copied();
        if found.is_none() {
            r.missing_predictions.push(g.id.clone());
        }
        let all = found.map(|p| p.spans.as_slice()).unwrap_or_default();
        let text_len = g.text.chars().count();
        let spans: Vec<_> = all.iter().filter(|s| s.start < s.end && s.end <= text_len).cloned().collect();
        r.unfit_predicted_spans += all.len() - spans.len();
        let text: Vec<char> = g.text.chars().collect();
        let gold_ents: Vec<(usize, usize, EntityLabel)> = g
            .spans
            .iter()
            .filter_map(|s| match s.label {
                SpanLabel::Entity(l) => Some((s.start, s.end, l)),
                _ => None,
            })
            .collect();
        let pred_ents: Vec<(usize, usize, EntityLabel, f32)> = spans
            .iter()
            .filter_map(|s| match s.label {
                SpanLabel::Entity(l) => Some((s.start, s.end, l, s.score)),
                _ => None,
            })
            .collect();
        for &(s, e, l, score) in &pred_ents {
            let hit = gold_ents.iter().any(|&(gs, ge, gl)| gs == s && ge == e && gl == l);
            let part = gold_ents.iter().any(|&(gs, ge, gl)| gl == l && overlaps((s, e), (gs, ge)));
            exact.entry(l).or_default().1 += 1.0;
            partial.entry(l).or_default().1 += 1.0;
            if hit {
                exact.entry(l).or_default().0 += 1.0;
            }
            if part {
                partial.entry(l).or_default().0 += 1.0;
            }
            span_cal.push((score as f64, hit));
            if !hit {
                let gl = gold_ents.iter().find(|&&(gs, ge, _)| overlaps((s, e), (gs, ge)));
                r.errors.push(ErrorCase {
                    doc: g.id.clone(),
                    kind: if gl.is_some() { "entity: wrong boundary or label".into() } else { "entity: false positive".into() },
                    start: s,
                    end: e,
                    gold: gl
                        .map(|x| format!("{} {:?}", x.2.as_str(), text[x.0..x.1].iter().collect::<String>()))
                        .unwrap_or_else(|| "—".into()),
                    predicted: format!("{} {:?}", l.as_str(), text[s.min(text.len())..e.min(text.len())].iter().collect::<String>()),
                    context: context(&text, s, e),
                    score,
                });
            }
        }
        for &(gs, ge, gl) in &gold_ents {
            exact.entry(gl).or_default().2 += 1.0;
            partial.entry(gl).or_default().2 += 1.0;
            if pred_ents.iter().any(|&(s, e, l, _)| l == gl && overlaps((s, e), (gs, ge))) {
                *partial_gold_hits.entry(gl).or_default() += 1.0;
            }
            if !pred_ents.iter().any(|&(s, e, _, _)| overlaps((s, e), (gs, ge))) {
                r.errors.push(ErrorCase {
                    doc: g.id.clone(),
                    kind: "entity: missed".into(),
                    start: gs,
                    end: ge,
                    gold: format!("{} {:?}", gl.as_str(), text[gs..ge].iter().collect::<String>()),
                    predicted: "—".into(),
                    context: context(&text, gs, ge),
                    score: 0.0,
                });
            }
        }
        // PROMO by characters and by span overlap.
        let n = text.len();
        let mut gmask = vec![false; n];
        let mut pmask = vec![false; n];
        let gold_promo: Vec<(usize, usize)> = g.spans.iter().filter(|s| s.label.is_promo()).map(|s| (s.start, s.end.min(n))).collect();
        let pred_promo: Vec<(usize, usize, f32)> =
            spans.iter().filter(|s| s.label.is_promo()).map(|s| (s.start.min(n), s.end.min(n), s.score)).collect();
        for &(s, e) in &gold_promo {
            gmask[s..e].iter_mut().for_each(|x| *x = true);
        }
        for &(s, e, _) in &pred_promo {
            pmask[s..e].iter_mut().for_each(|x| *x = true);
        }
        for i in 0..n {
            if text[i].is_whitespace() {
                continue;
            }
            pc_tp += f64::from(u8::from(gmask[i] && pmask[i]));
            pc_gold += f64::from(u8::from(gmask[i]));
            pc_pred += f64::from(u8::from(pmask[i]));
        }
        for &(s, e, score) in &pred_promo {
            ps_pred += 1.0;
            let hit = gold_promo.iter().any(|&g2| overlaps((s, e), g2));
            ps_tp_p += f64::from(u8::from(hit));
            if !hit {
                r.errors.push(ErrorCase {
                    doc: g.id.clone(),
                    kind: "PROMO: false positive".into(),
                    start: s,
                    end: e,
                    gold: "—".into(),
                    predicted: "PROMO".into(),
                    context: context(&text, s, e),
                    score,
                });
            }
        }
        for &(s, e) in &gold_promo {
            ps_gold += 1.0;
            let hit = pred_promo.iter().any(|&(ps, pe, _)| overlaps((s, e), (ps, pe)));
            ps_tp_g += f64::from(u8::from(hit));
            if !hit {
                r.errors.push(ErrorCase {
                    doc: g.id.clone(),
                    kind: "PROMO: missed".into(),
                    start: s,
                    end: e,
                    gold: "PROMO".into(),
                    predicted: "—".into(),
                    context: context(&text, s, e),
                    score: 0.0,
                });
            }
        }
        let Some(p) = found else { continue };
        let fitting: Vec<_> = p.sentences.iter().filter(|s| s.start < s.end && s.end <= n).collect();
        r.unfit_predicted_sentences += p.sentences.len() - fitting.len();
        // Sentences: each gold sentence against the predicted sentence overlapping it most.
        for gs in &g.sentences {
            let best = fitting.iter().max_by_key(|ps| ps.end.min(gs.end).saturating_sub(ps.start.max(gs.start)));
            if let Some(ps) = best.filter(|ps| overlaps((ps.start, ps.end), (gs.start, gs.end))) {
                sent_pairs.push((gs.sentiment, ps.sentiment));
                if gs.sentiment != ps.sentiment {
                    r.errors.push(ErrorCase {
                        doc: g.id.clone(),
                        kind: "sentence sentiment".into(),
                        start: gs.start,
                        end: gs.end,
                        gold: gs.sentiment.to_string(),
                        predicted: ps.sentiment.to_string(),
                        context: text[gs.start..gs.end.min(n)].iter().collect(),
                        score: ps.score,
                    });
                }
            } else {
                sent_pairs.push((gs.sentiment, Sentiment::Neutral));
            }
        }
        doc_pairs.push((g.sentiment, p.sentiment));
        if g.sentiment != p.sentiment {
            r.errors.push(ErrorCase {
                doc: g.id.clone(),
                kind: "document sentiment".into(),
                start: 0,
                end: 0,
                gold: g.sentiment.to_string(),
                predicted: p.sentiment.to_string(),
                context: text.iter().take(120).collect::<String>().replace('\n', " ⏎ "),
                score: p.sentiment_scores.get(p.sentiment),
            });
        }
        click.push((p.clickbait as f64, g.has_promo()));
    }
    // `hits`: gold-side matches when they differ from the prediction side (partial overlap).
    let finish = |m: &BTreeMap<EntityLabel, (f64, f64, f64)>, hits: Option<&BTreeMap<EntityLabel, f64>>| {
        let mut em = EntityMetrics::default();
        let (mut t, mut pr, mut go, mut gh) = (0.0, 0.0, 0.0, 0.0);
        let mut f1s = Vec::new();
        for l in EntityLabel::ALL {
            let (a, b, c) = m.get(&l).copied().unwrap_or_default();
            let h = hits.map(|x| x.get(&l).copied().unwrap_or(0.0)).unwrap_or(a);
            gh += h;
            let prf = prf_split(a, b, h, c);
            if c > 0.0 || b > 0.0 {
                f1s.push(prf.f1);
            }
            em.per_label.insert(l.as_str().to_string(), prf);
            t += a;
            pr += b;
            go += c;
        }
        em.micro = prf_split(t, pr, gh, go);
        em.macro_f1 = if f1s.is_empty() { 0.0 } else { f1s.iter().sum::<f64>() / f1s.len() as f64 };
        em
    };
    r.entities_exact = finish(&exact, None);
    r.entities_partial = finish(&partial, Some(&partial_gold_hits));
    r.promo_char = Prf::from_counts(pc_tp, pc_pred, pc_gold);
    let p_prec = if ps_pred > 0.0 { ps_tp_p / ps_pred } else { 0.0 };
    let p_rec = if ps_gold > 0.0 { ps_tp_g / ps_gold } else { 0.0 };
    r.promo_span_overlap = Prf {
        precision: p_prec,
        recall: p_rec,
        f1: if p_prec + p_rec > 0.0 { 2.0 * p_prec * p_rec / (p_prec + p_rec) } else { 0.0 },
        tp: ps_tp_g,
        predicted: ps_pred,
        gold: ps_gold,
    };
    r.sentence_sentiment = class_metrics(&sent_pairs);
    r.document_sentiment = class_metrics(&doc_pairs);
    let (roc, pr, ap) = curves(&click);
    let f1_at = |th: f64| {
        let tp = click.iter().filter(|c| c.0 >= th && c.1).count() as f64;
        let pred = click.iter().filter(|c| c.0 >= th).count() as f64;
        let gold = click.iter().filter(|c| c.1).count() as f64;
        Prf::from_counts(tp, pred, gold)
    };
    let mut best = (threshold, f1_at(threshold).f1);
    for &(s, _) in &click {
        let f = f1_at(s).f1;
        if f > best.1 {
            best = (s, f);
        }
    }
    let one_class = click.iter().all(|c| c.1) || click.iter().all(|c| !c.1);
    r.clickbait = ClickbaitMetrics {
        roc_auc: Some(roc_auc(&click)).filter(|_| !one_class),
        one_class,
        pr_auc: ap,
        threshold,
        at_threshold: f1_at(threshold),
        best_threshold: best.0,
        best_f1: best.1,
        ece: ece(&click),
        roc,
        pr,
    };
    r.span_score_ece = ece(&span_cal);
    r.errors.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn auc_and_ece_on_known_values() {
        assert_eq!(roc_auc(&[(0.9, true), (0.1, false)]), 1.0);
        assert_eq!(roc_auc(&[(0.1, true), (0.9, false)]), 0.0);
        assert_eq!(roc_auc(&[(0.5, true), (0.5, false)]), 0.5);
        assert!((ece(&[(0.95, true), (0.05, false)]) - 0.05).abs() < 1e-9);
        let p = Prf::from_counts(1.0, 2.0, 4.0);
        assert!((p.f1 - 2.0 * 0.5 * 0.25 / 0.75).abs() < 1e-12);
    }
}
