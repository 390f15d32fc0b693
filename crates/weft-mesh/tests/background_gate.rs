//! The work one server of a cluster does alone (raw input validation) runs while the gate the
//! server was given says so: always without one, only while leading with one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use weft_log::LogOptions;
use weft_mesh::{Mesh, MeshOptions};

#[test]
fn background_work_follows_the_gate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = MeshOptions::new(LogOptions::new(dir.path()));
    options.run_queries = false;
    let mesh = Mesh::open(options).expect("mesh opens");
    assert!(mesh.data().runs_background_work(), "one server on its log runs it");

    let leading = Arc::new(AtomicBool::new(false));
    let gate = leading.clone();
    mesh.gate_background_work(Arc::new(move || gate.load(Ordering::Relaxed)));
    assert!(!mesh.data().runs_background_work(), "a follower does not");
    leading.store(true, Ordering::Relaxed);
    assert!(mesh.data().runs_background_work(), "the leader does");
    mesh.shutdown().expect("shutdown");
}
