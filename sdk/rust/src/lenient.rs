//! Params as clients send them (SPEC P7a): a query string or a form makes every value a
//! string (`GET /hello_add?a=1&b=2` gives `{"a":"1","b":"2"}`), and NapCat accepts those for
//! every action. So where an action's params type wants a number, a decimal string is read as
//! that number, and where it wants a bool, `"true"`/`"false"`/`"1"`/`"0"` are read as that
//! bool. Nothing else is coerced: JSON numbers and bools decode exactly as before (a number
//! where a bool or a string is wanted is still refused), and so is `"1.5"` for an integer.
//!
//! Only used when the strict decoding failed, so a well-typed call pays nothing for it.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Error, Value};

/// Decodes `T` from `value`, coercing strings to the numbers and bools `T` asks for.
pub(crate) fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, Error> {
    T::deserialize(Lenient(value))
}

#[derive(Clone, Copy)]
struct Lenient<'de>(&'de Value);

impl<'de> Lenient<'de> {
    /// The string to read a number or bool from, if the value is one.
    fn text(self) -> Option<&'de str> {
        match self.0 {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }
}

/// One method per integer or float type: parse a string as that type, else decode as is
/// (which reports serde's usual "invalid type" error for anything else).
macro_rules! numbers {
    ($($method:ident: $ty:ty => $visit:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.text().and_then(|s| s.parse::<$ty>().ok()) {
                Some(n) => visitor.$visit(n),
                None => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Lenient<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            Value::Object(map) => visitor.visit_map(Entries {
                entries: map.iter(),
                value: None,
            }),
            // Scalars decode exactly as serde_json decodes them.
            scalar => scalar.deserialize_any(visitor),
        }
    }

    numbers! {
        deserialize_i8: i8 => visit_i8,
        deserialize_i16: i16 => visit_i16,
        deserialize_i32: i32 => visit_i32,
        deserialize_i64: i64 => visit_i64,
        deserialize_i128: i128 => visit_i128,
        deserialize_u8: u8 => visit_u8,
        deserialize_u16: u16 => visit_u16,
        deserialize_u32: u32 => visit_u32,
        deserialize_u64: u64 => visit_u64,
        deserialize_u128: u128 => visit_u128,
        deserialize_f32: f32 => visit_f32,
        deserialize_f64: f64 => visit_f64,
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let flag = match self.text() {
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            _ => None,
        };
        match flag {
            Some(flag) => visitor.visit_bool(flag),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_bytes(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_byte_buf(visitor)
    }

    serde::forward_to_deserialize_any! {
        char str string unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// An array's items, each decoded leniently.
struct Items<'de>(std::slice::Iter<'de, Value>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|item| seed.deserialize(Lenient(item)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// An object's entries, each value decoded leniently.
struct Entries<'de> {
    entries: serde_json::map::Iter<'de>,
    value: Option<&'de Value>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(Lenient(value)),
            None => Err(de::Error::custom(
                "a map value was asked for before its key",
            )),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::from_value;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Params {
        a: i64,
        b: u32,
        ratio: f64,
        flag: bool,
        name: String,
        maybe: Option<i32>,
        list: Vec<u8>,
        inner: Inner,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        on: bool,
    }

    #[test]
    fn strings_become_the_numbers_and_bools_asked_for() {
        let value = json!({"a": "-1", "b": "2", "ratio": "0.5", "flag": "true", "name": "7",
            "maybe": "3", "list": ["1", 2], "inner": {"on": "0"}});
        let p: Params = from_value(&value).expect("decodes");
        assert_eq!(
            p,
            Params {
                a: -1,
                b: 2,
                ratio: 0.5,
                flag: true,
                name: "7".into(),
                maybe: Some(3),
                list: vec![1, 2],
                inner: Inner { on: false },
            }
        );
    }

    #[test]
    fn what_is_not_a_number_or_a_bool_is_still_refused() {
        for (bad, wanted) in [
            (json!({"a": "1.5"}), "i64"),
            (json!({"a": "x"}), "i64"),
            (json!({"b": "-1"}), "u32"),
            (json!({"flag": "yes"}), "bool"),
            (json!({"flag": 1}), "bool"),
            (json!({"ratio": true}), "f64"),
            (json!({"name": 5}), "a string"),
        ] {
            let mut value = json!({"a": 1, "b": 2, "ratio": 1, "flag": false, "name": "n",
                "maybe": null, "list": [], "inner": {"on": true}});
            for (k, v) in bad.as_object().expect("object") {
                value[k] = v.clone();
            }
            let err = from_value::<Params>(&value)
                .expect_err("refused")
                .to_string();
            assert!(err.contains("invalid") && err.contains(wanted), "{err}");
        }
    }
}
