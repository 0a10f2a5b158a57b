//! Messages: OneBot 11 segments and CQ codes, as pure functions (SPEC M1–M5).
//!
//! - `segment` — the [`Segment`] type (M1) and [`MessageError`].
//! - `escape` — CQ escaping both ways (M2).
//! - `cq` — [`parse_cq`] and [`format_cq`]; its doc has the exact grammar accepted (M2).
//! - `params` — params in: [`normalize`], [`normalize_params`] (M3), within
//!   [`MessageLimits`] (M5).
//! - `event` — events out: [`try_render_event`], [`PostFormat`] (M4).
//!
//! Decisions where the standard is silent (each is tested where it is made):
//! - type and key names are ASCII `\w+` (letters, digits, `_`), case-sensitive `[CQ:`; a raw
//!   `[` anywhere inside a code makes it malformed; malformed codes are literal text, still
//!   unescaped as text;
//! - `&#44;` is decoded in text as well as in values (NapCat does; NoneBot's `escape()` emits
//!   it); unescaping is one pass, so `&amp;#91;` → `&#91;`;
//! - parsing merges adjacent text, never yields empty text, and keeps the last of duplicated
//!   keys; `[CQ:text,text=…]` is text;
//! - formatting writes non-string values as compact JSON text (`5`, `true`, `{"a":1}`, escaped)
//!   and leaves `null` values out; a segment whose type, or a param whose key, is not a word is
//!   left out (it could not be written without changing meaning); a `text` segment that is not
//!   exactly `{"text": string}` is written as a `[CQ:text,…]` code so nothing is lost;
//! - CQ strings round-trip exactly when canonical: minimal escaping and keys in `data`'s order
//!   (sorted, with serde_json's default map).

mod cq;
mod escape;
mod event;
mod params;
mod segment;

#[cfg(test)]
mod proptests;

pub use cq::{format_cq, parse_cq};
pub(crate) use event::{PostFormat, try_render_event};
pub use params::normalize_params;
pub(crate) use params::{MessageLimits, is_true, normalize, normalize_params_within};
pub use segment::{MessageError, Position, Segment};
