//! Where an action name goes, decided once by pure functions (SPEC E4, E5, E6, G2, G5):
//! [`Route::of`] for a client's or plugin's call, [`Target::of`] for the base of an `_async`
//! or `_rate_limited` call when it starts. The dispatcher then executes the route; nothing
//! else looks at an action's name to decide who serves it.
//!
//! The order (E4): a plugin's action by its exact name; the host's own action ([`HostAction`],
//! which a connected upstream takes over except the quick operation, G5); the `_async` and
//! `_rate_limited` suffixes of a name that is served; else the upstream when one is configured,
//! or 1404 without one (G2). A plugin may export `x_async` itself: its exact name wins.

use super::quick;

/// The host's own actions (E6, E7), with their names in this one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostAction {
    VersionInfo,
    Status,
    LoginInfo,
    /// `.handle_quick_operation` (E7): calls other actions, which may be forwarded.
    QuickOperation,
}

impl HostAction {
    pub(crate) const ALL: [HostAction; 4] = [
        HostAction::VersionInfo,
        HostAction::Status,
        HostAction::LoginInfo,
        HostAction::QuickOperation,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            HostAction::VersionInfo => "get_version_info",
            HostAction::Status => "get_status",
            HostAction::LoginInfo => "get_login_info",
            HostAction::QuickOperation => quick::ACTION,
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<HostAction> {
        HostAction::ALL.into_iter().find(|host| host.name() == name)
    }

    /// G5: a connected upstream answers these itself; the quick operation stays the host's
    /// (it only calls other actions).
    fn yields_to_upstream(self) -> bool {
        self != HostAction::QuickOperation
    }
}

/// Who serves a name, as it is (no suffix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target<P> {
    Plugin(P),
    Host(HostAction),
    /// G2: the upstream when one is configured, else 1404.
    Forward,
}

/// What a call does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route<'a, P> {
    /// Served now by its target.
    Now(Target<P>),
    /// E5: `base` runs in the background; the caller is answered at once.
    Async(&'a str),
    /// E5a: `base` runs in its client's turn, after the host-wide gap.
    RateLimited(&'a str),
}

impl<P> Target<P> {
    /// Who serves `action`: `provider` names the plugin that exports a name, if any;
    /// `upstream_connected` is whether a gateway's upstream is connected now.
    pub(crate) fn of(
        action: &str,
        provider: impl Fn(&str) -> Option<P>,
        upstream_connected: bool,
    ) -> Self {
        if let Some(plugin) = provider(action) {
            return Target::Plugin(plugin);
        }
        match HostAction::from_name(action) {
            Some(host) if !(upstream_connected && host.yields_to_upstream()) => Target::Host(host),
            _ => Target::Forward,
        }
    }
}

impl<'a, P> Route<'a, P> {
    /// The route of `action` (E4); see [`Target::of`] for the arguments. A suffix applies only
    /// to a name that is served by a plugin, the host or a connected upstream, so that
    /// `nope_async` is 1404 like `nope`, not "accepted".
    pub(crate) fn of(
        action: &'a str,
        provider: impl Fn(&str) -> Option<P>,
        upstream_connected: bool,
    ) -> Self {
        let target = Target::of(action, &provider, upstream_connected);
        if !matches!(target, Target::Forward) {
            return Route::Now(target);
        }
        let served = |base: &str| {
            upstream_connected || HostAction::from_name(base).is_some() || provider(base).is_some()
        };
        if let Some(base) = action.strip_suffix("_async").filter(|b| served(b)) {
            Route::Async(base)
        } else if let Some(base) = action.strip_suffix("_rate_limited").filter(|b| served(b)) {
            Route::RateLimited(base)
        } else {
            Route::Now(Target::Forward)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One plugin, `p`, exporting `send_msg`, `get_status` and `x_async`.
    fn provider(name: &str) -> Option<&'static str> {
        matches!(name, "send_msg" | "get_status" | "x_async").then_some("p")
    }

    fn none(_: &str) -> Option<&'static str> {
        None
    }

    #[test]
    fn e4_a_plugins_exact_name_comes_first() {
        assert_eq!(
            Route::of("send_msg", provider, false),
            Route::Now(Target::Plugin("p"))
        );
        // Over the host's own get_status (E6), and over a suffix (x_async is its own name).
        assert_eq!(
            Route::of("get_status", provider, false),
            Route::Now(Target::Plugin("p"))
        );
        assert_eq!(
            Route::of("x_async", provider, false),
            Route::Now(Target::Plugin("p"))
        );
    }

    #[test]
    fn e6_g5_host_actions_unless_a_connected_upstream_takes_them() {
        for host in HostAction::ALL {
            assert_eq!(HostAction::from_name(host.name()), Some(host));
            assert_eq!(
                Route::of(host.name(), none, false),
                Route::Now(Target::Host(host))
            );
        }
        assert_eq!(
            Route::of("get_login_info", none, true),
            Route::Now(Target::Forward)
        );
        assert_eq!(
            Route::of(".handle_quick_operation", none, true),
            Route::Now(Target::Host(HostAction::QuickOperation))
        );
    }

    #[test]
    fn e5_suffixes_of_a_served_name() {
        assert_eq!(
            Route::of("send_msg_async", provider, false),
            Route::Async("send_msg")
        );
        assert_eq!(
            Route::of("send_msg_rate_limited", provider, false),
            Route::RateLimited("send_msg")
        );
        assert_eq!(
            Route::of("get_version_info_async", none, false),
            Route::Async("get_version_info")
        );
        // Not served: 1404 (or the upstream's answer), never "accepted".
        assert_eq!(
            Route::of("nope_async", provider, false),
            Route::Now(Target::Forward)
        );
        assert_eq!(
            Route::of("nope_rate_limited", none, false),
            Route::Now(Target::Forward)
        );
        // G2: with a connected upstream, anything may be served there.
        assert_eq!(Route::of("nope_async", none, true), Route::Async("nope"));
    }

    #[test]
    fn g2_unknown_names_are_forwarded() {
        assert_eq!(
            Route::of("nope", provider, false),
            Route::Now(Target::Forward)
        );
        assert_eq!(Route::of("", none, false), Route::Now(Target::Forward));
        assert_eq!(
            Target::of("send_msg_async", provider, false),
            Target::Forward
        );
    }
}
