//! A `push` event's payload, read as far as the message needs it, and the line posted for it:
//! `<pusher> pushed <n> commit(s) to <repo>: <first message>`.

use onebot_plugin::onebot::shorten;
use serde::Deserialize;

/// Longest first commit line posted, in characters; a longer one ends with `…`.
const FIRST_LINE_CHARS: usize = 200;

/// The fields of GitHub's push payload that the message uses; the others are ignored.
#[derive(Debug, Deserialize)]
pub struct Push {
    pusher: Pusher,
    repository: Repository,
    /// Oldest first; empty when a branch or tag is deleted, or a tag pushed with no new commit.
    #[serde(default)]
    commits: Vec<Commit>,
}

#[derive(Debug, Deserialize)]
struct Pusher {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Debug, Deserialize)]
struct Commit {
    message: String,
}

impl Push {
    /// The line to post, or `None` for a push without commits (nothing to tell).
    pub fn summary(&self) -> Option<String> {
        let first = self.commits.first()?;
        let line = first.message.lines().next().unwrap_or_default().trim();
        Some(format!(
            "{} pushed {} commit(s) to {}: {}",
            self.pusher.name,
            self.commits.len(),
            self.repository.full_name,
            shorten(line, FIRST_LINE_CHARS)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(commits: &[&str]) -> Push {
        let commits: Vec<_> = commits
            .iter()
            .map(|m| serde_json::json!({ "id": "0d1a26e6", "message": m, "distinct": true }))
            .collect();
        serde_json::from_value(serde_json::json!({
            "ref": "refs/heads/main",
            "repository": { "id": 1296269, "name": "Hello-World", "full_name": "octocat/Hello-World" },
            "pusher": { "name": "octocat", "email": "octocat@github.com" },
            "commits": commits,
        }))
        .expect("a push")
    }

    #[test]
    fn the_line_names_the_pusher_the_count_the_repo_and_the_first_commits_first_line() {
        for (commits, line) in [
            (
                &["Fix the parser\n\nLong explanation."][..],
                Some("octocat pushed 1 commit(s) to octocat/Hello-World: Fix the parser"),
            ),
            (
                &["First", "Second", "Third"][..],
                Some("octocat pushed 3 commit(s) to octocat/Hello-World: First"),
            ),
            (&[][..], None),
        ] {
            assert_eq!(push(commits).summary().as_deref(), line, "{commits:?}");
        }
    }

    #[test]
    fn a_long_first_line_is_cut_at_200_characters() {
        let long = "界".repeat(300);
        let line = push(&[&long]).summary().expect("a line");
        let message = line.split(": ").nth(1).expect("a message");
        assert_eq!(message.chars().count(), 200);
        assert!(message.ends_with('…'));
        assert_eq!(shorten("short", 200), "short");
        assert_eq!(shorten(&"x".repeat(200), 200), "x".repeat(200));
    }
}
