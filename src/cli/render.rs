//! Human-facing renderings of predictions: coloured terminal text and an HTML page.

use fintag::document::{Prediction, ScoredSpan};
use fintag::labels::{EntityLabel, SpanLabel};

/// ANSI colour per label.
fn ansi(label: SpanLabel) -> &'static str {
    match label {
        SpanLabel::Entity(EntityLabel::Org) => "\x1b[1;34m",
        SpanLabel::Entity(EntityLabel::Per) => "\x1b[1;35m",
        SpanLabel::Entity(EntityLabel::Loc) => "\x1b[1;32m",
        SpanLabel::Entity(EntityLabel::Product) => "\x1b[1;36m",
        SpanLabel::Entity(EntityLabel::Instrument) => "\x1b[1;33m",
        SpanLabel::Entity(EntityLabel::Money) => "\x1b[1;92m",
        SpanLabel::Entity(EntityLabel::Percent) => "\x1b[1;96m",
        SpanLabel::Entity(EntityLabel::Date) => "\x1b[1;94m",
        SpanLabel::Promo => "\x1b[4;31m",
    }
}

/// CSS colour per label.
pub fn css(label: SpanLabel) -> &'static str {
    match label {
        SpanLabel::Entity(EntityLabel::Org) => "#cfe2ff",
        SpanLabel::Entity(EntityLabel::Per) => "#f3d1f4",
        SpanLabel::Entity(EntityLabel::Loc) => "#d1f2d6",
        SpanLabel::Entity(EntityLabel::Product) => "#cff4f4",
        SpanLabel::Entity(EntityLabel::Instrument) => "#fff0b3",
        SpanLabel::Entity(EntityLabel::Money) => "#e2f7c4",
        SpanLabel::Entity(EntityLabel::Percent) => "#d5ecff",
        SpanLabel::Entity(EntityLabel::Date) => "#e4dcff",
        SpanLabel::Promo => "#ffd6d6",
    }
}

/// Text with entity spans coloured and tagged, PROMO underlined in red.
pub fn pretty(text: &str, p: &Prediction, color: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut opens: Vec<Vec<&ScoredSpan>> = vec![Vec::new(); chars.len() + 1];
    let mut closes: Vec<Vec<&ScoredSpan>> = vec![Vec::new(); chars.len() + 1];
    for s in &p.spans {
        if s.end <= chars.len() && s.start < s.end {
            opens[s.start].push(s);
            closes[s.end].push(s);
        }
    }
    // At one position: entity closes before PROMO closes, PROMO opens before entity opens.
    for c in closes.iter_mut() {
        c.sort_by_key(|s| s.label.is_promo());
    }
    for o in opens.iter_mut() {
        o.sort_by_key(|s| !s.label.is_promo());
    }
    let reset = if color { "\x1b[0m" } else { "" };
    let mut out = String::new();
    let mut promo_open = false;
    for i in 0..=chars.len() {
        for s in &closes[i] {
            if s.label.is_promo() {
                promo_open = false;
                out.push_str(reset);
                out.push_str(if color { "" } else { "}}" });
            } else {
                out.push_str(reset);
                out.push_str(&format!("|{}]", s.label));
                if promo_open && color {
                    out.push_str(ansi(SpanLabel::Promo));
                }
            }
        }
        for s in &opens[i] {
            if s.label.is_promo() {
                promo_open = true;
                out.push_str(if color { ansi(s.label) } else { "{{" });
            } else {
                out.push('[');
                if color {
                    out.push_str(ansi(s.label));
                }
            }
        }
        if i < chars.len() {
            out.push(chars[i]);
        }
    }
    out.push_str(reset);
    out
}

/// A terminal report: the marked-up text, then sentences and scores.
pub fn pretty_report(text: &str, p: &Prediction, color: bool) -> String {
    // control characters of the input (an ESC would drive the terminal) show as U+FFFD,
    // one character for one, so the offsets still fit
    let shown =
        |t: &str| -> String { t.chars().map(|c| if c.is_control() && !matches!(c, '\n' | '\t') { '\u{FFFD}' } else { c }).collect() };
    let text = &shown(text);
    let chars: Vec<char> = text.chars().collect();
    let bold = |s: &str| {
        if color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = format!("{}\n", bold(&format!("== {}", shown(&p.id))));
    out.push_str(&format!(
        "document: {} (positive {:.2}, negative {:.2}, neutral {:.2})   clickbait {:.2}{}\n\n",
        p.sentiment,
        p.sentiment_scores.positive,
        p.sentiment_scores.negative,
        p.sentiment_scores.neutral,
        p.clickbait,
        if p.clickbait >= 0.5 { "  ⚠ promotional content" } else { "" }
    ));
    out.push_str(&pretty(text, p, color));
    out.push_str("\n\n");
    out.push_str(&bold("sentences"));
    out.push('\n');
    for s in &p.sentences {
        let mark = match s.sentiment {
            fintag::labels::Sentiment::Positive => "+",
            fintag::labels::Sentiment::Negative => "-",
            fintag::labels::Sentiment::Neutral => "0",
        };
        let t: String = chars[s.start.min(chars.len())..s.end.min(chars.len())].iter().collect();
        let t = t.replace('\n', " ");
        let short: String = if t.chars().count() > 100 { t.chars().take(97).collect::<String>() + "..." } else { t };
        out.push_str(&format!("  {mark} {:.2}  {short}\n", s.score));
    }
    out
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One self-contained HTML page for many documents.
pub fn html_page(docs: &[(String, Prediction)], errors: &[(String, String)]) -> String {
    let mut body = String::new();
    for (text, p) in docs {
        let chars: Vec<char> = text.chars().collect();
        let mut events: Vec<(usize, u8, String)> = Vec::new(); // (pos, order, html)
        for s in &p.spans {
            if s.start >= s.end || s.end > chars.len() {
                continue;
            }
            let (open, close) = if s.label.is_promo() {
                (format!("<span class=\"promo\" title=\"PROMO {:.2}\">", s.score), "</span>".to_string())
            } else {
                (
                    format!("<mark style=\"background:{}\" title=\"{} {:.2}\">", css(s.label), s.label, s.score),
                    format!("<sup>{}</sup></mark>", s.label),
                )
            };
            events.push((s.start, if s.label.is_promo() { 1 } else { 2 }, open));
            events.push((s.end, if s.label.is_promo() { 0 } else { 0 }, close));
        }
        events.sort_by_key(|e| (e.0, e.1));
        let mut html = String::new();
        let mut ei = 0;
        for (i, c) in chars.iter().enumerate() {
            while ei < events.len() && events[ei].0 == i {
                html.push_str(&events[ei].2);
                ei += 1;
            }
            match c {
                '\n' => html.push_str("<br>"),
                _ => html.push_str(&escape(&c.to_string())),
            }
        }
        while ei < events.len() {
            html.push_str(&events[ei].2);
            ei += 1;
        }
        let mut sents = String::new();
        for s in &p.sentences {
            let t: String = chars[s.start.min(chars.len())..s.end.min(chars.len())].iter().collect();
            sents.push_str(&format!(
                "<tr><td class=\"{}\">{}</td><td>{:.2}</td><td>{}</td></tr>",
                s.sentiment,
                s.sentiment,
                s.score,
                escape(&t)
            ));
        }
        body.push_str(&format!(
            "<section><h2>{}</h2><p class=\"scores\">document sentiment <b class=\"{}\">{}</b> (pos {:.2} · neg {:.2} · neu {:.2}) · clickbait <b>{:.2}</b></p><div class=\"text\">{}</div><details><summary>sentences</summary><table>{}</table></details></section>",
            escape(&p.id), p.sentiment, p.sentiment, p.sentiment_scores.positive, p.sentiment_scores.negative, p.sentiment_scores.neutral, p.clickbait, html, sents
        ));
    }
    for (id, e) in errors {
        body.push_str(&format!("<section class=\"error\"><h2>{}</h2><p>{}</p></section>", escape(id), escape(e)));
    }
    let mut legend = String::new();
    for l in SpanLabel::all() {
        if l.is_promo() {
            legend.push_str("<span class=\"promo\">PROMO</span> ");
        } else {
            legend.push_str(&format!("<mark style=\"background:{}\">{}</mark> ", css(l), l));
        }
    }
    format!(
        "<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>fintag</title><style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.6;color:#222}}mark{{border-radius:3px;padding:0 2px}}sup{{font-size:.6em;color:#555;margin-left:2px}}.promo{{text-decoration:underline wavy #d00;background:#fff0f0}}.text{{border:1px solid #ddd;padding:1rem;border-radius:6px}}.positive{{color:#080}}.negative{{color:#b00}}.neutral{{color:#666}}.legend{{position:sticky;top:0;background:#fff;padding:.5rem 0;border-bottom:1px solid #eee}}.error{{color:#b00}}td{{vertical-align:top;padding:0 .5rem}}</style></head><body><h1>fintag</h1><div class=\"legend\">{legend}</div>{body}</body></html>\n"
    )
}
