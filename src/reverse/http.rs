//! `httpClients` (issue 15): every event POSTed to each endpoint.
