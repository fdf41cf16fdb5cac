//! Compatibility dates and flags: which Workers behaviours a worker asks
//! for. Each behaviour is decided here once, with the flags and dates of
//! workerd's `compatibility-date.capnp`, for every crate that acts on it
//! (the bundler, the module loader, the bridge's globals).

/// A worker's compatibility date (`YYYY-MM-DD`) and flags, as configured.
#[derive(Clone, Copy, Debug)]
pub struct Compatibility<'a> {
    date: Option<&'a str>,
    flags: &'a [String],
}

/// What `nodejs_compat` turns on for a worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCompat {
    /// `node:*` imports resolve to Ridge's Node.js modules.
    pub modules: bool,
    /// workerd's `nodejs_compat_v2`: imports without the `node:` prefix,
    /// and the `Buffer`, `process`, `global`, `setImmediate` globals.
    pub v2: bool,
    /// `process.env` holds the worker's text vars and secrets.
    pub process_env: bool,
}

impl<'a> Compatibility<'a> {
    pub fn new(date: Option<&'a str>, flags: &'a [String]) -> Self {
        Self { date, flags }
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// Whether the date is on or after `date`.
    fn dated_from(&self, date: &str) -> bool {
        self.date.is_some_and(|d| d >= date)
    }

    /// A behaviour turned on by its flag, or by default from a date, and
    /// off by its disable flag.
    fn on(&self, enable: &str, disable: &str, default_from: Option<&str>) -> bool {
        !self.has(disable) && (self.has(enable) || default_from.is_some_and(|d| self.dated_from(d)))
    }

    pub fn node(&self) -> NodeCompat {
        // `nodejs_compat_v2` alone implies the modules too.
        let modules = self.on("nodejs_compat", "no_nodejs_compat", Some("2026-08-04"))
            || self.on("nodejs_compat_v2", "no_nodejs_compat_v2", None);
        if !modules {
            return NodeCompat::default();
        }
        NodeCompat {
            modules,
            // Implied by nodejs_compat from 2024-09-23.
            v2: self.on(
                "nodejs_compat_v2",
                "no_nodejs_compat_v2",
                Some("2024-09-23"),
            ),
            process_env: self.process_env(),
        }
    }

    fn process_env(&self) -> bool {
        self.on(
            "nodejs_compat_populate_process_env",
            "nodejs_compat_do_not_populate_process_env",
            Some("2025-04-01"),
        )
    }

    /// Queue messages are sent as JSON unless the send names another
    /// content type (`queues_json_messages`, on from 2024-03-18); V8's
    /// serialization otherwise.
    pub fn queues_json_messages(&self) -> bool {
        self.on(
            "queues_json_messages",
            "no_queues_json_messages",
            Some("2024-03-18"),
        )
    }

    /// Navigations that miss get the assets' not-found handling before the
    /// worker: `assets_navigation_prefers_asset_serving`, on from
    /// 2025-04-01 unless `assets_navigation_has_no_effect`.
    pub fn navigation_prefers_assets(&self) -> bool {
        self.on(
            "assets_navigation_prefers_asset_serving",
            "assets_navigation_has_no_effect",
            Some("2025-04-01"),
        )
    }
}

/// The Node.js built-in modules Ridge provides under `nodejs_compat`, by
/// their name after `node:`. Those Workers do not implement (Cloudflare
/// lets them import, and their functions throw) are in
/// [`NODE_UNSUPPORTED_MODULES`].
pub const NODE_MODULES: &[&str] = &[
    "_stream_duplex",
    "_stream_passthrough",
    "_stream_readable",
    "_stream_transform",
    "_stream_writable",
    "assert",
    "assert/strict",
    "async_hooks",
    "buffer",
    "constants",
    "crypto",
    "diagnostics_channel",
    "dns",
    "dns/promises",
    "events",
    "http",
    "http2",
    "https",
    "module",
    "net",
    "os",
    "path",
    "path/posix",
    "path/win32",
    "process",
    "punycode",
    "querystring",
    "stream",
    "stream/consumers",
    "stream/promises",
    "stream/web",
    "string_decoder",
    "sys",
    "timers",
    "timers/promises",
    "tls",
    "url",
    "util",
    "util/types",
    "zlib",
];

/// Node.js modules that import but whose functions throw (as on workerd).
pub const NODE_UNSUPPORTED_MODULES: &[&str] = &[
    "child_process",
    "cluster",
    "dgram",
    "fs",
    "fs/promises",
    "inspector",
    "inspector/promises",
    "readline",
    "readline/promises",
    "repl",
    "trace_events",
    "tty",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
];

/// Whether `name` (after `node:`) is a module Ridge provides.
pub fn is_node_module(name: &str) -> bool {
    NODE_MODULES.contains(&name) || NODE_UNSUPPORTED_MODULES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(date: &str, flags: &[&str]) -> NodeCompat {
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        Compatibility::new(Some(date), &flags).node()
    }

    #[test]
    fn nodejs_compat_follows_workerds_flags_and_dates() {
        assert_eq!(node("2025-09-01", &[]), NodeCompat::default());
        let full = NodeCompat {
            modules: true,
            v2: true,
            process_env: true,
        };
        assert_eq!(node("2025-09-01", &["nodejs_compat"]), full);
        // Before 2024-09-23 the flag gives the modules alone (v1).
        assert_eq!(
            node("2024-01-01", &["nodejs_compat"]),
            NodeCompat {
                modules: true,
                ..NodeCompat::default()
            }
        );
        assert!(node("2024-01-01", &["nodejs_compat", "nodejs_compat_v2"]).v2);
        assert!(!node("2025-09-01", &["nodejs_compat", "no_nodejs_compat_v2"]).v2);
        // process.env from 2025-04-01, unless turned off.
        assert!(!node("2025-03-31", &["nodejs_compat"]).process_env);
        assert!(
            !node(
                "2025-09-01",
                &["nodejs_compat", "nodejs_compat_do_not_populate_process_env"]
            )
            .process_env
        );
        // On by default from 2026-08-04, and `no_nodejs_compat` turns it off.
        assert_eq!(node("2026-08-04", &[]), full);
        assert_eq!(
            node("2026-09-01", &["no_nodejs_compat"]),
            NodeCompat::default()
        );
    }
}
