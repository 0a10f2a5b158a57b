//! feed: posts each new item of an RSS 2.0 or Atom feed to a QQ group, the schedule example of
//! onebot-host (docs/triggers.md, "Example: feed"). Each run of its sidecar's schedule:
//!
//! 1. reads its config: `url` (the feed), `group_id`, and optionally `max_per_poll`;
//! 2. GETs the feed through outbound HTTP (the sidecar's `allowedOutboundHosts`), following
//!    up to three redirects, each of them checked against the grant by the host;
//! 3. reads its items (`parse`) and compares their ids with those remembered in key-value
//!    (`seen`). The first poll of a feed remembers the items already there and sends
//!    nothing. Later polls send each new item, oldest first (feeds list the newest first), as
//!    its title and link in one text segment (a title is never read as CQ code), with
//!    `send_group_msg`, and remember it once it is sent; at most `max_per_poll` (default 10)
//!    a run, the rest on the next.
//!
//! A feed that cannot be fetched or read fails the run with a message naming the URL and the
//! cause, never a trap: the host counts the failure and logs the first one at WARN (SPEC
//! T13). Nothing is remembered then, and the next run tries again.

mod parse;
mod seen;

use onebot_plugin::onebot::shorten;
use onebot_plugin::{Error, Level, Result, call_action, config, http, json, log};

use parse::Item;
use seen::Seen;

/// Items sent by one run when the config does not say.
const MAX_PER_POLL: usize = 10;
/// Redirects followed from the feed's URL.
const REDIRECTS: usize = 3;
/// Longest title sent, in characters; a longer one ends with `…`.
const TITLE_CHARS: usize = 200;

onebot_plugin::plugin! {
    schedule => poll,
}

/// What the sidecar's `config` says.
struct Settings {
    url: String,
    group_id: i64,
    max_per_poll: usize,
}

fn poll(_schedule: &str) -> Result<()> {
    let settings = settings()?;
    let url = &settings.url;
    let body = fetch(url)?;
    let items = parse::parse(&body).map_err(|e| Error::failed(format!("feed {url}: {e}")))?;
    let ids = || items.iter().map(|item| item.id.as_str());
    let Some(mut seen) = Seen::load(url)? else {
        Seen::first(url, ids()).save()?;
        log(
            Level::Info,
            &format!(
                "feed {url}: first poll, its {} item(s) remembered and not sent; new ones will go to group {}",
                items.len(),
                settings.group_id
            ),
        );
        return Ok(());
    };
    let mut sent = 0;
    let mut waiting = 0;
    for item in items.iter().rev() {
        if seen.contains(&item.id) {
            continue;
        }
        if sent == settings.max_per_poll {
            waiting += 1;
            continue;
        }
        send(settings.group_id, item)?;
        seen.add(&item.id);
        seen.save()?;
        sent += 1;
    }
    if seen.forget_old(ids()) {
        seen.save()?;
    }
    if sent > 0 {
        let later = match waiting {
            0 => String::new(),
            n => format!("; {n} more on the next poll (max_per_poll)"),
        };
        log(
            Level::Info,
            &format!(
                "feed {url}: sent {sent} new item(s) to group {}{later}",
                settings.group_id
            ),
        );
    }
    Ok(())
}

fn settings() -> Result<Settings> {
    let url = config::require("url")?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::failed(format!(
            "feed: config `url` must be an http:// or https:// URL, not {url:?}"
        )));
    }
    let group = config::require("group_id")?;
    let group_id = group.trim().parse().map_err(|_| {
        Error::failed(format!(
            "feed: config `group_id` must be a group number, not {group:?}"
        ))
    })?;
    let max_per_poll = match config::get("max_per_poll") {
        None => MAX_PER_POLL,
        Some(text) => text.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::failed(format!(
                "feed: config `max_per_poll` must be a number above 0, not {text:?}"
            ))
        })?,
    };
    Ok(Settings {
        url,
        group_id,
        max_per_poll,
    })
}

/// The body of the feed at `url`, after redirects.
fn fetch(url: &str) -> Result<Vec<u8>> {
    let mut at = url.to_owned();
    for _ in 0..=REDIRECTS {
        let response = http::Request::get(&at)
            .header(
                "accept",
                "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8",
            )
            .send()
            .map_err(|e| Error::failed(format!("feed: {}", e.message)))?;
        match (response.status, response.header("location")) {
            (300..=399, Some(location)) => at = resolve(&at, location),
            (200..=299, _) => return Ok(response.body),
            (status, _) => {
                return Err(Error::failed(format!(
                    "feed {at}: the server answered {status}"
                )));
            }
        }
    }
    Err(Error::failed(format!(
        "feed {url}: more than {REDIRECTS} redirects"
    )))
}

/// A redirect's `Location` made absolute against the URL that answered it.
fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{}{rest}", &base[..scheme_end]);
    }
    let origin_end = base[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(base.len(), |i| scheme_end + i);
    if location.starts_with('/') {
        return format!("{}{location}", &base[..origin_end]);
    }
    let path = &base[..base[origin_end..]
        .find(['?', '#'])
        .map_or(base.len(), |i| origin_end + i)];
    let dir_end = path[origin_end..]
        .rfind('/')
        .map_or(origin_end, |i| origin_end + i);
    format!("{}/{location}", &path[..dir_end])
}

/// Sends `item` to the group: its title and link, one text segment.
fn send(group_id: i64, item: &Item) -> Result<()> {
    call_action(
        "send_group_msg",
        json!({
            "group_id": group_id,
            "message": [{ "type": "text", "data": { "text": message(item) } }],
        }),
    )
    .map(drop)
}

/// `title`, a newline and `link`, with whichever of them the item has.
fn message(item: &Item) -> String {
    let title = shorten(&item.title, TITLE_CHARS);
    match (title.is_empty(), &item.link) {
        (false, Some(link)) => format!("{title}\n{link}"),
        (false, None) => title,
        (true, Some(link)) => link.clone(),
        (true, None) => format!("(untitled) {}", item.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_location_is_made_absolute() {
        let base = "https://example.com/blog/feed.xml?x=1";
        for (location, url) in [
            ("https://other.example/feed", "https://other.example/feed"),
            ("//cdn.example/feed", "https://cdn.example/feed"),
            ("/atom.xml", "https://example.com/atom.xml"),
            ("atom.xml", "https://example.com/blog/atom.xml"),
        ] {
            assert_eq!(resolve(base, location), url, "{location}");
        }
        assert_eq!(resolve("http://h", "f"), "http://h/f");
        assert_eq!(resolve("http://h?q", "/f"), "http://h/f");
    }

    #[test]
    fn the_message_is_the_title_and_the_link() {
        let item = |title: &str, link: Option<&str>| Item {
            id: "id-1".to_owned(),
            title: title.to_owned(),
            link: link.map(str::to_owned),
        };
        for (item, text) in [
            (item("T", Some("https://e/1")), "T\nhttps://e/1"),
            (item("T", None), "T"),
            (item("", Some("https://e/1")), "https://e/1"),
            (item("", None), "(untitled) id-1"),
        ] {
            assert_eq!(message(&item), text);
        }
        let long = message(&item(&"长".repeat(300), None));
        assert_eq!(long.chars().count(), TITLE_CHARS);
        assert!(long.ends_with('…'));
    }
}
