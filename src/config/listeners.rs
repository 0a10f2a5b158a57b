//! The listeners and connections of the `network` section: `httpServers`, `websocketServers`,
//! `httpSseServers`, `httpClients` and `websocketClients` checked and turned into what the host
//! binds and dials (SPEC C2, C3, N1-N5). Split from `validate` so each file has one job.

use std::path::Path;

use super::raw::RawNetwork;
use super::validate::{BODY_BYTES, HEART_MS, REQUEST_TIMEOUT_MS, WS_QUEUE, check, invalid};
use super::{ConfigError, HttpClient, HttpServer, ServerRef, WsClient};

/// Every entry is checked, disabled ones too: a bad value is a mistake whether or not the
/// entry is on today. Only enabled entries are kept, in file order (C3): `httpServers`, then
/// `websocketServers`, then `httpSseServers`; two of them on one address is an error.
pub(super) fn servers(
    network: &mut RawNetwork,
    path: &Path,
) -> Result<Vec<HttpServer>, ConfigError> {
    let mut entries: Vec<(usize, bool, HttpServer)> = Vec::new();
    for (index, raw) in std::mem::take(&mut network.http_servers)
        .into_iter()
        .enumerate()
    {
        let key = |field: &str| format!("network.httpServers[{index}].{field}");
        let header_ms = raw.header_timeout_ms;
        check(path, key("headerTimeoutMs"), header_ms, &REQUEST_TIMEOUT_MS)?;
        let body_ms = raw.body_timeout_ms;
        check(path, key("bodyTimeoutMs"), body_ms, &REQUEST_TIMEOUT_MS)?;
        entries.push((index, raw.enable, raw.into_server()));
    }
    for (index, raw) in std::mem::take(&mut network.websocket_servers)
        .into_iter()
        .enumerate()
    {
        entries.push((index, raw.enable, raw.into_server()));
    }
    for (index, raw) in std::mem::take(&mut network.http_sse_servers)
        .into_iter()
        .enumerate()
    {
        entries.push((index, raw.enable, raw.into_server()));
    }
    let mut enabled: Vec<(usize, HttpServer)> = Vec::new();
    for (index, enable, server) in entries {
        let section = server.kind.section();
        let key = |field: &str| format!("network.{section}[{index}].{field}");
        check(
            path,
            key("maxBodyBytes"),
            server.max_body_bytes,
            &BODY_BYTES,
        )?;
        check(
            path,
            key("heartInterval"),
            server.heart_interval_ms,
            &HEART_MS,
        )?;
        let queue = u64::try_from(server.ws_queue_messages).unwrap_or(u64::MAX);
        check(path, key("wsQueueMessages"), queue, &WS_QUEUE)?;
        if !enable {
            continue;
        }
        let clash = enabled
            .iter()
            .find(|(_, other)| same_listener(other, &server));
        if let Some((first, other)) = clash {
            return Err(ConfigError::DuplicateListener {
                path: path.to_owned(),
                first: server_ref(*first, other),
                second: server_ref(index, &server),
            });
        }
        enabled.push((index, server));
    }
    Ok(enabled.into_iter().map(|(_, server)| server).collect())
}

/// `httpClients` and `websocketClients`: checked like servers, enabled ones kept in order.
pub(super) fn clients(
    network: &mut RawNetwork,
    path: &Path,
) -> Result<(Vec<HttpClient>, Vec<WsClient>), ConfigError> {
    let mut http = Vec::new();
    for (index, raw) in std::mem::take(&mut network.http_clients)
        .into_iter()
        .enumerate()
    {
        let key = |field: &str| format!("network.httpClients[{index}].{field}");
        check(path, key("timeoutMs"), raw.timeout_ms, &REQUEST_TIMEOUT_MS)?;
        let queue = u64::try_from(raw.queue_events).unwrap_or(u64::MAX);
        check(path, key("queueEvents"), queue, &WS_QUEUE)?;
        if !raw.url.starts_with("http://") {
            return Err(invalid(
                path,
                &key("url"),
                "expected an http:// URL (for https, put a local TLS proxy in front)",
            ));
        }
        if raw.enable {
            http.push(raw.into_client());
        }
    }
    let mut ws = Vec::new();
    for (index, raw) in std::mem::take(&mut network.websocket_clients)
        .into_iter()
        .enumerate()
    {
        let key = |field: &str| format!("network.websocketClients[{index}].{field}");
        check(
            path,
            key("reconnectInterval"),
            raw.reconnect_interval,
            &REQUEST_TIMEOUT_MS,
        )?;
        check(path, key("heartInterval"), raw.heart_interval, &HEART_MS)?;
        check(path, key("maxBodyBytes"), raw.max_body_bytes, &BODY_BYTES)?;
        let queue = u64::try_from(raw.ws_queue_messages).unwrap_or(u64::MAX);
        check(path, key("wsQueueMessages"), queue, &WS_QUEUE)?;
        if !raw.url.starts_with("ws://") {
            return Err(invalid(
                path,
                &key("url"),
                "expected a ws:// URL (for wss, put a local TLS proxy in front)",
            ));
        }
        if raw.enable {
            ws.push(raw.into_client());
        }
    }
    Ok((http, ws))
}

fn server_ref(index: usize, server: &HttpServer) -> Box<ServerRef> {
    Box::new(ServerRef {
        section: server.kind.section(),
        index,
        name: server.name.clone(),
        host: server.host.clone(),
        port: server.port,
    })
}

/// Whether two servers would fight over one socket (C3). Port 0 asks the OS for a free port, so
/// it never clashes (tests bind several). Hosts are compared as written, since a name is resolved
/// only at bind time; a wildcard clashes with what it covers: `::` with everything (Linux binds it
/// dual-stack), `0.0.0.0` with every IPv4 address or name.
fn same_listener(a: &HttpServer, b: &HttpServer) -> bool {
    if a.port == 0 || a.port != b.port {
        return false;
    }
    let (a, b) = (normal_host(&a.host), normal_host(&b.host));
    a == b
        || a == "::"
        || b == "::"
        || (a == "0.0.0.0" && !b.contains(':'))
        || (b == "0.0.0.0" && !a.contains(':'))
}

/// `[::1]` and `::1`, `LOCALHOST` and `localhost` name the same thing.
fn normal_host(host: &str) -> String {
    let host = host.trim();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.to_ascii_lowercase()
}
