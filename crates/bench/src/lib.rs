//! What `comet-bench` and `comet-load` share: a `comet` child process on its own data
//! directory, its CPU and memory from /proc, and WebSocket connections from several loopback
//! source addresses.

pub mod net;
pub mod process;
