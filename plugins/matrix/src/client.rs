//! The Matrix Client-Server API calls the bridge makes, over the host's outbound HTTP (the
//! sidecar's `allowedOutboundHosts` must list the homeserver). The access token goes in the
//! `Authorization` header only, so no URL (which error messages and logs show) carries it.
//!
//! A failure is an [`Error`] with retcode 1200 naming the call, the HTTP status and Matrix's
//! `errcode` and `error` (e.g. `M_UNKNOWN_TOKEN` for a wrong token, `M_FORBIDDEN` for a room
//! the account is not in).

use std::collections::BTreeMap;
use std::time::Duration;

use onebot_plugin::http::{Request, Response};
use onebot_plugin::{Error, Result};
use serde_json::Value;

/// Tries of a send or a redaction (the same transaction id each time, so the homeserver
/// posts it once however many of them reached it).
const TRIES: u32 = 3;
/// The longest wait for a rate limit (`retry_after_ms`) before a retry; longer is a failure.
const LONGEST_WAIT: Duration = Duration::from_secs(2);
/// Time for a call that is not a long poll.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One account on one homeserver.
pub struct Matrix {
    base: String,
    token: String,
}

impl Matrix {
    pub fn new(homeserver: &str, token: &str) -> Matrix {
        Matrix {
            base: homeserver.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    /// `GET /sync`: from `since` (none: the first sync), waiting up to `timeout_ms` for news.
    pub fn sync(&self, since: Option<&str>, timeout_ms: u64, first: bool) -> Result<Vec<u8>> {
        let mut query = format!(
            "timeout={timeout_ms}&filter={}",
            encode(&crate::sync::filter(first))
        );
        if let Some(since) = since {
            query.push_str(&format!("&since={}", encode(since)));
        }
        let path = format!("/_matrix/client/v3/sync?{query}");
        // The long poll plus room for the answer; the host's own bound (30 s to the response
        // head) applies too.
        let wait = Duration::from_millis(timeout_ms) + CALL_TIMEOUT;
        let response = self.exchange("GET", &path, None, wait)?;
        Ok(checked("sync", response)?.body)
    }

    /// `GET /rooms/{room}/messages`, backwards from `from` down to `to` (a sync token).
    pub fn messages(&self, room: &str, from: &str, to: &str) -> Result<Vec<u8>> {
        let filter = encode(r#"{"types":["m.room.message"]}"#);
        let path = format!(
            "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100&from={}&to={}&filter={filter}",
            encode(room),
            encode(from),
            encode(to)
        );
        Ok(checked("messages", self.exchange("GET", &path, None, CALL_TIMEOUT)?)?.body)
    }

    /// `PUT /rooms/{room}/send/m.room.message/{txn}`: the new event's id.
    pub fn send(&self, room: &str, txn: &str, content: &Value) -> Result<String> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
            encode(room),
            encode(txn)
        );
        let answer = self.idempotent("send", &path, content)?;
        event_id(&answer, "send")
    }

    /// `PUT /rooms/{room}/redact/{event}/{txn}`.
    pub fn redact(&self, room: &str, event: &str, txn: &str) -> Result<()> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/redact/{}/{}",
            encode(room),
            encode(event),
            encode(txn)
        );
        self.idempotent("redact", &path, &serde_json::json!({}))
            .map(drop)
    }

    /// `GET /rooms/{room}/event/{event}`: `None` when the homeserver does not know it.
    pub fn event(&self, room: &str, event: &str) -> Result<Option<Value>> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/event/{}",
            encode(room),
            encode(event)
        );
        self.optional("event", &path)
    }

    /// `POST /join/{room}`.
    pub fn join(&self, room: &str) -> Result<()> {
        let path = format!("/_matrix/client/v3/join/{}", encode(room));
        let body = serde_json::json!({});
        checked(
            "join",
            self.exchange("POST", &path, Some(&body), CALL_TIMEOUT)?,
        )
        .map(drop)
    }

    /// `POST /createRoom` for a direct chat with `user`: the new room's id.
    pub fn create_direct(&self, user: &str) -> Result<String> {
        let body = serde_json::json!({
            "is_direct": true,
            "invite": [user],
            "preset": "trusted_private_chat",
        });
        let response = self.exchange(
            "POST",
            "/_matrix/client/v3/createRoom",
            Some(&body),
            CALL_TIMEOUT,
        )?;
        let answer: Value = checked("createRoom", response)?.json()?;
        answer["room_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::failed("matrix createRoom: the answer has no room_id"))
    }

    /// `GET /joined_rooms`.
    pub fn joined_rooms(&self) -> Result<Vec<String>> {
        let answer = self.get("joined_rooms", "/_matrix/client/v3/joined_rooms")?;
        Ok(strings(&answer["joined_rooms"]))
    }

    /// `GET /rooms/{room}/joined_members`: user → display name (if set).
    pub fn joined_members(&self, room: &str) -> Result<BTreeMap<String, Option<String>>> {
        let path = format!("/_matrix/client/v3/rooms/{}/joined_members", encode(room));
        let answer = self.get("joined_members", &path)?;
        let mut members = BTreeMap::new();
        if let Some(joined) = answer["joined"].as_object() {
            for (user, info) in joined {
                let name = info["display_name"].as_str().map(str::to_owned);
                members.insert(user.clone(), name);
            }
        }
        Ok(members)
    }

    /// A state event's content (`None` when the room has none of that type and key).
    pub fn state(&self, room: &str, kind: &str, key: &str) -> Result<Option<Value>> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/state/{}/{}",
            encode(room),
            encode(kind),
            encode(key)
        );
        self.optional("state", &path)
    }

    /// `GET /rooms/{room}/state`: every current state event of the room.
    pub fn full_state(&self, room: &str) -> Result<Vec<Value>> {
        let path = format!("/_matrix/client/v3/rooms/{}/state", encode(room));
        match self.get("state", &path)? {
            Value::Array(events) => Ok(events),
            _ => Err(Error::failed(
                "matrix state: the answer is not a list of events",
            )),
        }
    }

    /// `GET /profile/{user}` (`None` for an unknown user).
    pub fn profile(&self, user: &str) -> Result<Option<Value>> {
        let path = format!("/_matrix/client/v3/profile/{}", encode(user));
        self.optional("profile", &path)
    }

    fn get(&self, what: &str, path: &str) -> Result<Value> {
        checked(what, self.exchange("GET", path, None, CALL_TIMEOUT)?)?.json()
    }

    /// A GET whose 404 means "there is none".
    fn optional(&self, what: &str, path: &str) -> Result<Option<Value>> {
        let response = self.exchange("GET", path, None, CALL_TIMEOUT)?;
        if response.status == 404 {
            return Ok(None);
        }
        checked(what, response)?.json().map(Some)
    }

    /// A PUT carrying a transaction id, tried up to [`TRIES`] times while the connection fails,
    /// the homeserver answers 5xx, or it asks to wait (429) no longer than [`LONGEST_WAIT`].
    fn idempotent(&self, what: &str, path: &str, body: &Value) -> Result<Value> {
        let mut last = None;
        for attempt in 1..=TRIES {
            match self.exchange("PUT", path, Some(body), CALL_TIMEOUT) {
                Err(e) => last = Some(e),
                Ok(response) if response.status >= 500 => {
                    last = Some(matrix_error(what, &response));
                }
                Ok(response) if response.status == 429 => {
                    let wait = response
                        .json::<Value>()
                        .ok()
                        .and_then(|v| v["retry_after_ms"].as_u64())
                        .map_or(Duration::from_millis(500), Duration::from_millis);
                    if wait > LONGEST_WAIT {
                        return Err(matrix_error(what, &response));
                    }
                    last = Some(matrix_error(what, &response));
                    std::thread::sleep(wait);
                    continue;
                }
                Ok(response) => return checked(what, response)?.json(),
            }
            if attempt < TRIES {
                std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
            }
        }
        Err(last.unwrap_or_else(|| Error::failed(format!("matrix {what}: no try was made"))))
    }

    fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Response> {
        let mut request = Request::new(method, &format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        request
            .send()
            .map_err(|e| Error::failed(format!("matrix: {}", e.message)))
    }
}

/// The response when its status is 2xx, else its Matrix error.
fn checked(what: &str, response: Response) -> Result<Response> {
    if response.is_success() {
        Ok(response)
    } else {
        Err(matrix_error(what, &response))
    }
}

/// `matrix <what>: HTTP <status> <errcode>: <error>` from an error answer.
fn matrix_error(what: &str, response: &Response) -> Error {
    let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let code = answer["errcode"].as_str().unwrap_or("");
    let text = answer["error"].as_str().map_or_else(
        || onebot_plugin::onebot::shorten(&String::from_utf8_lossy(&response.body), 200),
        str::to_owned,
    );
    let hint = match code {
        "M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN" => {
            " (the access token is wrong or expired: set config `access_token`)"
        }
        _ => "",
    };
    Error::failed(format!(
        "matrix {what}: HTTP {} {code}: {text}{hint}",
        response.status
    ))
}

fn event_id(answer: &Value, what: &str) -> Result<String> {
    answer["event_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::failed(format!("matrix {what}: the answer has no event_id")))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Percent-encodes everything but RFC 3986's unreserved characters: room ids (`!a:hs`),
/// event ids (`$x/y+z`), tokens and JSON in paths and queries.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_json_are_percent_encoded() {
        assert_eq!(encode("!abc:example.org"), "%21abc%3Aexample.org");
        assert_eq!(encode("$a/b+c="), "%24a%2Fb%2Bc%3D");
        assert_eq!(encode("{\"a\":1}"), "%7B%22a%22%3A1%7D");
        assert_eq!(encode("ü"), "%C3%BC");
    }

    #[test]
    fn a_matrix_error_names_the_call_the_code_and_what_to_fix() {
        let response = Response {
            status: 401,
            headers: vec![],
            body: br#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed."}"#
                .to_vec(),
        };
        let e = matrix_error("sync", &response);
        assert_eq!(e.retcode, 1200);
        assert_eq!(
            e.message,
            "matrix sync: HTTP 401 M_UNKNOWN_TOKEN: Invalid access token passed. (the access token is wrong or expired: set config `access_token`)"
        );
        let html = Response {
            status: 502,
            headers: vec![],
            body: b"<h1>Bad gateway</h1>".to_vec(),
        };
        assert_eq!(
            matrix_error("send", &html).message,
            "matrix send: HTTP 502 : <h1>Bad gateway</h1>"
        );
    }
}
