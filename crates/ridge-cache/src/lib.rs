//! The Cache API's storage (`caches.default`, `caches.open(name)`): which
//! responses may be stored and for how long, following HTTP caching rules
//! as Cloudflare applies them, kept in a byte-bounded moka cache per node.
//! Each worker sees only its own caches. `ridge dev` also keeps the cache
//! in a SQLite file under `.ridge/state`, so it survives restarts. Nothing
//! here touches V8.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use moka::sync::Cache;

use ridge_core::ttl::{EntryTtl, HasTtl};

/// How long a response without `Cache-Control` max-age or `Expires` stays,
/// as Cloudflare's default edge TTL for cacheable statuses.
pub const DEFAULT_TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// Longer freshness is capped to a year (and absurd values cannot overflow).
const MAX_TTL_SECONDS: u64 = 365 * 24 * 60 * 60;

/// A response as the cache keeps it.
#[derive(Clone, Debug)]
pub struct StoredResponse {
    pub status: u16,
    pub status_text: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub ttl: Duration,
}

impl StoredResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether an `If-None-Match` request header matches this response's
    /// ETag (weak comparison, as for GET).
    pub fn matches_etag(&self, if_none_match: &str) -> bool {
        let Some(etag) = self.header("etag") else {
            return false;
        };
        let strip = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
        if_none_match.trim() == "*"
            || if_none_match
                .split(',')
                .any(|candidate| strip(candidate) == strip(etag))
    }
}

/// Why a response cannot be put in the cache at all (a JS `TypeError`).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PutError {
    #[error("Cannot cache a response to a {0} request: only GET requests are cached")]
    NotGet(String),
    #[error("Cannot cache a 206 Partial Content response")]
    Partial,
    #[error("Cannot cache a response with 'Vary: *'")]
    VaryStar,
}

/// Checks the request method and response before the body is read.
pub fn check_put(method: &str, status: u16, headers: &[(String, String)]) -> Result<(), PutError> {
    if !method.eq_ignore_ascii_case("GET") {
        return Err(PutError::NotGet(method.to_string()));
    }
    if status == 206 {
        return Err(PutError::Partial);
    }
    let vary_star = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("vary") && value.split(',').any(|v| v.trim() == "*")
    });
    if vary_star {
        return Err(PutError::VaryStar);
    }
    Ok(())
}

/// How long a response may be stored, or `None` when it must not be:
/// `Set-Cookie`, `Cache-Control: no-store`/`private`/`no-cache`, a zero or
/// past freshness. `s-maxage` wins over `max-age`, which wins over `Expires`.
pub fn storage_ttl(headers: &[(String, String)], now: SystemTime) -> Option<Duration> {
    fn values<'a>(
        headers: &'a [(String, String)],
        wanted: &'static str,
    ) -> impl Iterator<Item = &'a str> {
        headers
            .iter()
            .filter(move |(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.as_str())
    }
    if values(headers, "set-cookie").next().is_some() {
        return None;
    }
    let mut max_age = None;
    let mut shared_max_age = None;
    for directive in values(headers, "cache-control").flat_map(|v| v.split(',')) {
        let (name, argument) = match directive.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        let seconds = || argument.and_then(|a| a.parse::<u64>().ok());
        match name.to_ascii_lowercase().as_str() {
            "no-store" | "private" | "no-cache" => return None,
            "max-age" => max_age = seconds(),
            "s-maxage" => shared_max_age = seconds(),
            _ => {}
        }
    }
    if let Some(seconds) = shared_max_age.or(max_age) {
        return (seconds > 0).then(|| Duration::from_secs(seconds.min(MAX_TTL_SECONDS)));
    }
    if let Some(expires) = values(headers, "expires").next() {
        let at = httpdate::parse_http_date(expires).ok()?;
        return at
            .duration_since(now)
            .ok()
            .filter(|d| !d.is_zero())
            .map(|d| d.min(Duration::from_secs(MAX_TTL_SECONDS)));
    }
    Some(DEFAULT_TTL)
}

impl HasTtl for StoredResponse {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// The node's Cache API storage.
pub struct HttpCache {
    entries: Cache<String, Arc<StoredResponse>>,
    max_entry_bytes: usize,
    /// Where `ridge dev` persists the cache, opened on first use.
    disk: Option<DiskCache>,
}

/// A SQLite file holding cached responses with their expiry time.
struct DiskCache {
    path: std::path::PathBuf,
    connection: std::sync::OnceLock<Option<std::sync::Mutex<rusqlite::Connection>>>,
}

impl DiskCache {
    fn connection(&self) -> Option<std::sync::MutexGuard<'_, rusqlite::Connection>> {
        let connection = self.connection.get_or_init(|| {
            let open = || -> rusqlite::Result<rusqlite::Connection> {
                if let Some(dir) = self.path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let connection = rusqlite::Connection::open(&self.path)?;
                connection.busy_timeout(Duration::from_secs(5))?;
                connection.execute_batch(
                    "PRAGMA journal_mode = WAL;
                     CREATE TABLE IF NOT EXISTS cache_entries (
                        key TEXT PRIMARY KEY, status INTEGER NOT NULL, status_text TEXT NOT NULL,
                        headers TEXT NOT NULL, body BLOB NOT NULL, expires_at INTEGER NOT NULL);",
                )?;
                connection.execute(
                    "DELETE FROM cache_entries WHERE expires_at <= ?1",
                    [unix_ms(SystemTime::now())],
                )?;
                Ok(connection)
            };
            match open() {
                Ok(connection) => Some(std::sync::Mutex::new(connection)),
                Err(error) => {
                    tracing::warn!(path = %self.path.display(), %error, "the Cache API will not persist");
                    None
                }
            }
        });
        connection
            .as_ref()
            .map(|c| c.lock().expect("cache file lock"))
    }
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn entry_key(scope: &str, cache: &str, url: &str) -> String {
    format!("{scope}\0{cache}\0{url}")
}

impl HttpCache {
    pub fn new(capacity_bytes: u64) -> Arc<Self> {
        let entries = Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|key: &String, value: &Arc<StoredResponse>| {
                let headers: usize = value.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
                (key.len() + headers + value.body.len() + 64)
                    .try_into()
                    .unwrap_or(u32::MAX)
            })
            .expire_after(EntryTtl)
            .build();
        Arc::new(Self {
            entries,
            // One response may take at most a quarter of the cache.
            max_entry_bytes: (capacity_bytes / 4) as usize,
            disk: None,
        })
    }

    /// A cache that also keeps what it stores in the SQLite file `path`.
    pub fn persistent(capacity_bytes: u64, path: std::path::PathBuf) -> Arc<Self> {
        let mut cache = Arc::into_inner(Self::new(capacity_bytes)).expect("a fresh cache");
        cache.disk = Some(DiskCache {
            path,
            connection: std::sync::OnceLock::new(),
        });
        Arc::new(cache)
    }

    /// The largest body worth reading for `put`.
    pub fn max_entry_bytes(&self) -> usize {
        self.max_entry_bytes
    }

    pub fn get(&self, scope: &str, cache: &str, url: &str) -> Option<Arc<StoredResponse>> {
        let key = entry_key(scope, cache, url);
        if let Some(found) = self.entries.get(&key) {
            return Some(found);
        }
        let disk = self.disk.as_ref()?.connection()?;
        let now = SystemTime::now();
        let row = disk
            .query_row(
                "SELECT status, status_text, headers, body, expires_at FROM cache_entries
                 WHERE key = ?1 AND expires_at > ?2",
                rusqlite::params![key, unix_ms(now)],
                |row| {
                    Ok((
                        row.get::<_, u16>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                        row.get::<_, i64>(4)?,
                    ))
                },
            )
            .ok()?;
        let (status, status_text, headers, body, expires_at) = row;
        let response = Arc::new(StoredResponse {
            status,
            status_text,
            headers: serde_json::from_str(&headers).ok()?,
            body: body.into(),
            ttl: Duration::from_millis((expires_at - unix_ms(now)).max(1) as u64),
        });
        self.entries.insert(key, response.clone());
        Some(response)
    }

    /// Stores a response whose `ttl` came from [`storage_ttl`].
    pub fn put(&self, scope: &str, cache: &str, url: &str, response: StoredResponse) {
        let key = entry_key(scope, cache, url);
        if let Some(disk) = self.disk.as_ref().and_then(DiskCache::connection) {
            let expires_at = unix_ms(SystemTime::now() + response.ttl);
            let written = disk.execute(
                "INSERT OR REPLACE INTO cache_entries (key, status, status_text, headers, body, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    key,
                    response.status,
                    response.status_text,
                    serde_json::to_string(&response.headers).unwrap_or_default(),
                    &response.body[..],
                    expires_at
                ],
            );
            if let Err(error) = written {
                tracing::warn!(%error, "a cached response was not written to disk");
            }
        }
        self.entries.insert(key, Arc::new(response));
    }

    /// Whether there was something to delete.
    pub fn delete(&self, scope: &str, cache: &str, url: &str) -> bool {
        let key = entry_key(scope, cache, url);
        let on_disk = self
            .disk
            .as_ref()
            .and_then(DiskCache::connection)
            .and_then(|disk| {
                disk.execute("DELETE FROM cache_entries WHERE key = ?1", [&key])
                    .ok()
            })
            .is_some_and(|deleted| deleted > 0);
        self.entries.remove(&key).is_some() || on_disk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn freshness_follows_cache_control() {
        let now = SystemTime::now();
        let ttl = |pairs: &[(&str, &str)]| storage_ttl(&headers(pairs), now);
        assert_eq!(
            ttl(&[("Cache-Control", "public, max-age=60")]),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            ttl(&[("cache-control", "max-age=60, s-maxage=600")]),
            Some(Duration::from_secs(600))
        );
        assert_eq!(ttl(&[("cache-control", "no-store")]), None);
        assert_eq!(ttl(&[("cache-control", "private, max-age=60")]), None);
        assert_eq!(ttl(&[("cache-control", "max-age=0")]), None);
        assert_eq!(
            ttl(&[("cache-control", "max-age=60"), ("set-cookie", "a=b")]),
            None
        );
        assert_eq!(ttl(&[]), Some(DEFAULT_TTL));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(3600));
        let expires = ttl(&[("expires", &later)]).unwrap();
        assert!(expires <= Duration::from_secs(3600) && expires > Duration::from_secs(3590));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(10));
        assert_eq!(ttl(&[("expires", &past)]), None);
    }

    #[test]
    fn only_cacheable_requests_are_accepted() {
        assert_eq!(
            check_put("POST", 200, &[]),
            Err(PutError::NotGet("POST".into()))
        );
        assert_eq!(check_put("GET", 206, &[]), Err(PutError::Partial));
        assert_eq!(
            check_put("GET", 200, &headers(&[("Vary", "Accept, *")])),
            Err(PutError::VaryStar)
        );
        assert!(check_put("GET", 404, &[]).is_ok());
    }
}
