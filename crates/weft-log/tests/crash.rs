//! Crash safety as a real process: a writer is killed with SIGKILL at random points, many times;
//! after every restart each acknowledged record is present byte for byte, offsets are dense, and
//! nothing corrupt is served.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use weft_log::EventLog;

#[path = "../src/bin/weft-log-crash-writer/content.rs"]
mod content;

use content::{expected_value, PARTITIONS, TOPIC};

#[test]
fn acknowledged_records_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = common::Rng(seed);
    let mut acked = [None::<u64>; PARTITIONS as usize];
    let mut committed = [None::<u64>; PARTITIONS as usize];
    let rounds = 30;
    for round in 0..rounds {
        let mode = if round % 2 == 0 { "group" } else { "batch" };
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft-log-crash-writer"))
            .args([dir.path().to_str().unwrap(), mode, &rng.next().to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start writer");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Let it write for a while (at least one acknowledgement), then kill it mid-flight.
        let first = rx.recv_timeout(Duration::from_secs(20)).expect("writer acknowledged nothing");
        std::thread::sleep(Duration::from_millis(5 + rng.below(150)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        for line in std::iter::once(first).chain(rx.try_iter()) {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (kind, partition, offset) =
                (parts[0], parts[1].parse::<usize>().unwrap(), parts[2].parse::<u64>().unwrap());
            let slot = if kind == "ack" { &mut acked[partition] } else { &mut committed[partition] };
            *slot = Some(slot.map_or(offset, |o| o.max(offset)));
        }

        let log = common::open(dir.path());
        for partition in 0..PARTITIONS {
            let records = common::read_all(&*log, TOPIC, partition);
            for (i, record) in records.iter().enumerate() {
                assert_eq!(record.offset, i as u64, "round {round}: offsets not dense in partition {partition}");
                assert_eq!(
                    record.value.as_deref(),
                    Some(&expected_value(partition, record.offset)[..]),
                    "round {round}: partition {partition} offset {} has wrong content",
                    record.offset
                );
                assert_eq!(record.timestamp, record.offset as i64);
            }
            if let Some(last) = acked[partition as usize] {
                assert!(
                    records.len() as u64 > last,
                    "round {round}: partition {partition} lost acknowledged offset {last} (has {})",
                    records.len()
                );
            }
        }
        let offsets = log.committed_offsets("crash-group").unwrap();
        for partition in 0..PARTITIONS {
            if let Some(expected) = committed[partition as usize] {
                let got = offsets.iter().find(|c| c.partition == partition).map(|c| c.offset);
                assert!(
                    got >= Some(expected),
                    "round {round}: commit {expected} of partition {partition} lost: {got:?}"
                );
            }
        }
        drop(log);
    }
    assert!(acked.iter().all(Option::is_some), "the writer never reached both partitions");
}
