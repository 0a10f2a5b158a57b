//! `websocketClients` (issue 15): reverse WebSocket connections the host keeps up.
