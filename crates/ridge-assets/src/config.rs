//! The `assets` section of a worker's configuration, as wrangler reads it,
//! and the settings a version keeps of it: how HTML paths are canonicalised,
//! what a miss answers, and which paths reach the worker first.

use serde::{Deserialize, Serialize};

use crate::pattern::{PathPattern, PatternError};

/// How `/page`, `/page/` and `/page.html` map onto files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HtmlHandling {
    /// `/page.html` is served at `/page`, `/dir/index.html` at `/dir/`.
    #[default]
    AutoTrailingSlash,
    /// Every HTML page is served at a path ending in `/`.
    ForceTrailingSlash,
    /// Every HTML page is served at a path without a trailing `/`.
    DropTrailingSlash,
    /// Paths are file names, nothing more.
    None,
}

/// What a path that matches no file answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotFoundHandling {
    /// A 404 (or the worker, when there is one).
    #[default]
    None,
    /// `/index.html` with 200, for client-side routing.
    SinglePageApplication,
    /// The nearest `404.html` up the path, with 404.
    #[serde(rename = "404-page")]
    NotFoundPage,
}

/// `run_worker_first`: `true` (every request), or path rules with `*` and
/// negations (`!/api/public/*`), which win over the positive rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunWorkerFirst {
    Always(bool),
    Rules(Vec<String>),
}

impl Default for RunWorkerFirst {
    fn default() -> Self {
        Self::Always(false)
    }
}

/// What a version keeps of its `assets` section (the directory itself is
/// a client-side concern: its content arrives as the manifest).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetSettings {
    /// The name under which `env` holds the assets (`env.ASSETS.fetch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    #[serde(default)]
    pub html_handling: HtmlHandling,
    #[serde(default)]
    pub not_found_handling: NotFoundHandling,
    #[serde(default)]
    pub run_worker_first: RunWorkerFirst,
}

/// The `assets` section as written in wrangler's configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetsSection {
    /// The folder whose files are served, relative to the configuration.
    #[serde(default)]
    pub directory: Option<String>,
    #[serde(default)]
    pub binding: Option<String>,
    #[serde(default)]
    pub html_handling: HtmlHandling,
    #[serde(default)]
    pub not_found_handling: NotFoundHandling,
    #[serde(default)]
    pub run_worker_first: RunWorkerFirst,
    /// Wrangler's older spelling of `run_worker_first = false` (inverted).
    #[serde(default)]
    pub experimental_serve_directly: Option<bool>,
}

impl AssetsSection {
    /// The settings a version keeps.
    pub fn settings(&self) -> AssetSettings {
        let run_worker_first = match (&self.run_worker_first, self.experimental_serve_directly) {
            (RunWorkerFirst::Always(false), Some(serve_directly)) => {
                RunWorkerFirst::Always(!serve_directly)
            }
            (rules, _) => rules.clone(),
        };
        AssetSettings {
            binding: self.binding.clone(),
            html_handling: self.html_handling,
            not_found_handling: self.not_found_handling,
            run_worker_first,
        }
    }
}

/// Most `run_worker_first` rules, as on Cloudflare.
pub const MAX_RUN_WORKER_FIRST_RULES: usize = 100;

/// `run_worker_first` made ready to match paths.
#[derive(Clone, Debug)]
pub enum WorkerFirst {
    Never,
    Always,
    Rules {
        include: Vec<PathPattern>,
        exclude: Vec<PathPattern>,
    },
}

impl WorkerFirst {
    /// Parses the rules; the error names the rule (`run_worker_first[2]`).
    pub fn new(setting: &RunWorkerFirst) -> Result<Self, (String, PatternError)> {
        let rules = match setting {
            RunWorkerFirst::Always(false) => return Ok(Self::Never),
            RunWorkerFirst::Always(true) => return Ok(Self::Always),
            RunWorkerFirst::Rules(rules) => rules,
        };
        if rules.len() > MAX_RUN_WORKER_FIRST_RULES {
            return Err((
                "run_worker_first".into(),
                PatternError(format!(
                    "has {} rules; at most {MAX_RUN_WORKER_FIRST_RULES} are allowed",
                    rules.len()
                )),
            ));
        }
        if rules.is_empty() {
            return Err((
                "run_worker_first".into(),
                PatternError("has no rules; give at least one path, or `true`".into()),
            ));
        }
        let (mut include, mut exclude) = (Vec::new(), Vec::new());
        for (index, rule) in rules.iter().enumerate() {
            let fail = |problem: String| {
                Err((format!("run_worker_first[{index}]"), PatternError(problem)))
            };
            let (list, text) = match rule.strip_prefix('!') {
                Some(negated) => (&mut exclude, negated),
                None => (&mut include, rule.as_str()),
            };
            if !text.starts_with('/') {
                return fail(format!(
                    "{rule:?} must start with `/` (or `!/` to exclude paths)"
                ));
            }
            if rule.len() > 100 {
                return fail(format!("{rule:?} is longer than 100 characters"));
            }
            match PathPattern::glob(text) {
                Ok(pattern) => list.push(pattern),
                Err(problem) => return fail(problem.0),
            }
        }
        if include.is_empty() {
            return Err((
                "run_worker_first".into(),
                PatternError(
                    "has only negative rules; add at least one path for the worker".into(),
                ),
            ));
        }
        Ok(Self::Rules { include, exclude })
    }

    /// Whether there are path rules (which, as on Cloudflare, keep the
    /// not-found handling for every request the worker does not take).
    pub fn has_rules(&self) -> bool {
        matches!(self, Self::Rules { .. })
    }

    /// Where a request for `path` (percent-encoded, as sent) must go:
    /// `Some(true)` to the worker, `Some(false)` to the assets (a negative
    /// rule), `None` when the rules do not say.
    pub fn decide(&self, path: &str) -> Option<bool> {
        match self {
            Self::Never => None,
            Self::Always => Some(true),
            Self::Rules { include, exclude } => {
                if exclude.iter().any(|rule| rule.matches(path).is_some()) {
                    Some(false)
                } else if include.iter().any(|rule| rule.matches(path).is_some()) {
                    Some(true)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negated_rules_win_over_positive_ones() {
        let rules = WorkerFirst::new(&RunWorkerFirst::Rules(vec![
            "/api/*".into(),
            "!/api/public/*".into(),
        ]))
        .unwrap();
        assert_eq!(rules.decide("/api/users"), Some(true));
        assert_eq!(rules.decide("/api/"), Some(true));
        assert_eq!(rules.decide("/api"), None);
        assert_eq!(rules.decide("/api/public/logo.svg"), Some(false));
        assert_eq!(rules.decide("/index.html"), None);
    }

    #[test]
    fn the_settings_are_read_as_wrangler_writes_them() {
        let section: AssetsSection = serde_json::from_str(
            r#"{"directory": "./dist", "binding": "ASSETS", "html_handling": "drop-trailing-slash",
                "not_found_handling": "404-page", "run_worker_first": ["/api/*"]}"#,
        )
        .unwrap();
        let settings = section.settings();
        assert_eq!(settings.html_handling, HtmlHandling::DropTrailingSlash);
        assert_eq!(settings.not_found_handling, NotFoundHandling::NotFoundPage);
        assert_eq!(
            settings.run_worker_first,
            RunWorkerFirst::Rules(vec!["/api/*".into()])
        );
        let error = WorkerFirst::new(&RunWorkerFirst::Rules(vec!["api/*".into()])).unwrap_err();
        assert_eq!(error.0, "run_worker_first[0]");
        let error = WorkerFirst::new(&RunWorkerFirst::Rules(vec!["!/x".into()])).unwrap_err();
        assert!(error.1.to_string().contains("only negative"), "{}", error.1);
    }
}
