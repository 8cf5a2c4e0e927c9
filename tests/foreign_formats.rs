//! Import of foreign annotation formats and export to CoNLL / Doccano (src/formats/foreign.rs).

use fintag::document::{LabelledDocument, SentenceSentiment, Span};
use fintag::formats::foreign::*;
use fintag::labels::{EntityLabel, Sentiment, SpanLabel};
use std::collections::{BTreeMap, HashMap};

const GUIDELINE_EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/examples/guideline-examples.jsonl");
const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/examples/seed-alibaba.jsonl");

fn fixture(name: &str) -> String {
    let p = format!("{}/tests/fixtures/foreign/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn no_map() -> HashMap<String, String> {
    HashMap::new()
}

/// Our labelled documents: the guideline examples and the seed article.
fn our_docs() -> Vec<LabelledDocument> {
    let mut docs = Vec::new();
    for p in [GUIDELINE_EXAMPLES, SEED] {
        let content = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let r = fintag::formats::jsonl::parse_labelled(&content, p);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        docs.extend(r.docs.into_iter().map(|(_, d)| d));
    }
    assert!(docs.len() >= 7);
    docs
}

/// (start, end, label, surface) of every span.
fn spans(d: &LabelledDocument) -> Vec<(usize, usize, &'static str, String)> {
    d.spans.iter().map(|s| (s.start, s.end, s.label.as_str(), d.slice(s.start, s.end))).collect()
}

fn sp(start: usize, end: usize, label: &'static str, surface: &str) -> (usize, usize, &'static str, String) {
    (start, end, label, surface.to_string())
}

fn neutral(ranges: &[(usize, usize)]) -> Vec<SentenceSentiment> {
    ranges.iter().map(|&(start, end)| SentenceSentiment { start, end, sentiment: Sentiment::Neutral }).collect()
}

/// The sentences import gives a text without sentence annotations: `split_sentences`, neutral.
fn split(text: &str) -> Vec<SentenceSentiment> {
    let b: Vec<(usize, usize)> = fintag::text::split_sentences(text).iter().map(|b| (b.start, b.end)).collect();
    neutral(&b)
}

fn one_line_doc() -> LabelledDocument {
    // "Jetzt Nvidia-Aktie kaufen!" is PROMO; "AMD" inside "AMD-Chips" is a partial word.
    let text = "Die Allianz SE und Munich Re steigen. Jetzt Nvidia-Aktie kaufen! AMD-Chips gefragt.";
    let find = |s: &str| {
        let b = text.find(s).unwrap();
        let start = text[..b].chars().count();
        (start, start + s.chars().count())
    };
    let span = |s: &str, label: SpanLabel| {
        let (start, end) = find(s);
        Span { start, end, label }
    };
    let org = SpanLabel::Entity(EntityLabel::Org);
    let s1 = find("Die Allianz SE und Munich Re steigen.");
    let s2 = find("Jetzt Nvidia-Aktie kaufen!");
    let s3 = find("AMD-Chips gefragt.");
    LabelledDocument {
        id: "t-1".into(),
        text: text.into(),
        spans: vec![
            span("Allianz SE", org),
            span("Munich Re", org),
            span("Jetzt Nvidia-Aktie kaufen!", SpanLabel::Promo),
            span("Nvidia-Aktie", SpanLabel::Entity(EntityLabel::Instrument)),
            span("AMD", org),
        ],
        sentences: vec![
            SentenceSentiment { start: s1.0, end: s1.1, sentiment: Sentiment::Positive },
            SentenceSentiment { start: s2.0, end: s2.1, sentiment: Sentiment::Neutral },
            SentenceSentiment { start: s3.0, end: s3.1, sentiment: Sentiment::Positive },
        ],
        sentiment: Sentiment::Positive,
        clickbait: true,
        genre: Some("test".into()),
        source: None,
    }
}

// ---------------------------------------------------------------------------------------
// Import, one fixture per format

#[test]
fn doccano_import_reads_both_styles() {
    let r = import(ImportFormat::Doccano, &fixture("doccano.jsonl"), "doccano.jsonl", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.docs.len(), 3);

    let (line, d) = &r.docs[0];
    assert_eq!((*line, d.id.as_str()), (1, "17"));
    assert_eq!(spans(d), vec![sp(4, 17, "ORG", "Deutsche Bank"), sp(39, 53, "ORG", "Siemens Energy"), sp(58, 66, "MONEY", "120 Euro"),]);
    assert_eq!(d.sentences, split(&d.text));
    assert_eq!(d.sentences, neutral(&[(0, 70)]));
    assert_eq!((d.sentiment, d.clickbait), (Sentiment::Neutral, false));

    // "entities" style, no id: path:line; PROMO makes it clickbait; split into two sentences.
    let (line, d) = &r.docs[1];
    assert_eq!((*line, d.id.as_str()), (2, "doccano.jsonl:2"));
    assert_eq!(
        spans(d),
        vec![
            sp(0, 28, "PROMO", "Jetzt Gratis-Report sichern!"),
            sp(33, 46, "INSTRUMENT", "Allianz-Aktie"),
            sp(55, 63, "DATE", "Dienstag"),
            sp(67, 78, "PERCENT", "2,1 Prozent"),
        ]
    );
    assert_eq!(d.sentences, split(&d.text));
    assert_eq!(d.sentences.len(), 2);
    assert!(d.clickbait);

    // Code points (umlaut), unsorted labels sorted, trailing space trimmed; blank line skipped.
    let (line, d) = &r.docs[2];
    assert_eq!((*line, d.id.as_str()), (4, "muenchener-rueck"));
    assert_eq!(
        spans(d),
        vec![sp(4, 18, "ORG", "Münchener Rück"), sp(45, 60, "DATE", "dritten Quartal"), sp(64, 74, "PERCENT", "12 Prozent"),]
    );
}

#[test]
fn label_studio_import_takes_first_annotation_or_predictions() {
    let r = import(ImportFormat::LabelStudio, &fixture("labelstudio.json"), "ls.json", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.docs.len(), 3);

    // The cancelled first annotation is passed over; a sentiment choice sets the sentiment.
    let (line, d) = &r.docs[0];
    assert_eq!((*line, d.id.as_str()), (1, "101"));
    assert_eq!(
        spans(d),
        vec![
            sp(0, 11, "ORG", "Rheinmetall"),
            sp(21, 29, "DATE", "Mittwoch"),
            sp(30, 41, "PERCENT", "2,4 Prozent"),
            sp(50, 65, "PER", "Armin Papperger"),
        ]
    );
    assert_eq!(d.sentences, split(&d.text));
    assert_eq!(d.sentiment, Sentiment::Positive);
    assert!(!d.clickbait);

    // Only predictions, with UTF-16 offsets (the emoji counts twice): converted.
    let (line, d) = &r.docs[1];
    assert_eq!((*line, d.id.as_str()), (2, "102"));
    assert_eq!(spans(d), vec![sp(2, 14, "INSTRUMENT", "Nvidia-Aktie"), sp(40, 68, "PROMO", "Jetzt Gratis-Analyse sichern"),]);
    assert_eq!(d.sentences, split(&d.text));
    assert!(d.clickbait);

    // No id: path:task number.
    let (line, d) = &r.docs[2];
    assert_eq!((*line, d.id.as_str()), (3, "ls.json:3"));
    assert_eq!(spans(d), vec![sp(4, 7, "ORG", "EZB"), sp(33, 42, "PERCENT", "2 Prozent")]);
}

#[test]
fn prodigy_import_skips_rejected_and_ignored() {
    let r = import(ImportFormat::Prodigy, &fixture("prodigy.jsonl"), "p.jsonl", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.docs.len(), 2);
    let (line, d) = &r.docs[0];
    assert_eq!((*line, d.id.as_str()), (1, "p.jsonl:1"));
    assert_eq!(d.source.as_deref(), Some("newswire"));
    assert_eq!(spans(d), vec![sp(0, 5, "ORG", "Apple"), sp(31, 50, "MONEY", "94,9 Mrd. US-Dollar")]);
    let (line, d) = &r.docs[1];
    assert_eq!((*line, d.id.as_str()), (4, "p-3"));
    assert_eq!(spans(d), vec![sp(4, 7, "INSTRUMENT", "DAX"), sp(36, 40, "ORG", "BASF"), sp(48, 59, "PERCENT", "1,5 Prozent"),]);
    assert_eq!(d.sentences, split(&d.text));
}

#[test]
fn conll_import_reads_iob1_and_bio_documents() {
    let r = import(ImportFormat::Conll, &fixture("conll.txt"), "c.conll", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.docs.len(), 2);

    let (line, d) = &r.docs[0];
    assert_eq!((*line, d.id.as_str()), (1, "c.conll:1"));
    assert_eq!(d.text, "Die Commerzbank erhöht ihre Prognose .\nDer Kurs stieg in Frankfurt um 3 Prozent .");
    // IOB1: an "I-" after O starts an entity.
    assert_eq!(spans(d), vec![sp(4, 15, "ORG", "Commerzbank"), sp(57, 66, "LOC", "Frankfurt"), sp(70, 79, "PERCENT", "3 Prozent"),]);
    assert_eq!(d.sentences, neutral(&[(0, 38), (39, 81)]));
    assert_eq!((d.sentiment, d.clickbait), (Sentiment::Neutral, false));

    let (line, d) = &r.docs[1];
    assert_eq!((*line, d.id.as_str()), (20, "c.conll:20"));
    assert_eq!(
        spans(d),
        vec![sp(0, 17, "PER", "Christine Lagarde"), sp(32, 56, "ORG", "Europäischen Zentralbank"), sp(60, 69, "LOC", "Frankfurt"),]
    );
    assert_eq!(d.sentences, neutral(&[(0, 83)]));
}

#[test]
fn conll_without_docstart_is_one_document_and_b_splits_neighbours() {
    let content = "\n\nDAX B-INSTRUMENT\nund O\nMDAX B-INSTRUMENT\nB-INSTRUMENT\n\nSAP B-ORG\nSE I-ORG\nB-ORG\n";
    // "B-INSTRUMENT" alone on a line is a token without a tag (line 6): a problem, read as O.
    let r = import(ImportFormat::Conll, content, "x", &no_map());
    assert_eq!(r.docs.len(), 1);
    let (line, d) = &r.docs[0];
    assert_eq!((*line, d.id.as_str()), (3, "x:3"));
    assert_eq!(d.text, "DAX und MDAX B-INSTRUMENT\nSAP SE B-ORG");
    assert_eq!(spans(d), vec![sp(0, 3, "INSTRUMENT", "DAX"), sp(8, 12, "INSTRUMENT", "MDAX"), sp(26, 32, "ORG", "SAP SE"),]);
    let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![6, 10]);

    // Adjacent B- tags of one label are two entities; BIOES works too.
    let r = import(ImportFormat::Conll, "Allianz B-ORG\nMunich B-ORG\nRe I-ORG\nBASF S-ORG\nDeutsche B-ORG\nBörse E-ORG\n", "y", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let surfaces: Vec<String> = spans(&r.docs[0].1).into_iter().map(|s| s.3).collect();
    assert_eq!(surfaces, vec!["Allianz", "Munich Re", "BASF", "Deutsche Börse"]);
}

#[test]
fn germeval_import_uses_outer_tags_and_drops_deriv_part_oth_silently() {
    let r = import(ImportFormat::Germeval, &fixture("germeval.tsv"), "g.tsv", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.docs.len(), 2);

    let (line, d) = &r.docs[0];
    assert_eq!((*line, d.id.as_str()), (1, "g.tsv:1"));
    assert_eq!(d.text, "Die Deutsche Bank eröffnete eine Filiale in Frankfurt am Main .");
    assert_eq!(d.source.as_deref(), Some("http://de.wikipedia.org/wiki/Deutsche_Bank [2009-10-17]"));
    // The inner B-LOCderiv is ignored.
    assert_eq!(spans(d), vec![sp(4, 17, "ORG", "Deutsche Bank"), sp(44, 61, "LOC", "Frankfurt am Main")]);
    assert_eq!(d.sentences, neutral(&[(0, 63)]));

    let (line, d) = &r.docs[1];
    assert_eq!((*line, d.id.as_str()), (14, "g.tsv:14"));
    assert_eq!(spans(d), vec![sp(32, 36, "ORG", "Audi"), sp(70, 85, "PER", "Markus Duesmann")]);
}

#[test]
fn germeval_label_map_overrides_the_default_map() {
    let map = parse_label_map("OTH=PRODUCT,ORGpart=ORG,LOCderiv=O").unwrap();
    let r = import(ImportFormat::Germeval, &fixture("germeval.tsv"), "g.tsv", &map);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(
        spans(&r.docs[1].1),
        vec![
            sp(13, 31, "ORG", "Volkswagen-Tochter"),
            sp(32, 36, "ORG", "Audi"),
            sp(55, 57, "PRODUCT", "A6"),
            sp(70, 85, "PER", "Markus Duesmann"),
        ]
    );
}

#[test]
fn jsonl_and_ann_import_delegate_to_our_readers() {
    let content = std::fs::read_to_string(GUIDELINE_EXAMPLES).unwrap();
    let a = import(ImportFormat::Jsonl, &content, "g", &no_map());
    let b = fintag::formats::jsonl::parse_labelled(&content, "g");
    assert_eq!(a.docs.len(), 6);
    assert_eq!(a.docs.iter().map(|d| &d.1).collect::<Vec<_>>(), b.docs.iter().map(|d| &d.1).collect::<Vec<_>>());
    let ann = "=== a\n# sentiment: positive\n+ [BASF|ORG] steigt.\n";
    let r = import(ImportFormat::Ann, ann, "a.ann", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(spans(&r.docs[0].1), vec![sp(0, 4, "ORG", "BASF")]);
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn round_trip_jsonl_doccano_is_lossless() {
    let docs = our_docs();
    let out = export(ExportFormat::Doccano, &docs).unwrap();
    assert_eq!(out.lines().count(), docs.len());
    let r = import(ImportFormat::Doccano, &out, "rt.jsonl", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let back: Vec<LabelledDocument> = r.docs.into_iter().map(|(_, d)| d).collect();
    assert_eq!(back, docs);
    let synthetic = vec![one_line_doc()];
    let out = export(ExportFormat::Doccano, &synthetic).unwrap();
    let r = import(ImportFormat::Doccano, &out, "rt.jsonl", &no_map());
    assert_eq!(r.docs[0].1, synthetic[0]);
}

#[test]
fn round_trip_jsonl_ann_jsonl_is_identical() {
    let docs = our_docs();
    let ann = export(ExportFormat::Ann, &docs).unwrap();
    let r = import(ImportFormat::Ann, &ann, "rt.ann", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let back: Vec<LabelledDocument> = r.docs.into_iter().map(|(_, d)| d).collect();
    assert_eq!(back, docs);
    let jsonl = export(ExportFormat::Jsonl, &back).unwrap();
    let again = import(ImportFormat::Jsonl, &jsonl, "rt.jsonl", &no_map());
    assert!(again.problems.is_empty(), "{:?}", again.problems);
    assert_eq!(again.docs.into_iter().map(|(_, d)| d).collect::<Vec<_>>(), docs);
    assert_eq!(jsonl, export(ExportFormat::Jsonl, &docs).unwrap());
}

#[test]
fn round_trip_jsonl_conll_keeps_entities_on_word_boundaries() {
    let docs = our_docs();
    let conll = export(ExportFormat::Conll, &docs).unwrap();
    let r = import(ImportFormat::Conll, &conll, "rt.conll", &no_map());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.docs.len(), docs.len());
    let mut checked = 0;
    for (orig, (_, back)) in docs.iter().zip(&r.docs) {
        assert_eq!(back.sentences.len(), orig.sentences.len(), "{}", orig.id);
        assert!(!back.spans.iter().any(|s| s.label.is_promo()));
        let chars: Vec<char> = orig.text.chars().collect();
        let mut expected: BTreeMap<(&str, String), usize> = BTreeMap::new();
        for s in orig.spans.iter().filter(|s| !s.label.is_promo()) {
            let starts_word = s.start == 0 || chars[s.start - 1].is_whitespace();
            let ends_word = s.end == chars.len() || chars[s.end].is_whitespace();
            if starts_word && ends_word {
                let surface = orig.slice(s.start, s.end).split_whitespace().collect::<Vec<_>>().join(" ");
                *expected.entry((s.label.as_str(), surface)).or_default() += 1;
            }
        }
        let mut got: BTreeMap<(&str, String), usize> = BTreeMap::new();
        for s in &back.spans {
            *got.entry((s.label.as_str(), back.slice(s.start, s.end))).or_default() += 1;
        }
        for (k, n) in &expected {
            assert!(got.get(k).copied().unwrap_or(0) >= *n, "{}: lost {k:?}", orig.id);
            checked += n;
        }
    }
    assert!(checked > 30, "only {checked} entities on word boundaries");
}

// ---------------------------------------------------------------------------------------
// Export layouts

#[test]
fn export_conll_layout() {
    let out = export(ExportFormat::Conll, &[one_line_doc()]).unwrap();
    let expected = "-DOCSTART-\tO\n\n\
        Die\tO\nAllianz\tB-ORG\nSE\tI-ORG\nund\tO\nMunich\tB-ORG\nRe\tI-ORG\nsteigen.\tO\n\n\
        Jetzt\tO\nNvidia-Aktie\tB-INSTRUMENT\nkaufen!\tO\n\n\
        AMD\tB-ORG\n-Chips\tO\ngefragt.\tO\n\n";
    assert_eq!(out, expected);
    // Two documents, each after its own -DOCSTART-.
    let two = export(ExportFormat::Conll, &[one_line_doc(), one_line_doc()]).unwrap();
    assert_eq!(two, format!("{expected}{expected}"));
    let r = import(ImportFormat::Conll, &two, "e", &no_map());
    assert_eq!(r.docs.len(), 2);
    assert_eq!(r.docs[1].0, 19);
}

#[test]
fn export_doccano_layout() {
    let out = export(ExportFormat::Doccano, &[one_line_doc()]).unwrap();
    assert!(out.ends_with('\n') && out.lines().count() == 1);
    let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(v["id"], "t-1");
    assert_eq!(v["label"][0], serde_json::json!([4, 14, "ORG"]));
    assert_eq!(v["label"][2][2], "PROMO");
    assert_eq!(v["label"].as_array().unwrap().len(), 5);
    assert_eq!(v["sentiment"], "positive");
    assert_eq!(v["clickbait"], true);
    assert_eq!(v["sentences"][0], serde_json::json!({"start": 0, "end": 37, "sentiment": "positive"}));
    assert_eq!(v["genre"], "test");
    assert!(v.get("source").is_none());
}

// ---------------------------------------------------------------------------------------
// Label maps

#[test]
fn label_map_translates_foreign_labels_and_unknown_labels_are_problems() {
    let content = concat!(
        r#"{"text": "Christian Sewing führt die Deutsche Bank.", "label": [[0, 16, "PERSON"], [27, 40, "ORGANIZATION"]]}"#,
        "\n",
        r#"{"text": "Gold steigt in London.", "label": [[0, 4, "COMMODITY"], [15, 21, "LOC"]]}"#,
        "\n"
    );
    let r = import(ImportFormat::Doccano, content, "m.jsonl", &no_map());
    assert_eq!(r.docs.len(), 2);
    assert!(r.docs[0].1.spans.is_empty());
    assert_eq!(spans(&r.docs[1].1), vec![sp(15, 21, "LOC", "London")]);
    let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![1, 1, 2]);
    assert!(r.problems[0].message.contains("PERSON"), "{}", r.problems[0]);
    assert_eq!(r.problems[2].to_string().split(':').next(), Some("m.jsonl"));

    let map = parse_label_map("PERSON=PER, ORGANIZATION=ORG,COMMODITY=INSTRUMENT,").unwrap();
    let r = import(ImportFormat::Doccano, content, "m.jsonl", &map);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(spans(&r.docs[0].1), vec![sp(0, 16, "PER", "Christian Sewing"), sp(27, 40, "ORG", "Deutsche Bank")]);
    assert_eq!(spans(&r.docs[1].1)[0], sp(0, 4, "INSTRUMENT", "Gold"));

    // The same map works on token formats; an unknown tag is one problem per entity.
    let conll = "Christian B-PERSON\nSewing I-PERSON\nin O\nFrankfurt B-GPE\n";
    let r = import(ImportFormat::Conll, conll, "c", &map);
    assert_eq!(spans(&r.docs[0].1), vec![sp(0, 16, "PER", "Christian Sewing")]);
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].line, 4);
    assert!(r.problems[0].message.contains("GPE"));
}

#[test]
fn parse_label_map_accepts_pairs_and_rejects_malformed_ones() {
    let m = parse_label_map("PERSON=PER,ORGANIZATION=ORG").unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m["PERSON"], "PER");
    assert_eq!(m["ORGANIZATION"], "ORG");
    assert!(parse_label_map("").unwrap().is_empty());
    assert_eq!(parse_label_map(" OTH = O ").unwrap()["OTH"], "O");
    for bad in ["PERSON", "PERSON=", "=PER", "PERSON=PER,ORG", "PERSON=HUMAN", "A=B=C", "X=PER,X=ORG"] {
        let e = parse_label_map(bad).unwrap_err();
        assert!(!e.is_empty(), "{bad}");
    }
    assert!(parse_label_map("PERSON").unwrap_err().contains("PERSON"));
}

// ---------------------------------------------------------------------------------------
// Malformed input

#[test]
fn broken_doccano_line_in_the_middle_is_one_problem() {
    let content = concat!(
        r#"{"id": "a", "text": "BASF steigt.", "label": [[0, 4, "ORG"]]}"#,
        "\n",
        r#"{"id": "b", "text": "SAP fällt.", "label": [[0, 3, "ORG"]"#,
        "\n\n",
        r#"{"id": "c", "text": "Bayer stagniert.", "entities": [{"start_offset": 0, "end_offset": 5, "label": "ORG"}]}"#,
        "\n"
    );
    let r = import(ImportFormat::Doccano, content, "d.jsonl", &no_map());
    let ids: Vec<&str> = r.docs.iter().map(|d| d.1.id.as_str()).collect();
    assert_eq!(ids, vec!["a", "c"]);
    assert_eq!(r.docs[1].0, 4);
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert_eq!((r.problems[0].path.as_str(), r.problems[0].line), ("d.jsonl", 2));
}

#[test]
fn bad_records_and_spans_are_problems_with_their_lines() {
    // Doccano: not an object, no text, span out of range, bad entry, bad sentiment.
    let content = concat!(
        "[1, 2]\n",
        r#"{"label": []}"#,
        "\n",
        r#"{"text": "BASF", "label": [[0, 9, "ORG"], [2, 1, "ORG"], "ORG", [0, "x", "ORG"], [0, 4, 7]]}"#,
        "\n",
        r#"{"text": "BASF", "label": [[0, 4, "ORG"]], "sentiment": "bullish", "sentences": [{"start": 0}]}"#,
        "\n"
    );
    let r = import(ImportFormat::Doccano, content, "d", &no_map());
    assert_eq!(r.docs.len(), 2);
    let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![1, 2, 3, 3, 3, 3, 3, 4, 4], "{:?}", r.problems);
    assert_eq!(r.docs[1].1.sentences, neutral(&[(0, 4)]));
    assert_eq!(r.docs[1].1.spans.len(), 1);

    // Prodigy: broken JSON in the middle.
    let content = "{\"text\": \"BASF\", \"spans\": []}\n{\"text\": \nnull\n{\"text\": \"SAP\"}\n";
    let r = import(ImportFormat::Prodigy, content, "p", &no_map());
    assert_eq!(r.docs.len(), 2);
    let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 3]);

    // Label Studio: problems name the task number; the good tasks are read.
    let content = r#"[
        {"id": 1, "data": {"text": "BASF steigt."}, "annotations": [{"result": [
            {"type": "labels", "value": {"start": 0, "end": 4, "text": "BASF", "labels": ["ORG"]}}]}]},
        {"id": 2, "annotations": []},
        "nonsense",
        {"id": 4, "data": {"text": "SAP fällt."}, "annotations": [{"result": [
            {"type": "labels", "value": {"start": 0, "end": 3, "text": "SAX", "labels": ["ORG"]}},
            {"type": "labels", "value": {"start": 0, "end": 3}},
            {"type": "labels", "value": {"start": 0, "end": 30, "labels": ["ORG"]}}]}]}
    ]"#;
    let r = import(ImportFormat::LabelStudio, content, "ls", &no_map());
    let ids: Vec<&str> = r.docs.iter().map(|d| d.1.id.as_str()).collect();
    assert_eq!(ids, vec!["1", "4"]);
    assert!(r.docs[1].1.spans.is_empty());
    let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 4, 4], "{:?}", r.problems);

    // Label Studio: broken JSON is one problem on its line.
    let r = import(ImportFormat::LabelStudio, "[\n{\"id\": 1,\n\"data\": }\n]", "ls", &no_map());
    assert!(r.docs.is_empty());
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].line, 3);

    // GermEval: a line without columns, a tag that is no tag.
    let content = "# s\n1\tBASF\tB-ORG\tO\nkaputt\n2\tsteigt\t-\tO\n\n# t\n1\tSAP\tB-ORG\tO\n";
    let r = import(ImportFormat::Germeval, content, "g", &no_map());
    assert_eq!(r.docs.len(), 2);
    assert_eq!(r.docs[0].1.text, "BASF steigt");
    assert_eq!(spans(&r.docs[0].1), vec![sp(0, 4, "ORG", "BASF")]);
    assert_eq!(r.docs[1].0, 6);
    let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![3, 4]);
}

#[test]
fn empty_and_odd_inputs_give_no_documents_and_do_not_panic() {
    let formats = [
        ImportFormat::Jsonl,
        ImportFormat::Ann,
        ImportFormat::Doccano,
        ImportFormat::LabelStudio,
        ImportFormat::Prodigy,
        ImportFormat::Conll,
        ImportFormat::Germeval,
    ];
    for f in formats {
        let r = import(f, "", "e", &no_map());
        assert!(r.docs.is_empty() && r.problems.is_empty(), "{f:?}");
        for odd in ["\u{feff}", "{", "[", "]", "\t\t\t", "-DOCSTART-", "#", "\n\n\r\n", "🚀 B-", "1\t\t\t"] {
            let _ = import(f, odd, "e", &no_map());
        }
    }
    assert_eq!(export(ExportFormat::Conll, &[]).unwrap(), "");
    assert_eq!(export(ExportFormat::Doccano, &[]).unwrap(), "");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn import_never_panics(s in "(\\PC|[\\t\\n\\[\\]{}\",:0-9-]){0,200}") {
            for f in [ImportFormat::Doccano, ImportFormat::LabelStudio, ImportFormat::Prodigy, ImportFormat::Conll, ImportFormat::Germeval] {
                let _ = import(f, &s, "p", &HashMap::new());
            }
        }

        #[test]
        fn doccano_spans_are_always_inside_the_text(start in 0usize..40, len in 0usize..40, text in "[a-zäöü ]{0,30}") {
            let line = serde_json::json!({"text": text, "label": [[start, start + len, "ORG"]]}).to_string();
            let r = import(ImportFormat::Doccano, &line, "p", &HashMap::new());
            for (_, d) in &r.docs {
                for s in &d.spans {
                    prop_assert!(s.start < s.end && s.end <= d.char_len());
                }
            }
        }
    }
}
