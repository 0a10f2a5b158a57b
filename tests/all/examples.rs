//! The example plugins that react to the outside world, each as a user runs it: the real
//! binary, the sidecar shipped in plugins/optional/, mock-account to "send", and the outside
//! world played by the test (a feed server, GitHub's webhook deliveries).

mod feed;
mod github_notify;
