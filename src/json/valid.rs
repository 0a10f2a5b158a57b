//! "Would serde_json read this text as a `Value`?", answered without building the `Value`
//! (SPEC E1): a plugin's result is spliced into the reply envelope as the plugin wrote it,
//! which is only safe when it is exactly the JSON the `Value` path would have accepted.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// True when `serde_json::from_str::<Value>(text)` would succeed and mean the same thing:
/// numbers range-checked, strings and keys unescaped and checked, the same nesting limit,
/// nothing but whitespace after the value. False for the odd inputs `Value` reads specially
/// (an object keyed by serde_json's private raw-value token), which are left to that path.
pub(crate) fn is_value(text: &str) -> bool {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Deserializer::deserialize_any(&mut deserializer, Valid)
        .and_then(|()| deserializer.end())
        .is_ok()
}

/// Reads a JSON value down the same serde_json paths as `Value`'s `Deserialize` (numbers
/// range-checked, strings and keys unescaped and checked, the same nesting limit) and keeps
/// nothing. A key spelled like serde_json's private raw-value token makes `Value` read the
/// object differently, so it is refused here and left to the `Value` path.
struct Valid;

impl<'de> Deserialize<'de> for Valid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Valid).map(|()| Valid)
    }
}

impl<'de> Visitor<'de> for Valid {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Valid>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<Key>()?.is_some() {
            map.next_value::<Valid>()?;
        }
        Ok(())
    }
}

/// An object key, read as `Value` reads keys (`deserialize_str`).
struct Key;

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Key)
    }
}

impl Visitor<'_> for Key {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        if key == RAW_VALUE_TOKEN {
            return Err(E::custom("left to the Value path"));
        }
        Ok(Key)
    }
}

/// serde_json's `raw::TOKEN` (private): an object whose first key is this is a raw value.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Exactly what `Value` accepts, but for the raw-value key it reads specially.
    #[test]
    fn e1_is_value_agrees_with_value() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let cases = [
            r#"{"message_id":1}"#.to_owned(),
            r#" {"b": [1, 2.5, -0, 1e2, true, null], "a": "\u00e9\n"} "#.to_owned(),
            r#"{"a":1,"a":2}"#.to_owned(),
            "null".to_owned(),
            r#""x""#.to_owned(),
            "18446744073709551616".to_owned(),
            "1e400".to_owned(),
            "-1e400".to_owned(),
            r#"{"s":"\ud800"}"#.to_owned(),
            r#"{"\ud800":1}"#.to_owned(),
            r#"{"s":"\udc00\ud800"}"#.to_owned(),
            r#"{"s":"\ud83d\ude00"}"#.to_owned(),
            r#"{"s":"\x"}"#.to_owned(),
            "{\"s\":\"\u{1}\"}".to_owned(),
            r#"{"$serde_json::private::RawValue":"[1]"}"#.to_owned(),
            r#"{"$serde_json::private::RawValue":5}"#.to_owned(),
            r#"{"a":1,"$serde_json::private::RawValue":"[1]"}"#.to_owned(),
            deep(127),
            deep(128),
            deep(129),
            String::new(),
            " ".to_owned(),
            "{".to_owned(),
            "[1,]".to_owned(),
            "{} x".to_owned(),
            "\u{feff}{}".to_owned(),
        ];
        for text in cases {
            let by_value = serde_json::from_str::<Value>(&text);
            if is_value(&text) {
                assert!(
                    by_value.is_ok(),
                    "Value accepts what is_value vouches for: {text}"
                );
            } else {
                let raw_value_key = text.contains(RAW_VALUE_TOKEN);
                assert!(by_value.is_err() || raw_value_key, "{text}");
            }
        }
    }
}
