//! HTML character references left in plain text ("Procter &amp; Gamble", "f&uuml;r",
//! "31.&nbsp;Oktober"), as scrapers and feeds write it when they do not unescape their text.
//! The corpus has none; read as written, the model lost names, sentences and tone (README
//! "On text it has never seen").

/// Read in place of a reference's further code points: invisible to the model
/// (`encode::is_invisible`), part of a word for the decoder.
const SOFT_HYPHEN: char = '\u{ad}';

/// The longest reference read ("&#x1F680;", "&thinsp;"), in code points.
const MAX_REFERENCE: usize = 10;

/// The text with each character reference read as the character it stands for, one
/// character for one: the character in place of the "&", then for each further code point
/// of the reference a space when the character is a blank ("&nbsp;"), else a soft hyphen,
/// which the model does not read and the decoder counts as part of a word ("f&uuml;r" is
/// read as "fü" + five soft hyphens + "r", which the model reads as "für"). None when the
/// text has no reference.
pub fn read_references(chars: &[char]) -> Option<Vec<char>> {
    let mut out: Option<Vec<char>> = None;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '&' {
            i += 1;
            continue;
        }
        let Some(len) = reference_at(chars, i) else {
            i += 1;
            continue;
        };
        let raw: String = chars[i..i + len].iter().collect();
        let decoded = html_escape::decode_html_entities(&raw);
        let mut it = decoded.chars();
        // an unknown name ("AT&T;") comes back as it is, not as one character
        if let (Some(c), None) = (it.next(), it.next()) {
            let out = out.get_or_insert_with(|| chars.to_vec());
            out[i] = c;
            out[i + 1..i + len].fill(if c.is_whitespace() { ' ' } else { SOFT_HYPHEN });
        }
        i += len;
    }
    out
}

/// The length of the reference starting at `i` ("&" + a name of letters and digits, or "#"
/// and decimal digits, or "#x" and hex digits, + ";"), if there is one.
fn reference_at(chars: &[char], i: usize) -> Option<usize> {
    let end = (i + MAX_REFERENCE).min(chars.len());
    let semi = (i + 2..end).find(|&k| chars[k] == ';')?;
    let body = &chars[i + 1..semi];
    let valid = match body {
        ['#', 'x' | 'X', hex @ ..] => !hex.is_empty() && hex.iter().all(char::is_ascii_hexdigit),
        ['#', digits @ ..] => !digits.is_empty() && digits.iter().all(char::is_ascii_digit),
        name => name[0].is_ascii_alphabetic() && name.iter().all(char::is_ascii_alphanumeric),
    };
    valid.then_some(semi + 1 - i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Option<String> {
        read_references(&s.chars().collect::<Vec<_>>()).map(String::from_iter)
    }

    #[test]
    fn references_are_read_as_their_characters_one_code_point_for_one() {
        let text = "S&amp;P 500 f&uuml;r 31.&nbsp;Oktober &#8211; &#x20AC;5 &bdquo;Top&ldquo;";
        let out = read(text).unwrap();
        assert_eq!(out.chars().count(), text.chars().count());
        let shy = '\u{ad}';
        let want = format!(
            "S&{0}{0}{0}{0}P 500 fü{0}{0}{0}{0}{0}r 31.\u{a0}     Oktober –{0}{0}{0}{0}{0}{0} €{0}{0}{0}{0}{0}{0}{0}5 „{0}{0}{0}{0}{0}{0}Top“{0}{0}{0}{0}{0}{0}",
            shy
        );
        assert_eq!(out, want);
        // without the soft hyphens, the text a reader sees
        assert_eq!(out.replace(shy, "").replace("\u{a0}     ", "\u{a0}"), "S&P 500 für 31.\u{a0}Oktober – €5 „Top“");
    }

    #[test]
    fn an_ampersand_that_starts_no_reference_stays() {
        assert_eq!(read("Procter & Gamble, AT&T; B&B-Hotels, &unknownname; &;"), None);
        assert_eq!(read("Kurs &#;"), None);
    }
}
