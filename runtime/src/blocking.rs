//! Blocking work called from async code that cannot await: a registry lookup inside a
//! converter, a consumer's rebalance callback waiting for a task's flush.

/// Runs `work` without stalling an async runtime: on a multi-threaded runtime the calling
/// worker's other tasks move to another thread while it blocks (`block_in_place`).
pub(crate) fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        // A single-threaded runtime cannot hand its thread over: the work runs on a thread of
        // its own while this one waits.
        Ok(_) => std::thread::scope(|scope| match scope.spawn(work).join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// The runtime's only worker blocks until another of its tasks answers: that task can run
    /// only if the blocked worker handed the runtime over. (The test's own body runs on a
    /// thread of its own, so both sides are spawned.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn other_tasks_of_the_runtime_run_while_the_work_blocks() {
        let (asked, ask) = tokio::sync::oneshot::channel::<()>();
        let (answer, answered) = mpsc::channel();
        let answering = tokio::spawn(async move {
            if ask.await.is_ok() {
                let _ = answer.send("answered");
            }
        });
        let blocking = tokio::spawn(async move {
            off_runtime(move || {
                let _ = asked.send(());
                answered.recv_timeout(Duration::from_secs(10))
            })
        });
        let got = blocking.await.expect("the blocking task ended");
        assert_eq!(got, Ok("answered"));
        answering.await.expect("the answering task ended");
    }

    #[test]
    fn without_a_runtime_the_work_just_runs() {
        assert_eq!(off_runtime(|| 7), 7);
    }

    #[test]
    fn on_a_single_threaded_runtime_the_work_runs_on_a_thread_of_its_own() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let caller = std::thread::current().id();
        let ran_on = runtime.block_on(async { off_runtime(|| std::thread::current().id()) });
        assert_ne!(ran_on, caller);
    }
}
