//! Connections the host makes to the bot (NapCat's reverse modes, issue 15): every event
//! POSTed to each `httpClients` endpoint ([`http`]), and a WebSocket dialled to each
//! `websocketClients` URL and kept up ([`ws`]). Both read events from the bus like any
//! subscriber, through a bounded queue of their own, so a slow or dead endpoint never holds up
//! plugins or the other endpoints.

pub(crate) mod http;
mod socket;
pub(crate) mod ws;
