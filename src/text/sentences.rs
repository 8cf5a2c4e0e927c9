//! A sentence splitter for German finance text. Line breaks always end a sentence (headlines,
//! list items); inside a line a sentence ends at `.`, `!`, `?`, `…` (and runs like `?!`, `...`,
//! plus closing quotes) when whitespace and a non-lowercase character follow, unless the dot
//! belongs to an abbreviation (Mio., Mrd., z. B., Inc.) or an ordinal ("am 23. Dezember",
//! "im 3. Quartal": a number of one or two digits with a word before or after it that takes
//! ordinals; "liegt bei rund 23. Diese …" ends a sentence).

/// A sentence as a code-point range, end exclusive, without surrounding whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentenceBounds {
    pub start: usize,
    pub end: usize,
}

/// Words that take a dot without ending a sentence (compared lowercase, without the dot).
const ABBREVIATIONS: &[&str] = &[
    "mio", "mrd", "bio", "tsd", "dr", "prof", "bzw", "ca", "nr", "inc", "corp", "co", "ltd", "plc", "vgl", "evtl", "ggf", "inkl", "zzgl",
    "exkl", "abs", "str", "st", "hr", "fr", "hrsg", "bspw", "sog", "max", "min", "mind", "gem", "lt", "rd", "zt", "jan", "feb", "mär",
    "apr", "jun", "jul", "aug", "sep", "sept", "okt", "nov", "dez", "mo", "di", "mi", "do", "sa", "so", "tel", "pkt", "kl", "gr", "geb",
    "jh", "jhd", "bd", "ebd", "ff", "vs", "dt", "engl", "franz", "ital", "europ", "intl", "abt", "einschl", "allg", "mrz", "u.a", "z.b",
    "d.h", "v.a", "o.ä", "u.u", "s.o", "s.u", "i.d.r", "z.t", "e.v", "u.s",
];

const TERMINALS: &[char] = &['.', '!', '?', '…'];

/// Emoji and pictographs: in posts they often end a sentence in place of punctuation.
/// Emoji and pictographic symbols (with their variation selector and joiner): the splitter
/// treats them as sentence ends, the decoder and the data checks never let a span edge sit
/// on one.
pub fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F | 0x200D)
}

fn is_terminal(c: char) -> bool {
    TERMINALS.contains(&c) || is_emoji(c)
}
const CLOSERS: &[char] = &['"', '“', '”', '’', '\'', '»', '«', ')', ']', '›'];

/// Splits `text` into sentences (code-point ranges in order, none empty).
pub fn split_sentences(text: &str) -> Vec<SentenceBounds> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line_start = 0;
    for i in 0..=chars.len() {
        if i == chars.len() || chars[i] == '\n' {
            split_line(&chars, line_start, i, &mut out);
            line_start = i + 1;
        }
    }
    out
}

fn push_trimmed(chars: &[char], mut s: usize, mut e: usize, out: &mut Vec<SentenceBounds>) {
    while s < e && chars[s].is_whitespace() {
        s += 1;
    }
    while e > s && chars[e - 1].is_whitespace() {
        e -= 1;
    }
    if s < e {
        out.push(SentenceBounds { start: s, end: e });
    }
}

/// How many code points at the start of `line` are quote marks: a line that begins with ">"
/// (blanks before it allowed) quotes a mail it replies to or forwards ("> ", ">> ", "> > "),
/// and the marks with the blanks among and after them are no part of its text.
pub fn quote_marks(line: &[char]) -> usize {
    let marks = line.iter().take_while(|&&c| c == '>' || c == ' ' || c == '\t').count();
    if line[..marks].contains(&'>') {
        marks
    } else {
        0
    }
}

fn split_line(chars: &[char], start: usize, end: usize, out: &mut Vec<SentenceBounds>) {
    // a quoted line's sentences begin after its quote marks; a line of marks alone has none
    let start = start + quote_marks(&chars[start..end]);
    let mut sent_start = start;
    let mut i = start;
    while i < end {
        if !is_terminal(chars[i]) {
            i += 1;
            continue;
        }
        // The run of terminal punctuation (or emoji) and closing quotes/brackets after it.
        let mut j = i;
        while j < end && is_terminal(chars[j]) {
            j += 1;
        }
        let run_len = j - i;
        while j < end && CLOSERS.contains(&chars[j]) {
            j += 1;
        }
        if j >= end || !chars[j].is_whitespace() {
            i = j.max(i + 1);
            continue;
        }
        let mut k = j;
        while k < end && chars[k].is_whitespace() {
            k += 1;
        }
        if chars[k..end].iter().all(|&c| c.is_whitespace() || is_emoji(c)) {
            break; // only whitespace, or emoji closing the line ("… frei! 🚀"), follows
        }
        let next = chars[k];
        let single_dot = run_len == 1 && chars[i] == '.';
        // Nothing but symbols so far ("🫠 Weiter geht's."): no sentence of its own.
        let nothing_yet = !chars[sent_start..i].iter().any(|c| c.is_alphanumeric());
        let blocked = nothing_yet || next.is_lowercase() || (single_dot && dot_is_not_an_ending(chars, start, i, k, end));
        if !blocked {
            push_trimmed(chars, sent_start, j, out);
            sent_start = k;
        }
        i = k;
    }
    push_trimmed(chars, sent_start, end, out);
}

/// Words before a day or ordinal number ("am 23. Mai", "im 3. Quartal", "der 2. Platz").
const BEFORE_ORDINALS: &[&str] = &[
    "am", "vom", "zum", "zur", "bis", "ab", "seit", "im", "beim", "per", "der", "die", "das", "den", "dem", "des", "ihr", "ihre", "ihren",
    "ihrem", "sein", "seine", "seinen", "seinem", "jeden", "jedem", "jedes", "dieses", "diesem", "dieser", "und", "oder", "bzw",
];

/// Words after an ordinal number: months and the nouns counted by ordinals.
const AFTER_ORDINALS: &[&str] = &[
    "januar",
    "februar",
    "märz",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "dezember",
    "jan",
    "feb",
    "mär",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "okt",
    "nov",
    "dez",
    "quartal",
    "halbjahr",
    "platz",
    "mal",
    "jahrhundert",
    "jahrestag",
    "geburtstag",
    "runde",
    "stelle",
    "kalenderwoche",
    "woche",
    "tag",
    "monat",
    "liga",
    "klasse",
    "bundesliga",
    "stock",
    "etage",
    "grades",
    "ordnung",
];

/// The word of [from, to) lowercased, without the punctuation around it.
fn bare_word(chars: &[char], from: usize, to: usize) -> String {
    chars[from..to].iter().collect::<String>().trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()
}

/// Whether the dot at `dot` belongs to the word before it (abbreviation, initial, ordinal);
/// the next word starts at `next` (the line ends at `end`).
fn dot_is_not_an_ending(chars: &[char], line_start: usize, dot: usize, next: usize, end: usize) -> bool {
    let mut w = dot;
    while w > line_start && !chars[w - 1].is_whitespace() && !matches!(chars[w - 1], '(' | '„' | '"' | '“' | '/') {
        w -= 1;
    }
    let word: String = chars[w..dot].iter().collect::<String>().to_lowercase();
    if word.is_empty() {
        return false;
    }
    if ABBREVIATIONS.contains(&word.as_str()) {
        return true;
    }
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    // "H." in "Jerome H. Powell", "B." in "z. B.", "a." in "u. a.", dotted "z.B" and "U.S".
    if letters == 1 && word.chars().count() == 1 {
        return true;
    }
    if word.contains('.') && word.chars().all(|c| c.is_alphabetic() || c == '.') && word.len() <= 6 {
        return true;
    }
    // Ordinals and day numbers: "am 23. Dezember", "im 3. Quartal", when a word before or
    // after says so; "liegt bei rund 23. Diese …" and years (four digits) end sentences.
    if !(word.chars().all(|c| c.is_ascii_digit()) && word.len() <= 2) {
        return false;
    }
    let mut p = w;
    while p > line_start && chars[p - 1].is_whitespace() {
        p -= 1;
    }
    let mut q = p;
    while q > line_start && !chars[q - 1].is_whitespace() {
        q -= 1;
    }
    let mut n = next;
    while n < end && !chars[n].is_whitespace() {
        n += 1;
    }
    BEFORE_ORDINALS.contains(&bare_word(chars, q, p).as_str()) || AFTER_ORDINALS.contains(&bare_word(chars, next, n).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(t: &str) -> Vec<String> {
        let chars: Vec<char> = t.chars().collect();
        split_sentences(t).iter().map(|b| chars[b.start..b.end].iter().collect()).collect()
    }

    #[test]
    fn abbreviations_dates_and_decimals_do_not_split() {
        let t = "Der Umsatz stieg um 2,3 Mrd. Euro auf 10,1 Mio. Euro. Am 23. Dezember 2025 vergab Alibaba 2,28 Millionen Einheiten. Dr. Müller, z. B. bzw. ca. Nr. 5, sprach.";
        assert_eq!(
            texts(t),
            vec![
                "Der Umsatz stieg um 2,3 Mrd. Euro auf 10,1 Mio. Euro.",
                "Am 23. Dezember 2025 vergab Alibaba 2,28 Millionen Einheiten.",
                "Dr. Müller, z. B. bzw. ca. Nr. 5, sprach.",
            ]
        );
    }

    #[test]
    fn a_number_ends_a_sentence_unless_its_words_make_it_an_ordinal() {
        let t = "Das KGV liegt bei rund 23. Diese Bewertung ist hoch. Im 3. Quartal stieg der Umsatz, der 2. Platz ging an SAP. Bis 15. März gilt das.";
        assert_eq!(
            texts(t),
            vec![
                "Das KGV liegt bei rund 23.",
                "Diese Bewertung ist hoch.",
                "Im 3. Quartal stieg der Umsatz, der 2. Platz ging an SAP.",
                "Bis 15. März gilt das."
            ]
        );
    }

    #[test]
    fn question_runs_ellipses_and_headlines() {
        let t = "Alibaba-Aktie: Kaufen oder verkaufen?! Neue Analyse liefert die Antwort:\nLohnt sich ein Einstieg?\nHier weiterlesen...";
        assert_eq!(
            texts(t),
            vec![
                "Alibaba-Aktie: Kaufen oder verkaufen?!",
                "Neue Analyse liefert die Antwort:",
                "Lohnt sich ein Einstieg?",
                "Hier weiterlesen...",
            ]
        );
    }

    #[test]
    fn years_end_sentences_and_quotes_close_them() {
        let t = "Die Prognose gilt bis 2026. Danach folgt mehr. Er sagte: „Wir wachsen.“ Die Aktie stieg.\n\nApple Inc. meldete Zahlen. Die Allianz AG legte zu.";
        assert_eq!(
            texts(t),
            vec![
                "Die Prognose gilt bis 2026.",
                "Danach folgt mehr.",
                "Er sagte: „Wir wachsen.“",
                "Die Aktie stieg.",
                "Apple Inc. meldete Zahlen.",
                "Die Allianz AG legte zu.",
            ]
        );
    }

    #[test]
    fn quote_marks_of_a_mail_reply_are_no_part_of_its_sentences() {
        let t =
            "Am 12. März schrieb Jan:\n> Die Aktie stieg. Kaufen Sie jetzt!\n>\n>> > Der Report ist gratis.\n  >Nur heute.\nKurs > 5 Euro.";
        assert_eq!(
            texts(t),
            vec![
                "Am 12. März schrieb Jan:",
                "Die Aktie stieg.",
                "Kaufen Sie jetzt!",
                "Der Report ist gratis.",
                "Nur heute.",
                "Kurs > 5 Euro."
            ]
        );
        assert_eq!(quote_marks(&"Kurs > 5".chars().collect::<Vec<_>>()), 0);
    }

    #[test]
    fn lowercase_after_a_dot_continues_and_digits_start_sentences() {
        let t = "Die Aktie fiel um 3 Prozent... und erholte sich. 38 sprechen eine Kaufempfehlung aus. Kurs: 1.234,56 Euro.";
        assert_eq!(
            texts(t),
            vec!["Die Aktie fiel um 3 Prozent... und erholte sich.", "38 sprechen eine Kaufempfehlung aus.", "Kurs: 1.234,56 Euro."]
        );
    }

    #[test]
    fn emoji_end_sentences_in_posts() {
        let t = "Bin ziemlich happy 😀 Umsatz +20 % – läuft. Kurs runter 📉 aber egal 💪🏼 Wie seht ihr das?";
        assert_eq!(texts(t), vec!["Bin ziemlich happy 😀", "Umsatz +20 % – läuft.", "Kurs runter 📉 aber egal 💪🏼", "Wie seht ihr das?"]);
    }

    #[test]
    fn emoji_closing_a_line_stay_with_its_last_sentence() {
        let t = "Nur noch 20 Plätze frei! 🚀\nWer ist noch dabei? 🚢 🤔\nTop. 🫠 Weiter geht's.";
        assert_eq!(texts(t), vec!["Nur noch 20 Plätze frei! 🚀", "Wer ist noch dabei? 🚢 🤔", "Top.", "🫠 Weiter geht's."]);
    }

    #[test]
    fn blank_and_empty_texts() {
        assert!(split_sentences("").is_empty());
        assert!(split_sentences(" \n\n  \n").is_empty());
        let b = split_sentences("  Nur ein Satz ohne Punkt  ");
        assert_eq!(b, vec![SentenceBounds { start: 2, end: 25 }]);
    }
}
