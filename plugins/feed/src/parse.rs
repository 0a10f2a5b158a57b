//! An RSS 2.0 (also RSS 1.0 / RDF) or Atom document → its items, in document order: each
//! item's id (`guid` / `id`, else its link, else its title), title and link. Read with
//! quick-xml's pull parser, keeping only a depth counter (no recursion, whatever the nesting);
//! anything that is not a well-formed feed is an error saying what was wrong and where.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

/// One entry of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// What identifies it from one poll to the next.
    pub id: String,
    /// Whitespace collapsed; may be empty.
    pub title: String,
    pub link: Option<String>,
}

/// The child of an item whose text is being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Title,
    Link,
    Id,
}

/// An item being read.
#[derive(Default)]
struct Draft {
    title: String,
    link: Option<String>,
    id: String,
}

impl Draft {
    /// The item, or `None` when it has nothing to know it by (no id, link or title).
    fn finish(self) -> Option<Item> {
        let title = collapse(&self.title);
        let link = self
            .link
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty());
        let id = [self.id.trim(), link.as_deref().unwrap_or(""), &title]
            .into_iter()
            .find(|id| !id.is_empty())?
            .to_owned();
        Some(Item { id, title, link })
    }

    fn push(&mut self, field: Field, text: &str) {
        match field {
            Field::Title => self.title.push_str(text),
            Field::Link => self.link.get_or_insert_default().push_str(text),
            Field::Id => self.id.push_str(text),
        }
    }
}

/// The items of the feed in `body`, in the order the feed lists them.
pub fn parse(body: &[u8]) -> Result<Vec<Item>, String> {
    let text = std::str::from_utf8(body)
        .map_err(|e| format!("the feed is not UTF-8 ({e}); only UTF-8 feeds can be read"))?;
    let mut reader = Reader::from_str(text.strip_prefix('\u{feff}').unwrap_or(text));
    let mut items = Vec::new();
    let mut root = false;
    let mut depth = 0usize;
    // The item being read and its depth; the field of it whose text is being read, and its depth.
    let mut item: Option<(usize, Draft)> = None;
    let mut field: Option<(usize, Field)> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            )
        })?;
        match event {
            Event::Start(element) => {
                depth += 1;
                if !root {
                    check_root(&element)?;
                    root = true;
                    continue;
                }
                match &mut item {
                    None if is_item(&element) => item = Some((depth, Draft::default())),
                    Some((at, draft)) if *at + 1 == depth && field.is_none() => {
                        field = child(&element, draft)?.map(|f| (depth, f));
                    }
                    _ => {}
                }
            }
            Event::Empty(element) => {
                if !root {
                    // `<feed/>`: a feed with no items.
                    check_root(&element)?;
                    root = true;
                    continue;
                }
                if let Some((at, draft)) = &mut item
                    && *at == depth
                {
                    child(&element, draft)?;
                }
            }
            Event::End(_) => {
                if field.is_some_and(|(at, _)| at == depth) {
                    field = None;
                }
                if item.as_ref().is_some_and(|(at, _)| *at == depth)
                    && let Some((_, draft)) = item.take()
                    && let Some(done) = draft.finish()
                {
                    items.push(done);
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(text) => push(&mut item, field, &text.xml10_content()),
            Event::CData(data) => push(&mut item, field, &data.xml10_content()),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match resolve_predefined_entity(&reference) {
                        Some(text) => text.to_owned(),
                        // An HTML entity (`&nbsp;`) in a feed without a DTD: kept as written.
                        None => format!("&{};", &*reference),
                    },
                    Err(e) => {
                        return Err(format!(
                            "bad character reference at byte {}: {e}",
                            reader.buffer_position()
                        ));
                    }
                };
                push(&mut item, field, &resolved);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root {
        return Err("the document is empty: no RSS or Atom feed in it".to_owned());
    }
    if depth > 0 {
        // Items read so far may be whole, but a feed cut off may also have lost its newest.
        return Err(format!(
            "not well-formed XML: it ends with {depth} element(s) still open (cut off?)"
        ));
    }
    Ok(items)
}

/// The document element must be `<rss>`, `<rdf:RDF>` or Atom's `<feed>`.
fn check_root(element: &BytesStart) -> Result<(), String> {
    let name = element.local_name();
    match name.as_ref() {
        "rss" | "RDF" | "feed" => Ok(()),
        "html" => Err(
            "not an RSS or Atom feed but a web page (<html>): give the feed's own URL".to_owned(),
        ),
        other => Err(format!(
            "not an RSS or Atom feed: the document is <{other}>, not <rss> or <feed>"
        )),
    }
}

/// `<item>` (RSS) or `<entry>` (Atom), without a namespace prefix.
fn is_item(element: &BytesStart) -> bool {
    matches!(element.name().as_ref(), "item" | "entry")
}

/// Reads a child of an item: an Atom link's `href` at once; for `title`, `link`, `guid` and
/// `id` whose text follows, which field it goes to. Prefixed children (`media:title`,
/// `atom:link` inside RSS) are other vocabularies' and are left out.
fn child(element: &BytesStart, draft: &mut Draft) -> Result<Option<Field>, String> {
    match element.name().as_ref() {
        "title" => Ok(Some(Field::Title)),
        "guid" | "id" => Ok(Some(Field::Id)),
        "link" => match attribute(element, "href")? {
            // Atom: the first link to the entry itself (`rel` alternate, or none).
            Some(href) => {
                let rel = attribute(element, "rel")?;
                if draft.link.is_none() && rel.as_deref().is_none_or(|r| r == "alternate") {
                    draft.link = Some(href);
                }
                Ok(None)
            }
            // RSS: the link is the element's text.
            None if draft.link.is_none() => Ok(Some(Field::Link)),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

fn attribute(element: &BytesStart, name: &str) -> Result<Option<String>, String> {
    let bad = |e: &dyn std::fmt::Display| {
        format!("a bad attribute in <{}>: {e}", element.name().as_ref())
    };
    match element.try_get_attribute(name).map_err(|e| bad(&e))? {
        Some(attribute) => attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map(|value| Some(value.into_owned()))
            .map_err(|e| bad(&e)),
        None => Ok(None),
    }
}

fn push(item: &mut Option<(usize, Draft)>, field: Option<(usize, Field)>, text: &str) {
    if let (Some((_, draft)), Some((_, field))) = (item, field) {
        draft.push(field, text);
    }
}

/// `text` with each run of whitespace made one space, trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, title: &str, link: Option<&str>) -> Item {
        Item {
            id: id.to_owned(),
            title: title.to_owned(),
            link: link.map(str::to_owned),
        }
    }

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
  <channel>
    <title>The channel's title is not an item</title>
    <link>https://example.com/</link>
    <atom:link href="https://example.com/feed.xml" rel="self" type="application/rss+xml"/>
    <item>
      <title>Rust 1.95 &amp; the &lt;feed&gt; parser&#x21;</title>
      <link>https://example.com/1</link>
      <guid isPermaLink="false">tag:example.com,2026:1</guid>
      <media:title>not this one</media:title>
    </item>
    <item>
      <title><![CDATA[CDATA <b>title</b>]]></title>
      <link>
        https://example.com/2
      </link>
    </item>
    <item><title>Only a
        title</title></item>
    <item><description>nothing to know it by</description></item>
  </channel>
</rss>"#;

    const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Example</title>
  <id>urn:uuid:feed</id>
  <link href="https://example.com/"/>
  <entry>
    <title type="html">A &lt;b&gt;bold&lt;/b&gt; entry</title>
    <link rel="enclosure" href="https://example.com/a.mp3"/>
    <link rel="alternate" type="text/html" href="https://example.com/a"/>
    <link rel="alternate" href="https://example.com/a-again"/>
    <id>urn:uuid:a</id>
    <source><id>urn:uuid:not-this</id><title>Nor this</title></source>
  </entry>
  <entry>
    <title>No id</title>
    <link href="https://example.com/b"></link>
  </entry>
</feed>"#;

    #[test]
    fn rss_items_are_read_with_their_guid_else_link_else_title() {
        assert_eq!(
            parse(RSS.as_bytes()),
            Ok(vec![
                item(
                    "tag:example.com,2026:1",
                    "Rust 1.95 & the <feed> parser!",
                    Some("https://example.com/1")
                ),
                item(
                    "https://example.com/2",
                    "CDATA <b>title</b>",
                    Some("https://example.com/2")
                ),
                item("Only a title", "Only a title", None),
            ])
        );
    }

    #[test]
    fn atom_entries_are_read_with_their_id_and_alternate_link() {
        assert_eq!(
            parse(ATOM.as_bytes()),
            Ok(vec![
                item(
                    "urn:uuid:a",
                    "A <b>bold</b> entry",
                    Some("https://example.com/a")
                ),
                item(
                    "https://example.com/b",
                    "No id",
                    Some("https://example.com/b")
                ),
            ])
        );
    }

    #[test]
    fn rdf_feeds_empty_feeds_a_bom_and_html_entities_are_read() {
        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
            <channel rdf:about="https://example.com/"><title>c</title></channel>
            <item rdf:about="https://example.com/r"><title>R&nbsp;1</title><link>https://example.com/r</link></item>
        </rdf:RDF>"#;
        assert_eq!(
            parse(rdf.as_bytes()),
            Ok(vec![item(
                "https://example.com/r",
                "R&nbsp;1",
                Some("https://example.com/r")
            )])
        );
        assert_eq!(parse(b"<feed/>"), Ok(vec![]));
        assert_eq!(
            parse("\u{feff}<rss><channel></channel></rss>".as_bytes()),
            Ok(vec![])
        );
    }

    #[test]
    fn what_is_not_a_feed_is_an_error_saying_why() {
        for (body, says) in [
            (&b""[..], "the document is empty"),
            (b"   ", "the document is empty"),
            (b"<html><body>hi</body></html>", "a web page (<html>)"),
            (b"<opml version=\"2.0\"/>", "the document is <opml>"),
            (b"{\"items\": []}", "the document is empty"),
            (
                b"<rss><channel><item><title>x</item></channel></rss>",
                "not well-formed XML at byte",
            ),
            (b"<rss><channel>", "not well-formed XML"),
            (b"<rss>&#0;</rss>", "bad character reference"),
            (b"<rss>\xff\xfe</rss>", "not UTF-8"),
        ] {
            let error = parse(body).expect_err(&String::from_utf8_lossy(body));
            assert!(
                error.contains(says),
                "{:?}: {error}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn deep_nesting_costs_no_stack() {
        let deep = format!(
            "<rss>{}{}</rss>",
            "<x>".repeat(100_000),
            "</x>".repeat(100_000)
        );
        assert_eq!(parse(deep.as_bytes()), Ok(vec![]));
    }
}
