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
//! Invalid lines are skipped and reported, as wrangler does.

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
    /// Parses the file. As wrangler does, an invalid line is skipped and
    /// reported: `(line, problem)`.
    pub fn parse(text: &str) -> (Self, Vec<(usize, String)>) {
        let mut rules = Self::default();
        let mut invalid = Vec::new();
        let (mut statics, mut dynamics) = (0, 0);
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_rule(line, &rules.rules) {
                Ok(rule) => {
                    let (count, max, kind) = if rule.source.is_static() {
                        statics += 1;
                        (statics, MAX_STATIC_RULES, "static")
                    } else {
                        dynamics += 1;
                        (dynamics, MAX_DYNAMIC_RULES, "dynamic")
                    };
                    if count > max {
                        invalid.push((index + 1, format!("more than {max} {kind} rules; the line is ignored, as on Cloudflare")));
                        continue;
                    }
                    rules.rules.push(rule);
                }
                Err(problem) => invalid.push((index + 1, problem)),
            }
        }
        (rules, invalid)
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

/// One line: `source destination [status]`, with an optional ` # comment`.
fn parse_rule(line: &str, earlier: &[Rule]) -> Result<Rule, String> {
    if line.len() > MAX_LINE_LENGTH {
        return Err(format!(
            "the line is longer than {MAX_LINE_LENGTH} characters"
        ));
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
                return Err(format!(
                    "status {status:?} is not one of 200, 301, 302, 303, 307, 308"
                ))
            }
        },
        fields => {
            return Err(format!(
                "expected `source destination [status]`, found {} fields",
                fields.len()
            ))
        }
    };
    if !source.starts_with('/') {
        return Err(format!(
            "the source {source:?} must be a path starting with `/`"
        ));
    }
    let absolute = destination.starts_with("https://") || destination.starts_with("http://");
    if !absolute && !destination.starts_with('/') {
        return Err(format!(
            "the destination {destination:?} must be a path starting with `/` or an http(s) URL"
        ));
    }
    if status == 200 && absolute {
        return Err(
            "a 200 rule rewrites to an asset of this site; its destination must be a path".into(),
        );
    }
    if earlier.iter().any(|rule| rule.text == source) {
        return Err(format!(
            "a rule for {source:?} comes earlier in the file; this one is ignored"
        ));
    }
    Ok(Rule {
        text: source.to_string(),
        source: PathPattern::with_placeholders(source).map_err(|e| e.0)?,
        destination: destination.to_string(),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_redirects_or_rewrites() {
        let (rules, _) = RedirectRules::parse(
            "# moved\n/old /new 301\n/blog/* /posts/:splat\n/u/:id /users?id=:id 308\n\
             /app/* /index.html 200\n/ext https://example.com/x#top 307\n",
        );
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
        let (splat, _) = RedirectRules::parse("/a/* /:splat 301 # comment\n");
        assert_eq!(
            splat.find("/a//evil.test", ""),
            Some(redirect(301, "/evil.test"))
        );
    }

    #[test]
    fn invalid_lines_are_skipped_and_named() {
        let (rules, invalid) = RedirectRules::parse(
            "/a /b 301\n/c /d 404\n/e\nf /g\n/h https://x.test/ 200\n/i /j 301 x\n/a /c\n/k /l\n",
        );
        let lines: Vec<usize> = invalid.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7]);
        assert_eq!(
            invalid[0].1,
            "status \"404\" is not one of 200, 301, 302, 303, 307, 308"
        );
        assert!(rules.find("/k", "").is_some());
        assert_eq!(
            rules.find("/a", ""),
            Some(Redirected::Redirect {
                status: 301,
                location: "/b".into()
            })
        );
        let many: String = (0..101).map(|i| format!("/d{i}/* /x\n")).collect();
        let (_, invalid) = RedirectRules::parse(&many);
        assert_eq!(invalid[0].0, 101);
    }
}
