//! OneBot 11 segments ⇄ Matrix `m.room.message` content, as pure functions (the numbers they
//! need come through [`Lookup`] and [`Numbers`], so the tests need no host).
//!
//! Out (an action's `message` → content): `text` as is; `at` as a mention (the user's pill in
//! `formatted_body` and `m.mentions.user_ids`; `qq: "all"` as `@room`); `reply` as an
//! `m.in_reply_to` relation; `face` as `[face:<id>]`; `image` as `[image: <url>]` (or `[image]`
//! when the file is not an http(s) URL); any other segment as `[<type>]`.
//!
//! In (content → segments): the text (from `formatted_body` when it is HTML, so pills become
//! `at` segments where they stand; else `body` without its reply fallback); a mention listed in
//! `m.mentions` with no pill as an `at` in front; a reply relation as a `reply` segment first;
//! `m.image` as an `image` segment (`file` the `mxc://` URI, `url` the homeserver's download
//! URL, which needs the access token); other media as `[file: <name>]`, `[audio: …]`, ….

use onebot_plugin::{Error, Result};
use serde_json::{Map, Value, json};

/// The `format` of HTML bodies.
const HTML: &str = "org.matrix.custom.html";
/// Where a pill links to.
const MATRIX_TO: &str = "https://matrix.to/#/";

/// Numbers → Matrix ids, for a message going out.
pub trait Lookup {
    /// The Matrix id and display name of OneBot user `n`, if the bridge knows it.
    fn user(&self, n: i64) -> Result<Option<(String, String)>>;
    /// The room and event of `message_id` `n`, if the bridge knows it.
    fn event(&self, n: i64) -> Result<Option<(String, String)>>;
}

/// Matrix ids → numbers, for a message coming in.
pub trait Numbers {
    fn user(&self, user_id: &str) -> Result<i64>;
    fn event(&self, event_id: &str) -> Result<i64>;
}

/// The content of an `m.room.message` event sending `segments` to `room`.
pub fn outbound(segments: &[Value], room: &str, lookup: &impl Lookup) -> Result<Value> {
    let mut body = String::new();
    let mut html = String::new();
    let mut users: Vec<String> = Vec::new();
    let mut everyone = false;
    let mut reply = None;
    for segment in segments {
        let kind = segment.get("type").and_then(Value::as_str).unwrap_or("");
        let data = segment.get("data").cloned().unwrap_or(Value::Null);
        match kind {
            "text" => {
                let text = field(&data, "text").unwrap_or_default();
                body.push_str(&text);
                html.push_str(&escape(&text).replace('\n', "<br>"));
            }
            "at" => {
                let qq = field(&data, "qq").unwrap_or_default();
                if qq == "all" {
                    everyone = true;
                    body.push_str("@room");
                    html.push_str("@room");
                    continue;
                }
                let user = match qq.trim().parse::<i64>() {
                    Ok(n) => lookup.user(n)?,
                    Err(_) => None,
                };
                match user {
                    Some((id, name)) => {
                        body.push_str(&name);
                        html.push_str(&format!(
                            "<a href=\"{MATRIX_TO}{id}\">{}</a>",
                            escape(&name)
                        ));
                        if !users.contains(&id) {
                            users.push(id);
                        }
                    }
                    None => {
                        body.push('@');
                        body.push_str(&qq);
                        html.push('@');
                        html.push_str(&escape(&qq));
                    }
                }
            }
            "reply" => {
                let id = field(&data, "id").unwrap_or_default();
                let n: i64 = id.trim().parse().map_err(|_| {
                    Error::bad_request(format!("reply: `id` must be a message_id, not {id:?}"))
                })?;
                match lookup.event(n)? {
                    Some((r, event)) if r == room => reply = Some(event),
                    Some(_) => {
                        return Err(Error::bad_request(format!(
                            "reply: message {n} is in another room"
                        )));
                    }
                    None => {
                        return Err(Error::bad_request(format!(
                            "reply: message {n} is not known to the bridge"
                        )));
                    }
                }
            }
            other => {
                let text = fallback(other, &data);
                body.push_str(&text);
                html.push_str(&escape(&text));
            }
        }
    }
    if body.is_empty() {
        return Err(Error::bad_request(
            "the message has no text to send (a reply needs text beside it)",
        ));
    }
    let mut content = Map::new();
    content.insert("msgtype".into(), "m.text".into());
    content.insert("body".into(), body.into());
    if !users.is_empty() {
        content.insert("format".into(), HTML.into());
        content.insert("formatted_body".into(), html.into());
    }
    let mut mentions = Map::new();
    mentions.insert("user_ids".into(), json!(users));
    if everyone {
        mentions.insert("room".into(), true.into());
    }
    content.insert("m.mentions".into(), Value::Object(mentions));
    if let Some(event) = reply {
        content.insert(
            "m.relates_to".into(),
            json!({ "m.in_reply_to": { "event_id": event } }),
        );
    }
    Ok(Value::Object(content))
}

/// The text a segment Matrix has no counterpart for is sent as.
fn fallback(kind: &str, data: &Value) -> String {
    match kind {
        "face" => format!("[face:{}]", field(data, "id").unwrap_or_default()),
        "image" => {
            let url = field(data, "url").or_else(|| field(data, "file"));
            match url {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                    format!("[image: {u}]")
                }
                _ => "[image]".to_owned(),
            }
        }
        "" => "[segment]".to_owned(),
        other => format!("[{other}]"),
    }
}

/// The segments of an `m.room.message` event's `content`; `homeserver` makes media URLs.
pub fn inbound(content: &Value, homeserver: &str, numbers: &impl Numbers) -> Result<Vec<Value>> {
    let mut segments = Vec::new();
    let replied = content
        .pointer("/m.relates_to/m.in_reply_to/event_id")
        .and_then(Value::as_str);
    if let Some(event) = replied {
        segments
            .push(json!({ "type": "reply", "data": { "id": numbers.event(event)?.to_string() } }));
    }
    let body = content.get("body").and_then(Value::as_str).unwrap_or("");
    let msgtype = content.get("msgtype").and_then(Value::as_str).unwrap_or("");
    let mut rest = Vec::new();
    match msgtype {
        "m.image" => {
            let file = content.get("url").and_then(Value::as_str).unwrap_or("");
            let mut data = Map::new();
            data.insert("file".into(), file.into());
            if let Some(url) = download_url(homeserver, file) {
                data.insert("url".into(), url.into());
            }
            rest.push(json!({ "type": "image", "data": data }));
        }
        "m.file" | "m.audio" | "m.video" | "m.location" => {
            let kind = &msgtype[2..];
            rest.push(text(format!("[{kind}: {body}]")));
        }
        _ => {
            let html = content
                .get("formatted_body")
                .and_then(Value::as_str)
                .filter(|_| content.get("format").and_then(Value::as_str) == Some(HTML));
            match html {
                Some(html) => rest.extend(from_html(html, numbers)?),
                None => {
                    let body = if replied.is_some() {
                        strip_reply_fallback(body)
                    } else {
                        body
                    };
                    rest.push(text(body.to_owned()));
                }
            }
            if msgtype == "m.emote" {
                rest.insert(0, text("* ".to_owned()));
            }
        }
    }
    // Mentions without a pill in the text (a client that sends only m.mentions) go in front.
    let pilled: Vec<String> = rest
        .iter()
        .filter(|s| s["type"] == "at")
        .filter_map(|s| s["data"]["qq"].as_str().map(str::to_owned))
        .collect();
    if let Some(users) = content
        .pointer("/m.mentions/user_ids")
        .and_then(Value::as_array)
    {
        for user in users.iter().filter_map(Value::as_str) {
            let qq = numbers.user(user)?.to_string();
            if !pilled.contains(&qq) {
                segments.push(at(qq.clone()));
                segments.push(text(" ".to_owned()));
            }
        }
    }
    if content.pointer("/m.mentions/room") == Some(&Value::Bool(true))
        && !pilled.iter().any(|q| q == "all")
    {
        segments.push(at("all".to_owned()));
        segments.push(text(" ".to_owned()));
    }
    segments.extend(rest);
    Ok(merge_text(segments))
}

/// Segments of an HTML body: text and pills (`<a href="https://matrix.to/#/@user:hs">`); the
/// reply fallback (`<mx-reply>`) and every other tag dropped, their text kept.
fn from_html(html: &str, numbers: &impl Numbers) -> Result<Vec<Value>> {
    let mut segments = Vec::new();
    let mut buffer = String::new();
    let mut in_reply = 0usize;
    let mut in_pill = false;
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        if in_reply == 0 && !in_pill {
            buffer.push_str(&unescape(&rest[..start]));
        }
        let Some(end) = rest[start..].find('>') else {
            rest = &rest[start..];
            break;
        };
        let tag = &rest[start + 1..start + end];
        rest = &rest[start + end + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("mx-reply", false) => in_reply += 1,
            ("mx-reply", true) => in_reply = in_reply.saturating_sub(1),
            _ if in_reply > 0 => {}
            ("a", false) => {
                if let Some(user) = pill_target(tag) {
                    if !buffer.is_empty() {
                        segments.push(text(std::mem::take(&mut buffer)));
                    }
                    segments.push(at(numbers.user(&user)?.to_string()));
                    in_pill = true;
                }
            }
            ("a", true) => in_pill = false,
            ("br", _) => buffer.push('\n'),
            ("p" | "div" | "li", true) => buffer.push('\n'),
            _ => {}
        }
    }
    if in_reply == 0 && !in_pill {
        buffer.push_str(&unescape(rest));
    }
    let trimmed = buffer.trim_end_matches('\n');
    if !trimmed.is_empty() {
        segments.push(text(trimmed.to_owned()));
    }
    Ok(segments)
}

/// The user a pill's `<a …>` tag links to.
fn pill_target(tag: &str) -> Option<String> {
    let href = tag.find("href=")?;
    let value = &tag[href + 5..];
    let quote = value.chars().next()?;
    let value = if quote == '"' || quote == '\'' {
        let inner = &value[1..];
        &inner[..inner.find(quote)?]
    } else {
        value.split_whitespace().next()?
    };
    let target = unescape(value);
    let target = target.strip_prefix(MATRIX_TO)?;
    let target = percent_decode(target.split('?').next().unwrap_or(""));
    target.starts_with('@').then_some(target)
}

/// The legacy reply fallback (`> <@a:hs> quoted` lines, then an empty line) cut off a body.
pub fn strip_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> ") {
        return body;
    }
    let mut rest = body;
    while rest.starts_with('>') {
        match rest.find('\n') {
            Some(i) => rest = &rest[i + 1..],
            None => return "",
        }
    }
    rest.strip_prefix('\n').unwrap_or(rest)
}

/// The homeserver's (authenticated) download URL of an `mxc://server/id` URI.
pub fn download_url(homeserver: &str, mxc: &str) -> Option<String> {
    let rest = mxc.strip_prefix("mxc://")?;
    let (server, id) = rest.split_once('/')?;
    (!server.is_empty() && !id.is_empty()).then(|| {
        format!(
            "{}/_matrix/client/v1/media/download/{server}/{id}",
            homeserver.trim_end_matches('/')
        )
    })
}

/// The plain text of segments, for the tests: text as is, others as `[type]`.
#[cfg(test)]
fn preview(segments: &[Value]) -> String {
    segments
        .iter()
        .map(|s| match s["type"].as_str() {
            Some("text") => s["data"]["text"].as_str().unwrap_or("").to_owned(),
            Some("at") => format!("@{}", s["data"]["qq"].as_str().unwrap_or("")),
            Some(other) => format!("[{other}]"),
            None => "[segment]".to_owned(),
        })
        .collect()
}

fn text(text: String) -> Value {
    json!({ "type": "text", "data": { "text": text } })
}

fn at(qq: String) -> Value {
    json!({ "type": "at", "data": { "qq": qq } })
}

/// Adjacent text segments joined, empty ones dropped.
fn merge_text(segments: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(segments.len());
    for segment in segments {
        if segment["type"] == "text" {
            let new = segment["data"]["text"].as_str().unwrap_or("").to_owned();
            if new.is_empty() {
                continue;
            }
            if let Some(last) = out.last_mut().filter(|l| l["type"] == "text") {
                let joined = format!("{}{new}", last["data"]["text"].as_str().unwrap_or(""));
                last["data"]["text"] = joined.into();
                continue;
            }
        }
        out.push(segment);
    }
    out
}

/// A segment's data field as text (clients send ids as numbers or strings).
fn field(data: &Value, key: &str) -> Option<String> {
    match data.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl Lookup for Fixed {
        fn user(&self, n: i64) -> Result<Option<(String, String)>> {
            Ok((n == 7).then(|| ("@alice:hs".to_owned(), "Alice <3".to_owned())))
        }
        fn event(&self, n: i64) -> Result<Option<(String, String)>> {
            Ok(match n {
                5 => Some(("!room:hs".to_owned(), "$five".to_owned())),
                6 => Some(("!other:hs".to_owned(), "$six".to_owned())),
                _ => None,
            })
        }
    }

    impl Numbers for Fixed {
        fn user(&self, user_id: &str) -> Result<i64> {
            Ok(match user_id {
                "@alice:hs" => 7,
                "@bot:hs" => 1,
                _ => 99,
            })
        }
        fn event(&self, event_id: &str) -> Result<i64> {
            Ok(if event_id == "$five" { 5 } else { 55 })
        }
    }

    fn seg(kind: &str, data: Value) -> Value {
        json!({ "type": kind, "data": data })
    }

    #[test]
    fn text_goes_out_as_a_plain_body_with_no_mentions() {
        let content = outbound(
            &[seg("text", json!({"text": "hello <b>"}))],
            "!room:hs",
            &Fixed,
        )
        .unwrap();
        assert_eq!(
            content,
            json!({"msgtype": "m.text", "body": "hello <b>", "m.mentions": {"user_ids": []}})
        );
    }

    #[test]
    fn reply_and_at_go_out_as_relation_pill_and_mention() {
        let content = outbound(
            &[
                seg("reply", json!({"id": "5"})),
                seg("at", json!({"qq": 7})),
                seg("text", json!({"text": " hi\nthere"})),
            ],
            "!room:hs",
            &Fixed,
        )
        .unwrap();
        assert_eq!(content["body"], "Alice <3 hi\nthere");
        assert_eq!(content["format"], HTML);
        assert_eq!(
            content["formatted_body"],
            "<a href=\"https://matrix.to/#/@alice:hs\">Alice &lt;3</a> hi<br>there"
        );
        assert_eq!(content["m.mentions"], json!({"user_ids": ["@alice:hs"]}));
        assert_eq!(
            content["m.relates_to"]["m.in_reply_to"]["event_id"],
            "$five"
        );
    }

    #[test]
    fn segments_without_a_matrix_counterpart_become_text() {
        let content = outbound(
            &[
                seg("face", json!({"id": "178"})),
                seg("image", json!({"file": "https://e.org/a.png"})),
                seg("image", json!({"file": "base64://AAAA"})),
                seg("at", json!({"qq": "all"})),
                seg("at", json!({"qq": "424242"})),
                seg("dice", json!({})),
            ],
            "!room:hs",
            &Fixed,
        )
        .unwrap();
        assert_eq!(
            content["body"],
            "[face:178][image: https://e.org/a.png][image]@room@424242[dice]"
        );
        assert_eq!(content["m.mentions"], json!({"user_ids": [], "room": true}));
    }

    #[test]
    fn a_bad_reply_or_an_empty_message_is_refused_with_1400() {
        for (segments, says) in [
            (
                vec![
                    seg("reply", json!({"id": "6"})),
                    seg("text", json!({"text": "x"})),
                ],
                "another room",
            ),
            (
                vec![
                    seg("reply", json!({"id": "8"})),
                    seg("text", json!({"text": "x"})),
                ],
                "not known",
            ),
            (vec![seg("reply", json!({"id": "abc"}))], "message_id"),
            (vec![seg("reply", json!({"id": "5"}))], "no text"),
            (vec![], "no text"),
        ] {
            let e = outbound(&segments, "!room:hs", &Fixed).unwrap_err();
            assert_eq!(e.retcode, 1400);
            assert!(e.message.contains(says), "{}", e.message);
        }
    }

    #[test]
    fn a_plain_body_comes_in_as_text() {
        let content = json!({"msgtype": "m.text", "body": "/echo hello"});
        assert_eq!(
            inbound(&content, "http://hs", &Fixed).unwrap(),
            vec![seg("text", json!({"text": "/echo hello"}))]
        );
    }

    #[test]
    fn pills_come_in_as_at_segments_where_they_stand() {
        let content = json!({
            "msgtype": "m.text",
            "body": "> <@x:hs> old\n\nAlice: hi",
            "format": HTML,
            "formatted_body": "<mx-reply><blockquote>old</blockquote></mx-reply><a href=\"https://matrix.to/#/%40alice%3Ahs\">Alice</a>: hi &amp; <b>bye</b><br/>x",
            "m.mentions": {"user_ids": ["@alice:hs"]},
            "m.relates_to": {"m.in_reply_to": {"event_id": "$five"}}
        });
        assert_eq!(
            inbound(&content, "http://hs", &Fixed).unwrap(),
            vec![
                seg("reply", json!({"id": "5"})),
                seg("at", json!({"qq": "7"})),
                seg("text", json!({"text": ": hi & bye\nx"})),
            ]
        );
    }

    #[test]
    fn mentions_without_pills_and_reply_fallbacks_in_plain_bodies() {
        let content = json!({
            "msgtype": "m.text",
            "body": "> <@x:hs> old\n> more\n\nping",
            "m.mentions": {"user_ids": ["@bot:hs"], "room": true},
            "m.relates_to": {"m.in_reply_to": {"event_id": "$other"}}
        });
        assert_eq!(
            inbound(&content, "http://hs", &Fixed).unwrap(),
            vec![
                seg("reply", json!({"id": "55"})),
                seg("at", json!({"qq": "1"})),
                seg("text", json!({"text": " "})),
                seg("at", json!({"qq": "all"})),
                seg("text", json!({"text": " ping"})),
            ]
        );
    }

    #[test]
    fn media_comes_in_as_an_image_or_a_text_fallback() {
        let image = json!({"msgtype": "m.image", "body": "cat.png", "url": "mxc://hs/abc"});
        assert_eq!(
            inbound(&image, "http://hs:8008/", &Fixed).unwrap(),
            vec![seg(
                "image",
                json!({
                    "file": "mxc://hs/abc",
                    "url": "http://hs:8008/_matrix/client/v1/media/download/hs/abc"
                })
            )]
        );
        let file = json!({"msgtype": "m.file", "body": "report.pdf", "url": "mxc://hs/d"});
        assert_eq!(
            inbound(&file, "http://hs", &Fixed).unwrap(),
            vec![seg("text", json!({"text": "[file: report.pdf]"}))]
        );
        let emote = json!({"msgtype": "m.emote", "body": "waves"});
        assert_eq!(
            inbound(&emote, "http://hs", &Fixed).unwrap(),
            vec![seg("text", json!({"text": "* waves"}))]
        );
        assert_eq!(download_url("http://hs", "mxc://hs"), None);
        assert_eq!(download_url("http://hs", "https://x/y"), None);
    }

    #[test]
    fn html_edge_cases_never_panic_and_keep_the_text() {
        for (html, plain) in [
            ("a < b", "a < b"),
            ("unclosed <a href=\"x\"", "unclosed <a href=\"x\""),
            ("&unknown; &#x41;&#66; &", "&unknown; AB &"),
            ("<p>one</p><p>two</p>", "one\ntwo"),
            ("<a href='https://example.org'>link</a>", "link"),
            ("%zz", "%zz"),
        ] {
            let content =
                json!({"msgtype": "m.text", "body": "", "format": HTML, "formatted_body": html});
            let got = inbound(&content, "http://hs", &Fixed).unwrap();
            assert_eq!(preview(&got), plain, "{html}");
        }
        assert_eq!(percent_decode("%40a%3Ab%2"), "@a:b%2");
        assert_eq!(percent_decode("%é%"), "%é%");
        assert_eq!(strip_reply_fallback("> only"), "");
        assert_eq!(strip_reply_fallback("no quote"), "no quote");
    }
}
