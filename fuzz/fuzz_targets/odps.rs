//! ODPS YAML import on arbitrary text: a document parses or is refused (bounded in time and memory,
//! whatever its aliases), its product is read from it or refused with a reason, and what the catalog
//! writes back as YAML reads again to the same document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_catalog::odps;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(document) = odps::parse(text) else { return };
    let _ = document.to_product();
    let yaml = odps::to_yaml(&document).unwrap_or_else(|e| panic!("a parsed document does not write: {e:?}"));
    let again = odps::parse(&yaml).unwrap_or_else(|e| panic!("written YAML does not read again: {e:?}\n{yaml}"));
    assert_eq!(again, document, "a document changed in a round trip through YAML:\n{yaml}");
});
