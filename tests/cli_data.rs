//! `fintag data` end to end through the binary.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;

fn fintag() -> Command {
    Command::cargo_bin("fintag").unwrap()
}

#[test]
fn check_passes_on_the_corpus_and_prints_stats() {
    let repo = common::repo();
    fintag().args(["data", "check", "data/train.jsonl", "data/dev.jsonl", "data/test.jsonl"]).current_dir(&repo).assert().success().stdout(
        predicate::str::contains("documents with PROMO")
            .and(predicate::str::contains("INSTRUMENT"))
            .and(predicate::str::contains("genres")),
    );
}

#[test]
fn check_reports_every_problem_with_file_and_line_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.jsonl");
    let good = r#"{"id":"a","text":"Die SAP-Aktie stieg.","spans":[{"start":4,"end":13,"label":"INSTRUMENT"}],"sentences":[{"start":0,"end":20,"sentiment":"positive"}],"sentiment":"positive","clickbait":false}"#;
    let lines = [
        good.to_string(),
        "{broken json".to_string(),
        // span with a space at its edge, overlapping entity, clickbait inconsistent
        r#"{"id":"b","text":"Die SAP Aktie stieg.","spans":[{"start":3,"end":7,"label":"ORG"},{"start":5,"end":13,"label":"INSTRUMENT"}],"sentences":[{"start":0,"end":20,"sentiment":"positive"}],"sentiment":"positive","clickbait":true}"#.to_string(),
        // unknown label, sentence outside the text
        r#"{"id":"c","text":"Kurz.","spans":[{"start":0,"end":4,"label":"FOO"}],"sentences":[{"start":0,"end":50,"sentiment":"neutral"}],"sentiment":"neutral","clickbait":false}"#.to_string(),
        // duplicate id, text outside every sentence
        r#"{"id":"a","text":"Erst. Dann.","spans":[],"sentences":[{"start":0,"end":5,"sentiment":"neutral"}],"sentiment":"neutral","clickbait":false}"#.to_string(),
    ];
    // line 6 is not UTF-8 (Latin-1 "ü"); line 7 after it is still read
    let mut bytes = (lines.join("\n") + "\n").into_bytes();
    bytes.extend_from_slice(b"{\"id\":\"d\",\"text\":\"Gr\xfcn.\"}\n");
    bytes.extend_from_slice(good.replace(r#""id":"a""#, r#""id":"e""#).replace("4,", "44,").as_bytes());
    std::fs::write(&f, bytes).unwrap();
    let out = fintag().args(["data", "check"]).arg(&f).assert().code(1).get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    let name = f.display().to_string();
    assert!(out.contains(&format!("{name}:2: not a labelled document")), "{out}");
    assert!(out.contains(&format!("{name}:3: b: ORG span 3..7")) && out.contains("whitespace at its edge"), "{out}");
    assert!(out.contains("overlaps"), "{out}");
    assert!(out.contains("clickbait is true but the document has no PROMO span"), "{out}");
    assert!(out.contains(&format!("{name}:4:")) && out.contains("unknown label"), "{out}");
    assert!(out.contains(&format!("{name}:5:")) && out.contains("duplicate id a"), "{out}");
    assert!(out.contains("is in no sentence"), "{out}");
    assert!(out.contains(&format!("{name}:6: not UTF-8 text (byte 21 of the line)")), "{out}");
    assert!(out.contains(&format!("{name}:7: e: INSTRUMENT span 44..13")), "line 7 is read: {out}");
    // the good document is still counted
    assert!(out.contains("documents"), "{out}");
}

#[test]
fn ann_import_reproduces_the_seed_article() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seed.jsonl");
    fintag()
        .args(["data", "import", "--from", "ann"])
        .arg(common::shared_examples().join("seed-alibaba.ann"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let mine: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    let gold: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(common::shared_examples().join("seed-alibaba.jsonl")).unwrap().trim()).unwrap();
    for key in ["id", "text", "spans", "sentences", "sentiment", "clickbait", "genre", "source"] {
        assert_eq!(mine[key], gold[key], "{key}");
    }
}

#[test]
fn export_conll_and_split_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let repo = common::repo();
    let conll = dir.path().join("dev.conll");
    fintag().args(["data", "export", "--to", "conll", "data/dev.jsonl", "--out"]).arg(&conll).current_dir(&repo).assert().success();
    let text = std::fs::read_to_string(&conll).unwrap();
    assert!(text.contains("-DOCSTART-") && text.contains("B-ORG"));
    // tokens are cut at span edges, so every entity comes back with its words
    let back = dir.path().join("back.jsonl");
    fintag().args(["data", "import", "--from", "conll"]).arg(&conll).arg("--out").arg(&back).current_dir(&repo).assert().success();
    let surfaces = |p: &std::path::Path| -> Vec<(String, String)> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .flat_map(|l| {
                let d: serde_json::Value = serde_json::from_str(l).unwrap();
                let text: Vec<char> = d["text"].as_str().unwrap().chars().collect();
                d["spans"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["label"] != "PROMO")
                    .map(|s| {
                        let (a, b) = (s["start"].as_u64().unwrap() as usize, s["end"].as_u64().unwrap() as usize);
                        (s["label"].as_str().unwrap().to_string(), text[a..b].iter().collect())
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(surfaces(&back), surfaces(&repo.join("data/dev.jsonl")));
    let all = dir.path().join("all.jsonl");
    let mut content = String::new();
    for s in ["train", "dev", "test"] {
        content.push_str(&std::fs::read_to_string(repo.join(format!("data/{s}.jsonl"))).unwrap());
    }
    std::fs::write(&all, content).unwrap();
    for run in ["a", "b"] {
        let d = dir.path().join(run);
        fintag().args(["data", "split"]).arg(&all).arg("--out-dir").arg(&d).assert().success();
    }
    for s in ["train", "dev", "test"] {
        let a = std::fs::read(dir.path().join("a").join(format!("{s}.jsonl"))).unwrap();
        let b = std::fs::read(dir.path().join("b").join(format!("{s}.jsonl"))).unwrap();
        assert_eq!(a, b, "{s} differs between runs");
    }
}

#[test]
fn train_only_documents_join_train_and_leave_held_out_splits_alone() {
    let dir = tempfile::tempdir().unwrap();
    let repo = common::repo();
    let all = repo.join("data/dev.jsonl");
    let extra = common::shared_examples().join("guideline-examples.jsonl");
    let split = |out: &str, train_only: Option<&std::path::Path>| {
        let mut cmd = fintag();
        cmd.args(["data", "split"]).arg(&all).arg("--out-dir").arg(dir.path().join(out));
        if let Some(t) = train_only {
            cmd.arg("--train-only").arg(t);
        }
        cmd.assert()
    };
    split("plain", None).success();
    split("extra", Some(&extra)).success();
    let read = |run: &str, s: &str| std::fs::read_to_string(dir.path().join(run).join(format!("{s}.jsonl"))).unwrap();
    assert_eq!(read("plain", "dev"), read("extra", "dev"));
    assert_eq!(read("plain", "test"), read("extra", "test"));
    let extra_text = std::fs::read_to_string(&extra).unwrap();
    assert_eq!(read("extra", "train").lines().count(), read("plain", "train").lines().count() + extra_text.lines().count());
    // the same texts under new ids: some land next to their originals in dev/test → refused
    let copies = dir.path().join("copies.jsonl");
    std::fs::write(&copies, std::fs::read_to_string(&all).unwrap().replace("\"id\":\"", "\"id\":\"copy-")).unwrap();
    split("leak", Some(&copies)).failure().stderr(predicate::str::contains("near-duplicate of held-out"));
    assert!(!dir.path().join("leak").join("train.jsonl").exists());
}

#[test]
fn commands_that_score_or_train_refuse_gold_they_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let repo = common::repo();
    let doc = |id: &str, start: usize, end: usize| {
        format!(
            r#"{{"id":"{id}","text":"Die SAP-Aktie stieg.","spans":[{{"start":{start},"end":{end},"label":"ORG"}}],"sentences":[{{"start":0,"end":20,"sentiment":"positive"}}],"sentiment":"positive","clickbait":false}}"#
        )
    };
    let write = |name: &str, lines: &[String]| {
        let p = dir.path().join(name);
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    };
    let good = write("good.jsonl", &[doc("a", 4, 7)]);
    // `fintag train --train TRAIN --dev good.jsonl --out OUT`, run from the repository
    let train = |train: &std::path::Path, out: &std::path::Path| {
        let mut cmd = fintag();
        cmd.args(["train", "--train"]).arg(train).arg("--dev").arg(&good).arg("--out").arg(out).current_dir(&repo);
        cmd
    };
    // a span past the end of the text, a reversed one, the same id twice: each stops eval,
    // tune-decoder and train with the file and line, never a panic
    for (name, lines, needle) in [
        ("past.jsonl", vec![doc("a", 4, 97)], "past.jsonl:1: a: ORG span 4..97 is empty or outside the text"),
        ("rev.jsonl", vec![doc("a", 7, 4)], "rev.jsonl:1: a: ORG span 7..4"),
        ("dup.jsonl", vec![doc("a", 4, 7), doc("a", 4, 7)], "dup.jsonl:2: duplicate id a"),
    ] {
        let bad = write(name, &lines);
        fintag().args(["eval"]).arg(&bad).current_dir(&repo).assert().code(2).stderr(predicate::str::contains(needle));
        fintag().args(["model", "tune-decoder"]).arg(&bad).current_dir(&repo).assert().code(2).stderr(predicate::str::contains(needle));
        let out = dir.path().join(format!("model-{name}"));
        train(&bad, &out).assert().code(2);
        assert!(!out.exists(), "nothing trained on {name}");
    }
    // predictions whose spans or sentences do not fit the text are left out and said so,
    // exit 2; a second prediction for one id is named, not swapped in
    let fitting = r#"{"id":"a","sentiment":"positive","sentiment_scores":{"positive":1.0,"negative":0.0,"neutral":0.0},"clickbait":0.1,"sentences":[{"start":0,"end":20,"sentiment":"positive","score":0.9}],"spans":[{"start":4,"end":7,"label":"ORG","score":0.9,"text":"SAP"}]}"#;
    let eval_pred = |name: &str, lines: &[String]| {
        let out = fintag().args(["eval"]).arg(&good).arg("--pred").arg(write(name, lines)).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, _, stderr) = eval_pred("span.jsonl", &[fitting.replace(r#""start":4,"end":7"#, r#""start":9,"end":3"#)]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("1 predicted spans do not fit"), "{stderr}");
    let (code, stdout, _) = eval_pred("fit.jsonl", &[fitting.to_string()]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("macro-F1 1.000"), "{stdout}");
    let (code, _, stderr) = eval_pred("sent.jsonl", &[fitting.replace(r#""end":20,"#, r#""end":200,"#)]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("1 predicted sentences do not fit"), "{stderr}");
    let other = fitting.replace(r#""start":4,"end":7"#, r#""start":0,"end":3"#);
    let (code, stdout, stderr) = eval_pred("twice.jsonl", &[fitting.to_string(), other]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("twice.jsonl:2: id \"a\" was predicted on line 1 already"), "{stderr}");
    assert!(stdout.contains("micro                   1.000"), "the first prediction counts: {stdout}");
    // options that cannot train are refused before anything runs
    // (and shape options beside --from: training from a model keeps that model's shape)
    for opt in [
        &["--label-smoothing", "1.5"][..],
        &["--lr", "-1"],
        &["--epochs", "0"],
        &["--threads", "0"],
        &["--from", "models/fintag-de", "--tuned-layers", "8"],
        &["--from", "models/fintag-de", "--document-sees-sentences"],
    ] {
        train(&good, &dir.path().join("m")).args(opt).assert().code(2);
        assert!(!dir.path().join("m").exists(), "{opt:?}");
    }
    // a split needs its output directory named and shares that leave a train set
    fintag().args(["data", "split"]).arg(&good).assert().code(2).stderr(predicate::str::contains("--out-dir"));
    fintag().args(["data", "split"]).arg(&good).args(["--dev", "0.6", "--test", "0.5", "--out-dir"]).arg(dir.path()).assert().code(2);
    // a split whose output directory holds its input would write over it
    let sp = dir.path().join("sp");
    std::fs::create_dir(&sp).unwrap();
    std::fs::copy(&good, sp.join("train.jsonl")).unwrap();
    fintag()
        .args(["data", "split"])
        .arg(sp.join("train.jsonl"))
        .arg("--out-dir")
        .arg(&sp)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("also an input"));
    // a model trained into its base model directory would overwrite the base's config.json
    train(&good, &sp).arg("--base").arg(&sp).assert().code(2).stderr(predicate::str::contains("base model directory"));
    // data check: a span that cuts a word (byte offsets read as code points, say)
    let cut = write("cut.jsonl", &[doc("a", 5, 8)]);
    fintag().args(["data", "check"]).arg(&cut).assert().code(1).stdout(predicate::str::contains("cuts a word"));
}
