//! The sidecar's `routes` (SPEC T20, T21): the webhook paths a plugin serves under
//! `/hooks/<plugin>`, checked at load so a typo is refused with the line to fix rather than
//! answering 404 for ever.
//!
//! A route is `/` followed by one or more segments of letters, digits and `-._~`, joined by
//! `/`: no empty segment, no `.` or `..` segment, no trailing `/`, no query. Duplicates are
//! dropped; the list is kept in the order written.

use std::path::Path;

use super::ConfigError;

/// The first path segment under which every plugin's routes are served; no action may take
/// this name.
pub(crate) const HOOKS: &str = "hooks";

/// At most this many routes per plugin: each is matched in turn on every hook request.
pub(crate) const MAX_ROUTES: usize = 32;
/// The longest route accepted, in bytes.
const MAX_ROUTE_BYTES: usize = 200;

/// Checks the routes a sidecar at `path` lists.
pub(crate) fn validate(path: &Path, routes: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key: "routes".to_owned(),
        message,
    };
    if routes.len() > MAX_ROUTES {
        return Err(invalid(format!(
            "at most {MAX_ROUTES} routes, got {}",
            routes.len()
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(routes.len());
    for route in routes {
        if let Some(why) = problem(&route) {
            return Err(invalid(format!(
                "{route:?} {why}; write a path such as \"/github\" (served at /hooks/<plugin>/github)"
            )));
        }
        if !out.contains(&route) {
            out.push(route);
        }
    }
    Ok(out)
}

/// What is wrong with `route`, if anything.
fn problem(route: &str) -> Option<&'static str> {
    let Some(rest) = route.strip_prefix('/') else {
        return Some("does not start with `/`");
    };
    if route.len() > MAX_ROUTE_BYTES {
        return Some("is longer than 200 bytes");
    }
    if rest.is_empty() {
        return Some("names no path below the plugin");
    }
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Some("has an empty segment (`//` or a trailing `/`)");
        }
        if segment == "." || segment == ".." {
            return Some("has a `.` or `..` segment");
        }
        if !segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        {
            return Some("may hold only letters, digits, `-._~` and `/`");
        }
    }
    None
}

/// T21: whether `rest`, the request path below `/hooks/<plugin>`, is served by `route`: the
/// route itself, or anything below it (`/github` serves `/github` and `/github/x`, not
/// `/githubx`).
pub(crate) fn serves(route: &str, rest: &str) -> bool {
    match rest.strip_prefix(route) {
        Some(below) => below.is_empty() || below.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{serves, validate};

    #[test]
    fn t20_routes_are_checked_and_deduplicated() {
        let path = Path::new("plugins/gh.json5");
        let ok = |routes: &[&str]| validate(path, routes.iter().map(|r| r.to_string()).collect());
        assert_eq!(
            ok(&["/github", "/a/b-c_d.e~", "/github"]).expect("valid"),
            ["/github", "/a/b-c_d.e~"]
        );
        for (bad, why) in [
            ("github", "does not start with `/`"),
            ("/", "names no path below the plugin"),
            ("/a//b", "has an empty segment"),
            ("/a/", "has an empty segment"),
            ("/a/../b", "has a `.` or `..` segment"),
            ("/a?x=1", "may hold only letters"),
            ("/é", "may hold only letters"),
        ] {
            let error = ok(&[bad]).expect_err(bad).to_string();
            assert!(
                error.starts_with(&format!("plugins/gh.json5: routes: {bad:?} {why}")),
                "{bad}: {error}"
            );
        }
        let many: Vec<String> = (0..33).map(|i| format!("/r{i}")).collect();
        assert!(validate(path, many).is_err());
    }

    #[test]
    fn t21_a_route_serves_itself_and_below() {
        assert!(serves("/github", "/github"));
        assert!(serves("/github", "/github/"));
        assert!(serves("/github", "/github/x/y"));
        assert!(!serves("/github", "/githubx"));
        assert!(!serves("/github", "/"));
        assert!(!serves("/github", ""));
        assert!(!serves("/github/x", "/github"));
    }
}
