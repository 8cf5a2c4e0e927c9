//! The evaluation report as a self-contained HTML page: metric tables, confusion-matrix
//! heatmaps, ROC and PR curves as inline SVG (plotters), and the worst errors in context.

use crate::metrics::{ClassMetrics, EntityMetrics, Report};
use plotters::prelude::*;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A line chart of (x, y) points in the unit square as SVG (ROC and PR curves), with the
/// diagonal in grey when asked.
pub fn curve_svg(title: &str, xlabel: &str, ylabel: &str, points: &[(f64, f64)], diagonal: bool) -> String {
    let mut series = vec![Line { name: "", colour: RGBColor(200, 40, 40), points }];
    if diagonal {
        series.insert(0, Line { name: "", colour: RGBColor(180, 180, 180), points: &[(0.0, 0.0), (1.0, 1.0)] });
    }
    chart_svg((360, 320), title, (xlabel, ylabel), (0.0..1.0, 0.0..1.02), &series)
}

/// One line of a chart; lines with a name get a legend entry.
struct Line<'a> {
    name: &'a str,
    colour: RGBColor,
    points: &'a [(f64, f64)],
}

/// Several named lines in one chart as SVG, with a legend; `x` and `y` are the axis ranges.
pub fn series_svg(
    title: &str,
    labels: (&str, &str),
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    series: &[(&str, Vec<(f64, f64)>)],
) -> String {
    const COLOURS: [RGBColor; 6] = [
        RGBColor(200, 40, 40),
        RGBColor(40, 90, 200),
        RGBColor(30, 150, 60),
        RGBColor(200, 130, 0),
        RGBColor(130, 60, 170),
        RGBColor(90, 90, 90),
    ];
    let lines: Vec<Line> =
        series.iter().enumerate().map(|(i, (name, points))| Line { name, colour: COLOURS[i % COLOURS.len()], points }).collect();
    chart_svg((560, 360), title, labels, (x, y), &lines)
}

fn chart_svg(
    size: (u32, u32),
    title: &str,
    (xlabel, ylabel): (&str, &str),
    (x, y): (std::ops::Range<f64>, std::ops::Range<f64>),
    lines: &[Line],
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let _ = root.fill(&WHITE);
        let chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(x, y);
        if let Ok(mut chart) = chart {
            let _ = chart.configure_mesh().x_desc(xlabel).y_desc(ylabel).draw();
            for line in lines {
                let colour = line.colour;
                let Ok(drawn) = chart.draw_series(LineSeries::new(line.points.iter().copied(), colour.stroke_width(2))) else { continue };
                if !line.name.is_empty() {
                    drawn.label(line.name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
                }
            }
            if lines.iter().any(|l| !l.name.is_empty()) {
                let _ = chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::LowerRight)
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw();
            }
        }
        let _ = root.present();
    }
    svg
}

/// The training curves of a run (metrics.json) as a self-contained HTML page: the five dev
/// metrics and their mean per epoch, and the training loss.
pub fn training_page(o: &crate::train::TrainOutcome) -> String {
    let n = o.epochs.len().max(1) as f64;
    let curve = |f: &dyn Fn(&crate::train::EpochSummary) -> f64| o.epochs.iter().map(|e| (e.epoch as f64, f(e))).collect::<Vec<_>>();
    let dev = series_svg(
        "dev metrics per epoch",
        ("epoch", "score"),
        1.0..n.max(2.0),
        0.0..1.02,
        &[
            ("dev score (mean)", curve(&|e| e.metrics.dev_score)),
            ("entity F1", curve(&|e| e.metrics.entity_f1)),
            ("PROMO char F1", curve(&|e| e.metrics.promo_char_f1)),
            ("sentence F1", curve(&|e| e.metrics.sentence_macro_f1)),
            ("document F1", curve(&|e| e.metrics.document_macro_f1)),
            ("clickbait AUC", curve(&|e| e.metrics.clickbait_auc)),
        ],
    );
    let losses = curve(&|e| e.train_loss);
    let top = losses.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-6) * 1.05;
    let loss = series_svg("training loss per epoch", ("epoch", "loss"), 1.0..n.max(2.0), 0.0..top, &[("mean training loss", losses)]);
    let mut rows = String::new();
    for e in &o.epochs {
        let m = &e.metrics;
        rows.push_str(&format!(
            "<tr{}><td>{}</td><td>{:.4}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.4}</td><td>{:.0}</td></tr>",
            if e.epoch == o.best_epoch { " class=\"sum\"" } else { "" },
            e.epoch, e.train_loss, m.entity_f1, m.promo_char_f1, m.sentence_macro_f1, m.document_macro_f1, m.clickbait_auc, m.dev_score, e.seconds
        ));
    }
    let tried = match &o.averaged {
        Some(a) if !a.saved => format!("; the mean of epochs {}-{} scored {:.4}", a.first_epoch, a.last_epoch, a.metrics.dev_score),
        _ => String::new(),
    };
    let kept = format!("{} (dev score {:.4}{tried})", o.kept(), o.best_dev_score);
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>fintag training: {name}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:75rem;margin:2rem auto;color:#222}}table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ddd;padding:.2rem .5rem;text-align:right}}.sum td{{font-weight:bold}}.grid{{display:flex;flex-wrap:wrap;gap:1.5rem}}</style></head><body>
<h1>fintag training: {name}</h1><p>{train} training and {dev} dev documents · {secs:.0} s ({cache:.0} s caching the frozen layers) · kept: {kept}</p>
<div class="grid">{dev_svg}{loss_svg}</div>
<table><tr><th>epoch</th><th>loss</th><th>entity F1</th><th>PROMO char F1</th><th>sentence F1</th><th>document F1</th><th>clickbait AUC</th><th>dev score</th><th>s</th></tr>{rows}</table>
</body></html>
"#,
        name = esc(&o.config.name),
        train = o.train_docs,
        dev = o.dev_docs,
        secs = o.seconds,
        cache = o.cache_seconds,
        kept = kept,
        dev_svg = dev,
        loss_svg = loss,
        rows = rows,
    )
}

/// A confusion matrix heatmap as SVG (rows gold, columns predicted).
pub fn heatmap_svg(title: &str, labels: &[String], m: &[Vec<usize>]) -> String {
    let n = labels.len();
    let cell = 70i32;
    let (left, top) = (90i32, 50i32);
    let w = (left + cell * n as i32 + 20) as u32;
    let h = (top + cell * n as i32 + 40) as u32;
    let max = m.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let _ = root.draw(&Text::new(title.to_string(), (10, 10), ("sans-serif", 16)));
        for (i, row) in m.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let x = left + j as i32 * cell;
                let y = top + i as i32 * cell;
                let t = v as f64 / max;
                let shade = (255.0 - 200.0 * t) as u8;
                let _ = root.draw(&Rectangle::new([(x, y), (x + cell - 2, y + cell - 2)], RGBColor(shade, shade, 255).filled()));
                let color = if t > 0.6 { WHITE } else { BLACK };
                let _ = root.draw(&Text::new(
                    v.to_string(),
                    (x + cell / 2 - 8, y + cell / 2 - 8),
                    ("sans-serif", 15).into_font().color(&color),
                ));
            }
            let _ = root.draw(&Text::new(labels[i].clone(), (5, top + i as i32 * cell + cell / 2 - 8), ("sans-serif", 13)));
        }
        for (j, l) in labels.iter().enumerate() {
            let _ = root.draw(&Text::new(l.clone(), (left + j as i32 * cell + 4, top - 18), ("sans-serif", 13)));
        }
        let _ = root.draw(&Text::new("rows: gold · columns: predicted".to_string(), (10, h as i32 - 22), ("sans-serif", 12)));
        let _ = root.present();
    }
    svg
}

fn prf_rows(m: &EntityMetrics) -> String {
    let mut s = String::new();
    for (l, p) in &m.per_label {
        s.push_str(&format!(
            "<tr><td>{l}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            p.precision, p.recall, p.f1, p.gold
        ));
    }
    s.push_str(&format!(
        "<tr class=\"sum\"><td>micro</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
        m.micro.precision, m.micro.recall, m.micro.f1, m.micro.gold
    ));
    s.push_str(&format!("<tr class=\"sum\"><td>macro</td><td></td><td></td><td>{:.3}</td><td></td></tr>", m.macro_f1));
    s
}

fn class_table(c: &ClassMetrics) -> String {
    let mut s = format!(
        "<p>accuracy {:.3} · macro-F1 {:.3}</p><table><tr><th>class</th><th>P</th><th>R</th><th>F1</th><th>gold</th></tr>",
        c.accuracy, c.macro_f1
    );
    for (l, p) in &c.per_class {
        s.push_str(&format!(
            "<tr><td>{l}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            p.precision, p.recall, p.f1, p.gold
        ));
    }
    s + "</table>"
}

/// The whole report page; `title` names what was evaluated.
pub fn html_report(title: &str, r: &Report, max_errors: usize) -> String {
    let mut errors = String::new();
    for e in r.errors.iter().take(max_errors) {
        errors.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td class=\"ctx\">{}</td></tr>",
            esc(&e.doc),
            esc(&e.kind),
            esc(&e.gold),
            esc(&e.predicted),
            e.score,
            esc(&e.context).replace('⟦', "<mark>").replace('⟧', "</mark>")
        ));
    }
    let c = &r.clickbait;
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>fintag eval: {t}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:75rem;margin:2rem auto;color:#222}}table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ddd;padding:.2rem .5rem;text-align:right}}td:first-child{{text-align:left}}.sum td{{font-weight:bold}}.grid{{display:flex;flex-wrap:wrap;gap:1.5rem}}.ctx{{text-align:left;max-width:40rem;font-family:monospace;font-size:.85em}}mark{{background:#ffd6d6}}</style></head><body>
<h1>fintag evaluation</h1><p>{t} · {n} documents{missing}</p>
<h2>Summary</h2><table><tr><th>metric</th><th>value</th></tr>
<tr><td>entity micro-F1 (exact)</td><td>{ef:.3}</td></tr><tr><td>entity micro-F1 (partial overlap)</td><td>{epf:.3}</td></tr>
<tr><td>PROMO character F1</td><td>{pc:.3}</td></tr><tr><td>PROMO span-overlap F1</td><td>{ps:.3}</td></tr>
<tr><td>sentence sentiment macro-F1</td><td>{ss:.3}</td></tr><tr><td>document sentiment macro-F1</td><td>{ds:.3}</td></tr>
<tr><td>clickbait ROC-AUC</td><td>{auc}</td></tr><tr><td>clickbait PR-AUC</td><td>{prauc:.3}</td></tr>
<tr><td>clickbait F1 at {th:.2}</td><td>{f1th:.3}</td></tr><tr><td>best threshold (F1)</td><td>{bt:.3} ({bf:.3})</td></tr>
<tr><td>calibration error: spans / clickbait</td><td>{sece:.3} / {cece:.3}</td></tr></table>
<h2>Entities</h2><div class="grid"><div><h3>exact</h3><table><tr><th>label</th><th>P</th><th>R</th><th>F1</th><th>gold</th></tr>{ex}</table></div>
<div><h3>partial overlap</h3><table><tr><th>label</th><th>P</th><th>R</th><th>F1</th><th>gold</th></tr>{pa}</table></div></div>
<h2>Sentiment</h2><div class="grid"><div><h3>sentences</h3>{sct}{shm}</div><div><h3>documents</h3>{dct}{dhm}</div></div>
<h2>Clickbait</h2><div class="grid">{roc}{pr}</div>
<h2>Worst errors</h2><p>Most confident mistakes first (at most {maxe}).</p><table><tr><th>doc</th><th>kind</th><th>gold</th><th>predicted</th><th>score</th><th>context</th></tr>{errors}</table>
</body></html>
"#,
        t = esc(title),
        n = r.documents,
        missing = if r.missing_predictions.is_empty() {
            String::new()
        } else {
            format!(" · {} without prediction", r.missing_predictions.len())
        },
        ef = r.entities_exact.micro.f1,
        epf = r.entities_partial.micro.f1,
        pc = r.promo_char.f1,
        ps = r.promo_span_overlap.f1,
        ss = r.sentence_sentiment.macro_f1,
        ds = r.document_sentiment.macro_f1,
        auc = auc_text(c),
        prauc = c.pr_auc,
        th = c.threshold,
        f1th = c.at_threshold.f1,
        bt = c.best_threshold,
        bf = c.best_f1,
        sece = r.span_score_ece,
        cece = c.ece,
        ex = prf_rows(&r.entities_exact),
        pa = prf_rows(&r.entities_partial),
        sct = class_table(&r.sentence_sentiment),
        shm = heatmap_svg("sentence sentiment", &r.sentence_sentiment.labels, &r.sentence_sentiment.confusion),
        dct = class_table(&r.document_sentiment),
        dhm = heatmap_svg("document sentiment", &r.document_sentiment.labels, &r.document_sentiment.confusion),
        roc = curve_svg(&format!("ROC (AUC {})", auc_text(c)), "false positive rate", "true positive rate", &c.roc, true),
        pr = curve_svg(&format!("precision-recall (AP {:.3})", c.pr_auc), "recall", "precision", &c.pr, false),
        maxe = max_errors,
        errors = errors,
    )
}

/// The ROC-AUC, or why there is none.
fn auc_text(c: &crate::metrics::ClickbaitMetrics) -> String {
    match c.roc_auc {
        Some(auc) => format!("{auc:.3}"),
        None => "n/a (gold has one class only)".to_string(),
    }
}

/// The terminal table of a report.
pub fn text_table(r: &Report) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "documents: {}{}\n\n",
        r.documents,
        if r.missing_predictions.is_empty() {
            String::new()
        } else {
            format!(
                " ({} without prediction: their spans count as missed, their sentiment and clickbait are not scored)",
                r.missing_predictions.len()
            )
        }
    ));
    s.push_str("entities           exact: P      R      F1     | partial: P      R      F1     gold\n");
    for (l, p) in &r.entities_exact.per_label {
        let q = r.entities_partial.per_label.get(l).copied().unwrap_or_default();
        s.push_str(&format!(
            "  {:<12}            {:.3}  {:.3}  {:.3}  |          {:.3}  {:.3}  {:.3}  {:>5}\n",
            l, p.precision, p.recall, p.f1, q.precision, q.recall, q.f1, p.gold
        ));
    }
    let (m, q) = (r.entities_exact.micro, r.entities_partial.micro);
    s.push_str(&format!(
        "  {:<12}            {:.3}  {:.3}  {:.3}  |          {:.3}  {:.3}  {:.3}  {:>5}\n",
        "micro", m.precision, m.recall, m.f1, q.precision, q.recall, q.f1, m.gold
    ));
    s.push_str(&format!(
        "  {:<12}                          {:.3}  |                        {:.3}\n\n",
        "macro", r.entities_exact.macro_f1, r.entities_partial.macro_f1
    ));
    s.push_str(&format!(
        "PROMO              character F1 {:.3} (P {:.3} R {:.3}) · span-overlap F1 {:.3}\n",
        r.promo_char.f1, r.promo_char.precision, r.promo_char.recall, r.promo_span_overlap.f1
    ));
    for (name, c) in [("sentence sentiment", &r.sentence_sentiment), ("document sentiment", &r.document_sentiment)] {
        s.push_str(&format!(
            "{name:<18} accuracy {:.3} · macro-F1 {:.3} · confusion (rows gold pos/neg/neu): {:?}\n",
            c.accuracy, c.macro_f1, c.confusion
        ));
    }
    let c = &r.clickbait;
    s.push_str(&format!(
        "clickbait          ROC-AUC {} · PR-AUC {:.3} · F1@{:.2} {:.3} · best threshold {:.3} (F1 {:.3}) · ECE {:.3}\n",
        auc_text(c),
        c.pr_auc,
        c.threshold,
        c.at_threshold.f1,
        c.best_threshold,
        c.best_f1,
        c.ece
    ));
    s.push_str(&format!("span scores        ECE {:.3}\n", r.span_score_ece));
    s
}
