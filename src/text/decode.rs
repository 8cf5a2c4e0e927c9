//! Raw bytes to text: UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252/Latin-1
//! when the bytes are not valid UTF-8; binary content is refused. HTML is reduced to its text.

use crate::error::{FintagError, Result};

/// Which encoding the bytes were read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceEncoding {
    Utf8,
    Utf8Bom,
    Utf16,
    Windows1252,
    /// UTF-8 with a few stray single bytes (a Latin-1 "ö" pasted into UTF-8 text, a file cut
    /// inside a character): the UTF-8 stays, each stray byte is read as Windows-1252.
    Utf8WithStrayBytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecodedText {
    pub text: String,
    pub encoding: SourceEncoding,
}

/// Decodes a file's bytes; `what` names the document in errors.
pub fn decode_bytes(bytes: &[u8], what: &str) -> Result<DecodedText> {
    if let Some((enc, _)) = encoding_rs::Encoding::for_bom(bytes) {
        if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
            let (text, _, had_errors) = enc.decode(bytes);
            if had_errors {
                return Err(FintagError::Binary(what.to_string()));
            }
            return checked(text.into_owned(), SourceEncoding::Utf16, what);
        }
    }
    if bytes.contains(&0) {
        return Err(FintagError::Binary(what.to_string()));
    }
    let (body, bom) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    match std::str::from_utf8(body) {
        Ok(s) => checked(s.to_string(), if bom { SourceEncoding::Utf8Bom } else { SourceEncoding::Utf8 }, what),
        Err(_) if bom || utf8_with_stray_bytes(body) => checked(utf8_reading_stray_bytes(body), SourceEncoding::Utf8WithStrayBytes, what),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(body);
            checked(text.into_owned(), SourceEncoding::Windows1252, what)
        }
    }
}

/// Whether bytes that are not valid UTF-8 still are UTF-8 text: at least as many of their
/// non-ASCII characters are valid UTF-8 sequences as there are stray bytes (Windows-1252 text has no valid
/// multi-byte sequences to speak of: "Ã¶" would have to follow every "ö").
fn utf8_with_stray_bytes(bytes: &[u8]) -> bool {
    let (mut valid, mut stray) = (0usize, 0usize);
    let mut chunks = bytes.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        valid += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        // a character cut off at the very end is one broken character, not stray bytes
        let cut_at_end = chunks.peek().is_none() && !chunk.invalid().is_empty() && chunk.invalid().len() < 4;
        stray += if cut_at_end { 1 } else { chunk.invalid().len() };
    }
    valid > 0 && valid >= stray
}

/// UTF-8 text whose invalid bytes are each read as Windows-1252.
fn utf8_reading_stray_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.push_str(&encoding_rs::WINDOWS_1252.decode_without_bom_handling(chunk.invalid()).0);
    }
    out
}

/// Refuses text that is mostly control characters (binary read as text) and empty text.
fn checked(text: String, encoding: SourceEncoding, what: &str) -> Result<DecodedText> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut total = 0usize;
    let mut control = 0usize;
    for c in text.chars().take(1 << 20) {
        total += 1;
        if c.is_control() && !matches!(c, '\n' | '\t' | '\x0c') {
            control += 1;
        }
    }
    if total > 0 && control * 100 > total {
        return Err(FintagError::Binary(what.to_string()));
    }
    if text.trim().is_empty() {
        return Err(FintagError::Empty(what.to_string()));
    }
    Ok(DecodedText { text, encoding })
}

/// Elements whose content is not article text.
const SKIPPED: &[&str] = &["script", "style", "head", "noscript", "template", "svg", "iframe"];
/// Elements that start a new line in the text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "pre",
    "hr",
    "title",
    "aside",
    "nav",
    "figure",
    "figcaption",
    "dd",
    "dt",
];

/// Reduces HTML to its visible text: tags dropped, entities decoded, block elements as line
/// breaks, paragraphs as blank lines. A linear scan without a tree, so no nesting depth or
/// malformed markup can make it fail.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut skip_until: Option<String> = None;
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(lt) = rest.find('<') {
            if skip_until.is_none() {
                push_text(&mut out, &rest[..lt]);
            }
            let after = &rest[lt..];
            if after.starts_with("<!--") {
                rest = match after.find("-->") {
                    Some(e) => &after[e + 3..],
                    None => "",
                };
                continue;
            }
            let Some(gt) = after.find('>') else {
                if skip_until.is_none() {
                    push_text(&mut out, after);
                }
                break;
            };
            let tag = &after[1..gt];
            rest = &after[gt + 1..];
            let closing = tag.starts_with('/');
            let name: String =
                tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
            if let Some(until) = &skip_until {
                if closing && &name == until {
                    skip_until = None;
                }
                continue;
            }
            if !closing && SKIPPED.contains(&name.as_str()) && !tag.ends_with('/') {
                skip_until = Some(name);
                continue;
            }
            if BLOCKS.contains(&name.as_str()) {
                let paragraph = matches!(name.as_str(), "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table" | "blockquote");
                newline(&mut out, paragraph);
            } else if matches!(name.as_str(), "td" | "th") {
                // table cells of one row stay on its line, a blank apart ("Kurs 3,45 €")
                push_text(&mut out, " ");
            }
        } else {
            if skip_until.is_none() {
                push_text(&mut out, rest);
            }
            break;
        }
    }
    let trimmed: Vec<&str> = out.lines().map(|l| l.trim()).collect();
    let mut text = trimmed.join("\n");
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text.trim().to_string()
}

fn push_text(out: &mut String, raw: &str) {
    let decoded = html_escape::decode_html_entities(raw);
    for c in decoded.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ') || out.ends_with('\n')) {
            continue;
        }
        out.push(c);
    }
}

fn newline(out: &mut String, paragraph: bool) {
    while out.ends_with(' ') {
        out.pop();
    }
    if out.is_empty() {
        return;
    }
    let want = if paragraph { "\n\n" } else { "\n" };
    if !out.ends_with(want) {
        if out.ends_with('\n') && paragraph {
            out.push('\n');
        } else if !out.ends_with('\n') {
            out.push_str(want);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bom_and_windows_1252() {
        let d = decode_bytes("\u{feff}Börse".as_bytes(), "a").unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("Börse", SourceEncoding::Utf8Bom));
        let d = decode_bytes(b"B\xf6rse \x80 5", "b").unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("Börse € 5", SourceEncoding::Windows1252));
        let d = decode_bytes(b"\xff\xfeA\x00\xe4\x00", "c").unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("Aä", SourceEncoding::Utf16));
    }

    #[test]
    fn stray_bytes_in_utf8_text_keep_the_utf8() {
        // one Latin-1 "ö" in UTF-8 text, and UTF-8 cut inside its last character
        let d = decode_bytes(b"B\xc3\xb6rse und B\xf6rse", "x").unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("Börse und Börse", SourceEncoding::Utf8WithStrayBytes));
        let d = decode_bytes(b"Gr\xc3\xbc\xc3\x9fe \xc3", "x").unwrap();
        assert_eq!(d.text, "Grüße Ã");
        // one "ö", then a "€" cut after two of its three bytes
        let d = decode_bytes(b"Die B\xc3\xb6rse 3 \xe2\x82", "x").unwrap();
        assert_eq!(d.encoding, SourceEncoding::Utf8WithStrayBytes);
        assert!(d.text.starts_with("Die Börse 3 "), "{}", d.text);
        // Windows-1252 text stays Windows-1252
        let d = decode_bytes(b"B\xf6rse M\xfcnchen \x80 5", "x").unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("Börse München € 5", SourceEncoding::Windows1252));
    }

    #[test]
    fn binary_and_empty_are_refused() {
        assert!(matches!(decode_bytes(b"PK\x03\x04\x00\x00", "z"), Err(FintagError::Binary(_))));
        assert!(matches!(decode_bytes(b"\x01\x02\x03\x04abc", "z"), Err(FintagError::Binary(_))));
        assert!(matches!(decode_bytes(b"  \n ", "z"), Err(FintagError::Empty(_))));
    }

    #[test]
    fn html_keeps_text_and_blocks() {
        let h = "<html><head><title>x</title><style>p{}</style></head><body><h1>DAX &amp; Co</h1><p>Die Aktie <b>stieg</b>.</p><script>var a='<p>';</script><p>Zweiter&nbsp;Absatz</p></body></html>";
        assert_eq!(html_to_text(h), "DAX & Co\n\nDie Aktie stieg.\n\nZweiter\u{a0}Absatz".replace('\u{a0}', " "));
        let deep = "<div>".repeat(100_000) + "Text" + &"</div>".repeat(100_000);
        assert_eq!(html_to_text(&deep), "Text");
        assert_eq!(html_to_text("<p>offen <b"), "offen <b");
        // cells: one row per line, its cells a blank apart
        let table = "<table><tr><th>Wert</th><th>Kurs</th></tr><tr><td>Kurs</td><td>3,45&nbsp;€</td></tr></table><p>Ende</p>";
        assert_eq!(html_to_text(table), "Wert Kurs\nKurs 3,45 €\n\nEnde");
    }
}
