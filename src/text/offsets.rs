//! Byte offsets (what Rust strings and tokenizers use) to code-point offsets (what the
//! annotation format uses), in O(1) per lookup after one pass over the text.

/// Maps byte offsets of one text to code-point offsets and back.
#[derive(Debug, Clone)]
pub struct CharIndex {
    /// `char_of_byte[b]` = number of code points before byte `b` (for every byte position,
    /// including the end); bytes inside a multi-byte char map to the char that contains them.
    char_of_byte: Vec<u32>,
    /// `byte_of_char[c]` = byte offset of code point `c`, plus the end.
    byte_of_char: Vec<u32>,
}

impl CharIndex {
    pub fn new(text: &str) -> Self {
        let mut char_of_byte = Vec::with_capacity(text.len() + 1);
        let mut byte_of_char = Vec::with_capacity(text.len() + 1);
        for (ci, (bi, ch)) in text.char_indices().enumerate() {
            byte_of_char.push(bi as u32);
            for _ in 0..ch.len_utf8() {
                char_of_byte.push(ci as u32);
            }
        }
        let n = byte_of_char.len() as u32;
        char_of_byte.push(n);
        byte_of_char.push(text.len() as u32);
        CharIndex { char_of_byte, byte_of_char }
    }
    /// Number of code points.
    pub fn len_chars(&self) -> usize {
        self.byte_of_char.len() - 1
    }
    /// Code-point offset of a byte offset (a byte inside a char maps to that char).
    pub fn char_at_byte(&self, byte: usize) -> usize {
        let b = byte.min(self.char_of_byte.len() - 1);
        self.char_of_byte[b] as usize
    }
    /// Code-point offset for an exclusive end byte: a byte inside a char rounds up.
    pub fn char_end_at_byte(&self, byte: usize) -> usize {
        if byte == 0 {
            return 0;
        }
        self.char_at_byte(byte - 1) + 1
    }
    /// Byte offset of a code-point offset (clamped to the end).
    pub fn byte_at_char(&self, ch: usize) -> usize {
        self.byte_of_char[ch.min(self.byte_of_char.len() - 1)] as usize
    }
}

/// `s` moved forward past the characters (by index) that `trim` accepts, never beyond `e`.
pub fn trim_front(mut s: usize, e: usize, trim: impl Fn(usize) -> bool) -> usize {
    while s < e && trim(s) {
        s += 1;
    }
    s
}

/// `e` moved back past the characters (by index) that `trim` accepts, never before `s`.
pub fn trim_back(s: usize, mut e: usize, trim: impl Fn(usize) -> bool) -> usize {
    while e > s && trim(e - 1) {
        e -= 1;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn umlauts_and_emoji() {
        let t = "Öl 💪 ä";
        let ix = CharIndex::new(t);
        assert_eq!(ix.len_chars(), 6);
        assert_eq!(ix.char_at_byte(0), 0);
        assert_eq!(ix.char_at_byte(2), 1); // after Ö (2 bytes)
        assert_eq!(ix.byte_at_char(3), 4); // "Öl " = 4 bytes, then 💪
        assert_eq!(ix.char_end_at_byte(8), 4); // inside/after 💪
        assert_eq!(ix.byte_at_char(6), t.len());
    }
}
