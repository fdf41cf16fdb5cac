//! Path patterns as `_headers`, `_redirects` and `run_worker_first` write
//! them: literal text, `*` (a splat: any characters, `/` included) and, in
//! the project files, `:name` placeholders (one path segment).

/// A pattern that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(String),
    Splat,
    Placeholder(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    tokens: Vec<Token>,
}

/// What a match captured: `splat` for `*`, and each placeholder by name.
pub type Captures = Vec<(String, String)>;

impl PathPattern {
    /// A pattern with `*` only (`run_worker_first`).
    pub fn glob(text: &str) -> Result<Self, PatternError> {
        Self::parse(text, false)
    }

    /// A pattern with `*` and `:name` placeholders (`_headers`, `_redirects`).
    pub fn with_placeholders(text: &str) -> Result<Self, PatternError> {
        Self::parse(text, true)
    }

    fn parse(text: &str, placeholders: bool) -> Result<Self, PatternError> {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        let mut splats = 0;
        while let Some(c) = chars.next() {
            let placeholder_start = placeholders
                && c == ':'
                && (literal.ends_with('/') || literal.ends_with('.') || literal.is_empty())
                && chars.peek().is_some_and(|n| n.is_ascii_alphabetic());
            if c == '*' || placeholder_start {
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                if c == '*' {
                    splats += 1;
                    tokens.push(Token::Splat);
                } else {
                    let mut name = String::new();
                    while let Some(n) = chars.next_if(|n| n.is_ascii_alphanumeric() || *n == '_') {
                        name.push(n);
                    }
                    if name == "splat" {
                        return Err(PatternError(
                            "`:splat` is reserved for what `*` matches".into(),
                        ));
                    }
                    tokens.push(Token::Placeholder(name));
                }
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        if splats > 1 {
            return Err(PatternError(format!(
                "{text:?} has {splats} `*`; a pattern may have one"
            )));
        }
        Ok(Self { tokens })
    }

    /// Whether the pattern is plain text (no `*`, no placeholder).
    pub fn is_static(&self) -> bool {
        self.tokens.iter().all(|t| matches!(t, Token::Literal(_)))
    }

    /// The captures when `path` matches the whole pattern.
    pub fn matches(&self, path: &str) -> Option<Captures> {
        let mut captures = Vec::new();
        match_tokens(&self.tokens, path, &mut captures).then_some(captures)
    }
}

fn match_tokens(tokens: &[Token], rest: &str, captures: &mut Captures) -> bool {
    let Some((first, others)) = tokens.split_first() else {
        return rest.is_empty();
    };
    match first {
        Token::Literal(text) => {
            rest.starts_with(text.as_str()) && match_tokens(others, &rest[text.len()..], captures)
        }
        Token::Splat | Token::Placeholder(_) => {
            // A placeholder is one non-empty segment; a splat anything.
            let end = match first {
                Token::Splat => rest.len(),
                _ => rest.find('/').unwrap_or(rest.len()),
            };
            let shortest = usize::from(matches!(first, Token::Placeholder(_)));
            // Longest first, as a greedy regular expression would.
            for cut in (shortest..=end)
                .rev()
                .filter(|cut| rest.is_char_boundary(*cut))
            {
                let mark = captures.len();
                if match_tokens(others, &rest[cut..], captures) {
                    let name = match first {
                        Token::Placeholder(name) => name.clone(),
                        _ => "splat".into(),
                    };
                    captures.insert(mark, (name, rest[..cut].to_string()));
                    return true;
                }
                captures.truncate(mark);
            }
            false
        }
    }
}

/// `template` with `:name` (and `:splat`) replaced by what was captured.
pub fn substitute(template: &str, captures: &Captures) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(colon) = rest.find(':') {
        out.push_str(&rest[..colon]);
        let after = &rest[colon + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        match captures.iter().find(|(name, _)| name == &after[..name_len]) {
            Some((_, value)) if name_len > 0 => {
                out.push_str(value);
                rest = &after[name_len..];
            }
            _ => {
                out.push(':');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splats_and_placeholders_capture_what_they_match() {
        let pattern = PathPattern::with_placeholders("/blog/:year/:slug/*").unwrap();
        let captures = pattern.matches("/blog/2024/hello/a/b").unwrap();
        assert_eq!(
            captures,
            [
                ("year".to_string(), "2024".to_string()),
                ("slug".into(), "hello".into()),
                ("splat".into(), "a/b".into())
            ]
        );
        assert_eq!(
            substitute("/posts/:slug?y=:year&rest=:splat", &captures),
            "/posts/hello?y=2024&rest=a/b"
        );
        assert!(pattern.matches("/blog/2024").is_none());
        assert!(PathPattern::with_placeholders("/a/:x")
            .unwrap()
            .matches("/a/")
            .is_none());
    }

    #[test]
    fn globs_take_colons_literally_and_allow_one_splat() {
        let glob = PathPattern::glob("/a:b/*").unwrap();
        assert!(glob.matches("/a:b/c/d").is_some());
        assert!(PathPattern::glob("/*/x/*").is_err());
        assert!(PathPattern::glob("/exact").unwrap().is_static());
    }
}
