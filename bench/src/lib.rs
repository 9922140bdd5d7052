//! What the load generator and the benches share: a lean samod client
//! that counts its bytes, the servers under test as child processes, the
//! process figures we read from /proc, and plain tables.
//!
//! Nothing here asserts a time: it measures and prints.

pub mod client;
pub mod servers;
pub mod stats;
pub mod table;
