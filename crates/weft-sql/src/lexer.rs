//! Tokens of the ksqlDB dialect. Keywords are not reserved here: the lexer yields words and the
//! parser decides, case-insensitively, which word is a keyword where.

use crate::error::{Result, SqlError};

/// A position in the statement text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An unquoted word (identifier or keyword), as written.
    Word(String),
    /// A back-quoted or double-quoted identifier: case is kept.
    Quoted(String),
    Str(String),
    /// An integer literal, as written.
    Int(String),
    /// A literal with a decimal point and no exponent (ksqlDB types it DECIMAL).
    Decimal(String),
    /// A literal with an exponent (ksqlDB types it DOUBLE).
    Double(String),
    Sym(&'static str),
    Eof,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Quoted(w) => format!("`{w}`"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Int(n) | Tok::Decimal(n) | Tok::Double(n) => format!("number {n}"),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Eof => "end of input".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// Byte offset of the token's first character in the text.
    pub start: usize,
}

const SYMBOLS: [&str; 23] = [
    ":=", "=>", "->", "<=", ">=", "<>", "!=", "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".",
    ";", ":",
];

/// Columns (in characters) of increasing byte positions, counted incrementally so that long lines
/// cost linear time.
struct ColumnCounter {
    line_start: usize,
    pos: usize,
    column: u32,
}

impl ColumnCounter {
    fn at(&mut self, text: &str, line_start: usize, pos: usize) -> u32 {
        if line_start != self.line_start || pos < self.pos {
            *self = ColumnCounter { line_start, pos: line_start, column: 1 };
        }
        self.column += text.get(self.pos..pos).map_or(0, |s| s.chars().count()) as u32;
        self.pos = pos;
        self.column
    }
}

/// Splits `text` into tokens, ending with [`Tok::Eof`].
pub fn tokenize(text: &str) -> Result<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut line = 1u32;
    let mut line_start = 0usize;
    let mut columns = ColumnCounter { line_start: 0, pos: 0, column: 1 };
    let err = |line: u32, col: u32, message: String| SqlError::Parse { line, column: col, message };
    while i < bytes.len() {
        let c = bytes[i];
        let pos = Pos { line, column: columns.at(text, line_start, i) };
        if c == b'\n' {
            i += 1;
            line += 1;
            line_start = i;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i += 2;
            loop {
                if i + 1 >= bytes.len() {
                    return Err(err(pos.line, pos.column, "unterminated comment: expected '*/'".into()));
                }
                if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                    i += 2;
                    break;
                }
                if bytes[i] == b'\n' {
                    line += 1;
                    line_start = i + 1;
                }
                i += 1;
            }
            continue;
        }
        let start = i;
        if c == b'\'' || c == b'`' || c == b'"' {
            let quote = c;
            i += 1;
            let mut value = String::new();
            loop {
                let Some(&b) = bytes.get(i) else {
                    let what = if quote == b'\'' { "string" } else { "quoted identifier" };
                    return Err(err(
                        pos.line,
                        pos.column,
                        format!("unterminated {what}: expected closing {}", quote as char),
                    ));
                };
                if b == quote {
                    if bytes.get(i + 1) == Some(&quote) {
                        value.push(quote as char);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                if b == b'\n' {
                    line += 1;
                    line_start = i + 1;
                }
                // Copy one whole UTF-8 character.
                let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                value.push_str(&text[i..i + ch_len]);
                i += ch_len;
            }
            let tok = if quote == b'\'' { Tok::Str(value) } else { Tok::Quoted(value) };
            tokens.push(Token { tok, pos, start });
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let mut kind = 0; // 0 int, 1 decimal, 2 double
            if i < bytes.len() && bytes[i] == b'.' {
                kind = 1;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                if j < bytes.len() && bytes[j].is_ascii_digit() {
                    kind = 2;
                    i = j;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            if kind == 0 && i < bytes.len() && (bytes[i].is_ascii_alphabetic() || bytes[i] == b'_') {
                // ksqlDB's DIGIT_IDENTIFIER: a digit followed by letters, digits or '_' names a column (`AS 1R`).
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                tokens.push(Token { tok: Tok::Word(text[start..i].to_string()), pos, start });
                continue;
            }
            if i < bytes.len() && (bytes[i].is_ascii_alphabetic() || bytes[i] == b'_') {
                return Err(err(pos.line, pos.column, format!("invalid number '{}'", &text[start..=i])));
            }
            let s = text[start..i].to_string();
            let tok = match kind {
                0 => Tok::Int(s),
                1 => Tok::Decimal(s),
                _ => Tok::Double(s),
            };
            tokens.push(Token { tok, pos, start });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            tokens.push(Token { tok: Tok::Word(text[start..i].to_string()), pos, start });
            continue;
        }
        let rest = &text[i..];
        match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            Some(sym) => {
                i += sym.len();
                tokens.push(Token { tok: Tok::Sym(sym), pos, start });
            }
            None => {
                let ch = rest.chars().next().unwrap_or('?');
                return Err(err(pos.line, pos.column, format!("unexpected character '{ch}'")));
            }
        }
    }
    let pos = Pos { line, column: columns.at(text, line_start, text.len()) };
    tokens.push(Token { tok: Tok::Eof, pos, start: text.len() });
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_numbers_symbols_and_comments() {
        assert_eq!(
            toks("SELECT a->b, 1, 1.5, 2e3 -- c\n/* x */ FROM `t`;"),
            vec![
                Tok::Word("SELECT".into()),
                Tok::Word("a".into()),
                Tok::Sym("->"),
                Tok::Word("b".into()),
                Tok::Sym(","),
                Tok::Int("1".into()),
                Tok::Sym(","),
                Tok::Decimal("1.5".into()),
                Tok::Sym(","),
                Tok::Double("2e3".into()),
                Tok::Word("FROM".into()),
                Tok::Quoted("t".into()),
                Tok::Sym(";"),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn strings_escape_quotes_and_positions() {
        let t = tokenize("\n  'it''s'").unwrap();
        assert_eq!(t[0].tok, Tok::Str("it's".into()));
        assert_eq!(t[0].pos, Pos { line: 2, column: 3 });
    }

    #[test]
    fn long_lines_tokenize_in_linear_time() {
        let text = "a + ".repeat(200_000);
        let start = std::time::Instant::now();
        let t = tokenize(&text).unwrap();
        assert_eq!(t.len(), 400_001);
        assert_eq!(t[399_999].pos.column, 799_999);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn errors_have_positions() {
        match tokenize("SELECT 'abc") {
            Err(SqlError::Parse { line: 1, column: 8, .. }) => {}
            other => panic!("{other:?}"),
        }
        match tokenize("a ? b") {
            Err(SqlError::Parse { line: 1, column: 3, message }) => assert!(message.contains('?')),
            other => panic!("{other:?}"),
        }
    }
}
