//! [`Shutdown`]: the per-core signal that tells connections to stop taking requests.
//!
//! Executors are thread-per-core, so this is a `Cell` and a list of wakers, not an atomic:
//! each core owns one and triggers it from its own task.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A one-way switch connections watch while idle.
///
/// Idle connections close as soon as it is triggered; a connection in the middle of a request
/// answers it with `connection: close` and then closes.
#[derive(Debug, Default)]
pub struct Shutdown {
    triggered: Cell<bool>,
    /// Wakers of the tasks waiting in [`Shutdown::wait`], one slot per live waiter.
    waiters: RefCell<Vec<Option<Waker>>>,
    /// Slots of `waiters` no waiter holds, reused so the list grows only with the number of
    /// connections waiting at once, not with the number of waits.
    free: RefCell<Vec<usize>>,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Flips the switch and wakes every waiter. Idempotent.
    pub fn trigger(&self) {
        self.triggered.set(true);
        let count = self.waiters.borrow().len();
        for i in 0..count {
            // Take one waker at a time so no borrow is held while a waker runs.
            let waker = self.waiters.borrow_mut().get_mut(i).and_then(Option::take);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    pub fn is_triggered(&self) -> bool {
        self.triggered.get()
    }

    /// Completes once [`Shutdown::trigger`] has been called (at once if it already was).
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            shutdown: self,
            slot: None,
        }
    }
}

/// Future returned by [`Shutdown::wait`].
#[derive(Debug)]
pub struct Wait<'a> {
    shutdown: &'a Shutdown,
    slot: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shutdown = self.shutdown;
        if shutdown.triggered.get() {
            return Poll::Ready(());
        }
        let mut waiters = shutdown.waiters.borrow_mut();
        match self.slot {
            Some(i) => {
                if let Some(entry) = waiters.get_mut(i) {
                    match entry {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => *entry = Some(cx.waker().clone()),
                    }
                }
            }
            None => {
                let i = match shutdown.free.borrow_mut().pop() {
                    Some(i) => {
                        waiters[i] = Some(cx.waker().clone());
                        i
                    }
                    None => {
                        waiters.push(Some(cx.waker().clone()));
                        waiters.len() - 1
                    }
                };
                self.slot = Some(i);
            }
        }
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot.take() {
            if let Some(entry) = self.shutdown.waiters.borrow_mut().get_mut(i) {
                *entry = None;
            }
            self.shutdown.free.borrow_mut().push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future;

    #[test]
    fn wait_completes_after_trigger_and_slots_are_reused() {
        let s = Shutdown::new();
        assert!(!s.is_triggered());
        for _ in 0..3 {
            let mut w = s.wait();
            assert!(future::block_on(future::poll_once(&mut w)).is_none());
        }
        assert_eq!(
            s.waiters.borrow().len(),
            1,
            "dropped waiters give their slot back"
        );
        let mut w1 = s.wait();
        let mut w2 = s.wait();
        assert!(future::block_on(future::poll_once(&mut w1)).is_none());
        assert!(future::block_on(future::poll_once(&mut w2)).is_none());
        s.trigger();
        assert!(s.is_triggered());
        assert!(future::block_on(future::poll_once(&mut w1)).is_some());
        assert!(future::block_on(future::poll_once(&mut w2)).is_some());
        future::block_on(s.wait());
    }
}
