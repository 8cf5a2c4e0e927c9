//! How the training texts spell their words, for text written otherwise, stored beside the
//! model. Text in small letters only (as some forum posts and chat messages are) is read with
//! the capitals German writes: nouns, names and the first word of a sentence (`casing.txt`);
//! read as written, the model lost most names and the splitter every sentence end. Text
//! written without umlauts ("Boerse", "fuer", Swiss "schliesst") is read with them
//! (`umlauts.txt`); read as written, the model lost names and tone (README "On text it has
//! never seen").

use super::char_runs;
use crate::error::{FintagError, Result};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::Path;

/// What a table of written forms is for: the file it is stored in, and the key a form is
/// looked up by (how the text at hand writes it).
pub trait Respelling {
    const FILE: &'static str;
    fn key(form: &[char]) -> String;
}

/// A table of written forms ("Aktie", "Börse"), each under the key a text written otherwise
/// has in its place; stored as one form per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forms<R> {
    forms: HashMap<String, String>,
    kind: PhantomData<R>,
}

/// Forms with capitals, under their small letters ([`Forms::restore`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capitals;

/// Forms with umlauts or "ß", under their ASCII spelling ([`Forms::respell`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Umlauts;

/// How the training texts write the words they do not write in small letters: for a word in
/// small letters, the form it has in at least two of three places where no sentence starts
/// ("aktie" → "Aktie", "basf" → "BASF", "sie" → "Sie" in a corpus of letters to the reader).
pub type Casing = Forms<Capitals>;

/// How the training texts write the words with umlauts or "ß", under their ASCII spelling
/// ("Boerse" → "Börse", "fuer" → "für", "schliesst" → "schließt"), when the texts write the
/// ASCII spelling itself at most a third as often ("Mueller" stays).
pub type UmlautForms = Forms<Umlauts>;

/// The file of a model directory that holds its [`Casing`] table.
pub const CASING_FILE: &str = Capitals::FILE;
/// The file of a model directory that holds its [`UmlautForms`] table.
pub const UMLAUTS_FILE: &str = Umlauts::FILE;

impl Respelling for Capitals {
    const FILE: &'static str = "casing.txt";
    fn key(form: &[char]) -> String {
        small(form)
    }
}

impl Respelling for Umlauts {
    const FILE: &'static str = "umlauts.txt";
    fn key(form: &[char]) -> String {
        let mut key = String::with_capacity(form.len() + 4);
        for &c in form {
            match ascii(c) {
                Some(pair) => key.push_str(pair),
                None => key.push(c),
            }
        }
        key
    }
}

/// The ASCII spelling of an umlaut or "ß" ("ä" → "ae", "Ü" → "Ue", "ß" → "ss").
fn ascii(c: char) -> Option<&'static str> {
    Some(match c {
        'ä' => "ae",
        'ö' => "oe",
        'ü' => "ue",
        'Ä' => "Ae",
        'Ö' => "Oe",
        'Ü' => "Ue",
        'ß' => "ss",
        _ => return None,
    })
}

impl<R: Respelling> Default for Forms<R> {
    fn default() -> Self {
        Forms { forms: HashMap::new(), kind: PhantomData }
    }
}

impl<R: Respelling> Forms<R> {
    fn from_forms(forms: impl IntoIterator<Item = String>) -> Self {
        let forms = forms.into_iter().map(|f| (R::key(&f.chars().collect::<Vec<_>>()), f)).collect();
        Forms { forms, kind: PhantomData }
    }

    /// Reads the table from its text form: one written form per line.
    pub fn parse(text: &str) -> Self {
        Self::from_forms(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from))
    }

    /// The table's text form: the written forms, one per line, sorted.
    pub fn to_text(&self) -> String {
        let mut forms: Vec<&str> = self.forms.values().map(String::as_str).collect();
        forms.sort_unstable();
        forms.iter().map(|f| format!("{f}\n")).collect()
    }

    /// Reads the table from a model directory.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(R::FILE);
        std::fs::read_to_string(&path).map(|t| Self::parse(&t)).map_err(|e| FintagError::io(path, e))
    }

    /// Writes the table into a model directory.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(R::FILE);
        std::fs::write(&path, self.to_text()).map_err(|e| FintagError::io(path, e))
    }

    pub fn len(&self) -> usize {
        self.forms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// The training texts' form of a word written as `key`, if they write it otherwise.
    pub fn form(&self, key: &str) -> Option<&str> {
        self.forms.get(key).map(String::as_str)
    }
}

/// The most frequent form among `counts`; among equals the first in sort order, so learning
/// is repeatable.
fn most_frequent(counts: HashMap<String, usize>) -> Option<(String, usize)> {
    counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
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

impl Forms<Capitals> {
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
        let mut forms = Vec::new();
        for (lower, counts) in seen {
            let total: usize = counts.values().sum();
            let Some((form, n)) = most_frequent(counts) else { continue };
            if form != lower && n * 3 >= total * 2 && form.chars().count() == lower.chars().count() {
                forms.push(form);
            }
        }
        Self::from_forms(forms)
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

impl Forms<Umlauts> {
    /// Learns the table from texts written with umlauts.
    pub fn learn<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut spelt: HashMap<String, HashMap<String, usize>> = HashMap::new();
        let mut plain: HashMap<String, usize> = HashMap::new();
        for text in texts {
            let chars: Vec<char> = text.chars().collect();
            for (s, e) in words(&chars) {
                let w = &chars[s..e];
                if w.iter().any(|&c| ascii(c).is_some()) {
                    *spelt.entry(Umlauts::key(w)).or_default().entry(w.iter().collect()).or_default() += 1;
                } else {
                    *plain.entry(w.iter().collect()).or_default() += 1;
                }
            }
        }
        let mut forms = Vec::new();
        for (key, counts) in spelt {
            let total: usize = counts.values().sum();
            if plain.get(&key).is_some_and(|&p| p * 3 > total) {
                continue;
            }
            forms.extend(most_frequent(counts).map(|(form, _)| form));
        }
        Self::from_forms(forms)
    }

    /// What the model reads of each code point of a text written without umlauts: each word
    /// the table has a form for is read in that form ("Boerse" → "Börse": the "o" is read as
    /// "ö", the "e" not at all); None for a text that needs no change. Umlauts ("ä", "ö",
    /// "ü") are restored only in a text that has none, "ß" only in a text without one (Swiss
    /// text writes umlauts but "ss").
    pub fn respell(&self, chars: &[char]) -> Option<Vec<Option<char>>> {
        let has_umlauts = chars.iter().any(|c| matches!(c, 'ä' | 'ö' | 'ü' | 'Ä' | 'Ö' | 'Ü'));
        let has_sharp_s = chars.contains(&'ß');
        if has_umlauts && has_sharp_s {
            return None;
        }
        let mut out: Option<Vec<Option<char>>> = None;
        for (s, e) in words(chars) {
            let key: String = chars[s..e].iter().collect();
            let Some(form) = self.form(&key) else { continue };
            if (has_umlauts && form.chars().any(|c| c != 'ß' && ascii(c).is_some())) || (has_sharp_s && form.contains('ß')) {
                continue;
            }
            let out = out.get_or_insert_with(|| chars.iter().map(|&c| Some(c)).collect());
            let mut at = s;
            for c in form.chars() {
                out[at] = Some(c);
                if ascii(c).is_some() {
                    out[at + 1] = None; // the second letter of "ae", "oe", "ue", "ss"
                    at += 1;
                }
                at += 1;
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

    #[test]
    fn words_without_umlauts_are_read_as_the_training_texts_spell_them() {
        let u = UmlautForms::learn(["Die Börse schließt, für Anleger früh.", "Mueller und Müller", "Mueller, Mueller, Mueller"]);
        assert_eq!(u.form("Boerse"), Some("Börse"));
        assert_eq!(u.form("schliesst"), Some("schließt"));
        assert_eq!(u.form("Mueller"), None); // written so three times as often as "Müller"
        assert_eq!(UmlautForms::parse(&u.to_text()), u);
        let read = |text: &str| -> Option<String> { u.respell(&chars(text)).map(|r| r.into_iter().flatten().collect()) };
        assert_eq!(read("Die Boerse schliesst fuer heute.").as_deref(), Some("Die Börse schließt für heute."));
        // what the model reads of each code point: "o" as "ö", the "e" after it not at all
        let r = u.respell(&chars("Boerse")).unwrap();
        assert_eq!(r, vec![Some('B'), Some('ö'), None, Some('r'), Some('s'), Some('e')]);
        // a text with umlauts gets none restored, a Swiss text with umlauts but no "ß" its "ß"
        assert_eq!(read("Die Boerse schliesst früh."), Some("Die Boerse schließt früh.".to_string()));
        assert_eq!(read("Die Börse schließt fuer heute."), None);
        assert_eq!(read("Kein Wort der Tabelle."), None);
    }
}
