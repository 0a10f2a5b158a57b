//! Integration tests: a real host on port 0, a real HTTP client, real compiled components.
//!
//! The guest components are built by `build.rs` (once per build); `ONEBOT_GUEST_DIR` names
//! where they are. Each test gets its own plugin folder in a temp dir; all share one compile
//! cache so only the first test to load a component pays for compiling it.

mod abuse;
mod bin;
mod bounds;
mod browser;
mod capabilities;
mod cli;
mod dashboard;
mod examples;
mod gateway;
mod harness;
mod hostile;
mod http;
mod key_value;
mod languages;
mod layers;
mod memory;
mod metrics;
mod outbound;
mod plugins;
mod queues;
mod reload;
mod reverse_http;
mod reverse_ws;
mod routes;
mod schedules;
mod sdk_caps;
mod servers;
mod triggers;
mod trust;
mod ws;
