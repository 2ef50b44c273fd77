//! One session's outgoing side: a bounded queue of frames that the hub and the session fill
//! and the session's writer drains, and a close that can go ahead of whatever is queued.
//!
//! It is one small allocation per session, and the queue holds memory only while frames wait
//! (a burst's storage is given back once the queue is empty again): thousands of idle
//! connections each held a tokio mpsc channel's first block of slots and its cache-padded
//! state (about 2 KiB), and a watch channel for the close (about 400 bytes).

use axum::extract::ws::Utf8Bytes;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// Frames (and closes) queued for one client before it counts as too slow.
pub const QUEUE_DEPTH: usize = 512;

/// Queue storage kept once the queue is empty again; a burst's larger storage is given back.
const KEPT_CAPACITY: usize = 16;

/// A frame to send: encoded once, shared by reference count among recipients.
pub type Frame = Utf8Bytes;

/// What a session's writer receives.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Frame(Frame),
    /// Close the socket with this code (e.g. 4001 when the session's token ends).
    Close(u16, &'static str),
}

/// What happened to a frame offered without waiting.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    Queued,
    /// The queue holds `QUEUE_DEPTH` items: nothing was queued.
    Full,
    /// A close goes ahead of the queue: a frame now would arrive after a gap the client
    /// cannot see, so nothing was queued.
    Closing,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Outgoing>,
    /// A close that goes ahead of whatever is queued.
    close_now: Option<(u16, &'static str)>,
    /// The session queues nothing more: the writer ends once the queue is empty.
    finished: bool,
    /// The writer has ended: whatever is queued from now on is dropped.
    writer_gone: bool,
}

/// A session's outgoing queue, shared by the hub and the session.
///
/// Each side has one waiter at a time (the writer; the session's reader or its own send
/// waiting for room), so `Notify::notify_one` suffices, and its stored permit means a wake
/// between checking the queue and waiting is never lost.
#[derive(Default)]
pub struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the writer: something queued, a close ahead of the queue, the session finished.
    writer: Notify,
    /// Wakes the session: room in the queue, a close ahead of the queue, the writer gone.
    session: Notify,
}

/// The writer's next step.
#[derive(Debug)]
pub enum Next {
    /// The oldest queued item.
    Item(Outgoing),
    /// Close at once with this code, ahead of what is queued.
    CloseNow(u16, &'static str),
    /// The session finished and everything it queued was taken.
    End,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        match self.queue.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Queues a frame without waiting (the hub's fan-out), unless the queue is full or a close
    /// goes ahead of it. Once the writer has ended the frame is dropped.
    pub fn offer(&self, frame: &Frame) -> Offer {
        let mut queue = self.lock();
        if queue.close_now.is_some() {
            return Offer::Closing;
        }
        if queue.writer_gone {
            return Offer::Queued;
        }
        if queue.items.len() >= QUEUE_DEPTH {
            return Offer::Full;
        }
        queue.items.push_back(Outgoing::Frame(frame.clone()));
        drop(queue);
        self.writer.notify_one();
        Offer::Queued
    }

    /// Queues a close after what is queued, without waiting; false when the queue is full.
    /// Once the writer has ended the close is dropped.
    pub fn offer_close(&self, code: u16, reason: &'static str) -> bool {
        let mut queue = self.lock();
        if queue.writer_gone {
            return true;
        }
        if queue.items.len() >= QUEUE_DEPTH {
            return false;
        }
        queue.items.push_back(Outgoing::Close(code, reason));
        drop(queue);
        self.writer.notify_one();
        true
    }

    /// Queues an item, waiting for room (the session's own answers). Once the writer has ended
    /// the item is dropped.
    pub async fn push(&self, item: Outgoing) {
        let mut item = Some(item);
        loop {
            {
                let mut queue = self.lock();
                if queue.writer_gone {
                    return;
                }
                if queue.items.len() < QUEUE_DEPTH {
                    queue.items.extend(item.take());
                    drop(queue);
                    self.writer.notify_one();
                    return;
                }
            }
            self.session.notified().await;
        }
    }

    /// Ends the session ahead of its queued frames: the writer stops writing them and sends
    /// this close code and reason instead. Used when the queue itself cannot take the close.
    pub fn close_now(&self, code: u16, reason: &'static str) {
        self.lock().close_now = Some((code, reason));
        self.writer.notify_one();
        self.session.notify_one();
    }

    /// The session waits here to learn that a close goes ahead of its queue.
    pub async fn closing(&self) {
        loop {
            let closing = self.lock().close_now.is_some();
            if closing {
                return;
            }
            self.session.notified().await;
        }
    }

    /// The session queues nothing more: the writer ends after what is queued.
    pub fn finish(&self) {
        self.lock().finished = true;
        self.writer.notify_one();
    }

    /// The oldest queued item without waiting (the writer's batches), and room for one more.
    pub fn pop(&self) -> Option<Outgoing> {
        let mut queue = self.lock();
        let was_full = queue.items.len() >= QUEUE_DEPTH;
        let item = queue.items.pop_front();
        if queue.items.is_empty() && queue.items.capacity() > KEPT_CAPACITY {
            queue.items = VecDeque::new();
        }
        drop(queue);
        if was_full {
            self.session.notify_one();
        }
        item
    }

    /// The writer's next step, waiting for one.
    pub async fn next(&self) -> Next {
        loop {
            {
                let queue = self.lock();
                if let Some((code, reason)) = queue.close_now {
                    return Next::CloseNow(code, reason);
                }
                if queue.items.is_empty() && queue.finished {
                    return Next::End;
                }
            }
            if let Some(item) = self.pop() {
                return Next::Item(item);
            }
            self.writer.notified().await;
        }
    }

    /// The writer waits here, while writing, for a close ahead of the queue.
    pub async fn close_ahead(&self) -> (u16, &'static str) {
        loop {
            let close = self.lock().close_now;
            if let Some(close) = close {
                return close;
            }
            self.writer.notified().await;
        }
    }

    /// The writer has ended: nothing queued will be written, and nobody waits for room.
    pub fn writer_gone(&self) {
        let mut queue = self.lock();
        queue.writer_gone = true;
        queue.items = VecDeque::new();
        drop(queue);
        self.session.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn frame(text: &'static str) -> Frame {
        Frame::from_static(text)
    }

    fn text_of(next: Next) -> String {
        match next {
            Next::Item(Outgoing::Frame(frame)) => frame.as_str().to_owned(),
            other => panic!("not a frame: {other:?}"),
        }
    }

    #[tokio::test]
    async fn frames_come_out_in_order_and_the_queue_is_bounded() {
        let outbox = Outbox::default();
        for _ in 0..QUEUE_DEPTH {
            assert_eq!(outbox.offer(&frame("f")), Offer::Queued);
        }
        assert_eq!(outbox.offer(&frame("over")), Offer::Full);
        assert!(!outbox.offer_close(1000, "bye"));
        assert_eq!(text_of(outbox.next().await), "f");
        // Room for exactly one more.
        assert_eq!(outbox.offer(&frame("g")), Offer::Queued);
        assert_eq!(outbox.offer(&frame("h")), Offer::Full);
    }

    #[tokio::test]
    async fn a_waiting_push_goes_in_when_the_writer_makes_room() {
        let outbox = Arc::new(Outbox::default());
        for _ in 0..QUEUE_DEPTH {
            assert_eq!(outbox.offer(&frame("f")), Offer::Queued);
        }
        let pusher = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.push(Outgoing::Frame(frame("last"))).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!pusher.is_finished(), "a push into a full queue waits");
        assert!(outbox.pop().is_some());
        tokio::time::timeout(Duration::from_secs(5), pusher)
            .await
            .expect("the push went in once there was room")
            .expect("pusher");
        for _ in 1..QUEUE_DEPTH {
            assert_eq!(text_of(outbox.next().await), "f");
        }
        assert_eq!(text_of(outbox.next().await), "last");
    }

    #[tokio::test]
    async fn a_close_ahead_of_the_queue_goes_first_and_stops_new_frames() {
        let outbox = Outbox::default();
        assert_eq!(outbox.offer(&frame("queued")), Offer::Queued);
        outbox.close_now(1013, "slow consumer");
        assert_eq!(outbox.offer(&frame("late")), Offer::Closing);
        assert!(matches!(
            outbox.next().await,
            Next::CloseNow(1013, "slow consumer")
        ));
        tokio::time::timeout(Duration::from_secs(5), outbox.closing())
            .await
            .expect("the session learns of the close");
    }

    #[tokio::test]
    async fn the_writer_ends_after_what_the_finished_session_queued() {
        let outbox = Arc::new(Outbox::default());
        let writer = {
            let outbox = outbox.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    match outbox.next().await {
                        Next::Item(Outgoing::Frame(frame)) => seen.push(frame.as_str().to_owned()),
                        Next::Item(Outgoing::Close(code, _)) => seen.push(code.to_string()),
                        Next::CloseNow(..) => panic!("no close was asked for"),
                        Next::End => return seen,
                    }
                }
            })
        };
        outbox.push(Outgoing::Frame(frame("a"))).await;
        outbox.push(Outgoing::Close(4000, "timeout")).await;
        outbox.finish();
        let seen = tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .expect("the writer ended")
            .expect("writer");
        assert_eq!(seen, ["a", "4000"]);
    }

    #[tokio::test]
    async fn nothing_waits_for_a_writer_that_is_gone() {
        let outbox = Outbox::default();
        for _ in 0..QUEUE_DEPTH {
            assert_eq!(outbox.offer(&frame("f")), Offer::Queued);
        }
        outbox.writer_gone();
        tokio::time::timeout(
            Duration::from_secs(5),
            outbox.push(Outgoing::Frame(frame("x"))),
        )
        .await
        .expect("a push to a gone writer returns");
        assert_eq!(outbox.offer(&frame("y")), Offer::Queued);
        assert!(outbox.pop().is_none(), "nothing is kept for a gone writer");
    }

    #[tokio::test]
    async fn a_burst_gives_its_storage_back() {
        let outbox = Outbox::default();
        for _ in 0..200 {
            outbox.offer(&frame("f"));
        }
        while outbox.pop().is_some() {}
        assert!(outbox.lock().items.capacity() <= KEPT_CAPACITY);
    }
}
