//! ODPS YAML import on arbitrary text: a document parses or is refused (bounded in time and memory,
//! whatever its aliases), its product is read from it or refused with a reason and exports to a
//! document the standard accepts, and what the catalog writes back as YAML reads again to the same
//! document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_catalog::odps;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(document) = odps::parse(text) else { return };
    let today = weft_catalog::IsoDate::parse("2030-01-01").expect("date");
    let cx = odps::ImportContext { product: None, domain: None, actor: "fuzz", today };
    // A document the standard accepts maps to a product whose own document the standard accepts.
    if let Ok(imported) = document.to_product(&cx) {
        let product = weft_catalog::Product {
            spec: imported.spec,
            lifecycle: imported.lifecycle,
            revision: 1,
            created_at: 0,
            updated_at: 0,
        };
        let exported = odps::OdpsDocument::from_product(&product, &|_| None)
            .unwrap_or_else(|e| panic!("an imported product does not export: {e:?}"));
        let yaml = odps::to_yaml(&exported).unwrap_or_else(|e| panic!("an export does not write: {e:?}"));
        odps::parse(&yaml).unwrap_or_else(|e| panic!("an export does not read again: {e:?}\n{yaml}"));
    }
    let yaml = odps::to_yaml(&document).unwrap_or_else(|e| panic!("a parsed document does not write: {e:?}"));
    let again = odps::parse(&yaml).unwrap_or_else(|e| panic!("written YAML does not read again: {e:?}\n{yaml}"));
    assert_eq!(again, document, "a document changed in a round trip through YAML:\n{yaml}");
});
