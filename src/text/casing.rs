//! Text written in small letters only (as some forum posts and chat messages are) read with
//! the capitals German writes: nouns, names and the first word of a sentence. The corpus has
//! no such line; read as written, the model lost most names and the splitter every sentence
//! end (README "On text it has never seen"). The capitals come from a table of how the
//! training texts write each word, stored beside the model (`casing.txt`).

use super::char_runs;
use crate::error::{FintagError, Result};
use std::collections::HashMap;
use std::path::Path;

/// The file of a model directory that holds its [`Casing`] table.
pub const CASING_FILE: &str = "casing.txt";

/// How the training texts write the words they do not write in small letters: for a word in
/// small letters, the form it has in at least two of three places where no sentence starts
/// ("aktie" → "Aktie", "basf" → "BASF", "sie" → "Sie" in a corpus of letters to the reader).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Casing {
    forms: HashMap<String, String>,
}

/// A word: a run of letters and digits with at least one letter.
fn words(chars: &[char]) -> Vec<(usize, usize)> {
    char_runs(chars, char::is_alphanumeric).into_iter().filter(|&(s, e)| chars[s..e].iter().any(|c| c.is_alphabetic())).collect()
}

fn has_capital(w: &[char]) -> bool {
    w.iter().any(|c| c.is_uppercase())
}

/// The text in small letters, one character for one (a character whose small form is longer,
/// like "İ", stays).
fn small(w: &[char]) -> String {
    w.iter().map(|&c| single(c.to_lowercase()).unwrap_or(c)).collect()
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    match (it.next(), it.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// Whether the word starting at `s` may open a sentence: the first of its line, or after
/// ".", "!", "?", ":", an opening quote or bracket (blanks between). A word there is written
/// with a capital whatever it is, so it tells nothing about the word.
fn opens_sentence(chars: &[char], s: usize) -> bool {
    let before = chars[..s].iter().rev().find(|c| !matches!(c, ' ' | '\t' | '\u{a0}'));
    before.is_none_or(|c| matches!(c, '\n' | '.' | '!' | '?' | ':' | '"' | '„' | '“' | '»' | '«' | '(' | '['))
}

impl Casing {
    /// Learns the table from texts written as usual.
    pub fn learn<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut seen: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for text in texts {
            let chars: Vec<char> = text.chars().collect();
            for (s, e) in words(&chars) {
                if !opens_sentence(&chars, s) {
                    let w = &chars[s..e];
                    *seen.entry(small(w)).or_default().entry(w.iter().collect()).or_default() += 1;
                }
            }
        }
        let mut forms = HashMap::new();
        for (lower, counts) in seen {
            let total: usize = counts.values().sum();
            // the most frequent form; among equals the first in sort order, so learning is repeatable
            let Some((form, n)) = counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0))) else { continue };
            if form != lower && n * 3 >= total * 2 && form.chars().count() == lower.chars().count() {
                forms.insert(lower, form);
            }
        }
        Casing { forms }
    }

    /// Reads the table from its text form: one written form per line.
    pub fn parse(text: &str) -> Self {
        let forms = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|form| (small(&form.chars().collect::<Vec<_>>()), form.to_string()))
            .collect();
        Casing { forms }
    }

    /// The table's text form: the written forms, one per line, sorted.
    pub fn to_text(&self) -> String {
        let mut forms: Vec<&str> = self.forms.values().map(String::as_str).collect();
        forms.sort_unstable();
        forms.iter().map(|f| format!("{f}\n")).collect()
    }

    /// Reads a model directory's casing.txt.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(CASING_FILE);
        std::fs::read_to_string(&path).map(|t| Casing::parse(&t)).map_err(|e| FintagError::io(path, e))
    }

    /// Writes the table as a model directory's casing.txt.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(CASING_FILE);
        std::fs::write(&path, self.to_text()).map_err(|e| FintagError::io(path, e))
    }

    pub fn len(&self) -> usize {
        self.forms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// The training texts' form of a word in small letters, if they write it otherwise.
    pub fn form(&self, lower: &str) -> Option<&str> {
        self.forms.get(lower).map(String::as_str)
    }

    /// `chars` with its lines in small letters written with capitals, one character for one;
    /// None when no line is in small letters. A line is when at most one of ten of its words
    /// has a capital and it has four words or more, or belongs to a text that is in small
    /// letters as a whole (a two-word heading of a post in small letters). Each of its words
    /// in small letters takes the table's form, and else a capital when it opens a sentence
    /// (after ".", "!" or "?", or first on its line); words with a capital stay as they are.
    pub fn restore(&self, chars: &[char]) -> Option<Vec<char>> {
        let in_small_letters = |ws: &[(usize, usize)], at: &[char]| {
            let capitals = ws.iter().filter(|&&(s, e)| has_capital(&at[s..e])).count();
            !ws.is_empty() && capitals * 10 <= ws.len()
        };
        let all = words(chars);
        let whole_text = all.len() >= 4 && in_small_letters(&all, chars);
        let mut out: Option<Vec<char>> = None;
        for (line_start, line_end) in super::lines(chars) {
            let line = &chars[line_start..line_end];
            let ws = words(line);
            if in_small_letters(&ws, line) && (ws.len() >= 4 || whole_text) {
                let out = out.get_or_insert_with(|| chars.to_vec());
                for &(s, e) in &ws {
                    let w = &line[s..e];
                    if has_capital(w) {
                        continue;
                    }
                    let lower: String = w.iter().collect();
                    if let Some(form) = self.form(&lower) {
                        for (k, c) in form.chars().enumerate() {
                            out[line_start + s + k] = c;
                        }
                    } else if starts_sentence(line, s) {
                        if let Some(c) = single(w[0].to_uppercase()) {
                            out[line_start + s] = c;
                        }
                    }
                }
            }
        }
        out
    }
}

/// The first word of its line, or the first after ".", "!" or "?" and a blank.
fn starts_sentence(line: &[char], s: usize) -> bool {
    let first = !line[..s].iter().any(|c| c.is_alphanumeric());
    first || line[..s].iter().rposition(|c| !c.is_whitespace()).is_some_and(|p| matches!(line[p], '.' | '!' | '?') && p + 1 < s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn restored(c: &Casing, s: &str) -> Option<String> {
        c.restore(&chars(s)).map(|v| v.into_iter().collect())
    }

    #[test]
    fn the_table_keeps_the_form_written_where_no_sentence_starts() {
        let c = Casing::learn([
            "Die Aktie der BASF stieg. Anleger kauften die Aktie.",
            "Die BASF-Aktie fiel, sagte er. Er verkaufte die Aktie.",
            "Analysten sehen die aktie gut. Die meisten Aktien stiegen.",
        ]);
        assert_eq!(c.form("aktie"), Some("Aktie")); // 3 of 4
        assert_eq!(c.form("basf"), Some("BASF"));
        assert_eq!(c.form("die"), None); // "Die" only where sentences start
        assert_eq!(c.form("analysten"), None); // only where a sentence starts
        assert_eq!(c.form("anleger"), None);
        assert_eq!(Casing::parse(&c.to_text()), c);
        // a form that is not two in three of the places wins nothing
        assert_eq!(Casing::learn(["Das Ding und das ding"]).form("ding"), None);
    }

    #[test]
    fn lines_in_small_letters_take_the_tables_capitals_one_character_for_one() {
        let c = Casing::parse("Aktie\nBASF\nAnleger\n");
        let text = "die basf-aktie stieg um 3 prozent. anleger jubelten!\nwas nun? kaufen";
        let out = restored(&c, text).expect("a line in small letters");
        assert_eq!(out, "Die BASF-Aktie stieg um 3 prozent. Anleger jubelten!\nWas nun? Kaufen");
        assert_eq!(out.chars().count(), text.chars().count());
    }

    #[test]
    fn text_with_ordinary_capitals_is_left_alone() {
        let c = Casing::parse("Aktie\nBASF\n");
        assert_eq!(restored(&c, "Die aktie der BASF stieg am Montag deutlich."), None);
        // a short line in small letters inside ordinary text is left too
        assert_eq!(restored(&c, "Die Aktie der BASF stieg.\nhier weiterlesen\nMehr dazu im Depot."), None);
        // one capital in ten words is still a line in small letters; the capital stays
        let line = "heute die basf aktie gekauft, $BASF läuft super und die aktie steigt";
        assert_eq!(restored(&c, line).as_deref(), Some("Heute die BASF Aktie gekauft, $BASF läuft super und die Aktie steigt"));
        // a short line of a text in small letters is restored with the rest
        assert_eq!(
            restored(&c, "basf-aktie\nheute die aktie gekauft und gut").as_deref(),
            Some("BASF-Aktie\nHeute die Aktie gekauft und gut")
        );
    }
}
