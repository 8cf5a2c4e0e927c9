//! Faults and hostile input through the whole pipeline: every case ends in a correct result
//! or a clear per-document error — never a panic, a hang or unbounded memory.

mod common;

use assert_cmd::Command;
use fintag::document::Document;
use fintag::pipeline::Pipeline;
use proptest::prelude::*;

thread_local! {
    // libtorch tensors are not Sync: one pipeline per test thread.
    static PIPELINE: Pipeline = Pipeline::load(&common::repo().join("models/fintag-de"), &common::base_dir()).unwrap();
}

fn predict(doc: &Document) -> fintag::Result<fintag::document::Prediction> {
    PIPELINE.with(|p| p.predict(doc))
}

fn check_prediction(text: &str) {
    let doc = Document { id: "p".into(), text: text.to_string() };
    match predict(&doc) {
        Ok(p) => {
            let n = text.chars().count();
            for s in &p.spans {
                assert!(s.start < s.end && s.end <= n, "span {s:?} outside {n}");
                assert!((0.0..=1.0).contains(&s.score));
                let surface: String = text.chars().skip(s.start).take(s.end - s.start).collect();
                assert_eq!(surface, s.text);
            }
            for s in &p.sentences {
                assert!(s.start < s.end && s.end <= n);
            }
            assert!((0.0..=1.0).contains(&p.clickbait));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_unicode_never_panics(s in "\\PC{0,300}") {
        check_prediction(&s);
    }
    #[test]
    fn random_finance_like_text_never_panics(s in "[A-ZÄÖÜa-zäöüß0-9 .,;:!?%€$„“()\\-\\n]{0,400}") {
        check_prediction(&s);
    }
}

#[test]
fn a_long_document_is_windowed_and_merged_without_losing_spans() {
    // ~3,000 tokens: six windows. Each repeated paragraph must yield the same entities.
    let para = "Die Siemens-Aktie stieg am Dienstag um 3,5 Prozent auf 210,40 Euro. Vorstandschef Roland Busch sieht in China Wachstum.\n";
    let text = para.repeat(60);
    let p = predict(&Document { id: "long".into(), text: text.clone() }).unwrap();
    let per_para = para.chars().count();
    let mut counts = vec![0usize; 60];
    for s in p.spans.iter().filter(|s| !s.label.is_promo()) {
        counts[s.start / per_para] += 1;
        assert!(s.end <= (s.start / per_para + 1) * per_para, "span crosses a paragraph: {s:?}");
    }
    // spans never overlap (no duplicates from overlapping windows)
    let mut ents: Vec<_> = p.spans.iter().filter(|s| !s.label.is_promo()).collect();
    ents.sort_by_key(|s| s.start);
    for w in ents.windows(2) {
        assert!(w[0].end <= w[1].start, "overlap {:?} {:?}", w[0], w[1]);
    }
    // Context differs from window to window, so counts may vary a little; a paragraph lost at a
    // window seam would drop to ~0 and a duplicated one would double.
    assert!(counts.iter().all(|c| (5..=9).contains(c)), "paragraph entity counts: {counts:?}");
    assert_eq!(p.sentences.len(), 120);
}

#[test]
fn hostile_files_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("nul.txt"), b"Die Aktie\0stieg").unwrap();
    std::fs::write(d.join("invalid-utf8.txt"), b"Die B\xf6rse \xff\xfe\xfd schlo\xdf fester.").unwrap();
    std::fs::write(d.join("empty.txt"), b"").unwrap();
    let big = vec![b'a'; 20 << 20];
    std::fs::write(d.join("twenty-mb.txt"), &big).unwrap();
    std::fs::write(d.join("one-line.txt"), "x".repeat(1_000_000)).unwrap();
    let nested =
        format!("<html><body>{}Die Allianz-Aktie stieg.{}</body></html>", "<div><span>".repeat(50_000), "</span></div>".repeat(50_000));
    std::fs::write(d.join("nested.html"), nested).unwrap();
    std::fs::write(d.join("malformed.html"), "<p>Die BASF <b>senkt <i>die Prognose</p></b><script>alert(1)").unwrap();
    let long_line = format!("{{\"id\":\"big\",\"text\":\"{}\"}}", "y".repeat(3 << 20));
    std::fs::write(
        d.join("corpus.jsonl"),
        format!("{{\"id\":\"fine\",\"text\":\"Die Fed senkt die Zinsen.\"}}\n{{\"id\":\n{long_line}\n\"just a string\"\n"),
    )
    .unwrap();
    std::fs::create_dir(d.join("looks-like-a-file.txt")).unwrap();
    std::fs::write(d.join("looks-like-a-file.txt").join("inner.txt"), "Die Lufthansa streicht Flüge.").unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(d.join("socket.txt")).unwrap();
    // files that cannot be read: a symlink loop, a dangling symlink, a FIFO (opening it would
    // block), and a directory symlink pointing back up (a walk must not go round forever)
    std::os::unix::fs::symlink(d.join("loop-b.txt"), d.join("loop-a.txt")).unwrap();
    std::os::unix::fs::symlink(d.join("loop-a.txt"), d.join("loop-b.txt")).unwrap();
    std::os::unix::fs::symlink(d.join("gone.txt"), d.join("dangling.txt")).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(d.join("fifo.txt")).status().unwrap().success());
    std::os::unix::fs::symlink(d, d.join("looks-like-a-file.txt").join("up")).unwrap();
    let out = Command::cargo_bin("fintag")
        .unwrap()
        .current_dir(common::repo())
        .args(["classify", "--format", "jsonl", "--max-bytes", "2000000"])
        .arg(d)
        .arg(d.join("looks-like-a-file.txt"))
        .arg(d.join("socket.txt"))
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let recs: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let find = |needle: &str| {
        recs.iter().find(|r| r["id"].as_str().unwrap_or("").contains(needle)).unwrap_or_else(|| panic!("no record for {needle}:\n{stdout}"))
    };
    assert!(find("nul.txt")["error"].as_str().unwrap().contains("not a text file"));
    assert!(find("invalid-utf8.txt").get("error").is_none(), "Latin-1 fallback should read it");
    assert!(find("empty.txt")["error"].as_str().unwrap().contains("empty"));
    assert!(find("twenty-mb.txt")["error"].as_str().unwrap().contains("too large"));
    assert!(find("one-line.txt")["error"].as_str().unwrap().contains("too long for one document"));
    assert!(find("nested.html").get("error").is_none());
    assert!(find("malformed.html").get("error").is_none());
    assert!(find("corpus.jsonl:2")["error"].as_str().unwrap().contains("broken JSON"));
    // a line too large to parse keeps the id it names up front; the error says where it is
    let big = recs.iter().find(|r| r["id"] == "big").unwrap_or_else(|| panic!("no record for big:\n{stdout}"));
    let big_error = big["error"].as_str().unwrap();
    assert!(big_error.contains("too large") && big_error.contains("corpus.jsonl:3"), "{big_error}");
    assert!(find("corpus.jsonl:4").get("error").is_some());
    assert!(recs.iter().any(|r| r["id"] == "fine" && r.get("error").is_none()));
    // a directory named like a file is walked like any directory
    assert!(find("looks-like-a-file.txt/inner.txt").get("error").is_none());
    assert!(find("socket.txt").get("error").is_some());
    for name in ["loop-a.txt", "loop-b.txt", "dangling.txt", "fifo.txt"] {
        let rec = recs.iter().find(|r| r["id"].as_str().unwrap_or("").ends_with(name));
        assert!(rec.map_or(true, |r| r.get("error").is_some()), "{name} should be an error or skipped: {rec:?}");
    }
}
