//! Tokenization keeps code-point offsets exact for any Unicode input, and the sentence
//! splitter reproduces the gold sentence boundaries of the shared examples and the corpus.

mod common;

use fintag::encode::TextTokenizer;
use fintag::formats::jsonl::read_labelled;
use fintag::text::split_sentences;
use proptest::prelude::*;
use std::sync::OnceLock;

fn tokenizer() -> &'static TextTokenizer {
    static T: OnceLock<TextTokenizer> = OnceLock::new();
    T.get_or_init(|| TextTokenizer::from_file(&common::base_dir().join("tokenizer.json")).unwrap())
}

fn check_offsets(text: &str) {
    let n = text.chars().count();
    let enc = tokenizer().encode(text).unwrap();
    let mut prev = 0;
    let chars: Vec<char> = text.chars().collect();
    for t in &enc.tokens {
        assert!(t.start <= t.end && t.end <= n, "token {t:?} outside {n} code points of {text:?}");
        assert!(t.start >= prev, "offsets go backwards at {t:?} in {text:?}");
        prev = t.start;
        // a token never starts or ends on whitespace it did not cover
        if t.end > t.start {
            assert!(!chars[t.start].is_whitespace() || chars[t.start..t.end].iter().all(|c| c.is_whitespace()), "{t:?} in {text:?}");
        }
    }
}

#[test]
fn offsets_are_code_points_on_german_finance_text() {
    let text = "Die Alibaba-Aktie (ISIN US01609W1027) stieg um 3,2 % auf 198,56 US-Dollar – „Agent OS“ 💪 läuft.";
    let enc = tokenizer().encode(text).unwrap();
    let chars: Vec<char> = text.chars().collect();
    let words: Vec<String> = enc.tokens.iter().map(|t| chars[t.start..t.end].iter().collect()).collect();
    let rebuilt: String = words.concat();
    assert_eq!(rebuilt.replace(' ', ""), text.replace(' ', ""));
    // word boundaries survive: a token starts at "Alibaba" (char 4) and one ends after "Aktie"
    assert!(enc.tokens.iter().any(|t| t.start == 4));
    assert!(enc.tokens.iter().any(|t| t.end == 17));
    // the emoji is covered by a token of its own range
    let emoji = text.chars().position(|c| c == '💪').unwrap();
    assert!(enc.tokens.iter().any(|t| t.start <= emoji && emoji < t.end));
    check_offsets(text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn any_unicode_string_round_trips(s in "\\PC{0,200}") {
        check_offsets(&s);
    }
    #[test]
    fn mixed_scripts_emoji_and_whitespace(s in "[a-zA-ZäöüÄÖÜß0-9 \\n\\t.,!?€$%„“😀🚀中文한국어\u{200d}\u{301}]{0,120}") {
        check_offsets(&s);
    }
}

fn gold_boundaries(path: &std::path::Path) -> Vec<(String, Vec<(usize, usize)>, Vec<(usize, usize)>)> {
    let r = read_labelled(path).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    r.docs
        .into_iter()
        .map(|(_, d)| {
            let gold: Vec<(usize, usize)> = d.sentences.iter().map(|s| (s.start, s.end)).collect();
            let got: Vec<(usize, usize)> = split_sentences(&d.text).iter().map(|b| (b.start, b.end)).collect();
            (d.id, gold, got)
        })
        .collect()
}

#[test]
fn splitter_reproduces_all_35_seed_sentences() {
    let docs = gold_boundaries(&common::shared_examples().join("seed-alibaba.jsonl"));
    let (_, gold, got) = &docs[0];
    assert_eq!(gold.len(), 35);
    assert_eq!(got, gold);
}

#[test]
fn splitter_reproduces_the_guideline_examples() {
    for (id, gold, got) in gold_boundaries(&common::shared_examples().join("guideline-examples.jsonl")) {
        assert_eq!(got, gold, "{id}");
    }
}

#[test]
fn splitter_agrees_with_the_corpus_gold() {
    let mut total = 0usize;
    let mut exact = 0usize;
    for split in ["train", "dev", "test"] {
        for (_, gold, got) in gold_boundaries(&common::repo().join(format!("data/{split}.jsonl"))) {
            let got: std::collections::HashSet<_> = got.into_iter().collect();
            total += gold.len();
            exact += gold.iter().filter(|g| got.contains(g)).count();
        }
    }
    let share = exact as f64 / total as f64;
    eprintln!("splitter reproduces {exact} of {total} corpus sentences ({:.2}%)", 100.0 * share);
    assert!(share >= 0.97, "only {:.2}% of gold sentences reproduced", 100.0 * share);
}
