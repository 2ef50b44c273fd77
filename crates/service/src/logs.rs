//! The server's recent log lines, which administrators read with `stdout.queue`: a bounded
//! ring of the lines this process logged, filled by the log subscriber the binary installs
//! (the service only logs through `tracing` and never writes here itself).

use crate::Session;
use crate::Settings;
use crate::authz::Required;
use comet_core::{Result, Timestamp, id, now};
use std::collections::VecDeque;
use std::sync::Mutex;

/// How many lines are kept; older ones are dropped as new ones arrive (upstream keeps 1000).
pub const CAPACITY: usize = 1000;

/// Longest line kept, in bytes; the rest of a longer line is cut off.
const MAX_LINE_BYTES: usize = 8 * 1024;

/// One logged line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub id: String,
    pub text: String,
    pub at: Timestamp,
}

static RECENT: Mutex<VecDeque<LogLine>> = Mutex::new(VecDeque::new());

/// Keeps each non-empty line of `text` (one formatted log event) as a recent line.
pub fn record(text: &str) {
    let at = now();
    let mut recent = match RECENT.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if recent.len() >= CAPACITY {
            recent.pop_front();
        }
        let mut end = line.len().min(MAX_LINE_BYTES);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        recent.push_back(LogLine {
            id: id::new_id(),
            text: line[..end].to_owned(),
            at,
        });
    }
}

/// The kept lines, oldest first.
fn recent() -> Vec<LogLine> {
    match RECENT.lock() {
        Ok(guard) => guard.iter().cloned().collect(),
        Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
    }
}

impl Settings<'_> {
    /// Who may read the server's log.
    pub const VIEW_LOGS: Required = Required::All(&["view-logs"]);

    /// `stdout.queue`: the recent log lines, oldest first.
    pub fn recent_logs(&self, session: &Session) -> Result<Vec<LogLine>> {
        self.ctx.authorize(&session.user, Self::VIEW_LOGS)?;
        Ok(recent())
    }
}

impl Settings<'_> {
    /// Whether calls of `method` are traced in the log (`Log_Trace_Methods`, narrowed by the
    /// `Log_Trace_Methods_Filter` regular expression when one is set).
    pub fn traces_method(&self, method: &str) -> bool {
        if !self.ctx.setting_bool("Log_Trace_Methods") {
            return false;
        }
        let filter = self.ctx.setting_str("Log_Trace_Methods_Filter");
        if filter.trim().is_empty() {
            return true;
        }
        // A filter that is not a valid expression traces nothing rather than everything.
        regex::Regex::new(&filter).is_ok_and(|re| re.is_match(method))
    }
}
