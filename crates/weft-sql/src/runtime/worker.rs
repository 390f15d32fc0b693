//! A thread kept for a query's life that runs its jobs one at a time: the next batch's read and the
//! last batch's write overlap the processing of a batch (see the runtime's module docs), and they
//! used to take a new thread per batch, whose creation and fresh allocator heap (pages the kernel
//! zeroes) showed in profiles of the server.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

/// Runs jobs on one long-lived thread, started at the first job.
pub(crate) struct Worker {
    name: String,
    running: Option<(mpsc::Sender<Job>, JoinHandle<()>)>,
}

/// A job handed to a [`Worker`]; `join` waits for its result, as `JoinHandle::join` does for a
/// thread's (a panic in the job is returned as the error).
pub(crate) struct Pending<T> {
    result: mpsc::Receiver<std::thread::Result<T>>,
    /// The result, once [`Pending::is_finished`] has seen it.
    finished: Option<std::thread::Result<T>>,
}

impl<T> Pending<T> {
    pub fn join(self) -> std::thread::Result<T> {
        match self.finished {
            Some(result) => result,
            None => self.result.recv().unwrap_or_else(|_| Err(Box::new("the query's worker thread is gone"))),
        }
    }

    /// Whether the job is over (its result is then kept for [`Pending::join`]); never waits.
    pub fn is_finished(&mut self) -> bool {
        if self.finished.is_none() {
            match self.result.try_recv() {
                Ok(result) => self.finished = Some(result),
                Err(mpsc::TryRecvError::Empty) => return false,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.finished = Some(Err(Box::new("the query's worker thread is gone")))
                }
            }
        }
        true
    }
}

impl Worker {
    pub fn new(name: String) -> Worker {
        Worker { name, running: None }
    }

    /// Runs `job` after the jobs handed over before it; on this thread when no worker thread can be
    /// started.
    pub fn run<T: Send + 'static>(&mut self, job: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
        let (send, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            // The caller may have stopped waiting (a read-ahead it no longer wants).
            let _ = send.send(catch_unwind(AssertUnwindSafe(job)));
        });
        match self.sender() {
            Some(jobs) => {
                if let Err(mpsc::SendError(job)) = jobs.send(job) {
                    job();
                }
            }
            None => job(),
        }
        Pending { result, finished: None }
    }

    fn sender(&mut self) -> Option<&mpsc::Sender<Job>> {
        if self.running.is_none() {
            let (jobs, queue) = mpsc::channel::<Job>();
            let thread = std::thread::Builder::new()
                .name(self.name.clone())
                .spawn(move || {
                    for job in queue {
                        job();
                    }
                })
                .ok()?;
            self.running = Some((jobs, thread));
        }
        self.running.as_ref().map(|(jobs, _)| jobs)
    }
}

impl Drop for Worker {
    /// The jobs handed over finish first.
    fn drop(&mut self) {
        if let Some((jobs, thread)) = self.running.take() {
            drop(jobs);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_in_order_on_one_thread_and_panics_come_back_to_the_caller() {
        let mut worker = Worker::new("test-worker".into());
        let first = worker.run(|| std::thread::current().id());
        let second = worker.run(|| std::thread::current().id());
        let (a, b) = (first.join().expect("first"), second.join().expect("second"));
        assert_eq!(a, b, "one thread for both jobs");
        assert_ne!(a, std::thread::current().id(), "not the caller's thread");

        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let pending: Vec<_> = (0..5)
            .map(|i| {
                let order = order.clone();
                worker.run(move || order.lock().expect("lock").push(i))
            })
            .collect();
        pending.into_iter().for_each(|p| p.join().expect("job"));
        assert_eq!(*order.lock().expect("lock"), vec![0, 1, 2, 3, 4]);

        let (release, wait) = mpsc::channel::<()>();
        let mut blocked = worker.run(move || wait.recv().map(|_| 11));
        assert!(!blocked.is_finished(), "the job waits for its release");
        release.send(()).expect("release");
        while !blocked.is_finished() {
            std::thread::yield_now();
        }
        assert_eq!(blocked.join().expect("job").expect("released"), 11, "a finished job's result is kept");

        let failed = worker.run(|| -> u32 { panic!("job failed") });
        assert!(failed.join().is_err(), "the panic is the caller's to see");
        assert_eq!(worker.run(|| 7).join().expect("the worker survives a panicking job"), 7);
    }
}
