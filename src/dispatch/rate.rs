//! `_rate_limited` (SPEC E5, E5a): one call at a time host-wide, a gap apart, the turns shared
//! out fairly between clients (issue 20 item 4).
//!
//! Before, the queue was one lock for the whole host: a client that queued many slow calls
//! made every other client wait behind all of them (measured: 7.2 s for one call). Now each
//! client ([`ClientKey`]) has its own queue, and when a call ends the turn goes to the next
//! client in round-robin order, so a client waits behind at most one call of each other
//! client, however many those have queued. The gap still holds between any two calls: it
//! protects the account, which all clients share.
//!
//! The state sits under a std mutex held for a few map operations, never across an await.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Who a call comes from, for fair turns: a WebSocket connection, an HTTP client's address,
/// a plugin making nested calls, an `httpClients` endpoint. Two keys that collide (a 64-bit
/// hash) only share a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey(u64);

impl ClientKey {
    /// A caller the host cannot tell apart from others (the `call` command).
    pub(crate) const ANONYMOUS: ClientKey = ClientKey(0);

    /// An HTTP client, by its address: a client's pooled connections are one client.
    pub(crate) fn address(ip: IpAddr) -> ClientKey {
        Self::hashed(("address", ip))
    }

    /// One WebSocket connection (forward or reverse), by a number unique in the process.
    pub(crate) fn connection(id: u64) -> ClientKey {
        Self::hashed(("connection", id))
    }

    /// A named caller: a plugin's nested calls, an `httpClients` endpoint's quick operations.
    pub(crate) fn named(kind: &str, name: &str) -> ClientKey {
        Self::hashed((kind, name))
    }

    fn hashed(value: impl Hash) -> ClientKey {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        // 0 is ANONYMOUS's; a hash of 0 joins it, which only shares a queue.
        ClientKey(hasher.finish())
    }
}

/// The `_rate_limited` turns of the whole host.
pub(super) struct RateQueue {
    gap: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// A call holds the turn (it is waiting out the gap or running).
    busy: bool,
    /// When the last call ended: the next starts `gap` later.
    last_end: Option<Instant>,
    /// Calls waiting, per client, in arrival order.
    waiting: HashMap<ClientKey, VecDeque<oneshot::Sender<()>>>,
    /// Clients with calls waiting, in the order their turns come.
    order: VecDeque<ClientKey>,
}

/// The turn: the call runs while it is held; dropping it hands the turn on.
pub(super) struct Turn<'a> {
    queue: &'a RateQueue,
}

/// A call waiting for its turn. Dropped (the client hung up, the caller's deadline passed)
/// after the turn was handed to it but before it took it, it hands the turn on.
struct Waiter<'a> {
    queue: &'a RateQueue,
    turn: oneshot::Receiver<()>,
    taken: bool,
}

impl RateQueue {
    pub(super) fn new(gap: Duration) -> RateQueue {
        RateQueue {
            gap,
            state: Mutex::new(State::default()),
        }
    }

    /// Calls waiting for their turn now.
    pub(super) fn waiting(&self) -> usize {
        crate::sync::lock(&self.state)
            .waiting
            .values()
            .map(VecDeque::len)
            .sum()
    }

    /// Waits for `client`'s turn, then for the gap after the previous call.
    pub(super) async fn turn(&self, client: ClientKey) -> Turn<'_> {
        let waiting = {
            let mut state = crate::sync::lock(&self.state);
            if !state.busy && state.order.is_empty() {
                state.busy = true;
                None
            } else {
                let (send, receive) = oneshot::channel();
                let queue = state.waiting.entry(client).or_default();
                if queue.is_empty() {
                    state.order.push_back(client);
                }
                if let Some(queue) = state.waiting.get_mut(&client) {
                    queue.push_back(send);
                }
                Some(receive)
            }
        };
        if let Some(receive) = waiting {
            let mut waiter = Waiter {
                queue: self,
                turn: receive,
                taken: false,
            };
            // The sender is only dropped unsent when the queue itself goes away.
            let _ = (&mut waiter.turn).await;
            waiter.taken = true;
        }
        let turn = Turn { queue: self };
        let last_end = crate::sync::lock(&self.state).last_end;
        if let Some(at) = last_end {
            tokio::time::sleep_until((at + self.gap).into()).await;
        }
        turn
    }

    /// The running call ended: the turn goes to the next client in order, whose first
    /// waiting call takes it; that client goes to the back of the order if it has more.
    fn hand_on(&self) {
        let mut state = crate::sync::lock(&self.state);
        state.last_end = Some(Instant::now());
        while let Some(client) = state.order.pop_front() {
            let Some(queue) = state.waiting.get_mut(&client) else {
                continue;
            };
            let next = queue.pop_front();
            if queue.is_empty() {
                state.waiting.remove(&client);
            } else {
                state.order.push_back(client);
            }
            // A waiter that went away is skipped; its client keeps its place for the rest.
            if let Some(next) = next
                && next.send(()).is_ok()
            {
                return;
            }
        }
        state.busy = false;
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.queue.hand_on();
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if !self.taken && self.turn.try_recv().is_ok() {
            self.queue.hand_on();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// E5a: with client A's calls queued first, B's single call runs second, not last.
    #[tokio::test]
    async fn e5a_turns_go_round_the_clients_not_first_come_first_served() {
        let queue = Arc::new(RateQueue::new(Duration::ZERO));
        let (a, b) = (ClientKey::connection(1), ClientKey::connection(2));
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = queue.turn(a).await;
        let mut tasks = Vec::new();
        // A queues four more, then B one; each waits until it is queued before the next.
        for (client, name) in [(a, "a1"), (a, "a2"), (a, "a3"), (a, "a4"), (b, "b1")] {
            let (task_queue, order) = (queue.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = task_queue.turn(client).await;
                crate::sync::lock(&order).push(name);
            }));
            loop {
                let queued: usize = crate::sync::lock(&queue.state)
                    .waiting
                    .values()
                    .map(VecDeque::len)
                    .sum();
                if queued == tasks.len() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(*crate::sync::lock(&order), ["a1", "b1", "a2", "a3", "a4"]);
    }

    /// A waiter that gives up (its client hung up) neither blocks the queue nor loses a turn.
    #[tokio::test]
    async fn e5a_a_waiter_that_goes_away_hands_the_turn_on() {
        let queue = Arc::new(RateQueue::new(Duration::ZERO));
        let first = queue.turn(ClientKey::connection(1)).await;
        let gone = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let _turn = queue.turn(ClientKey::connection(2)).await;
            })
        };
        let next = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let _turn = queue.turn(ClientKey::connection(3)).await;
            })
        };
        while crate::sync::lock(&queue.state).order.len() < 2 {
            tokio::task::yield_now().await;
        }
        gone.abort();
        let _ = gone.await;
        drop(first);
        next.await.expect("the next client got its turn");
        let _again = queue.turn(ClientKey::ANONYMOUS).await;
    }
}
