//! A cluster that requires SASL sign-in, as managed clusters do: the log connects with the
//! librdkafka properties passed through (`security.protocol`, `sasl.mechanism`, credentials), and a
//! wrong or missing credential fails the connection with what the broker said. The broker is tansu
//! with `--authentication` and a SCRAM-SHA-256 user (tansu 0.6 accepts `--cert`/`--key` but does
//! not serve TLS, so `SASL_SSL` itself cannot be exercised here).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use weft_kafka::testing::Broker;
use weft_kafka::{KafkaLog, KafkaOptions};
use weft_log::{EventLog, ReadLimits, Record, TopicConfig};

fn options(broker: &Broker, credentials: &[(&str, &str)]) -> KafkaOptions {
    let mut options = KafkaOptions::new(broker.bootstrap());
    options.timeout = Duration::from_secs(10);
    options.config = credentials.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
    options
}

fn scram(password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SASL_PLAINTEXT".to_string()),
        ("sasl.mechanism", "SCRAM-SHA-256".to_string()),
        ("sasl.username", "weft".to_string()),
        ("sasl.password", password.to_string()),
    ]
}

fn connect(broker: &Broker, credentials: &[(&str, String)]) -> weft_log::Result<Arc<KafkaLog>> {
    let pairs: Vec<(&str, &str)> = credentials.iter().map(|(k, v)| (*k, v.as_str())).collect();
    KafkaLog::connect(options(broker, &pairs))
}

#[test]
fn the_log_signs_in_with_scram_and_a_bad_credential_is_refused_with_the_brokers_reason() {
    let broker = Broker::start_with_scram_user("weft", "s3cret-pass");

    let log = connect(&broker, &scram("s3cret-pass")).expect("signed in with the right password");
    log.create_topic("orders", TopicConfig { partitions: 1, ..TopicConfig::default() }).expect("create a topic");
    let record = Record { key: Some(b"k".to_vec()), value: Some(b"v".to_vec()), headers: Vec::new(), timestamp: None };
    log.append("orders", 0, vec![record]).expect("append");
    let read = log.read("orders", 0, 0, ReadLimits::default()).expect("read");
    assert_eq!(read.records.len(), 1);
    assert_eq!(read.records[0].value.as_deref(), Some(&b"v"[..]));
    log.shutdown().expect("shutdown");

    let refused = connect(&broker, &scram("wrong")).err().expect("a wrong password is refused");
    let message = refused.to_string();
    assert!(message.contains(&broker.bootstrap()), "names the cluster: {message}");
    assert!(message.contains("SASL") && message.contains("authentication"), "says why: {message}");

    // Without SASL the broker answers nothing but the handshake.
    assert!(connect(&broker, &[]).is_err(), "a client that does not sign in is refused");
}
