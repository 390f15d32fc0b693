//! The common JSON value read without serde: a flat object whose needed fields are strings without
//! escapes, integers, doubles, booleans or nulls.
//!
//! Decoding JSON values was most of a filter query's CPU, and most of that was serde's work per
//! string (finding its end, then checking it is UTF-8) and per field (a visitor call through
//! `MapAccess`). Here the record is checked as UTF-8 once, strings end at the first quote found
//! eight bytes at a time, and a field's value goes straight into its slot.
//!
//! [`decode`] takes only what it can read exactly as the serde path does, and answers `false` for
//! anything else (an escape, a nested value, a conversion such as a number into a STRING column,
//! malformed JSON): the caller then reads the record with serde, which overwrites every slot and
//! gives its own error message. The two paths are tested against each other on random records.

use super::{find_column, next_to_escape, Column, SeenSet};
use crate::types::{SqlType, Value};

/// Reads `bytes` into `out` (one slot per column; columns the object lacks or that are not
/// `needed` become null) and answers true, or answers false if the serde path must read it.
pub(super) fn decode(
    columns: &[Column],
    needed: &[bool],
    unique_but_for_case: bool,
    bytes: &[u8],
    out: &mut [Value],
) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else { return false };
    let mut cursor = Cursor { text, at: 0 };
    read_object(&mut cursor, columns, needed, unique_but_for_case, out).is_some()
}

fn read_object(
    c: &mut Cursor<'_>,
    columns: &[Column],
    needed: &[bool],
    unique_but_for_case: bool,
    out: &mut [Value],
) -> Option<()> {
    c.skip_whitespace();
    c.expect(b'{')?;
    let mut seen = SeenSet::new(columns.len());
    // As in the serde path: the column after the last one matched is tried first.
    let mut hint = 0;
    c.skip_whitespace();
    if !c.eat(b'}') {
        loop {
            c.skip_whitespace();
            c.expect(b'"')?;
            let key = c.plain_string()?;
            c.skip_whitespace();
            c.expect(b':')?;
            c.skip_whitespace();
            let column = find_column(columns, key, hint, unique_but_for_case);
            if let Some(i) = column {
                hint = i + 1;
            }
            let target = column.filter(|&i| needed.get(i).copied().unwrap_or(true));
            let value = read_value(c, target.map(|i| &columns[i].ty))?;
            if let (Some(i), Some(value)) = (target, value) {
                match (&mut out[i], value) {
                    // The slot's string buffer is reused, as the serde path does.
                    (Value::String(slot), Scalar::Str(s)) => {
                        slot.clear();
                        slot.push_str(s);
                    }
                    (slot, value) => *slot = value.into_value(),
                }
                seen.insert(i);
            }
            c.skip_whitespace();
            if c.eat(b',') {
                continue;
            }
            c.expect(b'}')?;
            break;
        }
    }
    c.skip_whitespace();
    if c.at != c.text.len() {
        return None;
    }
    for (i, slot) in out.iter_mut().enumerate() {
        if !seen.contains(i) {
            *slot = Value::Null;
        }
    }
    Some(())
}

/// A value read for a column.
enum Scalar<'a> {
    Str(&'a str),
    Other(Value),
}

impl Scalar<'_> {
    fn into_value(self) -> Value {
        match self {
            Scalar::Str(s) => Value::String(s.to_string()),
            Scalar::Other(v) => v,
        }
    }
}

/// Reads one field's value: `Some(None)` when it feeds no column (skipped), `None` when the serde
/// path must read the record.
fn read_value<'a>(c: &mut Cursor<'a>, ty: Option<&SqlType>) -> Option<Option<Scalar<'a>>> {
    match c.peek()? {
        b'"' => {
            c.at += 1;
            let s = c.plain_string()?;
            match ty {
                None => Some(None),
                Some(SqlType::String) => Some(Some(Scalar::Str(s))),
                // Text into other types goes through the serde path's conversions.
                Some(_) => None,
            }
        }
        b'-' | b'0'..=b'9' => {
            let (number, integer) = c.number()?;
            match ty {
                None => Some(None),
                Some(ty) => number_value(number, integer, ty).map(|v| Some(Scalar::Other(v))),
            }
        }
        b't' | b'f' => {
            let b = if c.eat_word("true") {
                true
            } else if c.eat_word("false") {
                false
            } else {
                return None;
            };
            match ty {
                None => Some(None),
                Some(SqlType::Boolean) => Some(Some(Scalar::Other(Value::Bool(b)))),
                Some(_) => None,
            }
        }
        b'n' => {
            if !c.eat_word("null") {
                return None;
            }
            Some(ty.map(|_| Scalar::Other(Value::Null)))
        }
        // Objects and arrays, and anything that is no JSON value.
        _ => None,
    }
}

/// A JSON number as the serde path converts it (its `visit_i64` and `visit_f64`), for the types
/// taken here; `None` for the rest, and for integers beyond i64 (serde reads those as u64 or f64).
fn number_value(number: &str, integer: bool, ty: &SqlType) -> Option<Value> {
    // serde reads `-0` as the double -0.0 (to keep its sign), which no integer can be.
    if integer && number == "-0" {
        return None;
    }
    if integer {
        let i: i64 = number.parse().ok()?;
        match ty {
            SqlType::Int => i32::try_from(i).ok().map(Value::Int),
            SqlType::Bigint => Some(Value::Bigint(i)),
            SqlType::Timestamp => Some(Value::Timestamp(i)),
            SqlType::Double => Some(Value::Double(i as f64)),
            _ => None,
        }
    } else {
        match ty {
            // Both parsers round to the nearest double (serde_json's `float_roundtrip`); serde
            // refuses what overflows to infinity.
            SqlType::Double => number.parse::<f64>().ok().filter(|x| x.is_finite()).map(Value::Double),
            _ => None,
        }
    }
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let hit = self.text.as_bytes()[self.at..].starts_with(word.as_bytes());
        if hit {
            self.at += word.len();
        }
        hit
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// The rest of a string whose opening quote was read, if it has no escape or control
    /// character before its closing quote.
    fn plain_string(&mut self) -> Option<&'a str> {
        let end = next_to_escape(self.text.as_bytes(), self.at)?;
        if self.text.as_bytes()[end] != b'"' {
            return None;
        }
        // Both ends are ASCII bytes of a valid UTF-8 text: character boundaries.
        let s = self.text.get(self.at..end)?;
        self.at = end + 1;
        Some(s)
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    /// A number in JSON's grammar, and whether it is an integer (no fraction, no exponent).
    fn number(&mut self) -> Option<(&'a str, bool)> {
        let start = self.at;
        self.eat(b'-');
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let mut integer = true;
        if self.eat(b'.') {
            integer = false;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some((&self.text[start..self.at], integer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn column(name: &str, ty: SqlType) -> Column {
        Column { name: name.into(), ty }
    }

    fn columns(case_twins: bool) -> Vec<Column> {
        let mut columns = vec![
            column("ID", SqlType::String),
            column("NAME", SqlType::String),
            column("N", SqlType::Int),
            column("BIG", SqlType::Bigint),
            column("X", SqlType::Double),
            column("OK", SqlType::Boolean),
            column("AT", SqlType::Timestamp),
            column("D", SqlType::Decimal { precision: 5, scale: 2 }),
            column("ARR", SqlType::Array(Box::new(SqlType::Int))),
        ];
        if case_twins {
            // Two columns named alike but for case: an exact match must win.
            columns.push(column("Name", SqlType::String));
        }
        columns
    }

    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "ID", "id", "Id", "NAME", "name", "Name", "N", "n", "BIG", "X", "x", "OK", "AT", "D", "ARR", "other",
            "k\\u0041", "é", "na\"me",
        ])
        .prop_map(|k| format!("\"{k}\""))
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 é€😀]{0,12}".prop_map(|s| format!("\"{s}\"")),
            prop::sample::select(vec![
                r#""a\nb""#,
                r#""\u00e9""#,
                r#""q\"""#,
                "\"a\u{1}b\"",
                r#""42""#,
                r#""true""#,
                "\"2024-01-01T00:00:00Z\"",
            ])
            .prop_map(str::to_string),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<i32>().prop_map(|i| i.to_string()),
            prop::num::f64::NORMAL.prop_map(|x| x.to_string()),
            prop::num::f64::NORMAL.prop_map(|x| format!("{x:e}")),
            prop::sample::select(vec![
                "123456789012345678901234",
                "-0",
                "01",
                "1e400",
                "1.",
                ".5",
                "-",
                "2E+3",
                "0.1e-2",
                "true",
                "false",
                "null",
                "tru",
                "nul",
                "[1,2]",
                "{\"a\":1}",
                "[]",
            ])
            .prop_map(str::to_string),
        ]
    }

    fn whitespace() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "", " ", "\n\t", "\r "])
    }

    /// A JSON object text, sometimes cut short or followed by something.
    fn record() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((whitespace(), key(), whitespace(), value(), whitespace()), 0..10),
            prop::sample::select(vec!["", "", "", " ", "x", ",", "}"]),
            any::<prop::sample::Index>(),
            any::<u8>(),
        )
            .prop_map(|(fields, tail, cut, cut_odds)| {
                let body: Vec<String> =
                    fields.into_iter().map(|(a, k, b, v, c)| format!("{a}{k}{b}:{c}{v}{a}")).collect();
                let mut text = format!("{{{}}}{tail}", body.join(","));
                if cut_odds < 20 {
                    let at = cut.index(text.len() + 1);
                    while !text.is_char_boundary(at.min(text.len())) {
                        text.pop();
                    }
                    text.truncate(at.min(text.len()));
                }
                text
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

        /// Whatever the fast path takes, it reads as the serde path does.
        #[test]
        fn the_fast_path_reads_what_it_takes_as_serde_does(
            text in record(),
            case_twins in any::<bool>(),
            needed_mask in any::<u16>(),
            all_needed in any::<bool>(),
        ) {
            let columns = columns(case_twins);
            let unique = !case_twins;
            let needed: Vec<bool> =
                if all_needed { Vec::new() } else { (0..columns.len()).map(|i| needed_mask & (1 << i) != 0).collect() };
            // Slots hold the previous record's values (string buffers are reused).
            let previous: Vec<Value> =
                (0..columns.len()).map(|i| if i % 2 == 0 { Value::String("old".into()) } else { Value::Int(7) }).collect();
            let mut fast = previous.clone();
            let mut slow = previous;
            if decode(&columns, &needed, unique, text.as_bytes(), &mut fast) {
                let read = super::super::decode_json_with_serde(&columns, &needed, false, unique, text.as_bytes(), &mut slow);
                prop_assert!(read.is_ok(), "serde refused what the fast path took: {text} ({read:?})");
                prop_assert_eq!(fast, slow, "{}", text);
            }
        }
    }

    #[test]
    fn a_typical_event_takes_the_fast_path() {
        let columns = columns(false);
        let text = r#"{"id":"user-00042","name":"Zoë","n":-17,"big":1700000000000,"x":12.5,"ok":true,"at":1700000000123,"d":null,"extra":"skipped","more":3.25e2}"#;
        let mut out = vec![Value::Null; columns.len()];
        assert!(decode(&columns, &[], true, text.as_bytes(), &mut out), "{text}");
        assert_eq!(
            out,
            vec![
                Value::String("user-00042".into()),
                Value::String("Zoë".into()),
                Value::Int(-17),
                Value::Bigint(1_700_000_000_000),
                Value::Double(12.5),
                Value::Bool(true),
                Value::Timestamp(1_700_000_000_123),
                Value::Null,
                Value::Null,
            ]
        );
        // What it leaves to serde: an escape, a nested value, a conversion, malformed text, and
        // negative zero (a double to serde, whatever the column).
        for text in [
            r#"{"id":"a\"b"}"#,
            r#"{"arr":[1]}"#,
            r#"{"n":"42"}"#,
            r#"{"id":"a""#,
            r#"{"n":1}x"#,
            r#"{"n":01}"#,
            r#"{"x":-0}"#,
        ] {
            assert!(!decode(&columns, &[], true, text.as_bytes(), &mut out), "{text}");
        }
    }
}
