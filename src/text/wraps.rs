//! Hard-wrapped text: plain-text mail and newsletters cut their paragraphs into lines of one
//! width ("… die Aktie\nlegte um 3 Prozent zu"). Such a line break is a space inside a
//! sentence, not the end of a headline or list item.

/// The positions of the line breaks that only wrap a paragraph. Wrapping fills each line
/// until the next word no longer fits, so a break wraps when the next line is no paragraph
/// break and no list item, and its first word would not have fitted on the line before,
/// within the width of the text's longest line (40 to 100 characters). A text counts as
/// wrapped only when at least three of its breaks between two lines are such and they are at
/// least three in four of them: a list of headlines or data lines of different lengths is
/// no wrapped text.
pub fn soft_line_breaks(chars: &[char]) -> Vec<usize> {
    // lines as [start, end) without a carriage return before the break
    let mut lines = Vec::new();
    let mut start = 0;
    for i in 0..=chars.len() {
        if i == chars.len() || chars[i] == '\n' {
            let end = if i > start && chars[i - 1] == '\r' { i - 1 } else { i };
            lines.push((start, end));
            start = i + 1;
        }
    }
    let width = lines.iter().map(|&(s, e)| e - s).max().unwrap_or(0);
    if !(40..=100).contains(&width) {
        return Vec::new();
    }
    let blank = |(s, e): (usize, usize)| chars[s..e].iter().all(|c| c.is_whitespace());
    let list_item = |(s, e): (usize, usize)| {
        let line = &chars[s..e];
        let first = line.iter().position(|c| !c.is_whitespace()).unwrap_or(line.len());
        matches!(line.get(first..first + 2), Some([b, ' ']) if matches!(b, '-' | '–' | '•' | '*' | '·' | '▪'))
    };
    let mut between = 0;
    let mut soft = Vec::new();
    for pair in lines.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        if blank(before) || blank(after) || list_item(after) {
            continue;
        }
        between += 1;
        let word = chars[after.0..after.1].iter().take_while(|c| !c.is_whitespace()).count();
        if before.1 - before.0 + 1 + word > width {
            // the break is the newline before `after` (a carriage return before it goes too)
            soft.push(after.0 - 1);
        }
    }
    if soft.len() < 3 || soft.len() * 4 < between * 3 {
        return Vec::new();
    }
    soft
}

/// `chars` with the line breaks at `breaks` (and a carriage return before one) as spaces:
/// one character for one, so every offset stays.
pub fn unwrapped(chars: &[char], breaks: &[usize]) -> String {
    let mut chars = chars.to_vec();
    for &p in breaks {
        blank_break(&mut chars, p);
    }
    chars.into_iter().collect()
}

/// Turns the line break at `p` (a newline, with a carriage return before it) into spaces.
pub fn blank_break(chars: &mut [char], p: usize) {
    chars[p] = ' ';
    if p > 0 && chars[p - 1] == '\r' {
        chars[p - 1] = ' ';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_breaks_of_wrapped_paragraphs_are_soft() {
        let text = "Siemens Energy hebt die Prognose an\n\
                    \n\
                    Die Aktie der Siemens Energy AG legte am Dienstag im\n\
                    frühen Handel um 4,2 Prozent zu, nachdem der Konzern\n\
                    seine Prognose für das laufende Geschäftsjahr erhöht\n\
                    hatte. Analysten rechnen mit weiteren Aufträgen.\n\
                    - Umsatz: 9,1 Mrd. Euro\n\
                    - Auftragseingang: 12,3 Mrd. Euro";
        let chars: Vec<char> = text.chars().collect();
        let soft: Vec<String> = soft_line_breaks(&chars).iter().map(|&p| chars[p.saturating_sub(6)..p + 7].iter().collect()).collect();
        // the headline, the paragraph break and the list stay; the three wraps go
        assert_eq!(soft, ["tag im\nfrühen", "onzern\nseine ", "erhöht\nhatte."]);
        let flat = unwrapped(&chars, &soft_line_breaks(&chars));
        assert_eq!(flat.chars().count(), chars.len());
        assert!(flat.contains("am Dienstag im frühen Handel") && flat.contains("Aufträgen.\n- Umsatz"));
        // headlines of different lengths, lines of one item each, long paragraphs: no wraps
        let headlines = "DAX-Tops am Mittwoch: Die Gewinner des Tages\n\
                         Siemens Energy +5,4 %: Auftragsrekord bei Gasturbinen\n\
                         Zalando +4,9 %: Kaufempfehlung von Goldman Sachs\n\
                         Heidelberg Materials +3,8 %: Zementpreise in den USA steigen\n\
                         MTU Aero Engines +3,1 %: Neuer Wartungsvertrag mit Lufthansa Technik\n\
                         Deutsche Börse +2,7 %: Rekordvolumen an der Terminbörse Eurex\n\
                         Leitindex schließt 1,3 Prozent fester bei 24.310 Punkten";
        for plain in [headlines, "Kurs: 0,27 Euro\nBörsenwert: rund 41 Mio. Euro\nISIN: AU0000298761", &"Ein langer Absatz. ".repeat(20)] {
            assert!(soft_line_breaks(&plain.chars().collect::<Vec<_>>()).is_empty());
        }
    }
}
