//! How deep a parser actually recursed, observed from inside: a `DeserializeSeed` that walks
//! every array and object json5 hands it, recording the deepest level it was asked to enter,
//! even when the parse fails later. The body target checks it against the depth guard, so a
//! guard that misses a bracket shows at 129 levels, not only when the stack overflows.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

thread_local! {
    static DEEPEST: Cell<usize> = const { Cell::new(0) };
}

/// The deepest array/object level json5 entered while parsing `text` (1 = the top object).
pub fn json5_depth(text: &str) -> usize {
    DEEPEST.with(|d| d.set(0));
    let mut deserializer = json5::Deserializer::from_str(text);
    let _ = Level(0).deserialize(&mut deserializer);
    DEEPEST.with(Cell::get)
}

/// A value with this many arrays/objects around it.
struct Level(usize);

impl Level {
    fn enter(&self) -> Level {
        let level = self.0 + 1;
        DEEPEST.with(|d| d.set(d.get().max(level)));
        Level(level)
    }
}

impl<'de> DeserializeSeed<'de> for Level {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON5 value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.enter();
        while seq.next_element_seed(Level(inner.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.enter();
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Level(inner.0))?;
        }
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
}
