//! onebot-plugin: write an onebot-host plugin (a WebAssembly component of the world
//! `onebot:plugin/capable-plugin@0.1.0`, the world `plugin` plus the capabilities a sidecar
//! may grant) as plain Rust functions. A plugin imports only what it uses: one that never
//! touches a capability is a plain `plugin` component.
//!
//! An action is a function from a `serde` params type to a `serde` result, failing with an
//! [`Error`] that carries a OneBot retcode. [`plugin!`] lists the actions and exports the
//! component; wit-bindgen and JSON stay out of sight:
//!
//! ```ignore
//! use onebot_plugin::{Error, Result, json, Value};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Text { text: String }
//!
//! fn reverse(p: Text) -> Result<Value> {
//!     Ok(json!({ "text": p.text.chars().rev().collect::<String>() }))
//! }
//!
//! onebot_plugin::plugin! {
//!     "text_reverse" => reverse,
//! }
//! ```
//!
//! Params that do not fit the type answer retcode 1400 with serde's explanation, so an
//! action only ever sees valid input. Query strings and forms send every value as a string,
//! so a decimal string is read as a number and `"true"`/`"false"`/`"1"`/`"0"` as a bool
//! where the type asks for one (`GET /hello_add?a=1&b=2` works). The common OneBot 11 params are in [`onebot`].
//!
//! # Capabilities
//!
//! What the plugin's sidecar (`<plugin>.json5` beside the `.wasm`) grants, each in a module;
//! a call that is not granted fails with an [`Error`] naming the sidecar key to add:
//!
//! | sidecar key | module | e.g. |
//! |---|---|---|
//! | `config` | [`config`] | `config::get("greeting")` |
//! | `keyValue` | [`kv`] | `kv::Store::open("default").increment("hits", 1)?` |
//! | `callActions` | [`call_action`], [`call_action_as`] | `call_action("get_status", ())?` |
//! | `allowedOutboundHosts` | `http` (feature `http`, default) | `http::get("https://…")?` |
//!
//! # Event handlers and schedules
//!
//! `on_event => f` and `schedule => g` beside the actions in [`plugin!`] export the plugin's
//! event handler and schedule handler (module [`events`]); the sidecar's `events` and
//! `schedules` keys decide what the host calls them with. An action list may be empty:
//!
//! ```ignore
//! use onebot_plugin::events::{Event, Verdict, reply};
//!
//! fn keyword(event: Event) -> onebot_plugin::Result<Verdict> {
//!     if event.text().trim() == "ping" {
//!         reply(&event, "pong")?;
//!     }
//!     Ok(Verdict::Pass)
//! }
//!
//! onebot_plugin::plugin! {
//!     on_event => keyword,
//! }
//! ```
//!
//! # Webhook routes
//!
//! [`route!`] exports a `fn(route::Request) -> Result<route::Response>` as the standard
//! `wasi:http/incoming-handler`; the sidecar's `routes: ["/github"]` makes the host serve it
//! at `/hooks/<plugin>/github` (module `route`, feature `http`).
//!
//! ```ignore
//! use onebot_plugin::kv::Store;
//! use onebot_plugin::{Result, Value, call_action, config, json};
//!
//! fn greet(_: Value) -> Result<Value> {
//!     let greeting = config::get("greeting").unwrap_or_else(|| "Hi".to_owned());
//!     let seen = Store::open("default").increment("greetings", 1)?;
//!     call_action("send_private_msg", json!({ "user_id": 10001, "message": greeting }))?;
//!     Ok(json!({ "greeting": greeting, "seen": seen }))
//! }
//! ```

pub mod actions;
pub mod config;
pub mod events;
#[cfg(feature = "http")]
pub mod http;
pub mod kv;
mod lenient;
pub mod onebot;
#[cfg(feature = "http")]
pub mod route;

/// The WASI 0.2 bindings [`route!`] exports through; not part of the API.
#[cfg(feature = "http")]
#[doc(hidden)]
pub use wasip2 as __wasip2;

pub use actions::{call_action, call_action_as};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "reactive-plugin",
        // wasi:config/store (wit/deps) is generated here too: there are no published bindings.
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "onebot_plugin::bindings",
    });
}

pub use serde_json::{Value, json};

use bindings::exports::onebot::plugin::onebot_action::{ActionCall, ActionError};
use bindings::onebot::plugin::host;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A failed action: becomes a `failed` envelope with this retcode and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub retcode: i32,
    pub message: String,
}

impl Error {
    pub fn new(retcode: i32, message: impl Into<String>) -> Self {
        Error {
            retcode,
            message: message.into(),
        }
    }

    /// Retcode 1400: the caller's params are wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(1400, message)
    }

    /// Retcode 1200: the action could not be done.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(1200, message)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (retcode {})", self.message, self.retcode)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Writes a line to the host's log, tagged with this plugin's name.
pub fn log(level: Level, message: &str) {
    host::log(level, message);
}

pub use host::Level;

/// Writes an info line to the host's log.
pub fn info(message: &str) {
    host::log(Level::Info, message);
}

/// Sends a OneBot event (a JSON object with `post_type`) to the host's event subscribers.
/// The host fills `time` and `self_id` when they are absent. Any `Serialize` value works: a
/// [`Value`] built with [`json!`], or a struct of your own (cheaper: no map is built).
pub fn emit_event<T: Serialize + ?Sized>(event: &T) -> Result<()> {
    // to_string writes into a Vec directly; Value's Display (`event.to_string()` on a Value)
    // goes through fmt::Write one fragment at a time and cost ~4x the instructions.
    let text = serde_json::to_string(event)
        .map_err(|e| Error::failed(format!("cannot encode the event: {e}")))?;
    host::emit_event(&text).map_err(Error::failed)
}

/// The params as `P`: strictly first (no cost for a well-typed call), then reading decimal
/// strings as numbers and `"true"`/`"1"`/`"false"`/`"0"` as bools, as a query string or a
/// form sends them (`lenient`).
fn decode_params<P: DeserializeOwned>(params: &str) -> serde_json::Result<P> {
    serde_json::from_str(params).or_else(|strict| match serde_json::from_str::<Value>(params) {
        Ok(value) => lenient::from_value(&value),
        Err(_) => Err(strict),
    })
}

/// Runs one typed handler on a call: params in, JSON text out. Used by [`plugin!`].
#[doc(hidden)]
pub fn __run<P, R>(call: &ActionCall, handler: fn(P) -> Result<R>) -> Result<String, ActionError>
where
    P: DeserializeOwned,
    R: Serialize,
{
    let params: P = decode_params(&call.params).map_err(|e| ActionError {
        retcode: 1400,
        message: format!("{}: bad params: {e}", call.action),
    })?;
    let data = handler(params).map_err(|e| ActionError {
        retcode: e.retcode,
        message: e.message,
    })?;
    serde_json::to_string(&data).map_err(|e| ActionError {
        retcode: 1200,
        message: format!("{}: cannot encode the result: {e}", call.action),
    })
}

/// Lists a plugin's actions (`"name" => function`, each function taking its params type and
/// returning `Result<impl Serialize>`) and exports it as a component. Optional entries, in any
/// order: `on_event => f` (an `fn(events::Event) -> Result<events::Verdict>`, the event
/// handler) and `schedule => g` (an `fn(&str) -> Result<()>`, called with the due schedule's
/// name). Without them the exports answer `Pass` and an error, and the host calls them only
/// when the sidecar grants `events` or `schedules` anyway.
#[macro_export]
macro_rules! plugin {
    ($($body:tt)*) => {
        $crate::__plugin_parse! { [] [] [] $($body)* }
    };
}

/// [`plugin!`]'s parser: sorts the entries into actions, event handler and schedule handler.
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_parse {
    ([$($a:tt)*] [$($e:tt)*] [$($s:tt)*] on_event => $h:path $(, $($rest:tt)*)?) => {
        $crate::__plugin_parse! { [$($a)*] [$h] [$($s)*] $($($rest)*)? }
    };
    ([$($a:tt)*] [$($e:tt)*] [$($s:tt)*] schedule => $h:path $(, $($rest:tt)*)?) => {
        $crate::__plugin_parse! { [$($a)*] [$($e)*] [$h] $($($rest)*)? }
    };
    ([$($a:tt)*] [$($e:tt)*] [$($s:tt)*] $action:literal => $h:path $(, $($rest:tt)*)?) => {
        $crate::__plugin_parse! { [$($a)* ($action, $h)] [$($e)*] [$($s)*] $($($rest)*)? }
    };
    ([$(($action:literal, $handler:path))*] [$($on_event:path)?] [$($schedule:path)?]) => {
        struct __OnebotPlugin;

        impl $crate::bindings::exports::onebot::plugin::onebot_action::Guest for __OnebotPlugin {
            fn actions() -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![$(::std::string::String::from($action)),*]
            }

            fn handle(
                call: $crate::bindings::exports::onebot::plugin::onebot_action::ActionCall,
            ) -> ::std::result::Result<
                ::std::string::String,
                $crate::bindings::exports::onebot::plugin::onebot_action::ActionError,
            > {
                match call.action.as_str() {
                    $($action => $crate::__run(&call, $handler),)*
                    other => ::std::result::Result::Err(
                        $crate::bindings::exports::onebot::plugin::onebot_action::ActionError {
                            retcode: 1404,
                            message: ::std::format!("不支持的API {other}"),
                        },
                    ),
                }
            }
        }

        impl $crate::bindings::exports::onebot::plugin::event_handler::Guest for __OnebotPlugin {
            fn handle_event(
                event: ::std::string::String,
            ) -> ::std::result::Result<
                $crate::bindings::exports::onebot::plugin::event_handler::Verdict,
                ::std::string::String,
            > {
                $crate::events::__run_handler(
                    &event,
                    $crate::__or_default!([$($on_event)?] $crate::events::__no_handler),
                )
            }
        }

        impl $crate::bindings::exports::onebot::plugin::schedule_handler::Guest for __OnebotPlugin {
            fn run_schedule(
                name: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::events::__run_schedule(
                    &name,
                    $crate::__or_default!([$($schedule)?] $crate::events::__no_schedule),
                )
            }
        }

        $crate::bindings::__export_plugin!(__OnebotPlugin);
    };
}

/// The given path, or the default when none was given.
#[doc(hidden)]
#[macro_export]
macro_rules! __or_default {
    ([] $default:path) => {
        $default
    };
    ([$given:path] $default:path) => {
        $given
    };
}
