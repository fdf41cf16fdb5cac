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
//! and a removal takes back what earlier rules set.

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
    /// Parses the file; an error is `(line, problem)`.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut rules: Vec<Rule> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let fail = |problem: String| (index + 1, problem);
            if line.len() > MAX_LINE_LENGTH {
                return Err(fail(format!(
                    "the line is longer than {MAX_LINE_LENGTH} characters"
                )));
            }
            // Indentation carries no meaning: a path line starts with `/`
            // or a scheme.
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let absolute = line.starts_with("https://");
            if line.starts_with('/') || absolute {
                if rules.len() == MAX_RULES {
                    return Err(fail(format!(
                        "more than {MAX_RULES} rules; Cloudflare allows {MAX_RULES}"
                    )));
                }
                let pattern = PathPattern::with_placeholders(line).map_err(|e| fail(e.0))?;
                rules.push(Rule {
                    pattern,
                    absolute,
                    set: Vec::new(),
                    remove: Vec::new(),
                });
                continue;
            }
            if line.contains("://") {
                return Err(fail(format!(
                    "{line:?}: an absolute URL rule must use https://"
                )));
            }
            let Some(rule) = rules.last_mut() else {
                return Err(fail(format!(
                    "{line:?} comes before any path: start a rule with a path such as `/*`"
                )));
            };
            let header_name = |name: &str| {
                HeaderName::try_from(name.trim())
                    .map_err(|_| fail(format!("{:?} is not a header name", name.trim())))
            };
            if let Some(name) = line.strip_prefix('!') {
                rule.remove.push(header_name(name)?);
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(fail(format!(
                    "expected `Name: value` or `! Name`, found {line:?}"
                )));
            };
            let name = header_name(name)?;
            if value.trim().is_empty() {
                return Err(fail(format!("{name} has no value")));
            }
            if HeaderValue::try_from(value.trim()).is_err() {
                return Err(fail(format!(
                    "the value of {name} is not a valid header value"
                )));
            }
            rule.set.push((name, value.trim().to_string()));
        }
        Ok(Self { rules })
    }

    /// Applies every rule matching the request (`path`, decoded, on
    /// `host`) to an asset response's headers.
    pub fn apply(&self, host: &str, path: &str, headers: &mut HeaderMap) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules_set_join_and_remove_headers() {
        let rules = HeaderRules::parse(
            "# site headers\n/*\n  X-Frame-Options: DENY\n  X-Tag: all\n\
             /docs/:page\n  X-Tag: page-:page\n  ! X-Frame-Options\n\
             https://:sub.example.com/*\n  X-Sub: :sub\n",
        )
        .unwrap();
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
    fn mistakes_name_their_line() {
        assert_eq!(
            HeaderRules::parse("  X-A: 1\n").unwrap_err().0,
            1,
            "a header before any path"
        );
        assert_eq!(HeaderRules::parse("/a\n  X-A:\n").unwrap_err().0, 2);
        let (line, problem) = HeaderRules::parse("/a\n  X-A: 1\n  no colon\n").unwrap_err();
        assert_eq!(
            (line, problem.as_str()),
            (3, "expected `Name: value` or `! Name`, found \"no colon\"")
        );
        assert_eq!(HeaderRules::parse("/a\n  Bad Name: 1\n").unwrap_err().0, 2);
        assert_eq!(HeaderRules::parse("http://a.test/*\n").unwrap_err().0, 1);
    }
}
