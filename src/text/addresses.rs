//! Web and e-mail addresses in text: words that no entity is cut out of and no PROMO span
//! ends inside.

use super::offsets::{trim_back, trim_front};

/// The web and e-mail addresses of a text, as [start, end) between blanks (without
/// closing punctuation): words that begin with a scheme ("https://") or "www.", words with
/// a path after a host name ("t.me/gruppe", "boerse.de/report"), and words with an "@"
/// before a host name. A bare host name ("JD.com", "onvista.de") is left to the model: it
/// is a company's or a publication's name as often as an address.
pub fn address_words(chars: &[char]) -> Vec<(usize, usize)> {
    let host = |w: &[char]| {
        let labels: Vec<&[char]> = w.split(|&c| c == '.').collect();
        let tld = labels.last().copied().unwrap_or_default();
        labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty() && l.iter().all(|c| c.is_alphanumeric() || *c == '-'))
            && tld.len() >= 2
            && tld.iter().all(|c| c.is_alphabetic())
    };
    let mut out = Vec::new();
    for (s, i) in blank_words(chars) {
        // every address has a "/", "@" or "."; most words have none and cost no more
        if !chars[s..i].iter().any(|&c| matches!(c, '/' | '@' | '.')) {
            continue;
        }
        let e = trim_back(s, i, |k| matches!(chars[k], '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']' | '“' | '”' | '"' | '»' | '«' | '\''));
        let s = trim_front(s, e, |k| matches!(chars[k], '(' | '[' | '„' | '“' | '"' | '»' | '«' | '\''));
        let word: String = chars[s..e].iter().collect::<String>().to_lowercase();
        let w: Vec<char> = word.chars().collect();
        let before = |c: char| w.iter().position(|&x| x == c).map(|p| &w[..p]);
        let after = |c: char| w.iter().position(|&x| x == c).map(|p| &w[p + 1..]);
        let is_link = word.starts_with("http://")
            || word.starts_with("https://")
            || word.starts_with("www.")
            || before('/').is_some_and(|h| host(h))
            || after('@').is_some_and(|h| !before('@').unwrap_or_default().is_empty() && host(h));
        if is_link {
            out.push((s, e));
        }
    }
    out
}

/// The lines of a text that are not empty, as [start, end) without the line break.
pub fn lines(chars: &[char]) -> Vec<(usize, usize)> {
    char_runs(chars, |c| c != '\n')
}

/// The runs of non-blank characters, as [start, end).
pub fn blank_words(chars: &[char]) -> Vec<(usize, usize)> {
    char_runs(chars, |c| !c.is_whitespace())
}

/// The maximal runs of characters that `inside` accepts, as [start, end).
pub fn char_runs(chars: &[char], inside: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !inside(chars[i]) {
            i += 1;
            continue;
        }
        let s = i;
        while i < chars.len() && inside(chars[i]) {
            i += 1;
        }
        runs.push((s, i));
    }
    runs
}
