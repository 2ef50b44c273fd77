//! Where log lines go besides the process output: the ring of recent lines that
//! administrators read with `stdout.queue` (`comet_service::logs`).

use std::io;
use tracing_subscriber::fmt::MakeWriter;

/// A `MakeWriter` for a `tracing_subscriber::fmt` layer that keeps each formatted event in
/// the recent-lines ring. Use it with ANSI colours off, so the lines hold plain text.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecentLines;

/// One event being written: collected, then kept when the formatter drops it.
pub struct RecentLine(Vec<u8>);

impl io::Write for RecentLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for RecentLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            comet_service::logs::record(&String::from_utf8_lossy(&self.0));
        }
    }
}

impl<'a> MakeWriter<'a> for RecentLines {
    type Writer = RecentLine;

    fn make_writer(&'a self) -> Self::Writer {
        RecentLine(Vec::new())
    }
}

/// Log lines waiting for the output at most; past it, lines are dropped and counted.
pub const QUEUED_LINES: usize = 8192;

/// A `MakeWriter` that hands each formatted event to a thread of its own, which writes it to
/// the process output. Written in place, a log line was a system call on the async worker
/// that logged it, and an output read slowly (a paused pipe, a busy log collector) stopped the
/// worker, so the server, until it was read. Now a line costs a queue push; when
/// [`QUEUED_LINES`] wait, further lines are dropped, and the output says how many once it is
/// read again.
#[derive(Clone)]
pub struct QueuedOutput {
    queue: std::sync::mpsc::SyncSender<Queued>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

enum Queued {
    Line(Vec<u8>),
    /// Everything before it is written: say so.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// Writes what was queued before it is dropped (the lines of a shutdown are not lost).
pub struct FlushOnDrop(QueuedOutput);

/// How long a shutdown waits for the queued lines to be written.
const FLUSH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

impl QueuedOutput {
    /// Starts the thread writing to `output`; the guard writes what is queued when dropped.
    pub fn start(mut output: Box<dyn io::Write + Send>) -> io::Result<(QueuedOutput, FlushOnDrop)> {
        use std::sync::atomic::Ordering;
        let (queue, lines) = std::sync::mpsc::sync_channel::<Queued>(QUEUED_LINES);
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = std::sync::Arc::clone(&dropped);
        std::thread::Builder::new()
            .name("comet-log".to_owned())
            .spawn(move || {
                for queued in lines {
                    match queued {
                        Queued::Line(line) => {
                            let lost = counted.swap(0, Ordering::Relaxed);
                            if lost > 0 {
                                let note = format!(
                                    "comet: {lost} log lines were dropped: the output was not read fast enough\n"
                                );
                                let _ = output.write_all(note.as_bytes());
                            }
                            let _ = output.write_all(&line);
                        }
                        Queued::Flush(done) => {
                            let _ = output.flush();
                            let _ = done.send(());
                        }
                    }
                }
            })?;
        let output = QueuedOutput { queue, dropped };
        Ok((output.clone(), FlushOnDrop(output)))
    }

    /// Queues a formatted event, or counts it dropped when the queue is full.
    fn queue(&self, line: Vec<u8>) {
        if self.queue.try_send(Queued::Line(line)).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        let (done, written) = std::sync::mpsc::sync_channel(1);
        let deadline = std::time::Instant::now() + FLUSH_PATIENCE;
        let mut flush = Queued::Flush(done);
        // The queue may be full: wait for room, but not past the deadline.
        loop {
            match self.0.queue.try_send(flush) {
                Ok(()) => break,
                Err(std::sync::mpsc::TrySendError::Full(back)) => {
                    if std::time::Instant::now() >= deadline {
                        return;
                    }
                    flush = back;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
            }
        }
        let _ = written.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()));
    }
}

/// One event being formatted for the queued output: queued when the formatter drops it.
pub struct QueuedLine {
    line: Vec<u8>,
    output: QueuedOutput,
}

impl io::Write for QueuedLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for QueuedLine {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.output.queue(std::mem::take(&mut self.line));
        }
    }
}

impl<'a> MakeWriter<'a> for QueuedOutput {
    type Writer = QueuedLine;

    fn make_writer(&'a self) -> Self::Writer {
        QueuedLine {
            line: Vec::new(),
            output: self.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Long enough on a loaded machine; only a hang reaches it.
    const PATIENCE: Duration = Duration::from_secs(60);

    /// An output that blocks every write until it is opened, and keeps what it was given.
    #[derive(Clone, Default)]
    struct Gate {
        open: Arc<(Mutex<bool>, std::sync::Condvar)>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Gate {
        fn open(&self) {
            *self.open.0.lock().expect("gate") = true;
            self.open.1.notify_all();
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.written.lock().expect("written")).into_owned()
        }
    }

    impl io::Write for Gate {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut open = self.open.0.lock().expect("gate");
            while !*open {
                open = self.open.1.wait(open).expect("gate");
            }
            self.written
                .lock()
                .expect("written")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(output: &QueuedOutput, text: &str) {
        let mut line = output.make_writer();
        line.write_all(text.as_bytes()).expect("write");
    }

    #[test]
    fn an_output_that_is_not_read_never_holds_up_logging_and_the_loss_is_told() {
        let gate = Gate::default();
        let (output, flush) = QueuedOutput::start(Box::new(gate.clone())).expect("start");
        let lines = QUEUED_LINES + 500;
        let (logged, done) = std::sync::mpsc::channel();
        let logger = output.clone();
        std::thread::spawn(move || {
            for i in 0..lines {
                log(&logger, &format!("line {i}\n"));
            }
            let _ = logged.send(());
        });
        // Only a logger that waits for the output (which nobody reads yet) reaches this.
        done.recv_timeout(PATIENCE)
            .expect("logging waited for an output nobody reads");
        gate.open();
        drop(flush);
        log(&output, "after\n");
        drop(FlushOnDrop(output.clone()));
        let text = gate.text();
        let written = text.lines().filter(|l| l.starts_with("line ")).count();
        let lost = lines - written;
        // The queue holds QUEUED_LINES, and the thread perhaps one more in its blocked write.
        assert!(lost >= 499, "only {lost} lines were dropped");
        let told: usize = text
            .lines()
            .filter_map(|l| l.strip_prefix("comet: "))
            .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
            .sum();
        assert_eq!(told, lost, "the loss told is not the loss");
        assert!(
            text.ends_with("after\n"),
            "the line logged once read is missing"
        );
    }

    #[test]
    fn what_is_queued_is_written_before_the_guard_is_gone() {
        let gate = Gate::default();
        gate.open();
        let (output, flush) = QueuedOutput::start(Box::new(gate.clone())).expect("start");
        for i in 0..100 {
            log(&output, &format!("line {i}\n"));
        }
        drop(flush);
        assert_eq!(gate.text().lines().count(), 100);
    }
}
