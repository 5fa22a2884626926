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

impl Shutdown {
    /// Runs `fut` until it completes (`Some`) or the switch flips (`None`).
    ///
    /// The task awaiting this is woken only by `fut` and by the switch, never by a timer of
    /// its own. That matters for glommio I/O futures such as `accept`: every poll of a
    /// pending one registers one more waker (released only when the I/O completes), and a
    /// task holds at most `i16::MAX` wakers. A loop that polled a pending `accept` each time
    /// a 50 ms stop-check timer fired broke that limit after 27 minutes without connections,
    /// and the core stopped accepting for good.
    pub async fn unless_triggered<F: Future>(&self, fut: F) -> Option<F::Output> {
        futures_lite::future::or(async { Some(fut.await) }, async {
            self.wait().await;
            None
        })
        .await
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
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    use super::*;
    use futures_lite::future;

    /// Never ready; counts its polls.
    struct Pending(Rc<Cell<usize>>);

    impl Future for Pending {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            self.0.set(self.0.get() + 1);
            Poll::Pending
        }
    }

    const TICKS: usize = 50;
    const TICK: Duration = Duration::from_millis(1);

    /// Polls of a pending future while another part of the same task ticks `TICKS` times
    /// (`stop_check = true`, the old accept loop) or while only the switch can wake it.
    fn polls_while_idle(stop_check: bool) -> usize {
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(1 << 20)
            .spawn(move || async move {
                let shutdown = Rc::new(Shutdown::new());
                let polls = Rc::new(Cell::new(0));
                let pending = Pending(polls.clone());
                let s = shutdown.clone();
                let waiter = glommio::spawn_local(async move {
                    if stop_check {
                        let ticking = async {
                            for _ in 0..TICKS {
                                glommio::timer::sleep(TICK).await;
                            }
                        };
                        future::or(pending, ticking).await;
                    } else {
                        assert_eq!(s.unless_triggered(pending).await, None);
                    }
                });
                glommio::timer::sleep(TICK * (TICKS as u32 + 20)).await;
                shutdown.trigger();
                waiter.await;
                polls.get()
            })
            .expect("executor")
            .join()
            .expect("join")
    }

    #[test]
    fn a_pending_future_is_polled_only_when_it_or_the_switch_wakes() {
        let quiet = polls_while_idle(false);
        assert!(quiet <= 2, "polled {quiet} times while idle");
        // The detector works: a timer in the same task re-polls the pending future each tick.
        let noisy = polls_while_idle(true);
        assert!(
            noisy > TICKS / 2,
            "only {noisy} polls with a ticking sibling"
        );
    }

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
