//! `emit-event`'s checks (SPEC P4) without building the event: while no client is subscribed
//! the bus only has to tell the plugin whether its event was valid, and building a JSON tree
//! just to drop it was the largest host cost of a plugin call that emits one event.
//!
//! [`check`] gives exactly the answers [`super::EventBus::publish`]'s full parse gives; a test
//! compares the two on many inputs.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::EventError;

/// Checks that `text` is one JSON object whose `post_type` (the last one, if repeated) is a
/// string.
pub(super) fn check(text: &str) -> Result<(), EventError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let shape = deserializer
        .deserialize_any(ShapeVisitor)
        .and_then(|shape| deserializer.end().map(|()| shape))
        .map_err(|e| EventError::NotJson(e.to_string()))?;
    match shape {
        Shape::Other(kind) => Err(EventError::NotObject(kind)),
        Shape::Object {
            post_type_is_string: false,
        } => Err(EventError::NoPostType),
        Shape::Object {
            post_type_is_string: true,
        } => Ok(()),
    }
}

enum Shape {
    Object { post_type_is_string: bool },
    Other(&'static str),
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut post_type_is_string = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "post_type" {
                post_type_is_string = matches!(map.next_value::<Value>()?, Value::String(_));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Shape::Object {
            post_type_is_string,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Other("an array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Other("a string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::Other("null"))
    }
}
