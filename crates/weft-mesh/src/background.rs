//! The mesh's background threads (live profiles, raw input validation, following other servers):
//! a named thread that runs one round per tick until it is stopped, dropped, or a round says so.

use std::sync::mpsc;
use std::time::Duration;

/// A thread running rounds; [`Ticking::stop`] (or dropping it) ends it after its current round.
pub(crate) struct Ticking {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticking {
    /// Starts `name`, which waits `tick` and runs `round` until stopped or until `round` answers
    /// `false` (what it works on is gone).
    pub(crate) fn start(
        name: &str,
        tick: Duration,
        mut round: impl FnMut() -> bool + Send + 'static,
    ) -> std::io::Result<Ticking> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                if !round() {
                    return;
                }
            }
        })?;
        Ok(Ticking { stop: Some(stop), thread: Some(thread) })
    }

    /// Stops the thread and waits for its current round to end.
    pub(crate) fn stop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.stop();
    }
}
