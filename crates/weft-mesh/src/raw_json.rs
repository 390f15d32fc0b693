//! A produce request's body read in one pass without building JSON trees: each record's key and value
//! as their JSON text, borrowed from the body, so the write path stores a JSON value as it came
//! instead of parsing it into a `serde_json::Value` and writing it out again.
//!
//! The fast reading is taken only where it cannot differ from reading the body as [`JsonRecord`]s
//! with `serde_json`: the body must be valid UTF-8 and valid JSON (checked here as strictly as
//! `serde_json` checks it), each record an object of the five known fields, each once, and each key
//! and value compact JSON that `serde_json::Value` reads without error (no number beyond `f64`, no
//! nesting near its recursion limit, no `\u` escape of a surrogate). Anything else, valid or not,
//! gives `None`, and the caller reads the body as [`JsonRecord`]s: the same records, or the same
//! precise error (which record, which field, why) as ever.
//!
//! [`JsonRecord`]: crate::records::JsonRecord

use std::collections::BTreeMap;

/// A record of a REST produce request borrowed from the request's body: fields as
/// [`crate::records::JsonRecord`]'s, with the key and the value as their JSON text as sent (compact,
/// `None` when absent or `null`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawJsonRecord<'a> {
    pub key: Option<&'a str>,
    pub value: Option<&'a str>,
    pub headers: BTreeMap<String, Option<String>>,
    pub timestamp: Option<i64>,
    pub partition: Option<u32>,
}

impl<'a> RawJsonRecord<'a> {
    /// The records of a produce request's body (a JSON array of records), or `None` when the body is
    /// not one that can be read this way (see the module documentation).
    pub fn parse_request(body: &'a [u8]) -> Option<Vec<RawJsonRecord<'a>>> {
        let text = std::str::from_utf8(body).ok()?;
        Scanner { text, bytes: body, at: 0, spaced: false }.records()
    }
}

/// Nesting a key or value may have (`serde_json` refuses trees deeper than 128 levels, the request's
/// array and record included).
const MAX_DEPTH: usize = 100;
/// Integer digits a number may have before it is checked for the range of an `f64`.
const MAX_PLAIN_DIGITS: usize = 300;

/// Bytes a string's scan stops at: the closing quote, an escape, and control characters (which JSON
/// strings may not hold).
const STOPS_STRING: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The reader; every method returns `None` for input to leave to `serde_json`.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// Whitespace was skipped since this was last cleared.
    spaced: bool,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        let start = self.at;
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
        self.spaced |= self.at != start;
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn records(mut self) -> Option<Vec<RawJsonRecord<'a>>> {
        self.whitespace();
        self.eat(b'[')?;
        self.whitespace();
        let mut records = Vec::new();
        if self.eat(b']').is_none() {
            loop {
                records.push(self.record()?);
                self.whitespace();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.whitespace();
                    }
                    b']' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.whitespace();
        (self.at == self.bytes.len()).then_some(records)
    }

    fn record(&mut self) -> Option<RawJsonRecord<'a>> {
        self.eat(b'{')?;
        self.whitespace();
        let mut record = RawJsonRecord::default();
        // Which fields were given (a field given twice is `serde`'s error to report).
        let mut seen = [false; 5];
        if self.eat(b'}').is_some() {
            return Some(record);
        }
        loop {
            let name = self.string()?;
            self.whitespace();
            self.eat(b':')?;
            self.whitespace();
            self.spaced = false;
            let start = self.at;
            self.value(0)?;
            let text = &self.text[start..self.at];
            let field = match name {
                "\"key\"" => 0,
                "\"value\"" => 1,
                "\"headers\"" => 2,
                "\"timestamp\"" => 3,
                "\"partition\"" => 4,
                _ => return None,
            };
            if std::mem::replace(&mut seen[field], true) {
                return None;
            }
            match field {
                0 | 1 => {
                    if self.spaced {
                        return None;
                    }
                    let text = (text != "null").then_some(text);
                    if field == 0 {
                        record.key = text;
                    } else {
                        record.value = text;
                    }
                }
                // The small fields, typed as `JsonRecord` types them.
                2 => record.headers = serde_json::from_str(text).ok()?,
                3 => record.timestamp = serde_json::from_str(text).ok()?,
                _ => record.partition = serde_json::from_str(text).ok()?,
            }
            self.whitespace();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.whitespace();
                }
                b'}' => {
                    self.at += 1;
                    return Some(record);
                }
                _ => return None,
            }
        }
    }

    /// Any JSON value, `depth` levels down in a key or value.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            open @ (b'[' | b'{') => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                let close = if open == b'[' { b']' } else { b'}' };
                self.at += 1;
                self.whitespace();
                if self.eat(close).is_some() {
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.whitespace();
                        self.eat(b':')?;
                        self.whitespace();
                    }
                    self.value(depth + 1)?;
                    self.whitespace();
                    match self.peek()? {
                        b',' => {
                            self.at += 1;
                            self.whitespace();
                        }
                        byte if byte == close => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.text[self.at..].starts_with(word).then(|| self.at += word.len())
    }

    /// A string, quotes included.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at;
        self.eat(b'"')?;
        loop {
            while !STOPS_STRING[usize::from(*self.bytes.get(self.at)?)] {
                self.at += 1;
            }
            match self.bytes[self.at] {
                b'"' => {
                    self.at += 1;
                    return Some(&self.text[start..self.at]);
                }
                b'\\' => match *self.bytes.get(self.at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                    b'u' => {
                        let hex = self.bytes.get(self.at + 2..self.at + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        // `\uD800` to `\uDFFF`: whether a pair is whole is `serde_json`'s to say.
                        if hex[0].eq_ignore_ascii_case(&b'd')
                            && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                        {
                            return None;
                        }
                        self.at += 6;
                    }
                    _ => return None,
                },
                // A control character.
                _ => return None,
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, within the range of an `f64`.
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        self.eat(b'-');
        let digits = self.digits();
        match digits {
            0 => return None,
            1 => {}
            _ if self.bytes[self.at - digits] == b'0' => return None,
            _ => {}
        }
        if self.eat(b'.').is_some() && self.digits() == 0 {
            return None;
        }
        let exponent = matches!(self.peek(), Some(b'e' | b'E'));
        if exponent {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        if (exponent || digits > MAX_PLAIN_DIGITS)
            && !self.text[start..self.at].parse::<f64>().is_ok_and(f64::is_finite)
        {
            return None;
        }
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::JsonRecord;
    use serde_json::Value;

    /// A record's fields as `JsonRecord` holds them.
    type Fields = (Option<Value>, Option<Value>, BTreeMap<String, Option<String>>, Option<i64>, Option<u32>);

    /// What `serde_json` reads from the body, as the fast reading's records would be stored and read.
    fn slow(body: &[u8]) -> Option<Vec<Fields>> {
        let records: Vec<JsonRecord> = serde_json::from_slice(body).ok()?;
        Some(records.into_iter().map(|r| (r.key, r.value, r.headers, r.timestamp, r.partition)).collect())
    }

    fn fast(body: &[u8]) -> Option<Vec<Fields>> {
        let records = RawJsonRecord::parse_request(body)?;
        let tree = |text: Option<&str>| {
            text.map(|text| serde_json::from_str::<Value>(text).expect("fast text reads as a tree"))
        };
        Some(records.into_iter().map(|r| (tree(r.key), tree(r.value), r.headers, r.timestamp, r.partition)).collect())
    }

    #[test]
    fn records_keep_their_key_and_value_text_as_sent() {
        let body = br#" [ {"key":"k-1","value":{"b":[1,2.5,-3e2],"a":"\u00e9\n"},"headers":{"h":"x","n":null},
            "timestamp":17,"partition":2}, {"value":null,"key":{"id":1}}, {} ] "#;
        let records = RawJsonRecord::parse_request(body).expect("fast");
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].key, Some(r#""k-1""#));
        assert_eq!(records[0].value, Some(r#"{"b":[1,2.5,-3e2],"a":"\u00e9\n"}"#), "the text as sent, keys unsorted");
        assert_eq!(records[0].headers.get("n"), Some(&None));
        assert_eq!((records[0].timestamp, records[0].partition), (Some(17), Some(2)));
        assert_eq!((records[1].key, records[1].value), (Some(r#"{"id":1}"#), None), "null is no value");
        assert_eq!(records[2], RawJsonRecord::default());
        assert_eq!(RawJsonRecord::parse_request(b"[]"), Some(Vec::new()));
    }

    #[test]
    fn what_serde_json_refuses_or_a_tree_reads_differently_is_left_to_it() {
        let deep = format!("[{{\"value\":{}1{}}}]", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let long = format!("[{{\"value\":1{}}}]", "0".repeat(MAX_PLAIN_DIGITS + 10));
        let cases: Vec<&[u8]> = vec![
            br#"[{"value":1e400}]"#,          // beyond f64
            br#"[{"value":"\ud83d\ude00"}]"#, // a surrogate pair
            br#"[{"value":"\udc00"}]"#,       // a lone surrogate
            br#"[{"value":{"a": 1}}]"#,       // not compact
            br#"[{"key":[1, 2]}]"#,           // not compact
            br#"[{"value":1,"value":2}]"#,    // a field twice
            br#"[{"valu":1}]"#,               // an unknown field
            br#"[{"k\u0065y":"a"}]"#,         // an escaped field name
            br#"[{"timestamp":1.5}]"#,        // not an integer
            br#"[{"partition":-1}]"#,         // not a u32
            br#"[{"headers":{"h":1}}]"#,      // not a string
            br#"[{"value":01}]"#,             // a leading zero
            br#"[{"value":1.}]"#,
            br#"[{"value":-}]"#,
            br#"[{"value":tru}]"#,
            br#"[{"value":"a	b"}]"#, // a control character
            br#"[{"value":"\x"}]"#,
            br#"[{"value":[1,]}]"#,
            br#"[{"value":1},]"#,
            br#"[{"value":1}] x"#,
            br#"{"value":1}"#,
            b"[{\"value\":\"\xff\"}]",
            deep.as_bytes(),
            long.as_bytes(),
        ];
        for body in cases {
            assert_eq!(RawJsonRecord::parse_request(body), None, "{}", String::from_utf8_lossy(body));
        }
        // Close to the limits, still fast.
        let deep = format!("[{{\"value\":{}1{}}}]", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(RawJsonRecord::parse_request(deep.as_bytes()).is_some());
        assert!(
            RawJsonRecord::parse_request(br#"[{"value":[1.7976931348623157e308,-0.0,0,5E-400,"\u0041"]}]"#).is_some()
        );
    }

    /// A quote, an escape, a control character or a non-ASCII character at any place of a string of
    /// any length is read as `serde_json` reads it.
    #[test]
    fn long_strings_agree_with_serde_json_whatever_sits_where() {
        let inserts: [&str; 8] = ["\"", "\\\"", "\\n", "\\u00e9", "\u{1}", "\u{1f}", "é", "\u{7f}"];
        for length in [7, 8, 9, 15, 16, 17, 31] {
            for at in 0..=length {
                for insert in inserts {
                    let text = format!("{}{insert}{}", "x".repeat(at), "y".repeat(length - at));
                    let body = format!("[{{\"key\":\"{text}\",\"value\":{{\"{text}\":\"{text}\"}}}}]");
                    let taken = fast(body.as_bytes());
                    if let Some(records) = &taken {
                        assert_eq!(Some(records.clone()), slow(body.as_bytes()), "{body}");
                    }
                    // Only the lone quote (which ends the string early) and control characters refuse.
                    let refused = matches!(insert, "\"" | "\u{1}" | "\u{1f}");
                    assert_eq!(taken.is_none(), refused, "{body}");
                    assert_eq!(slow(body.as_bytes()).is_none(), refused, "{body}");
                }
            }
        }
    }

    /// Mutated bodies: whatever the fast reading takes, `serde_json` takes too, with the same records.
    #[test]
    fn the_fast_reading_agrees_with_serde_json_on_mutated_bodies() {
        let seeds: [&[u8]; 3] = [
            br#"[{"key":"k-1","value":{"b":[1,2.5,-3e2,true,false,null],"a":"x\"y\\z\u00e9"},"headers":{"h":"v"},"timestamp":17,"partition":2},{"key":7,"value":"s"}]"#,
            br#"[{"value":{"order_id":"order-00000001","amount":12.5,"lines":[1,2,3],"coupon":null}},{"key":null}]"#,
            br#"[{"key":{"id":[1,{"x":-0.5e-3}]},"value":[[],{},"",0]}]"#,
        ];
        let alphabet = b"[]{},:\"\\ -+.eE0123456789tfnulx";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut taken = 0;
        for _ in 0..20_000 {
            let mut body = seeds[next(seeds.len())].to_vec();
            for _ in 0..1 + next(3) {
                let at = next(body.len());
                match next(3) {
                    0 => body[at] = alphabet[next(alphabet.len())],
                    1 => body.insert(at, alphabet[next(alphabet.len())]),
                    _ => {
                        body.remove(at);
                    }
                }
            }
            if let Some(records) = fast(&body) {
                taken += 1;
                assert_eq!(Some(records), slow(&body), "{}", String::from_utf8_lossy(&body));
            }
        }
        assert!(taken > 1_000, "only {taken} mutated bodies were read fast");
    }
}
