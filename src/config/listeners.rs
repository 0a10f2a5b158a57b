//! The listeners and connections of the `network` section: `httpServers`, `websocketServers`,
//! `httpSseServers`, `httpClients` and `websocketClients` checked and turned into what the host
//! binds and dials (SPEC C2, C3, N1-N5). Split from `validate` so each file has one job.

use std::path::Path;

use super::raw::RawNetwork;
use super::raw_listener::{ListenerList, RawListener};
use super::remote_url::{RemoteUrl, Scheme};
use super::validate::{BODY_BYTES, HEART_MS, REQUEST_TIMEOUT_MS, WS_QUEUE, check, invalid};
use super::{ConfigError, HttpClient, Listener, ServerRef, WsClient, normal_host};

/// Every entry is checked, disabled ones too: a bad value is a mistake whether or not the
/// entry is on today. Only enabled entries are kept, in file order (C3): `httpServers`, then
/// `websocketServers`, then `httpSseServers`; two of them on one address is an error.
pub(super) fn servers(network: &mut RawNetwork, path: &Path) -> Result<Vec<Listener>, ConfigError> {
    let entries = (entries(std::mem::take(&mut network.http_servers)))
        .chain(entries(std::mem::take(&mut network.websocket_servers)))
        .chain(entries(std::mem::take(&mut network.http_sse_servers)));
    let mut enabled: Vec<(usize, Listener)> = Vec::new();
    for (index, enable, server) in entries {
        let section = server.kind.section();
        let key = |field: &str| format!("network.{section}[{index}].{field}");
        // Keys of `httpServers` only; elsewhere their defaults, which pass.
        let header_ms = server.header_timeout_ms;
        check(path, key("headerTimeoutMs"), header_ms, &REQUEST_TIMEOUT_MS)?;
        let body_ms = server.body_timeout_ms;
        check(path, key("bodyTimeoutMs"), body_ms, &REQUEST_TIMEOUT_MS)?;
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
        browser_lists(&server, path, &key)?;
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

/// A list's entries with their index in it and whether they are enabled.
fn entries<L: ListenerList>(
    list: Vec<RawListener<L>>,
) -> impl Iterator<Item = (usize, bool, Listener)> {
    (list.into_iter().enumerate()).map(|(index, raw)| (index, raw.enable, raw.into_listener()))
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
        let url = RemoteUrl::parse(&raw.url, Scheme::Http)
            .map_err(|message| invalid(path, &key("url"), &message))?;
        if raw.enable {
            http.push(raw.into_client(url));
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
        let url = RemoteUrl::parse(&raw.url, Scheme::Ws)
            .map_err(|message| invalid(path, &key("url"), &message))?;
        if raw.enable {
            ws.push(raw.into_client(url));
        }
    }
    Ok((http, ws))
}

/// `allowOrigins` entries are origins (`scheme://host[:port]`) and `allowHosts` entries host
/// names or addresses without a port; `*` allows any (B1, B2). Anything else is a mistake that
/// would silently allow nothing, so it is refused at load.
fn browser_lists(
    server: &Listener,
    path: &Path,
    key: &dyn Fn(&str) -> String,
) -> Result<(), ConfigError> {
    for (index, origin) in server.allow_origins.iter().enumerate() {
        let trimmed = origin.strip_suffix('/').unwrap_or(origin);
        let well_formed = trimmed
            .split_once("://")
            .is_some_and(|(scheme, authority)| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                    && !authority.is_empty()
                    && !authority.contains(['/', '?', '#', '@', ' '])
            });
        if origin != "*" && !well_formed {
            return Err(invalid(
                path,
                &key(&format!("allowOrigins[{index}]")),
                "expected an origin such as \"http://localhost:5173\" (scheme, host and port; \
                 no path), or \"*\"",
            ));
        }
    }
    for (index, host) in server.allow_hosts.iter().enumerate() {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        let well_formed = match bare {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => {
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
            }
        };
        if host != "*" && !well_formed {
            return Err(invalid(
                path,
                &key(&format!("allowHosts[{index}]")),
                "expected a host name or address without scheme or port, such as \
                 \"bot.example.com\", or \"*\"",
            ));
        }
    }
    Ok(())
}

fn server_ref(index: usize, server: &Listener) -> Box<ServerRef> {
    Box::new(ServerRef {
        section: server.kind.section(),
        index,
        name: server.name.clone(),
        host: server.host.clone(),
        port: server.port,
    })
}

/// Whether two servers would fight over one socket (C3). Port 0 asks the OS for a free port, so it
/// never clashes (tests bind several). Hosts are compared as written ([`normal_host`]), since a
/// name is resolved only at bind time; a wildcard clashes with what it covers: `::` with everything
/// (Linux binds it dual-stack), `0.0.0.0` with every IPv4 address or name.
fn same_listener(a: &Listener, b: &Listener) -> bool {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn load(fields: &str) -> Result<Vec<super::Listener>, String> {
        let text = format!("{{ network: {{ httpServers: [{{ enable: true, {fields} }}] }} }}");
        crate::config::parse(&text, Path::new("c.json5"))
            .map(|loaded| loaded.config.servers)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn b1_b2_allow_lists_are_read_and_malformed_entries_refused_naming_the_key() {
        let servers = load(
            r#"allowOrigins: ["http://localhost:5173", "https://a.example/", "*"],
               allowHosts: ["bot.example", "10.0.0.2", "[::1]", "*"]"#,
        )
        .expect("valid");
        assert_eq!(servers[0].allow_origins.len(), 3);
        assert_eq!(servers[0].allow_hosts.len(), 4);
        for (fields, key) in [
            (r#"allowOrigins: ["localhost:5173"]"#, "allowOrigins[0]"),
            (r#"allowOrigins: ["*", "http://a/b"]"#, "allowOrigins[1]"),
            (r#"allowHosts: ["http://bot.example"]"#, "allowHosts[0]"),
            (r#"allowHosts: ["bot.example:3000"]"#, "allowHosts[0]"),
        ] {
            let error = load(fields).expect_err(fields);
            assert!(
                error.contains(&format!("network.httpServers[0].{key}")),
                "{error}"
            );
        }
    }
}
