//! `KafkaLog` against the conformance suite every log backend must pass, on a real
//! Kafka-protocol broker (tansu) started for each log the suite opens.

use std::sync::Arc;
use std::time::Duration;

use weft_kafka::testing::Broker;
use weft_kafka::{KafkaLog, KafkaOptions, EARLIEST_TIMESTAMP};
use weft_log::conformance::{self, Capabilities, LogHarness};
use weft_log::EventLog;

struct Kafka;

impl LogHarness for Kafka {
    /// A broker of its own per place: properties never see each other's topics.
    type Place = Broker;

    fn new_place(&self) -> Broker {
        Broker::start()
    }

    fn open(&self, broker: &Broker) -> Arc<dyn EventLog> {
        let mut options = KafkaOptions::new(broker.bootstrap());
        options.timeout = Duration::from_secs(20);
        options.watch_interval = Duration::from_millis(50);
        KafkaLog::connect(options).expect("connect to the test broker")
    }

    fn capabilities(&self) -> Capabilities {
        // Brokers compact on their own schedule.
        Capabilities { compacts_on_maintenance: false, earliest_timestamp: EARLIEST_TIMESTAMP }
    }

    fn property_cases(&self) -> u32 {
        8
    }
}

#[test]
fn kafka_log_passes_the_conformance_suite() {
    conformance::run_all(&Kafka);
}

/// Without a broker, connecting fails within the timeout with an error naming the cluster, rather
/// than hanging or panicking.
#[test]
fn connecting_without_a_broker_fails_with_a_backend_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let mut options = KafkaOptions::new(format!("127.0.0.1:{port}"));
    options.timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    match KafkaLog::connect(options) {
        Err(weft_log::LogError::Backend(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("expected a Backend error, got {other:?}"),
        Ok(_) => panic!("connected to a port where nothing listens"),
    }
    assert!(started.elapsed() < Duration::from_secs(15), "connecting took {:?}", started.elapsed());
}
