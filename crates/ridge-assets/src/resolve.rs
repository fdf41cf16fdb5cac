//! Which file a path means: the `html_handling` rules (`/page` for
//! `page.html`, `/dir/` for `dir/index.html`, canonicalising 307s) and the
//! `not_found_handling` fallbacks, as Cloudflare's asset server decides
//! them. Paths here are decoded (`/café`), never percent-encoded.

use std::collections::BTreeMap;

use crate::config::{HtmlHandling, NotFoundHandling};
use crate::manifest::ManifestEntry;

pub type Files = BTreeMap<String, ManifestEntry>;

/// What a path resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent<'m> {
    /// This file, with this status (404 for a `404.html` page).
    Serve {
        path: &'m str,
        entry: &'m ManifestEntry,
        status: u16,
    },
    /// A temporary redirect to the canonical path (decoded).
    Redirect(String),
}

/// Resolves `path` under the configured handling; `None` is a miss.
pub fn resolve<'m>(
    files: &'m Files,
    path: &str,
    html: HtmlHandling,
    not_found: NotFoundHandling,
) -> Option<Intent<'m>> {
    Resolver {
        files,
        html,
        not_found,
    }
    .intent(path, false)
}

/// The first candidate that resolves, each tried only when the ones
/// before it did not.
macro_rules! first {
    ($($candidate:expr),+ $(,)?) => {
        None$(.or_else(|| $candidate))+
    };
}

struct Resolver<'m> {
    files: &'m Files,
    html: HtmlHandling,
    not_found: NotFoundHandling,
}

impl<'m> Resolver<'m> {
    fn serve(&self, path: &str) -> Option<Intent<'m>> {
        self.files
            .get_key_value(path)
            .map(|(path, entry)| Intent::Serve {
                path,
                entry,
                status: 200,
            })
    }

    /// A redirect from a request that would get `file` to `destination`,
    /// when `destination` serves that same file (and is not itself a file).
    fn redirect(&self, file: &str, destination: &str, skip: bool) -> Option<Intent<'m>> {
        if skip || self.files.contains_key(destination) {
            return None;
        }
        let wanted = self.files.get(file)?;
        match self.intent(destination, true) {
            Some(Intent::Serve { entry, .. }) if entry.hash == wanted.hash => {
                Some(Intent::Redirect(destination.to_string()))
            }
            _ => None,
        }
    }

    /// The file or redirect for `path`, else the not-found handling's
    /// answer (also when resolving a redirect's destination, as Cloudflare
    /// does).
    fn intent(&self, path: &str, skip: bool) -> Option<Intent<'m>> {
        let found = match self.html {
            HtmlHandling::None => self.serve(path),
            HtmlHandling::AutoTrailingSlash => self.auto(path, skip),
            HtmlHandling::ForceTrailingSlash => self.force(path, skip),
            HtmlHandling::DropTrailingSlash => self.drop(path, skip),
        };
        found.or_else(|| fallback(self.files, path, self.not_found))
    }

    fn auto(&self, path: &str, skip: bool) -> Option<Intent<'m>> {
        let exact = self.serve(path);
        if let Some(base) = path.strip_suffix("/index") {
            if exact.is_some() {
                return exact;
            }
            let found = first!(
                self.redirect(&format!("{path}.html"), &format!("{base}/"), skip),
                self.redirect(&format!("{base}.html"), base, skip),
            );
            if found.is_some() {
                return found;
            }
        } else if let Some(base) = path.strip_suffix("/index.html") {
            let found = first!(
                self.redirect(path, &format!("{base}/"), skip),
                self.redirect(&format!("{base}.html"), base, skip),
            );
            if found.is_some() {
                return found;
            }
        } else if let Some(base) = path.strip_suffix('/') {
            if let Some(index) = self.serve(&format!("{path}index.html")) {
                return Some(index);
            }
            if let Some(found) = self.redirect(&format!("{base}.html"), base, skip) {
                return Some(found);
            }
        } else if let Some(base) = path.strip_suffix(".html") {
            let found = first!(
                self.redirect(path, base, skip),
                self.redirect(&format!("{base}/index.html"), &format!("{base}/"), skip),
            );
            if found.is_some() {
                return found;
            }
        }
        first!(
            exact,
            self.serve(&format!("{path}.html")),
            self.redirect(&format!("{path}/index.html"), &format!("{path}/"), skip),
        )
    }

    fn force(&self, path: &str, skip: bool) -> Option<Intent<'m>> {
        let exact = self.serve(path);
        if let Some(base) = path.strip_suffix("/index") {
            if exact.is_some() {
                return exact;
            }
            let found = first!(
                self.redirect(&format!("{path}.html"), &format!("{base}/"), skip),
                self.redirect(&format!("{base}.html"), &format!("{base}/"), skip),
            );
            if found.is_some() {
                return found;
            }
        } else if let Some(base) = path.strip_suffix("/index.html") {
            let found = first!(
                self.redirect(path, &format!("{base}/"), skip),
                self.redirect(&format!("{base}.html"), &format!("{base}/"), skip),
            );
            if found.is_some() {
                return found;
            }
        } else if let Some(base) = path.strip_suffix('/') {
            let found = first!(
                self.serve(&format!("{path}index.html")),
                self.serve(&format!("{base}.html")),
            );
            if found.is_some() {
                return found;
            }
        } else if let Some(base) = path.strip_suffix(".html") {
            let found = first!(
                self.redirect(path, &format!("{base}/"), skip),
                exact.clone(),
                self.redirect(&format!("{base}/index.html"), &format!("{base}/"), skip),
            );
            if found.is_some() {
                return found;
            }
        }
        first!(
            exact,
            self.redirect(&format!("{path}.html"), &format!("{path}/"), skip),
            self.redirect(&format!("{path}/index.html"), &format!("{path}/"), skip),
        )
    }

    fn drop(&self, path: &str, skip: bool) -> Option<Intent<'m>> {
        let exact = self.serve(path);
        if let Some(base) = path.strip_suffix("/index") {
            if exact.is_some() {
                return exact;
            }
            let found = if base.is_empty() {
                self.redirect("/index.html", "/", skip)
            } else {
                first!(
                    self.redirect(&format!("{base}.html"), base, skip),
                    self.redirect(&format!("{path}.html"), base, skip),
                )
            };
            if found.is_some() {
                return found;
            }
        } else if let Some(base) = path.strip_suffix("/index.html") {
            let found = if base.is_empty() {
                self.redirect("/index.html", "/", skip)
            } else {
                first!(
                    self.redirect(path, base, skip),
                    exact.clone(),
                    self.redirect(&format!("{base}.html"), base, skip),
                )
            };
            if found.is_some() {
                return found;
            }
        } else if path == "/" {
            if let Some(index) = self.serve("/index.html") {
                return Some(index);
            }
        } else if let Some(base) = path.strip_suffix('/') {
            let found = first!(
                self.redirect(&format!("{base}.html"), base, skip),
                self.redirect(&format!("{base}/index.html"), base, skip),
            );
            if found.is_some() {
                return found;
            }
        } else if let Some(base) = path.strip_suffix(".html") {
            let found = first!(
                self.redirect(path, base, skip),
                self.redirect(&format!("{base}/index.html"), base, skip),
            );
            if found.is_some() {
                return found;
            }
        }
        first!(
            exact,
            self.serve(&format!("{path}.html")),
            self.serve(&format!("{path}/index.html")),
        )
    }
}

/// What a miss gets under `not_found_handling`.
fn fallback<'m>(files: &'m Files, path: &str, not_found: NotFoundHandling) -> Option<Intent<'m>> {
    let serve = |candidate: &str, status| {
        files
            .get_key_value(candidate)
            .map(|(path, entry)| Intent::Serve {
                path,
                entry,
                status,
            })
    };
    match not_found {
        NotFoundHandling::None => None,
        NotFoundHandling::SinglePageApplication => serve("/index.html", 200),
        NotFoundHandling::NotFoundPage => {
            // The nearest 404.html, walking up from the path's folder.
            let mut folder = path;
            while let Some(slash) = folder.rfind('/') {
                folder = &folder[..slash];
                if let Some(page) = serve(&format!("{folder}/404.html"), 404) {
                    return Some(page);
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[&str]) -> Files {
        paths
            .iter()
            .map(|path| {
                let entry = ManifestEntry {
                    hash: crate::manifest::content_hash(path.as_bytes()),
                    size: 1,
                };
                (path.to_string(), entry)
            })
            .collect()
    }

    /// What each request resolves to: the file served, `-> location` for a
    /// redirect, `404 file` for a not-found page, `miss`.
    fn outcome(
        files: &Files,
        path: &str,
        html: HtmlHandling,
        not_found: NotFoundHandling,
    ) -> String {
        match resolve(files, path, html, not_found) {
            Some(Intent::Serve {
                path, status: 200, ..
            }) => path.to_string(),
            Some(Intent::Serve { path, status, .. }) => format!("{status} {path}"),
            Some(Intent::Redirect(to)) => format!("-> {to}"),
            None => "miss".into(),
        }
    }

    const SITE: &[&str] = &[
        "/index.html",
        "/about.html",
        "/blog/index.html",
        "/docs/404.html",
        "/404.html",
        "/style.css",
    ];

    #[test]
    fn auto_trailing_slash_serves_pages_at_their_natural_paths() {
        let files = files(SITE);
        let at = |path| {
            outcome(
                &files,
                path,
                HtmlHandling::AutoTrailingSlash,
                NotFoundHandling::None,
            )
        };
        assert_eq!(at("/"), "/index.html");
        assert_eq!(at("/index.html"), "-> /");
        assert_eq!(at("/index"), "-> /");
        assert_eq!(at("/about"), "/about.html");
        assert_eq!(at("/about.html"), "-> /about");
        assert_eq!(at("/about/"), "-> /about");
        assert_eq!(at("/blog"), "-> /blog/");
        assert_eq!(at("/blog/"), "/blog/index.html");
        assert_eq!(at("/blog/index.html"), "-> /blog/");
        assert_eq!(at("/style.css"), "/style.css");
        assert_eq!(at("/nope"), "miss");
    }

    #[test]
    fn force_and_drop_move_every_page_to_one_form() {
        let files = files(SITE);
        let force = |path| {
            outcome(
                &files,
                path,
                HtmlHandling::ForceTrailingSlash,
                NotFoundHandling::None,
            )
        };
        assert_eq!(force("/about"), "-> /about/");
        assert_eq!(force("/about/"), "/about.html");
        assert_eq!(force("/about.html"), "-> /about/");
        assert_eq!(force("/blog"), "-> /blog/");
        let drop = |path| {
            outcome(
                &files,
                path,
                HtmlHandling::DropTrailingSlash,
                NotFoundHandling::None,
            )
        };
        assert_eq!(drop("/"), "/index.html");
        assert_eq!(drop("/blog/"), "-> /blog");
        assert_eq!(drop("/blog"), "/blog/index.html");
        assert_eq!(drop("/about/"), "-> /about");
        assert_eq!(drop("/index.html"), "-> /");
        let none = |path| outcome(&files, path, HtmlHandling::None, NotFoundHandling::None);
        assert_eq!(none("/about"), "miss");
        assert_eq!(none("/about.html"), "/about.html");
    }

    #[test]
    fn misses_fall_back_to_the_app_or_the_nearest_404_page() {
        let files = files(SITE);
        let spa = |path| {
            outcome(
                &files,
                path,
                HtmlHandling::AutoTrailingSlash,
                NotFoundHandling::SinglePageApplication,
            )
        };
        assert_eq!(spa("/settings/profile"), "/index.html");
        let page = |path| {
            outcome(
                &files,
                path,
                HtmlHandling::AutoTrailingSlash,
                NotFoundHandling::NotFoundPage,
            )
        };
        assert_eq!(page("/docs/a/b"), "404 /docs/404.html");
        assert_eq!(page("/x/y"), "404 /404.html");
    }
}
