//! Routes requests to workers by host and path, with Cloudflare's route
//! patterns: `example.com/*`, `*.example.com/*`, `example.com/api/*`. The
//! most specific pattern wins: an exact host beats a wildcard host, then the
//! longer path prefix wins.

use std::sync::Arc;

use ridge_runtime::worker::WorkerVersion;

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("invalid route {pattern:?} for worker {worker:?}: {reason}")]
    Invalid {
        pattern: String,
        worker: String,
        reason: &'static str,
    },
    /// Two workers may not claim the same route: which one served it would
    /// depend on the order they were loaded in.
    #[error("route {pattern:?} of worker {worker:?} is already worker {owner:?}'s; remove it there first")]
    Taken {
        pattern: String,
        worker: String,
        owner: String,
    },
}

#[derive(Debug, Clone)]
struct Route {
    /// The pattern as written, for log records.
    pattern: Arc<str>,
    /// Host to match, lowercase, without a `*.` prefix.
    host: String,
    /// `*.example.com`: any subdomain of `host` (not `host` itself).
    wildcard_host: bool,
    /// Path prefix when the pattern ends in `*`, else the exact path.
    path: String,
    prefix: bool,
    worker: Arc<WorkerVersion>,
}

impl Route {
    fn parse(pattern: &str, worker: Arc<WorkerVersion>) -> Result<Self, RouteError> {
        let (host, wildcard_host, path, prefix) =
            Self::parse_pattern(pattern).map_err(|reason| RouteError::Invalid {
                pattern: pattern.to_string(),
                worker: worker.name.clone(),
                reason,
            })?;
        Ok(Self {
            pattern: Arc::from(pattern),
            host,
            wildcard_host,
            path,
            prefix,
            worker,
        })
    }

    /// Splits a pattern into (host, wildcard host?, path, path prefix?).
    fn parse_pattern(pattern: &str) -> Result<(String, bool, String, bool), &'static str> {
        let without_scheme = pattern
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let Some(slash) = without_scheme.find('/') else {
            return Err("a route needs a path, e.g. \"example.com/*\"");
        };
        let (host, path) = without_scheme.split_at(slash);
        let (wildcard_host, host) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        if host.is_empty() || host.contains('*') {
            return Err("the host may only use '*' as a leading \"*.\"");
        }
        let (prefix, path) = match path.strip_suffix('*') {
            Some(rest) => (true, rest),
            None => (false, path),
        };
        if path.contains('*') {
            return Err("the path may only use '*' at its end");
        }
        Ok((
            host.to_ascii_lowercase(),
            wildcard_host,
            path.to_string(),
            prefix,
        ))
    }

    /// What the route matches, whichever way its pattern was written.
    fn key(&self) -> (&str, bool, &str, bool) {
        (&self.host, self.wildcard_host, &self.path, self.prefix)
    }

    fn matches(&self, host: &str, path: &str) -> bool {
        let host_ok = if self.wildcard_host {
            host.len() > self.host.len() + 1
                && host.ends_with(&self.host)
                && host[..host.len() - self.host.len()].ends_with('.')
        } else {
            host == self.host
        };
        host_ok
            && if self.prefix {
                path.starts_with(&self.path)
            } else {
                path == self.path
            }
    }

    /// Orders routes from most to least specific.
    fn specificity(&self) -> (bool, usize, usize, bool) {
        (
            !self.wildcard_host,
            self.host.len(),
            self.path.len(),
            !self.prefix,
        )
    }
}

/// Removes each route a worker claims after another worker did; returns
/// what was removed, as errors naming both.
fn remove_taken(routes: &mut Vec<Route>) -> Vec<RouteError> {
    let mut owners: std::collections::HashMap<(String, bool, String, bool), String> =
        std::collections::HashMap::new();
    let mut taken = Vec::new();
    routes.retain(|route| {
        let (host, wildcard, path, prefix) = route.key();
        let key = (host.to_string(), wildcard, path.to_string(), prefix);
        match owners.get(&key) {
            Some(owner) if *owner != route.worker.name => {
                taken.push(RouteError::Taken {
                    pattern: route.pattern.to_string(),
                    worker: route.worker.name.clone(),
                    owner: owner.clone(),
                });
                false
            }
            Some(_) => true,
            None => {
                owners.insert(key, route.worker.name.clone());
                true
            }
        }
    });
    taken
}

/// Checks a route pattern; the error says what is wrong with it.
pub fn validate_route(pattern: &str) -> Result<(), &'static str> {
    Route::parse_pattern(pattern).map(drop)
}

/// The routing table of a node.
#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<Route>,
    /// `<worker name>.<base domain>` reaches a worker without routes.
    base_domain: Option<String>,
    by_name: Vec<Arc<WorkerVersion>>,
    /// Serves every request (`ridge dev`).
    catch_all: Option<Arc<WorkerVersion>>,
}

impl Router {
    /// A router that sends everything to one worker.
    pub fn single(worker: Arc<WorkerVersion>) -> Self {
        Self {
            catch_all: Some(worker),
            ..Default::default()
        }
    }

    /// `ridge dev`'s table: everything to the first of `served` (the
    /// project given first), when it loaded; the others are reached only
    /// by name, through service bindings.
    pub fn dev(served: &[Option<Arc<WorkerVersion>>]) -> Self {
        Self {
            catch_all: served.first().cloned().flatten(),
            by_name: served.iter().skip(1).flatten().cloned().collect(),
            ..Default::default()
        }
    }

    /// The table for `workers`; a route two workers claim is an error.
    pub fn new(
        workers: Vec<Arc<WorkerVersion>>,
        base_domain: Option<String>,
    ) -> Result<Self, RouteError> {
        let (router, mut taken) = Self::keeping_first(workers, base_domain)?;
        match taken.is_empty() {
            true => Ok(router),
            false => Err(taken.remove(0)),
        }
    }

    /// The table for `workers`, where a route two workers claim stays with
    /// the first (a store's workers come in name order); the others' claims
    /// are returned. A node serving a store uses this: one conflicting
    /// version must not stop it from serving every other.
    pub fn keeping_first(
        workers: Vec<Arc<WorkerVersion>>,
        base_domain: Option<String>,
    ) -> Result<(Self, Vec<RouteError>), RouteError> {
        let mut routes = Vec::new();
        for worker in &workers {
            for pattern in &worker.routes {
                routes.push(Route::parse(pattern, worker.clone())?);
            }
        }
        let taken = remove_taken(&mut routes);
        routes.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
        let router = Self {
            routes,
            base_domain: base_domain.map(|d| d.to_ascii_lowercase()),
            by_name: workers,
            catch_all: None,
        };
        Ok((router, taken))
    }

    /// The worker for a request's host (without port) and path, and the
    /// route pattern that chose it.
    pub fn route(&self, host: &str, path: &str) -> Option<(Arc<WorkerVersion>, Arc<str>)> {
        if let Some(worker) = &self.catch_all {
            return Some((worker.clone(), Arc::from("*")));
        }
        let host: std::borrow::Cow<str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            host.to_ascii_lowercase().into()
        } else {
            host.into()
        };
        if let Some(route) = self.routes.iter().find(|r| r.matches(&host, path)) {
            return Some((route.worker.clone(), route.pattern.clone()));
        }
        let base = self.base_domain.as_deref()?;
        let name = host.strip_suffix(base)?.strip_suffix('.')?;
        let worker = self.by_name.iter().find(|w| w.name == name)?;
        Some((worker.clone(), Arc::from(format!("{name}.{base}/*"))))
    }

    /// Every worker in the table.
    pub fn workers(&self) -> impl Iterator<Item = &Arc<WorkerVersion>> {
        self.catch_all.iter().chain(self.by_name.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(name: &str, routes: &[&str]) -> Arc<WorkerVersion> {
        WorkerVersion::from_module(name, "export default {}", routes)
    }

    fn routed(router: &Router, host: &str, path: &str) -> Option<(String, String)> {
        router
            .route(host, path)
            .map(|(worker, pattern)| (worker.name.clone(), pattern.to_string()))
    }

    #[test]
    fn the_most_specific_route_wins() {
        let router = Router::new(
            vec![
                worker("site", &["example.com/*"]),
                worker("api", &["example.com/api/*"]),
                worker("any", &["*.example.com/*"]),
                worker("exact", &["example.com/health"]),
            ],
            None,
        )
        .unwrap();
        let pick = |host, path| routed(&router, host, path).map(|(name, _)| name);
        assert_eq!(pick("example.com", "/"), Some("site".into()));
        assert_eq!(pick("example.com", "/api/users"), Some("api".into()));
        assert_eq!(pick("EXAMPLE.com", "/api/users"), Some("api".into()));
        assert_eq!(pick("example.com", "/health"), Some("exact".into()));
        assert_eq!(pick("example.com", "/health/deep"), Some("site".into()));
        // A wildcard host matches subdomains, not the domain itself.
        assert_eq!(pick("a.b.example.com", "/"), Some("any".into()));
        assert_eq!(pick("badexample.com", "/"), None);
        assert_eq!(
            routed(&router, "example.com", "/api/x"),
            Some(("api".into(), "example.com/api/*".into()))
        );
    }

    #[test]
    fn workers_without_routes_answer_on_the_base_domain() {
        let router = Router::new(vec![worker("hello", &[])], Some("Workers.Test".into())).unwrap();
        assert_eq!(
            routed(&router, "hello.workers.test", "/x"),
            Some(("hello".into(), "hello.workers.test/*".into()))
        );
        assert_eq!(routed(&router, "other.workers.test", "/"), None);
        assert_eq!(routed(&router, "workers.test", "/"), None);
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        assert!(validate_route("example.com/*").is_ok());
        assert!(validate_route("https://*.example.com/api/*").is_ok());
        assert_eq!(
            validate_route("example.com"),
            Err("a route needs a path, e.g. \"example.com/*\"")
        );
        assert!(validate_route("ex*ample.com/*").is_err());
        assert!(validate_route("example.com/*/x").is_err());
        let error = Router::new(vec![worker("w", &["nope"])], None).unwrap_err();
        assert!(error.to_string().contains("worker \"w\""), "{error}");
    }
}
