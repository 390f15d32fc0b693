//! Test helpers for this crate and the crates built on it (the `testing` feature): variations of
//! payloads and schemas that tend to break parsers and validators, from a seeded generator so that a
//! failure replays exactly.

/// Test support: variations of valid payloads (each field removed, retyped, or an extra one added) to
/// check that the fast path of validation agrees with the exact one.
pub fn mutations(value: &serde_json::Value) -> Vec<serde_json::Value> {
    use serde_json::{json, Value};
    let replacements = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(3_000_000_000i64),
        json!(""),
        json!("x"),
        json!("2024-01-01T00:00:00Z"),
        json!([]),
        json!([1]),
        json!({}),
        json!({"int": 1}),
    ];
    let mut out = vec![value.clone()];
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let mut removed = map.clone();
                removed.remove(key);
                out.push(Value::Object(removed));
                for replacement in &replacements {
                    let mut changed = map.clone();
                    changed.insert(key.clone(), replacement.clone());
                    out.push(Value::Object(changed));
                }
                for nested in mutations(inner).into_iter().skip(1).take(40) {
                    let mut changed = map.clone();
                    changed.insert(key.clone(), nested);
                    out.push(Value::Object(changed));
                }
            }
            let mut extra = map.clone();
            extra.insert("unexpected".into(), json!(1));
            out.push(Value::Object(extra));
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                for replacement in &replacements {
                    let mut changed = items.clone();
                    changed[i] = replacement.clone();
                    out.push(Value::Array(changed));
                }
                for nested in mutations(inner).into_iter().skip(1).take(20) {
                    let mut changed = items.clone();
                    changed[i] = nested;
                    out.push(Value::Array(changed));
                }
            }
            out.push(Value::Array(Vec::new()));
        }
        _ => out.extend(replacements.iter().cloned()),
    }
    out
}

/// A small deterministic generator (xorshift), so robustness tests need no dependency and replay exactly.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Replaces one random node of `value` (found by a random walk) with a random JSON value, drawn from
/// values that tend to break schema parsers: wrong kinds, negatives, huge numbers, odd names.
pub fn mutate_randomly(value: &mut serde_json::Value, rng: &mut Rng) {
    use serde_json::{json, Value};
    let replacements = [
        json!(null),
        json!(-1),
        json!(0),
        json!(1e300),
        json!(18446744073709551615u64),
        json!(""),
        json!("int"),
        json!("record"),
        json!("a.b.C"),
        json!("#/definitions/x"),
        json!("#"),
        json!([]),
        json!(["null", "string"]),
        json!({}),
        json!({"type": "array"}),
        json!({"$ref": "#"}),
        json!(true),
        json!(false),
        json!("^(a+)+$"),
        json!("date-time"),
    ];
    let mut cursor = value;
    loop {
        let descend = rng.below(3) != 0;
        let next_index = match cursor {
            Value::Object(map) if descend && !map.is_empty() => Some(rng.below(map.len())),
            Value::Array(items) if descend && !items.is_empty() => Some(rng.below(items.len())),
            _ => None,
        };
        match (next_index, cursor) {
            (Some(i), Value::Object(map)) => {
                let key = map.keys().nth(i).cloned().unwrap_or_default();
                if rng.below(5) == 0 {
                    map.remove(&key);
                    return;
                }
                cursor = map.get_mut(&key).expect("key exists");
            }
            (Some(i), Value::Array(items)) => cursor = &mut items[i],
            (_, slot) => {
                *slot = replacements[rng.below(replacements.len())].clone();
                return;
            }
        }
    }
}
