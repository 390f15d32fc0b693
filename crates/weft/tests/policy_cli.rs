//! `weft policy get|set` against a real server: a YAML file set by the admin, read back as the JSON
//! document `set` takes again, refused for anyone else, and a bad file refused naming its field.

use std::process::Output;

use serde_json::{json, Value};

mod common;

use common::{start, Env};

const POLICIES: &str = r#"# The platform's rules.
requiredMetadata:
  fields: [description, owner, tags]
  enforcement: block
minimumCompatibility: {level: BACKWARD, enforcement: block}
contractRequired:
  qualityTiers: [authoritative]
  enforcement: warn
"#;

fn weft(env: &Env, actor: &str, args: &[&str]) -> Output {
    env.weft_as(actor, args)
}

fn write(env: &Env, name: &str, text: &str) -> String {
    let path = env.dir.path().join(name);
    std::fs::write(&path, text).expect("write the file");
    path.to_string_lossy().into_owned()
}

#[test]
fn the_admin_sets_policies_from_yaml_and_gets_them_back() {
    let env = start();
    let file = write(&env, "policies.yaml", POLICIES);

    let refused = weft(&env, "alice", &["policy", "set", "-f", &file]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("not a platform admin") && stderr.contains("40304"), "{stderr}");

    let set = weft(&env, "admin", &["policy", "set", "-f", &file]);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    assert_eq!(String::from_utf8_lossy(&set.stdout).trim(), "policies version 1 set by admin");

    let got = weft(&env, "alice", &["policy", "get"]);
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    let document: Value = serde_json::from_slice(&got.stdout).expect("get prints JSON");
    assert_eq!(
        document,
        json!({
            "requiredMetadata": {"fields": ["description", "owner", "tags"], "enforcement": "block"},
            "minimumCompatibility": {"level": "BACKWARD", "enforcement": "block"},
            "contractRequired": {"qualityTiers": ["authoritative"], "enforcement": "warn"},
        })
    );

    // What `get` prints, `set` takes back: a second version, the same document.
    let json_file = write(&env, "policies.json", &String::from_utf8_lossy(&got.stdout));
    let again = weft(&env, "admin", &["policy", "set", "-f", &json_file, "--if-version", "1"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let full: Value = serde_json::from_slice(&weft(&env, "admin", &["policy", "get", "--full"]).stdout).unwrap();
    assert_eq!((full["version"].clone(), full["policies"].clone()), (json!(2), document));

    let bad = write(&env, "bad.yaml", "naming:\n  productId: '(['\n  enforcement: warn\n");
    let refused = weft(&env, "admin", &["policy", "set", "-f", &bad]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("naming.productId") && stderr.contains("regular expression"), "{stderr}");
}
