//! A connector task's own code (start, poll, put, flush, commit, stop) runs on a thread of its own
//! with its own single-threaded runtime, never on the threads that serve the broker, the REST
//! APIs or the registry. A task that blocks, spins or waits on something that never comes costs
//! that thread only: the pipeline around it waits for its answers asynchronously, and whoever
//! stops it bounds the wait (`task.shutdown.graceful.timeout.ms`) and then abandons the thread.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::oneshot;

type Job<T> = Box<dyn FnOnce(&mut T, &Runtime) + Send>;

/// The thread is gone: the task panicked, or its thread could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TaskThreadError {
    #[error("task {task} panicked: {message}")]
    Panicked { task: String, message: String },
    #[error("task {0} is no longer running")]
    Gone(String),
    #[error("could not start a thread for task {task}: {source}")]
    Spawn {
        task: String,
        source: std::io::Error,
    },
    /// A call made from a thread that cannot wait longer got no answer in time; it still runs.
    #[error("task {task} did not answer within {waited:?}")]
    Busy { task: String, waited: Duration },
}

/// Owns a task object on its own thread and runs calls on it, one at a time, in order.
pub struct TaskThread<T> {
    jobs: std::sync::mpsc::Sender<Job<T>>,
    task: String,
}

impl<T: Send + 'static> TaskThread<T> {
    /// Moves `value` onto a new thread named after the task. The thread ends once this handle
    /// is dropped and the call it is running (if any) returns.
    pub fn spawn(task: &str, value: T) -> Result<Self, TaskThreadError> {
        let (jobs, received) = std::sync::mpsc::channel::<Job<T>>();
        let spawn_error = |source| TaskThreadError::Spawn {
            task: task.to_string(),
            source,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(spawn_error)?;
        std::thread::Builder::new()
            // Linux keeps 15 bytes of a thread's name.
            .name(format!("task {task}"))
            .spawn(move || {
                let mut value = value;
                while let Ok(job) = received.recv() {
                    job(&mut value, &runtime);
                }
            })
            .map_err(spawn_error)?;
        Ok(Self {
            jobs,
            task: task.to_string(),
        })
    }

    /// Runs `call` on the task's thread and waits for its answer without blocking this one. A
    /// panic in `call` comes back as an error (the task should not be called again then).
    pub async fn call<R: Send + 'static>(
        &self,
        call: impl FnOnce(&mut T, &Runtime) -> R + Send + 'static,
    ) -> Result<R, TaskThreadError> {
        let (answer, answered) = oneshot::channel();
        self.send(call, move |outcome| {
            // The caller may have stopped waiting (a stop, or a timeout).
            let _ = answer.send(outcome);
        })?;
        answered
            .await
            .map_err(|_| TaskThreadError::Gone(self.task.clone()))?
    }

    /// [`call`](Self::call) for a caller that must block (a callback from a C library), bounded
    /// by `wait`: after it the call still runs, but the caller goes on without its answer.
    pub fn call_waiting<R: Send + 'static>(
        &self,
        wait: Duration,
        call: impl FnOnce(&mut T, &Runtime) -> R + Send + 'static,
    ) -> Result<R, TaskThreadError> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.send(call, move |outcome| {
            let _ = answer.send(outcome);
        })?;
        match answered.recv_timeout(wait) {
            Ok(outcome) => outcome,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(TaskThreadError::Busy {
                task: self.task.clone(),
                waited: wait,
            }),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(TaskThreadError::Gone(self.task.clone()))
            }
        }
    }

    /// Queues `call`; `answer` gets its result, or the panic it raised.
    fn send<R: Send + 'static>(
        &self,
        call: impl FnOnce(&mut T, &Runtime) -> R + Send + 'static,
        answer: impl FnOnce(Result<R, TaskThreadError>) + Send + 'static,
    ) -> Result<(), TaskThreadError> {
        let task = self.task.clone();
        let job: Job<T> = Box::new(move |value, runtime| {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| call(value, runtime)))
                .map_err(|panic| TaskThreadError::Panicked {
                    task,
                    message: panic_message(panic.as_ref()),
                });
            answer(outcome);
        });
        self.jobs
            .send(job)
            .map_err(|_| TaskThreadError::Gone(self.task.clone()))
    }
}

/// Another handle on the same thread, which ends when the last handle is dropped.
impl<T> Clone for TaskThread<T> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
            task: self.task.clone(),
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn calls_run_in_order_on_the_tasks_own_thread() {
        let here = std::thread::current().id();
        let thread = TaskThread::spawn("t-0", Vec::<u32>::new()).expect("spawn");
        for i in 0..3 {
            thread.call(move |v, _| v.push(i)).await.expect("call");
        }
        let (seen, other_thread) = thread
            .call(move |v, _| (v.clone(), std::thread::current().id() != here))
            .await
            .expect("call");
        assert_eq!(seen, [0, 1, 2]);
        assert!(other_thread);
    }

    #[tokio::test]
    async fn a_stuck_call_leaves_the_caller_free_and_a_panic_is_an_error() {
        let thread = TaskThread::spawn("stuck-0", ()).expect("spawn");
        let (release, released) = std::sync::mpsc::channel::<()>();
        let stuck = thread.call(move |_, _| {
            let _ = released.recv();
        });
        // The caller's own thread is free while the task's is blocked.
        assert!(tokio::time::timeout(Duration::from_millis(50), stuck)
            .await
            .is_err());
        let _ = release.send(());
        let panicked = TaskThread::spawn("boom-0", ()).expect("spawn");
        let err = panicked
            .call(|_, _| panic!("kaboom"))
            .await
            .expect_err("panicked");
        assert_eq!(err.to_string(), "task boom-0 panicked: kaboom");
    }

    #[tokio::test]
    async fn async_task_code_runs_on_the_threads_own_runtime() {
        let thread = TaskThread::spawn("async-0", 0u64).expect("spawn");
        let slept = thread
            .call(|v, runtime| {
                runtime.block_on(async {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    *v += 1;
                    *v
                })
            })
            .await
            .expect("call");
        assert_eq!(slept, 1);
    }

    #[test]
    fn a_waiting_call_gets_its_answer_or_gives_up_after_its_bound() {
        let thread = TaskThread::spawn("waiting-0", 1u32).expect("spawn");
        let answer = thread.call_waiting(Duration::from_secs(10), |v, _| *v + 1);
        assert_eq!(answer.expect("answer"), 2);
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let handle = thread.clone();
        std::thread::spawn(move || {
            let _ = handle.call_waiting(Duration::from_secs(10), move |_, _| {
                let _ = started.send(());
                let _ = released.recv();
            });
        });
        running.recv().expect("the stuck call started");
        let busy = thread.call_waiting(Duration::from_millis(50), |v, _| *v);
        assert!(
            matches!(busy, Err(TaskThreadError::Busy { .. })),
            "{busy:?}"
        );
        let _ = release.send(());
        // The call that gave up still ran, in order: the thread answers the next one.
        let after = thread.call_waiting(Duration::from_secs(10), |v, _| *v);
        assert_eq!(after.expect("answer"), 1);
    }
}
