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
