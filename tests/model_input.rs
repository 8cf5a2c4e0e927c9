//! What the shipped model reads of a text (the input rules of its config.json): no web or
//! e-mail addresses, so a plain article with a link line stays a plain article; lines in
//! capitals in sentence case; no invisible characters or Markdown emphasis; hard-wrapped
//! paragraphs as one line; lines in small letters with the capitals of the training texts;
//! no quote marks of mail replies; words written without umlauts with them; HTML character
//! references as their characters.
//! Offsets always point into the text as given.

mod common;

use fintag::document::{Document, Prediction};
use fintag::pipeline::Pipeline;

fn pipeline() -> Pipeline {
    Pipeline::load(&common::repo().join("models/fintag-de"), &common::base_dir()).unwrap()
}

#[test]
fn address_tokens_are_left_out_of_the_model_input() {
    let p = pipeline();
    let text = "Der Bericht steht unter https://www.haveloh.com/berichte/bericht-2025.pdf bereit. Kontakt: presse@haveloh.com";
    let chars: Vec<char> = text.chars().collect();
    let addresses = fintag::text::address_words(&chars);
    assert_eq!(addresses.len(), 2);
    let inside = |s: usize, e: usize| addresses.iter().any(|&(a, b)| a <= s && e <= b);
    let all = p.tagger.tokenizer.encode(text).unwrap().tokens;
    let prepared = p.tagger.prepare(text, fintag::text::split_sentences(text)).unwrap();
    let kept = &prepared.encoding.tokens;
    assert!(kept.iter().all(|t| !inside(t.start, t.end)), "a token of an address reached the model");
    // every other token is there, with its offsets
    let outside: Vec<_> = all.iter().filter(|t| !inside(t.start, t.end)).copied().collect();
    assert_eq!(kept, &outside);
    assert!(kept.len() < all.len());
    // a text that is only an address is read as it is (the model needs something to read)
    let only = "www.haveloh.com/investor-relations";
    let prepared = p.tagger.prepare(only, fintag::text::split_sentences(only)).unwrap();
    assert_eq!(prepared.encoding.tokens, p.tagger.tokenizer.encode(only).unwrap().tokens);
}

/// The test set's documents without PROMO, each with a download line that carries a link.
fn plain_articles_with_a_link() -> Vec<Document> {
    let raw = std::fs::read_to_string(common::repo().join("data/test.jsonl")).unwrap();
    raw.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|d| d["clickbait"] == false)
        .map(|d| Document {
            id: d["id"].as_str().unwrap().to_string(),
            text: format!(
                "{}\n\nDer vollständige Bericht steht unter https://www.{}.de/berichte/q3-2026.pdf zum Download bereit.",
                d["text"].as_str().unwrap().trim_end(),
                d["id"].as_str().unwrap().replace('-', "")
            ),
        })
        .collect()
}

#[test]
fn a_link_line_does_not_make_a_plain_article_clickbait() {
    let docs = plain_articles_with_a_link();
    assert!(docs.len() >= 20, "{} plain test documents", docs.len());
    let flagged = |p: &Pipeline| {
        let preds: Vec<_> = docs.iter().map(|d| p.predict(d).unwrap()).collect();
        for (d, pred) in docs.iter().zip(&preds) {
            // the address stays in the text the spans point into, and no entity is cut from it
            assert!(pred.spans.iter().all(|s| s.end <= d.text.chars().count()));
        }
        preds.iter().filter(|pred| pred.clickbait > 0.5).count()
    };
    let mut p = pipeline();
    let hidden = flagged(&p);
    p.tagger.config.hide_addresses = false;
    let shown = flagged(&p);
    // measured: 2 of 28 with the addresses hidden, 15 of 28 when the model reads them
    assert!(hidden * 4 <= shown && hidden * 7 <= docs.len(), "{hidden} flagged with addresses hidden, {shown} with them read");
}

/// The prediction's spans and sentences with their offsets moved by `back`, and its scores.
fn moved(p: &fintag::document::Prediction, back: impl Fn(usize) -> usize) -> Vec<(usize, usize, String, u32)> {
    let mut out: Vec<_> = p.spans.iter().map(|s| (back(s.start), back(s.end), format!("{:?}", s.label), s.score.to_bits())).collect();
    out.extend(p.sentences.iter().map(|s| (back(s.start), back(s.end), format!("{:?}", s.sentiment), s.score.to_bits())));
    out.push((0, 0, "clickbait".into(), p.clickbait.to_bits()));
    out
}

/// `text` written otherwise, code point by code point: `write` gives what goes before a code
/// point and what stands for it. Also, for each code point of `text` (and its end), where
/// what stands for it begins in the new text.
fn rewritten(text: &str, mut write: impl FnMut(char) -> (&'static str, String)) -> (String, Vec<usize>) {
    let (mut out, mut map) = (String::new(), Vec::new());
    for c in text.chars() {
        let (before, own) = write(c);
        out.push_str(before);
        map.push(out.chars().count());
        out.push_str(&own);
    }
    map.push(out.chars().count());
    (out, map)
}

/// `text` with each code point `table` names written as it says, and the offset map of
/// [`rewritten`].
fn replaced(text: &str, table: &[(char, &'static str)]) -> (String, Vec<usize>) {
    rewritten(text, |c| ("", table.iter().find(|(k, _)| *k == c).map_or_else(|| c.to_string(), |(_, v)| v.to_string())))
}

/// The predictions for `original` and for `other`, the same text written otherwise (`map`
/// takes each code point of `original`, and its end, to its place in `other`), checked to be
/// the same spans, sentences and scores, each at its place.
fn predicted_alike(p: &Pipeline, original: &str, other: &str, map: &[usize]) -> (Prediction, Prediction) {
    let a = p.predict(&Document { id: "original".into(), text: original.into() }).unwrap();
    let b = p.predict(&Document { id: "other".into(), text: other.into() }).unwrap();
    assert_eq!(moved(&b, |i| i), moved(&a, |i| map[i]));
    (a, b)
}

/// The vocabulary ids the pipeline's model reads for `text`.
fn read_ids(p: &Pipeline, text: &str) -> Vec<i64> {
    p.tagger.prepare(text, fintag::text::split_sentences(text)).unwrap().encoding.tokens.iter().map(|t| t.id).collect()
}

#[test]
fn soft_hyphens_change_nothing_but_the_offsets() {
    let p = pipeline();
    let clean =
        "Die Unternehmensführung der Vermögensverwaltung meldet Rekordergebnisse: Der Umsatz stieg um 12 Prozent auf 4,2 Mrd. Euro.";
    // a soft hyphen after the 7th letter of every long word, as web pages carry them
    let mut run = 0;
    let (hyphenated, map) = rewritten(clean, |c| {
        run = if c.is_alphabetic() { run + 1 } else { 0 };
        (if run == 8 { "\u{ad}" } else { "" }, c.to_string())
    });
    assert_eq!(hyphenated.chars().count(), clean.chars().count() + 3);
    // the same spans, sentences and scores, each at its place in the hyphenated text
    let (a, _) = predicted_alike(&p, clean, &hyphenated, &map);
    assert!(a.spans.iter().any(|s| s.text == "Unternehmensführung" || s.text == "4,2 Mrd. Euro"));
    // because the model reads the same pieces; with the rule off it reads others
    assert_eq!(read_ids(&p, &hyphenated), read_ids(&p, clean));
    let mut raw = pipeline();
    raw.tagger.config.drop_invisible = false;
    assert_ne!(read_ids(&raw, &hyphenated), read_ids(&raw, clean));
}

#[test]
fn a_line_in_capitals_is_read_like_the_same_line_in_sentence_case() {
    let p = pipeline();
    let loud = "SIEMENS-AKTIE BRICHT EIN: GEWINNWARNUNG SCHOCKT ANLEGER\nDie Siemens AG hat am Dienstag ihre Prognose gesenkt.";
    let calm = "Siemens-aktie bricht ein: Gewinnwarnung schockt anleger\nDie Siemens AG hat am Dienstag ihre Prognose gesenkt.";
    let a = p.predict(&Document { id: "loud".into(), text: loud.into() }).unwrap();
    let b = p.predict(&Document { id: "calm".into(), text: calm.into() }).unwrap();
    // one character for one: the same offsets, labels and scores; the span text is the text's own
    assert_eq!(moved(&a, |i| i), moved(&b, |i| i));
    assert!(a.spans.iter().any(|s| s.text == "SIEMENS-AKTIE"), "{:?}", a.spans);
    assert_eq!(read_ids(&p, loud), read_ids(&p, calm));
    let mut raw = pipeline();
    raw.tagger.config.fold_shouting = false;
    assert_ne!(read_ids(&raw, loud), read_ids(&raw, calm));
}

#[test]
fn a_hard_wrapped_paragraph_is_read_like_the_same_paragraph_in_one_line() {
    let p = pipeline();
    let flat = "Siemens Energy hebt die Prognose an\n\nDie Aktie der Siemens Energy AG legte am Dienstag im frühen Handel um 4,2 Prozent zu, nachdem der Konzern seine Prognose für das laufende Geschäftsjahr erhöht hatte. Vorstandschef Christian Bruch sieht die Nachfrage nach Gasturbinen in den USA und in Europa weiter steigen.";
    // the same text cut into lines of at most 51 characters, one character for one ("Christian\nBruch")
    let mut wrapped: Vec<char> = flat.chars().collect();
    let (mut column, mut space) = (0, None);
    for i in 0..wrapped.len() {
        match wrapped[i] {
            '\n' => (column, space) = (0, None),
            c => {
                if c == ' ' {
                    space = Some(i);
                }
                column += 1;
                if let (true, Some(s)) = (column > 51, space) {
                    wrapped[s] = '\n';
                    (column, space) = (i - s, None);
                }
            }
        }
    }
    let wrapped: String = wrapped.into_iter().collect();
    assert!(wrapped.matches('\n').count() >= 6, "{wrapped}");
    let a = p.predict(&Document { id: "flat".into(), text: flat.into() }).unwrap();
    let b = p.predict(&Document { id: "wrapped".into(), text: wrapped.clone() }).unwrap();
    // the same spans, sentences and scores; a span's text is the text as written
    assert_eq!(moved(&b, |i| i), moved(&a, |i| i));
    assert!(b.spans.iter().any(|s| s.text == "Christian\nBruch"), "{:?}", b.spans);
    assert_eq!(b.sentences.len(), 3);
    // read line by line, the wrapped paragraph falls apart into line-long sentences
    let mut raw = pipeline();
    raw.tagger.config.join_wrapped_lines = false;
    let c = raw.predict(&Document { id: "wrapped".into(), text: wrapped }).unwrap();
    assert!(c.sentences.len() > 3);
}

#[test]
fn names_in_markdown_bold_are_read_like_plain_names() {
    let p = pipeline();
    let plain = "Die Aktie von Siemens Energy stieg um 4,2 Prozent, Rheinmetall verlor 1,1 Prozent.";
    let bold = "Die Aktie von **Siemens Energy** stieg um 4,2 Prozent, __Rheinmetall__ verlor 1,1 Prozent.";
    // plain code point -> bold code point: the markers sit before "Siemens", after "Energy",
    // around "Rheinmetall"
    let map = |i: usize| match i {
        0..=13 => i,
        14..=28 => i + 2,
        29..=50 => i + 4,
        51..=62 => i + 6,
        _ => i + 8,
    };
    let a = p.predict(&Document { id: "plain".into(), text: plain.into() }).unwrap();
    let b = p.predict(&Document { id: "bold".into(), text: bold.into() }).unwrap();
    assert!(b.spans.iter().any(|s| s.text == "Siemens Energy") && b.spans.iter().any(|s| s.text == "Rheinmetall"), "{:?}", b.spans);
    // the same spans and scores (the sentence runs over the markers, so only its tone is compared)
    let spans = |p: &fintag::document::Prediction, m: &dyn Fn(usize) -> usize| {
        p.spans.iter().map(|s| (m(s.start), m(s.end), format!("{:?}", s.label), s.score.to_bits())).collect::<Vec<_>>()
    };
    assert_eq!(spans(&b, &|i| i), spans(&a, &map));
    assert_eq!(a.sentences.len(), b.sentences.len());
    assert_eq!(a.clickbait.to_bits(), b.clickbait.to_bits());
    assert_eq!(read_ids(&p, bold), read_ids(&p, plain));
    let mut raw = pipeline();
    raw.tagger.config.drop_emphasis = false;
    assert_ne!(read_ids(&raw, bold), read_ids(&raw, plain));
}

#[test]
fn a_post_in_small_letters_is_read_with_the_capitals_of_the_training_texts() {
    let p = pipeline();
    assert!(p.tagger.config.restore_case && p.tagger.casing.as_ref().is_some_and(|c| c.len() > 5000));
    let written = "Rheinmetall hebt die Prognose an\n\nDie Aktie stieg am Dienstag um 4,2 Prozent auf 1.500 Euro. Analysten von Siemens Energy sehen weiteres Potenzial.";
    let small = written.to_lowercase();
    assert_eq!(p.tagger.reading(&small.chars().collect::<Vec<_>>()).1.map(String::from_iter).as_deref(), Some(written));
    let a = p.predict(&Document { id: "written".into(), text: written.into() }).unwrap();
    let b = p.predict(&Document { id: "small".into(), text: small.clone() }).unwrap();
    // the same spans, sentences and scores; a span's text is the text as written
    assert_eq!(moved(&b, |i| i), moved(&a, |i| i));
    assert!(b.spans.iter().any(|s| s.text == "siemens energy"), "{:?}", b.spans);
    assert_eq!(b.sentences.len(), 3);
    // read as written, the sentences run together and names are lost
    let mut raw = pipeline();
    raw.tagger.config.restore_case = false;
    let c = raw.predict(&Document { id: "small".into(), text: small }).unwrap();
    assert!(c.sentences.len() < 3, "{:?}", c.sentences);
}

#[test]
fn the_test_set_in_small_letters_keeps_most_of_its_entities() {
    let raw = std::fs::read_to_string(common::repo().join("data/test.jsonl")).unwrap();
    let gold: Vec<fintag::document::LabelledDocument> = raw.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let docs: Vec<Document> = gold.iter().map(|d| Document { id: d.id.clone(), text: d.text.to_lowercase() }).collect();
    // to_lowercase keeps every code point of the corpus one for one, so the gold offsets hold
    assert!(gold.iter().zip(&docs).all(|(g, d)| g.text.chars().count() == d.text.chars().count()));
    let found = |p: &Pipeline| -> usize {
        gold.iter()
            .zip(p.predict_batch(&docs))
            .map(|(g, pred)| {
                let pred = pred.unwrap();
                g.spans.iter().filter(|s| pred.spans.iter().any(|q| q.start == s.start && q.end == s.end && q.label == s.label)).count()
            })
            .sum()
    };
    let mut p = pipeline();
    let restored = found(&p);
    p.tagger.config.restore_case = false;
    let as_written = found(&p);
    let total: usize = gold.iter().map(|g| g.spans.len()).sum();
    // measured: 1,531 of 1,673 gold spans (PROMO included) found exactly with the rule, 1,145 without
    assert!(
        restored * 10 >= total * 8 && restored >= as_written + total / 10,
        "{restored} with capitals, {as_written} without, of {total}"
    );
}

#[test]
fn a_quoted_mail_is_read_like_the_mail_itself() {
    let p = pipeline();
    let mail = "Eilmeldung: Diese Graphit-Aktie steht vor dem Ausbruch!\nDie Aurelion-Aktie kostet nur 0,42 Euro.\n\nSichern Sie sich jetzt den Gratis-Report!";
    // "> " before every line, ">" on the blank one
    let mut at_line_start = true;
    let (quoted, map) = rewritten(mail, |c| {
        let marks = match (at_line_start, c) {
            (false, _) => "",
            (true, '\n') => ">",
            (true, _) => "> ",
        };
        at_line_start = c == '\n';
        (marks, c.to_string())
    });
    // the same spans, sentences and scores, each at its place in the quoted mail
    let (a, _) = predicted_alike(&p, mail, &quoted, &map);
    assert!(a.spans.iter().any(|s| s.label == fintag::labels::SpanLabel::Promo), "{:?}", a.spans);
    assert_eq!(read_ids(&p, &quoted), read_ids(&p, mail));
    let mut raw = pipeline();
    raw.tagger.config.drop_quote_marks = false;
    assert_ne!(read_ids(&raw, &quoted), read_ids(&raw, mail));
}

#[test]
fn a_text_written_without_umlauts_is_read_like_the_text_with_them() {
    let p = pipeline();
    let written = "Münchener Rück: Großaktionär prüft Übernahme\nDie Börse schließt fester, für Anleger ein gutes Zeichen. Die Aktie der Münchener Rück stieg um 2 Prozent auf 548 Euro.";
    let (ascii, map) = replaced(written, &[('ä', "ae"), ('ö', "oe"), ('ü', "ue"), ('Ü', "Ue"), ('ß', "ss")]);
    // the same spans, sentences and scores, each at its place in the text as written
    let (_, b) = predicted_alike(&p, written, &ascii, &map);
    assert!(b.spans.iter().any(|s| s.text == "Muenchener Rueck"), "{:?}", b.spans);
    assert_eq!(read_ids(&p, &ascii), read_ids(&p, written));
    let mut raw = pipeline();
    raw.tagger.config.restore_umlauts = false;
    assert_ne!(read_ids(&raw, &ascii), read_ids(&raw, written));
}

#[test]
fn a_text_with_html_character_references_is_read_like_the_text_itself() {
    let p = pipeline();
    let plain = "Procter & Gamble übertrifft die Erwartungen\nDie Aktie stieg am 31.\u{a0}Oktober um 3\u{a0}Prozent. Der Report „Konsumgüter-Radar“ ist für Abonnenten gratis.";
    let (escaped, map) = replaced(plain, &[('&', "&amp;"), ('ü', "&uuml;"), ('\u{a0}', "&nbsp;"), ('„', "&bdquo;"), ('“', "&ldquo;")]);
    // the same spans, sentences and scores, each at its place in the escaped text
    let (_, b) = predicted_alike(&p, plain, &escaped, &map);
    assert!(b.spans.iter().any(|s| s.text == "Procter &amp; Gamble"), "{:?}", b.spans);
    let mut raw = pipeline();
    raw.tagger.config.read_references = false;
    let c = raw.predict(&Document { id: "escaped".into(), text: escaped }).unwrap();
    assert_ne!(moved(&c, |i| i), moved(&b, |i| i));
}
