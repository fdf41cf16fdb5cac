//! The `_redirects` project file: redirects and rewrites before any asset
//! lookup.
//!
//! ```text
//! # source       destination          status (default 302)
//! /old           /new                 301
//! /blog/*        /posts/:splat        301
//! /u/:id         /users?id=:id        302
//! /app/*         /index.html          200
//! ```
//!
//! The first rule in file order whose source matches the path wins. A 200
//! is a rewrite: the destination asset is served at the source's URL.

use crate::pattern::{substitute, PathPattern};

pub const FILE: &str = "_redirects";
/// Cloudflare's limits on the file.
pub const MAX_STATIC_RULES: usize = 2_000;
pub const MAX_DYNAMIC_RULES: usize = 100;
/// The limit wrangler's parser enforces (Cloudflare's documentation says 1,000).
pub const MAX_LINE_LENGTH: usize = 2_000;
const STATUSES: [u16; 6] = [200, 301, 302, 303, 307, 308];

#[derive(Clone, Debug)]
struct Rule {
    text: String,
    source: PathPattern,
    destination: String,
    status: u16,
}

#[derive(Clone, Debug, Default)]
pub struct RedirectRules {
    rules: Vec<Rule>,
}

/// What a matching rule asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirected {
    /// Answer with this status and `Location`.
    Redirect { status: u16, location: String },
    /// Serve the asset at this path instead (a 200 rule).
    Rewrite(String),
}

impl RedirectRules {
    /// Parses the file; an error is `(line, problem)`.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut rules = Vec::new();
        let (mut statics, mut dynamics) = (0, 0);
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let fail = |problem: String| Err((number, problem));
            let error = |problem: String| (number, problem);
            if line.len() > MAX_LINE_LENGTH {
                return fail(format!(
                    "the line is longer than {MAX_LINE_LENGTH} characters"
                ));
            }
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // ` # …` ends a line; a `#` inside a destination is a fragment.
            let line = match line.find(" #").or_else(|| line.find("\t#")) {
                Some(comment) => line[..comment].trim_end(),
                None => line,
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (source, destination, status) = match fields.as_slice() {
                [source, destination] => (*source, *destination, 302),
                [source, destination, status] => match status.parse::<u16>() {
                    Ok(code) if STATUSES.contains(&code) => (*source, *destination, code),
                    _ => {
                        return fail(format!(
                            "status {status:?} is not one of 200, 301, 302, 303, 307, 308"
                        ))
                    }
                },
                [_] => return fail("expected a source and a destination".into()),
                _ => return fail("expected `source destination [status]`".into()),
            };
            if !source.starts_with('/') {
                return fail(format!(
                    "the source {source:?} must be a path starting with `/`"
                ));
            }
            let absolute =
                destination.starts_with("https://") || destination.starts_with("http://");
            if !absolute && !destination.starts_with('/') {
                return fail(format!(
                    "the destination {destination:?} must be a path starting with `/` or an http(s) URL"
                ));
            }
            if status == 200 && absolute {
                return fail(
                    "a 200 rule rewrites to an asset of this site; its destination must be a path"
                        .into(),
                );
            }
            if rules.iter().any(|rule: &Rule| rule.text == source) {
                return fail(format!("a rule for {source:?} comes earlier in the file"));
            }
            let pattern = PathPattern::with_placeholders(source).map_err(|e| error(e.0))?;
            let (count, max, kind) = if pattern.is_static() {
                statics += 1;
                (statics, MAX_STATIC_RULES, "static")
            } else {
                dynamics += 1;
                (dynamics, MAX_DYNAMIC_RULES, "dynamic")
            };
            if count > max {
                return fail(format!(
                    "more than {max} {kind} rules; Cloudflare allows {max}"
                ));
            }
            rules.push(Rule {
                text: source.to_string(),
                source: pattern,
                destination: destination.to_string(),
                status,
            });
        }
        Ok(Self { rules })
    }

    /// The first rule matching `path` (as the URL has it, percent-encoded),
    /// applied; `search` is the request's query (`?…` or empty), kept
    /// unless the destination has one.
    pub fn find(&self, path: &str, search: &str) -> Option<Redirected> {
        self.rules.iter().find_map(|rule| {
            let captures = rule.source.matches(path)?;
            let mut destination = substitute(&rule.destination, &captures);
            // `/a/* /:splat` must not turn `/a//evil.test` into `//evil.test`.
            if destination.starts_with('/') {
                while destination.contains("//") {
                    destination = destination.replace("//", "/");
                }
            }
            if rule.status == 200 {
                let path = destination
                    .split(['?', '#'])
                    .next()
                    .unwrap_or("/")
                    .to_string();
                return Some(Redirected::Rewrite(path));
            }
            let location = if destination.contains('?') || search.is_empty() {
                destination
            } else {
                match destination.split_once('#') {
                    Some((before, fragment)) => format!("{before}{search}#{fragment}"),
                    None => format!("{destination}{search}"),
                }
            };
            Some(Redirected::Redirect {
                status: rule.status,
                location,
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_redirects_or_rewrites() {
        let rules = RedirectRules::parse(
            "# moved\n/old /new 301\n/blog/* /posts/:splat\n/u/:id /users?id=:id 308\n\
             /app/* /index.html 200\n/ext https://example.com/x#top 307\n",
        )
        .unwrap();
        let redirect = |status, location: &str| Redirected::Redirect {
            status,
            location: location.into(),
        };
        assert_eq!(rules.find("/old", "?a=1"), Some(redirect(301, "/new?a=1")));
        assert_eq!(
            rules.find("/blog/2024/x", ""),
            Some(redirect(302, "/posts/2024/x"))
        );
        assert_eq!(
            rules.find("/u/7", "?a=1"),
            Some(redirect(308, "/users?id=7"))
        );
        assert_eq!(
            rules.find("/app/settings", ""),
            Some(Redirected::Rewrite("/index.html".into()))
        );
        assert_eq!(
            rules.find("/ext", "?q"),
            Some(redirect(307, "https://example.com/x?q#top"))
        );
        assert_eq!(rules.find("/new", ""), None);
        let splat = RedirectRules::parse("/a/* /:splat 301 # comment\n").unwrap();
        assert_eq!(
            splat.find("/a//evil.test", ""),
            Some(redirect(301, "/evil.test"))
        );
    }

    #[test]
    fn mistakes_name_their_line() {
        for (text, line) in [
            ("/a /b 301\n/c /d 404\n", 2),
            ("/a\n", 1),
            ("a /b\n", 1),
            ("/a https://x.test/ 200\n", 1),
            ("/a /b 301 extra\n", 1),
            ("/a /b\n/a /c\n", 2),
        ] {
            assert_eq!(RedirectRules::parse(text).unwrap_err().0, line, "{text}");
        }
        let many: String = (0..101).map(|i| format!("/d{i}/* /x\n")).collect();
        assert_eq!(RedirectRules::parse(&many).unwrap_err().0, 101);
    }
}
