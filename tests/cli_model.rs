//! The product surface end to end through the binary, on the shipped model:
//! classify (all formats, filters, bad input), flag (CSV/JSONL, resume, shards, exit codes,
//! refusal to overwrite, SIGKILL safety), eval (--pred, --json, --html) and the model tools
//! (tags, average, set-decoder).

mod common;

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn fintag() -> Command {
    let mut c = Command::cargo_bin("fintag").unwrap();
    c.current_dir(common::repo());
    c
}

fn jsonl(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out).lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn classify_writes_section_3_jsonl_with_exact_offsets() {
    let out =
        fintag().args(["classify", "--format", "jsonl", "data/samples/alibaba-promo.txt"]).assert().success().get_output().stdout.clone();
    let recs = jsonl(&out);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["id"], "data/samples/alibaba-promo.txt");
    let text = std::fs::read_to_string(common::repo().join("data/samples/alibaba-promo.txt")).unwrap();
    let chars: Vec<char> = text.chars().collect();
    for key in ["sentiment", "sentiment_scores", "clickbait", "sentences", "spans"] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    for s in r["spans"].as_array().unwrap() {
        let (a, b) = (s["start"].as_u64().unwrap() as usize, s["end"].as_u64().unwrap() as usize);
        let surface: String = chars[a..b].iter().collect();
        assert_eq!(s["text"].as_str().unwrap(), surface);
        let score = s["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
    }
    // the promotional tail is found and the document is flagged
    assert!(r["clickbait"].as_f64().unwrap() > 0.5, "{r}");
    assert!(
        r["spans"].as_array().unwrap().iter().any(|s| s["label"] == "PROMO" && s["text"].as_str().unwrap().contains("Gratis-Report")),
        "{r}"
    );
    assert!(r["spans"].as_array().unwrap().iter().any(|s| s["label"] == "ORG" && s["text"] == "JPMorgan"), "{r}");
}

#[test]
fn classify_formats_labels_and_min_score() {
    let pretty =
        fintag().args(["classify", "--format", "pretty", "data/samples/forum-post.txt"]).assert().success().get_output().stdout.clone();
    let pretty = String::from_utf8(pretty).unwrap();
    assert!(pretty.contains("clickbait") && pretty.contains("sentences"), "{pretty}");
    let json =
        fintag().args(["classify", "--format", "json", "data/samples/siemens-energy.html"]).assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let text = v[0]["text"].as_str().unwrap();
    assert!(text.starts_with("Startseite > Märkte") || text.contains("Siemens Energy hebt"), "{text}");
    assert!(!text.contains("<p>") && !text.contains("tracking"), "HTML not reduced: {text}");
    let only = fintag()
        .args(["classify", "--format", "jsonl", "--labels", "ORG,PROMO", "--min-score", "0.5", "data/samples/alibaba-promo.txt"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    for s in jsonl(&only)[0]["spans"].as_array().unwrap() {
        assert!(s["label"] == "ORG" || s["label"] == "PROMO");
        assert!(s["score"].as_f64().unwrap() >= 0.5);
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("out.html");
    fintag().args(["classify", "--format", "html", "--out"]).arg(&html).arg("data/samples").assert().success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<mark") && page.contains("class=\"promo\"") && page.contains("legend"));
    fintag()
        .args(["classify", "--labels", "FOO", "data/samples/forum-post.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown label"));
}

#[test]
fn classify_reads_stdin_jsonl_and_windows_1252() {
    fintag()
        .args(["classify", "--format", "jsonl", "-"])
        .write_stdin("Die Deutsche Bank hob das Kursziel für SAP auf 300 Euro an.")
        .assert()
        .success()
        .stdout(predicate::str::contains("\"id\":\"-\""));
    let dir = tempfile::tempdir().unwrap();
    let latin = dir.path().join("latin1.txt");
    std::fs::write(&latin, b"M\xfcnchener R\xfcck steigert den Gewinn um 12 Prozent auf 1,2 Mrd. \x80.").unwrap();
    let out = fintag().args(["classify", "--format", "json"]).arg(&latin).assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v[0]["text"].as_str().unwrap().starts_with("Münchener Rück"), "{v}");
}

/// Bad inputs of every kind: each gets its own error record, the rest is still tagged.
#[test]
fn bad_inputs_are_per_document_errors_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a-good.txt"), "Die Commerzbank-Aktie stieg am Montag um 3 Prozent.").unwrap();
    std::fs::write(d.join("b-empty.txt"), "").unwrap();
    std::fs::write(d.join("c-binary.bin"), [0u8, 159, 146, 150, 0, 1, 2, 3]).unwrap();
    std::fs::write(d.join("d-huge.txt"), "A".repeat(3 << 20)).unwrap();
    std::fs::write(d.join("e-corpus.jsonl"), "{\"id\":\"ok1\",\"text\":\"Die EZB senkt den Leitzins.\"}\n{broken\n{\"id\":\"notext\"}\n{\"id\":\"ok2\",\"text\":\"Bitcoin fällt unter 60.000 Dollar.\"}\n").unwrap();
    std::os::unix::fs::symlink(d, d.join("f-loop")).unwrap();
    let out = fintag()
        .args(["classify", "--format", "jsonl", "--max-bytes", "1000000"])
        .arg(d)
        .arg(d.join("missing.txt"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    let recs = jsonl(&out.stdout);
    let ok: Vec<&str> = recs.iter().filter(|r| r.get("error").is_none()).map(|r| r["id"].as_str().unwrap()).collect();
    let errs: Vec<String> = recs.iter().filter(|r| r.get("error").is_some()).map(|r| format!("{} {}", r["id"], r["error"])).collect();
    assert!(ok.iter().any(|i| i.ends_with("a-good.txt")), "{ok:?}");
    assert!(ok.contains(&"ok1") && ok.contains(&"ok2"), "{ok:?}");
    let joined = errs.join("\n");
    for needle in ["b-empty.txt", "c-binary.bin", "d-huge.txt", "missing.txt", "e-corpus.jsonl:2", "notext", "f-loop"] {
        assert!(joined.contains(needle), "no error record for {needle}:\n{joined}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a text file"));
    // one line per failed document, naming it once
    let missing = d.join("missing.txt").display().to_string();
    let line = stderr.lines().find(|l| l.contains(&missing)).unwrap();
    assert_eq!(line.matches(&missing).count(), 1, "{line}");
    assert!(line.starts_with(&format!("fintag: {missing}: ")), "{line}");
}

/// Writes `n` short documents (every third one promotional) into a new `docs` folder under
/// `parent` and returns that folder.
fn write_docs(parent: &Path, n: usize) -> std::path::PathBuf {
    let dir = parent.join("docs");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..n {
        let body = if i % 3 == 0 {
            format!("Diese Aktie Nr. {i} könnte explodieren! Jetzt kostenlosen Sonderreport anfordern und Depot sichern. Hier klicken...")
        } else {
            format!("Die Allianz meldete für das Quartal {i} einen Gewinnanstieg um {} Prozent.", i % 9 + 1)
        };
        std::fs::write(dir.join(format!("doc-{i:03}.txt")), body).unwrap();
    }
    dir
}

#[test]
fn flag_streams_csv_and_jsonl_refuses_overwrite_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let docs = write_docs(dir.path(), 12);
    let csv = dir.path().join("out.csv");
    fintag().args(["flag", "--quiet", "--out"]).arg(&csv).arg(&docs).assert().code(0).stderr(predicate::str::contains("12 documents"));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 13, "{text}");
    assert!(text.starts_with("id,clickbait,flagged,sentiment"));
    let flagged = text.lines().skip(1).filter(|l| l.split(',').nth(2) == Some("1")).count();
    assert!(flagged >= 3, "{text}");
    // existing output without --resume: refused, file untouched
    fintag().args(["flag", "--quiet", "--out"]).arg(&csv).arg(&docs).assert().code(2).stderr(predicate::str::contains("--resume"));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), text);
    // a half-written last line (a killed run) is cut and the rest completed, no duplicates
    let jl = dir.path().join("out.jsonl");
    fintag().args(["flag", "--quiet", "--out"]).arg(&jl).arg(&docs).assert().code(0);
    let full = std::fs::read_to_string(&jl).unwrap();
    let keep: Vec<&str> = full.lines().take(5).collect();
    std::fs::write(&jl, keep.join("\n") + "\n{\"id\":\"trunc").unwrap();
    fintag()
        .args(["flag", "--quiet", "--resume", "--out"])
        .arg(&jl)
        .arg(&docs)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("5 already done"));
    let ids: Vec<String> = jsonl(std::fs::read(&jl).unwrap().as_slice()).iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), 12);
    assert_eq!(unique.len(), 12);
}

#[test]
fn flag_resume_retries_failed_documents_and_its_exit_code_covers_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let docs = write_docs(dir.path(), 4);
    let empty = docs.join("zz-later.txt");
    std::fs::write(&empty, "").unwrap();
    for name in ["out.csv", "out.jsonl"] {
        let out = dir.path().join(name);
        // the empty file fails: exit 2, one error record
        fintag().args(["flag", "--quiet", "--out"]).arg(&out).arg(&docs).assert().code(2);
        // nothing new and nothing failed: the earlier flags still make it 0, not 1
        std::fs::remove_file(&empty).unwrap();
        fintag()
            .args(["flag", "--quiet", "--resume", "--out"])
            .arg(&out)
            .arg(&docs)
            .assert()
            .code(0)
            .stderr(predicate::str::contains("retrying 1 documents that failed before"))
            .stderr(predicate::str::contains("4 already done"));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(!text.contains("empty"), "the error record is gone: {text}");
        // the file, now readable, is tried again and gets its own record, once
        std::fs::write(&empty, "Die Bundesbank meldet stabile Zahlen für das dritte Quartal.").unwrap();
        fintag().args(["flag", "--quiet", "--resume", "--out"]).arg(&out).arg(&docs).assert().code(0);
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text.matches("zz-later.txt").count(), 1, "{text}");
        assert_eq!(text.lines().count(), if name.ends_with(".csv") { 6 } else { 5 }, "{text}");
        std::fs::write(&empty, "").unwrap();
    }
}

#[test]
fn an_output_file_never_overwrites_or_joins_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let docs = write_docs(dir.path(), 2);
    let corpus = dir.path().join("corpus.jsonl");
    std::fs::write(&corpus, "{\"id\":\"a\",\"text\":\"Die Allianz meldete einen Gewinnanstieg.\"}\n").unwrap();
    let before = std::fs::read(&corpus).unwrap();
    // the input as --out: refused before anything is written, the input intact
    for args in [&["classify", "-f", "jsonl"][..], &["flag", "--quiet"][..]] {
        fintag().args(args).arg("--out").arg(&corpus).arg(&corpus).assert().code(2).stderr(predicate::str::contains("also an input"));
        assert_eq!(std::fs::read(&corpus).unwrap(), before);
    }
    // --out inside an input directory would be read back as input
    let inside = docs.join("out.jsonl");
    fintag()
        .args(["classify", "--out"])
        .arg(&inside)
        .arg(&docs)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("inside the input directory"));
    fintag().args(["flag", "--quiet", "--out"]).arg(&inside).arg(&docs).assert().code(2);
    assert!(!inside.exists());
    // `--out -` is stdout, no file named "-"
    let out = fintag()
        .args(["classify", "-f", "jsonl", "--out", "-"])
        .arg(&corpus)
        .current_dir(dir.path())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    assert_eq!(jsonl(&out)[0]["id"], "a");
    assert!(!dir.path().join("-").exists());
    // a hard link to the input is the input
    let link = dir.path().join("hard.jsonl");
    std::fs::hard_link(&corpus, &link).unwrap();
    fintag()
        .args(["classify", "-f", "jsonl", "--out"])
        .arg(&link)
        .arg(&corpus)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("also an input"));
    assert_eq!(std::fs::read(&corpus).unwrap(), before);
    // JSON is staged beside --out and takes its name when complete; through a symlink the
    // file it points at gets the output and the link stays a link
    let json = dir.path().join("out.json");
    let via = dir.path().join("via.json");
    std::fs::write(&json, "OLD").unwrap();
    std::os::unix::fs::symlink(&json, &via).unwrap();
    fintag().args(["classify", "-f", "json", "--out"]).arg(&via).arg(&corpus).assert().code(0);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v[0]["id"], "a");
    assert!(std::fs::symlink_metadata(&via).unwrap().file_type().is_symlink());
    assert!(!dir.path().join(".out.json.fintag-partial").exists());
}

#[test]
fn flag_workers_keep_input_order_and_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let docs = write_docs(dir.path(), 10);
    let run = |args: &[&str], name: &str| {
        let out = dir.path().join(name);
        fintag().args(["flag", "--quiet"]).args(args).arg("--out").arg(&out).arg(&docs).assert().code(0);
        jsonl(&std::fs::read(&out).unwrap())
            .iter()
            .map(|r| (r["id"].as_str().unwrap().to_string(), r["flagged"].clone()))
            .collect::<Vec<_>>()
    };
    let one = run(&["--workers", "1"], "one.jsonl");
    // three workers on batches of two: batches finish out of order and must be put back
    let three = run(&["--workers", "3", "--threads", "3", "--batch", "2"], "three.jsonl");
    assert_eq!(one.len(), 10);
    assert_eq!(one, three);
}

#[test]
fn corrupt_or_mismatched_model_directories_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    std::fs::create_dir(&model).unwrap();
    let shipped = common::repo().join("models/fintag-de");
    for f in ["config.json", "weights.ot", "casing.txt", "umlauts.txt"] {
        std::fs::copy(shipped.join(f), model.join(f)).unwrap();
    }
    let base = common::base_dir();
    let classify =
        |expect: &str| classify_fails_with(&["--base".as_ref(), base.as_os_str(), "--model".as_ref(), model.as_os_str()], expect);
    // truncated weights
    let w = std::fs::read(shipped.join("weights.ot")).unwrap();
    std::fs::write(model.join("weights.ot"), &w[..w.len() / 3]).unwrap();
    classify("weights.ot is unreadable");
    // a file holding one needed tensor, of the wrong size: the missing ones are named first
    let t = tch::Tensor::zeros(&[3, 3], (tch::Kind::Half, tch::Device::Cpu));
    tch::Tensor::save_multi(&[("heads.entity.weight", &t)], model.join("weights.ot")).unwrap();
    classify("weights.ot lacks tensor encoder.");
    // every tensor present, one of another shape
    let mut all = tch::Tensor::load_multi(shipped.join("weights.ot")).unwrap();
    for (name, tensor) in all.iter_mut() {
        if name == "heads.entity.weight" {
            *tensor = t.shallow_clone();
        }
    }
    tch::Tensor::save_multi(&all, model.join("weights.ot")).unwrap();
    classify("tensor heads.entity.weight has shape [3, 3], the model needs [17, 384]");
    // a spelling table its config.json asks for is missing
    std::fs::copy(shipped.join("weights.ot"), model.join("weights.ot")).unwrap();
    std::fs::remove_file(model.join("umlauts.txt")).unwrap();
    classify("umlauts.txt");
    std::fs::remove_file(model.join("casing.txt")).unwrap();
    classify("casing.txt");
    // trained on another base model
    let cfg = std::fs::read_to_string(shipped.join("config.json")).unwrap();
    let sha = serde_json::from_str::<serde_json::Value>(&cfg).unwrap()["base_sha256"].as_str().unwrap().to_string();
    std::fs::write(model.join("config.json"), cfg.replace(&sha, &"0".repeat(64))).unwrap();
    classify("was trained on base model");
    // config that is not JSON
    std::fs::write(model.join("config.json"), "{ not json").unwrap();
    classify("config.json");
}

#[test]
fn flag_exit_codes_and_shards_partition_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let calm = dir.path().join("calm");
    std::fs::create_dir(&calm).unwrap();
    std::fs::write(calm.join("a.txt"), "Die Bundesbank veröffentlichte am Dienstag ihren Monatsbericht.").unwrap();
    fintag().args(["flag", "--quiet", "--out"]).arg(dir.path().join("calm.jsonl")).arg(&calm).assert().code(1);
    std::fs::write(calm.join("b.bin"), [0u8, 1, 2, 3]).unwrap();
    fintag().args(["flag", "--quiet", "--out"]).arg(dir.path().join("calm2.jsonl")).arg(&calm).assert().code(2);

    let docs = write_docs(dir.path(), 9);
    let mut seen = Vec::new();
    for i in 0..3 {
        let out = dir.path().join(format!("shard{i}.jsonl"));
        let _ = fintag().args(["flag", "--quiet", "--shard", &format!("{i}/3"), "--out"]).arg(&out).arg(&docs).assert();
        seen.extend(jsonl(&std::fs::read(&out).unwrap_or_default()).iter().map(|r| r["id"].as_str().unwrap().to_string()));
    }
    seen.sort();
    let all: Vec<String> = (0..9).map(|i| docs.join(format!("doc-{i:03}.txt")).display().to_string()).collect();
    assert_eq!(seen, all);
    fintag().args(["flag", "--shard", "3/3", "--out"]).arg(dir.path().join("x.jsonl")).arg(&docs).assert().code(2);
}

#[test]
fn flag_killed_midway_and_resumed_has_exactly_one_result_per_document() {
    let dir = tempfile::tempdir().unwrap();
    let docs = write_docs(dir.path(), 60);
    let out = dir.path().join("out.jsonl");
    let bin = assert_cmd::cargo::cargo_bin("fintag");
    let mut child = std::process::Command::new(&bin)
        .current_dir(common::repo())
        .args(["flag", "--quiet", "--batch", "4", "--out"])
        .arg(&out)
        .arg(&docs)
        .spawn()
        .unwrap();
    // wait until some results are written, then SIGKILL
    let t0 = std::time::Instant::now();
    while std::fs::read(&out).map(|b| b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0) < 8 && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let partial = std::fs::read(&out).unwrap().iter().filter(|c| **c == b'\n').count();
    assert!(partial < 60, "the run finished before it could be killed");
    fintag().args(["flag", "--quiet", "--resume", "--out"]).arg(&out).arg(&docs).assert().code(0);
    let recs = jsonl(&std::fs::read(&out).unwrap());
    let ids: std::collections::HashSet<String> = recs.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(recs.len(), 60, "duplicates or losses after resume");
    assert_eq!(ids.len(), 60);
}

#[test]
fn eval_scores_predictions_and_writes_json_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("pred.jsonl");
    let json = dir.path().join("report.json");
    let html = dir.path().join("report.html");
    // the model's own predictions, saved, then re-scored through --pred: same numbers
    let a = fintag()
        .args(["eval", "data/dev.jsonl", "--save-pred"])
        .arg(&pred)
        .arg("--json")
        .arg(&json)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let b = fintag()
        .args(["eval", "data/dev.jsonl", "--pred"])
        .arg(&pred)
        .arg("--html")
        .arg(&html)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(a, b);
    // predictions for 3 of the 54 documents: the other documents' spans count as missed,
    // and the exit code says the scores are not over the whole set
    let part = dir.path().join("part.jsonl");
    let saved = std::fs::read_to_string(&pred).unwrap();
    std::fs::write(&part, saved.lines().take(3).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    let out = fintag()
        .args(["eval", "data/dev.jsonl", "--pred"])
        .arg(&part)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("51 of 54 gold documents have no prediction"))
        .get_output()
        .stdout
        .clone();
    let micro = |t: &str| t.lines().find(|l| l.trim_start().starts_with("micro")).map(str::to_string).unwrap();
    let (whole, partial) = (String::from_utf8(a.clone()).unwrap(), String::from_utf8(out).unwrap());
    assert_ne!(micro(&whole), micro(&partial), "missing documents must lower recall");
    let text = String::from_utf8(a).unwrap();
    assert!(text.contains("PROMO") && text.contains("ROC-AUC") && text.contains("micro"));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(r["entities_exact"]["micro"]["f1"].as_f64().unwrap() > 0.5);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Worst errors") && page.contains("confusion") || page.contains("rows: gold"));
    // the seed example: every PROMO sentence found, no news sentence flagged
    let seed = common::shared_examples().join("seed-alibaba.jsonl");
    let s = fintag().args(["eval"]).arg(&seed).arg("--json").arg(dir.path().join("seed.json")).assert().success();
    let _ = s;
    let sr: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("seed.json")).unwrap()).unwrap();
    // No news sentence of the seed may be flagged, and all 7 of its PROMO sentences must be found.
    assert_eq!(sr["promo_span_overlap"]["precision"].as_f64().unwrap(), 1.0, "a news sentence of the seed was flagged");
    let found = sr["promo_span_overlap"]["recall"].as_f64().unwrap() * 7.0;
    assert!(found >= 6.99, "only {found:.0} of the seed's 7 PROMO sentences found");
    // one document is one clickbait class: no AUC (null, not a number that looks like a score)
    assert!(sr["clickbait"]["roc_auc"].is_null() && sr["clickbait"]["one_class"] == true, "{}", sr["clickbait"]);
}

/// `fintag classify ARGS... data/samples/forum-post.txt` must fail with exit code 2 and a
/// message containing `expect`, not a panic.
fn classify_fails_with(args: &[&std::ffi::OsStr], expect: &str) {
    let out = fintag().arg("classify").args(args).arg("data/samples/forum-post.txt").assert().code(2).get_output().stderr.clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains(expect) && !err.contains("panicked"), "want {expect:?} in: {err}");
}

#[test]
fn missing_base_or_model_gives_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    classify_fails_with(&["--base".as_ref(), dir.path().as_os_str()], "make setup");
    classify_fails_with(&["--model".as_ref(), dir.path().as_os_str()], "not a fintag model directory");
}

/// `fintag model tags` is what the benchmark compares runtimes on: its PROMO decisions must
/// be taken at the threshold the decoder makes spans at, so a promotional article has
/// promotional tokens and a plain one none.
#[test]
fn model_tags_mark_the_tokens_promo_spans_are_made_of() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tags.jsonl");
    fintag().args(["model", "tags", "data/samples", "--out"]).arg(&out).assert().success();
    let recs = jsonl(&std::fs::read(&out).unwrap());
    let by_id = |id: &str| recs.iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("no record for {id}"));
    let promo_tokens = |r: &serde_json::Value| r["promo"].as_array().unwrap().iter().filter(|p| p.as_bool().unwrap()).count();
    let (promo, plain) = (by_id("data/samples/alibaba-promo.txt"), by_id("data/samples/siemens-energy.html"));
    assert_eq!(promo["promo"].as_array().unwrap().len(), promo["ids"].as_array().unwrap().len());
    // the sample's three PROMO sentences are about 40 of its 250 tokens
    assert!(promo_tokens(promo) >= 20, "{} promotional tokens", promo_tokens(promo));
    assert_eq!(promo_tokens(plain), 0);
}

#[test]
fn model_average_is_the_mean_of_the_weights_and_refuses_other_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = common::repo().join("models/fintag-de");
    let base = common::base_dir();
    let stored = tch::Tensor::load_multi(shipped.join("weights.ot")).unwrap();
    // a second model: the shipped one with the entity head's weights set to zero
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    for f in ["config.json", "casing.txt", "umlauts.txt"] {
        std::fs::copy(shipped.join(f), other.join(f)).unwrap();
    }
    let zeroed: Vec<(String, tch::Tensor)> =
        stored.iter().map(|(n, t)| (n.clone(), if n == "heads.entity.weight" { t.zeros_like() } else { t.shallow_clone() })).collect();
    tch::Tensor::save_multi(&zeroed, other.join("weights.ot")).unwrap();
    let out = dir.path().join("soup");
    fintag().args(["model", "average"]).arg(&shipped).arg(&other).arg("--base").arg(&base).arg("--out").arg(&out).assert().success();
    let mean: std::collections::HashMap<String, tch::Tensor> =
        tch::Tensor::load_multi(out.join("weights.ot")).unwrap().into_iter().collect();
    assert_eq!(mean.len(), stored.len());
    for (name, t) in &stored {
        // the mean is taken in float32 and stored in float16 (halving a tiny float16 value
        // rounds), and equal values average to themselves
        let t = t.to_kind(tch::Kind::Float);
        let want = if name == "heads.entity.weight" { (t / 2.0).to_kind(tch::Kind::Half).to_kind(tch::Kind::Float) } else { t };
        let got = mean[name].to_kind(tch::Kind::Float);
        assert!(got.equal(&want), "{name} is not the mean of the two models");
    }
    let cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["name"], "soup");
    // a model of another shape (one tensor with other dimensions) is refused by name
    let t = tch::Tensor::zeros(&[3, 3], (tch::Kind::Half, tch::Device::Cpu));
    let reshaped: Vec<(String, tch::Tensor)> =
        stored.iter().map(|(n, x)| (n.clone(), if n == "heads.entity.weight" { t.shallow_clone() } else { x.shallow_clone() })).collect();
    tch::Tensor::save_multi(&reshaped, other.join("weights.ot")).unwrap();
    let o = fintag()
        .args(["model", "average"])
        .arg(&shipped)
        .arg(&other)
        .arg("--base")
        .arg(&base)
        .arg("--out")
        .arg(dir.path().join("bad"))
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&o.get_output().stderr).to_string();
    assert!(err.contains("heads.entity.weight"), "{err}");
    assert!(!dir.path().join("bad").join("weights.ot").exists());
}

#[test]
fn model_set_decoder_stores_only_the_thresholds_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = common::repo().join("models/fintag-de");
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    // config.json alone: the command edits the decoder settings without loading the weights
    std::fs::copy(shipped.join("config.json"), copy.join("config.json")).unwrap();
    let read = || -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(copy.join("config.json")).unwrap()).unwrap() };
    let before = read();
    // without options it only shows the settings
    let o = fintag().args(["model", "set-decoder", "--model"]).arg(&copy).assert().success();
    assert!(String::from_utf8_lossy(&o.get_output().stderr).contains("min_clause_tokens"));
    assert_eq!(read(), before);
    let clause = before["decode"]["min_clause_tokens"].as_u64().unwrap() + 1;
    fintag()
        .args(["model", "set-decoder", "--promo-threshold-flagged", "0.45", "--min-clause-tokens", &clause.to_string(), "--model"])
        .arg(&copy)
        .assert()
        .success();
    let after = read();
    assert_eq!(after["decode"]["min_clause_tokens"].as_u64().unwrap(), clause);
    assert!((after["decode"]["promo_threshold_flagged"].as_f64().unwrap() - 0.45).abs() < 1e-6);
    let mut expected = before.clone();
    expected["decode"]["min_clause_tokens"] = after["decode"]["min_clause_tokens"].clone();
    expected["decode"]["promo_threshold_flagged"] = after["decode"]["promo_threshold_flagged"].clone();
    assert_eq!(after, expected, "nothing else in config.json changes");
    // malformed or out-of-range values are refused by name, and config.json stays as it was
    for (flag, value) in [
        ("--min-clause-tokens", "x"),
        ("--promo-sentence-share", "1.5"),
        ("--promo-threshold", "-0.1"),
        ("--promo-threshold-flagged", "NaN"),
    ] {
        let out = fintag().args(["model", "set-decoder", &format!("{flag}={value}"), "--model"]).arg(&copy).assert().failure();
        assert!(String::from_utf8_lossy(&out.get_output().stderr).contains(&flag[2..]), "{flag} {value}");
        assert_eq!(read(), after, "{flag} {value}");
    }
    // the shipped model has no sentence PROMO head: that head's threshold is not stored
    let out = fintag().args(["model", "set-decoder", "--promo-sentence-threshold", "0.4", "--model"]).arg(&copy).assert().failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("no sentence PROMO head"));
    assert_eq!(read(), after);
    // a directory without config.json is not a model
    let out = fintag().args(["model", "set-decoder", "--promo-threshold", "0.5", "--model"]).arg(dir.path()).assert().failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("config.json"));
}

#[test]
fn model_spelling_learns_the_shipped_tables_from_the_training_split() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = common::repo().join("models/fintag-de");
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    // config.json alone, with the rules off as in a model from before them
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(shipped.join("config.json")).unwrap()).unwrap();
    cfg["restore_case"] = false.into();
    cfg["restore_umlauts"] = false.into();
    std::fs::write(copy.join("config.json"), serde_json::to_string(&cfg).unwrap()).unwrap();
    fintag().args(["model", "spelling"]).arg(common::repo().join("data/train.jsonl")).arg("--model").arg(&copy).assert().success();
    let after: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(copy.join("config.json")).unwrap()).unwrap();
    cfg["restore_case"] = true.into();
    cfg["restore_umlauts"] = true.into();
    assert_eq!(after, cfg, "the rules are turned on and nothing else changes");
    // data/train.jsonl is the split the shipped model was trained on (corpus c1c0511)
    let learnt = |f: &str| std::fs::read_to_string(copy.join(f)).unwrap();
    for f in ["casing.txt", "umlauts.txt"] {
        assert_eq!(learnt(f), std::fs::read_to_string(shipped.join(f)).unwrap(), "{f}");
    }
    assert!(learnt("casing.txt").lines().any(|l| l == "Aktie") && !learnt("casing.txt").lines().any(|l| l == "Die"));
    assert!(learnt("umlauts.txt").lines().any(|l| l == "Börse") && learnt("umlauts.txt").lines().all(|l| !l.is_ascii()));
    // no documents, or unreadable ones, are refused and write nothing
    let out = fintag().args(["model", "spelling", "--model"]).arg(dir.path()).assert().failure();
    assert!(!String::from_utf8_lossy(&out.get_output().stderr).is_empty());
    assert!(!dir.path().join("casing.txt").exists() && !dir.path().join("umlauts.txt").exists());
}

/// `fintag model tune-decoder` re-decodes dev under its grid of PROMO settings and stores the
/// best one that finds the required document's PROMO exactly; a document it cannot tag stops
/// it with that document's name instead of counting as all-missed.
#[test]
fn tune_decoder_stores_a_setting_that_decodes_the_required_document_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for f in ["config.json", "weights.ot", "casing.txt", "umlauts.txt"] {
        std::fs::copy(common::repo().join("models/fintag-de").join(f), model.join(f)).unwrap();
    }
    // twelve dev documents, promotional and plain
    let dev: String =
        std::fs::read_to_string(common::repo().join("data/dev.jsonl")).unwrap().lines().take(12).map(|l| l.to_owned() + "\n").collect();
    let gold = dir.path().join("dev12.jsonl");
    std::fs::write(&gold, &dev).unwrap();
    let seed = common::shared_examples().join("seed-alibaba.jsonl");
    let base = common::base_dir();
    let tune = |gold: &Path| {
        let mut c = fintag();
        c.args(["model", "tune-decoder"]).arg(gold).arg("--require").arg(&seed).arg("--model").arg(&model).arg("--base").arg(&base);
        c.assert()
    };
    let out = tune(&gold).success().get_output().stderr.clone();
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("settings decode the required documents' PROMO exactly") && err.contains("best of"), "{err}");
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    let flagged = stored["decode"]["promo_threshold_flagged"].as_f64().unwrap();
    assert!([0.15, 0.2, 0.3, 0.4, 0.5].iter().any(|g| (g - flagged).abs() < 1e-6), "a setting of the grid: {flagged}");
    // the stored setting finds the seed's PROMO exactly
    let report = dir.path().join("seed.json");
    fintag().arg("eval").arg(&seed).arg("--model").arg(&model).arg("--base").arg(&base).arg("--json").arg(&report).assert().success();
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(r["promo_char"]["f1"].as_f64().unwrap() > 0.9999, "{}", r["promo_char"]);
    // a whitespace-only document cannot be tagged: tuning stops and names it
    let mut doc: serde_json::Value = serde_json::from_str(dev.lines().next().unwrap()).unwrap();
    doc["id"] = "blank-doc".into();
    doc["text"] = "   ".into();
    for key in ["spans", "sentences"] {
        doc[key] = serde_json::json!([]);
    }
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(&broken, format!("{dev}{doc}\n")).unwrap();
    tune(&broken).failure().stderr(predicate::str::contains("blank-doc"));
}
