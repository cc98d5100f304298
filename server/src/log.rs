//! Structured logs: one JSON object per line. Callers pass codes, paths
//! (never query strings), customer ids and family ids; no token, refresh
//! token or password is ever handed to the logger.

use serde_json::{Map, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Where log lines go.
pub type Sink = Arc<Mutex<dyn Write + Send>>;

/// A JSON-lines logger.
#[derive(Clone)]
pub struct Logger {
    sink: Sink,
}

impl Logger {
    /// Logs to standard output.
    pub fn stdout() -> Logger {
        Logger::to(Arc::new(Mutex::new(std::io::stdout())))
    }

    /// Logs to `sink` (tests capture into a buffer).
    pub fn to(sink: Sink) -> Logger {
        Logger { sink }
    }

    /// Writes `{"ts":…,"level":…,"event":…, …fields}`.
    pub fn log(&self, level: &str, event: &str, fields: Value) {
        let mut line = Map::new();
        line.insert("ts".into(), Value::from(now_ms()));
        line.insert("level".into(), Value::from(level));
        line.insert("event".into(), Value::from(event));
        if let Value::Object(fields) = fields {
            line.extend(fields);
        }
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        // A log that cannot be written must not take a request down.
        let _ = sink.write_all(text.as_bytes()).and_then(|_| sink.flush());
    }

    /// An `info` line.
    pub fn info(&self, event: &str, fields: Value) {
        self.log("info", event, fields);
    }

    /// A `warn` line.
    pub fn warn(&self, event: &str, fields: Value) {
        self.log("warn", event, fields);
    }

    /// An `error` line.
    pub fn error(&self, event: &str, fields: Value) {
        self.log("error", event, fields);
    }
}

fn now_ms() -> i64 {
    use chat_auth::time::{Clock, SystemClock};
    SystemClock.now_ms()
}
