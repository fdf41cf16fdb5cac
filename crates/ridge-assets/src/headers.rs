//! The `_headers` project file: response headers for asset paths.
//!
//! ```text
//! # a comment
//! /assets/*
//!   Cache-Control: public, max-age=31536000, immutable
//! /docs/:page
//!   X-Page: :page
//!   ! X-Robots-Tag
//! ```
//!
//! A line starting with `/` is a path pattern (one starting with
//! `https://` is matched against the whole URL); the lines under it
//! (indented by convention) set a header (`Name: value`, where `:name` and `:splat` are replaced by
//! what the pattern captured) or remove one (`! Name`). Every matching rule
//! applies, in file order; a header set by several is joined with `, `,
//! and a removal takes back what earlier rules set. Invalid lines are
//! skipped and reported, as wrangler does.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::pattern::{substitute, PathPattern};

pub const FILE: &str = "_headers";
/// Cloudflare's limits on the file.
pub const MAX_RULES: usize = 100;
pub const MAX_LINE_LENGTH: usize = 2_000;

#[derive(Clone, Debug)]
struct Rule {
    pattern: PathPattern,
    /// Matched against `https://host/path` rather than the path.
    absolute: bool,
    set: Vec<(HeaderName, String)>,
    remove: Vec<HeaderName>,
}

#[derive(Clone, Debug, Default)]
pub struct HeaderRules {
    rules: Vec<Rule>,
}

impl HeaderRules {
    /// Parses the file. As wrangler does, an invalid line is skipped (with
    /// the header lines of an invalid path) and reported: `(line, problem)`.
    pub fn parse(text: &str) -> (Self, Vec<(usize, String)>) {
        let mut rules: Vec<Rule> = Vec::new();
        let mut invalid = Vec::new();
        // After an invalid path line, its header lines are skipped too.
        let mut skipping = false;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let is_path = line.starts_with('/') || line.contains("://");
            if is_path && rules.len() == MAX_RULES {
                invalid.push((index + 1, format!("more than {MAX_RULES} rules; the rest of the file is ignored, as on Cloudflare")));
                break;
            }
            let outcome = if is_path {
                parse_path(line).map(|rule| {
                    rules.push(rule);
                    skipping = false;
                })
            } else if skipping {
                continue;
            } else {
                match rules.last_mut() {
                    Some(rule) => parse_header(line, rule),
                    None => Err(format!(
                        "{line:?} comes before any path: start a rule with a path such as `/*`"
                    )),
                }
            };
            if let Err(problem) = outcome {
                skipping |= is_path;
                invalid.push((index + 1, problem));
            }
        }
        (Self { rules }, invalid)
    }

    /// Applies every rule matching the request (`path`, decoded, on
    /// `host`) to an asset response's headers.
    pub fn apply(&self, host: &str, path: &str, headers: &mut HeaderMap) {
        if self.rules.is_empty() {
            return;
        }
        let url = format!("https://{host}{path}");
        let mut set: Vec<(HeaderName, String)> = Vec::new();
        let mut removed: Vec<HeaderName> = Vec::new();
        for rule in &self.rules {
            let subject = if rule.absolute { url.as_str() } else { path };
            let Some(captures) = rule.pattern.matches(subject) else {
                continue;
            };
            for (name, template) in &rule.set {
                let value = substitute(template, &captures);
                match set.iter_mut().find(|(n, _)| n == name) {
                    Some((_, joined)) => {
                        joined.push_str(", ");
                        joined.push_str(&value);
                    }
                    None => set.push((name.clone(), value)),
                }
            }
            // A removal also takes back what earlier rules set.
            for name in &rule.remove {
                set.retain(|(n, _)| n != name);
                removed.push(name.clone());
            }
        }
        for name in removed {
            headers.remove(&name);
        }
        for (name, value) in set {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(name, value);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn parse_path(line: &str) -> Result<Rule, String> {
    if line.len() > MAX_LINE_LENGTH {
        return Err(format!(
            "the line is longer than {MAX_LINE_LENGTH} characters"
        ));
    }
    if line.contains("://") && !line.starts_with("https://") {
        return Err(format!("{line:?}: an absolute URL rule must use https://"));
    }
    Ok(Rule {
        pattern: PathPattern::with_placeholders(line).map_err(|e| e.0)?,
        absolute: line.starts_with("https://"),
        set: Vec::new(),
        remove: Vec::new(),
    })
}

fn parse_header(line: &str, rule: &mut Rule) -> Result<(), String> {
    if line.len() > MAX_LINE_LENGTH {
        return Err(format!(
            "the line is longer than {MAX_LINE_LENGTH} characters"
        ));
    }
    let header_name = |name: &str| {
        HeaderName::try_from(name.trim())
            .map_err(|_| format!("{:?} is not a header name", name.trim()))
    };
    if let Some(name) = line.strip_prefix('!') {
        rule.remove.push(header_name(name)?);
        return Ok(());
    }
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!(
            "expected `Name: value` or `! Name`, found {line:?}"
        ));
    };
    let name = header_name(name)?;
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("{name} has no value"));
    }
    if HeaderValue::try_from(value).is_err() {
        return Err(format!("the value of {name} is not a valid header value"));
    }
    rule.set.push((name, value.to_string()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules_set_join_and_remove_headers() {
        let (rules, invalid) = HeaderRules::parse(
            "# site headers\n/*\n  X-Frame-Options: DENY\n  X-Tag: all\n\
             /docs/:page\n  X-Tag: page-:page\n  ! X-Frame-Options\n\
             https://:sub.example.com/*\n  X-Sub: :sub\n",
        );
        assert!(invalid.is_empty(), "{invalid:?}");
        let mut headers = HeaderMap::new();
        headers.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
        rules.apply("docs.example.com", "/docs/intro", &mut headers);
        assert_eq!(headers["x-tag"], "all, page-intro");
        assert_eq!(headers["x-sub"], "docs");
        assert!(
            headers.get("x-frame-options").is_none(),
            "removed, also where `/*` set it"
        );
        let mut headers = HeaderMap::new();
        rules.apply("a.test", "/index.html", &mut headers);
        assert_eq!(headers["x-tag"], "all");
        assert!(headers.get("x-sub").is_none());
    }

    #[test]
    fn invalid_lines_are_skipped_and_named() {
        let (rules, invalid) = HeaderRules::parse(
            "  X-A: 1\n/a\n  X-B: 1\n  no colon\n  Bad Name: 1\n  X-C:\n\
             http://a.test/*\n  X-D: skipped with its path\n/b\n  X-E: 2\n",
        );
        let lines: Vec<usize> = invalid.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [1, 4, 5, 6, 7]);
        assert_eq!(
            invalid[1].1,
            "expected `Name: value` or `! Name`, found \"no colon\""
        );
        let mut headers = HeaderMap::new();
        rules.apply("a.test", "/a", &mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        rules.apply("a.test", "/b", &mut headers);
        assert_eq!(headers["x-e"], "2");
    }
}
