//! What a TCP listener admits and how long it keeps a connection: a cap on
//! open connections in all and per client address, the timeouts that close
//! connections which send nothing, and a back-off when accepting fails
//! (out of file descriptors), with its log line rate-limited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// File descriptors kept out of the connection cap by default, for the
/// store, snapshots, outbound fetches and the admin API.
const RESERVED_FDS: usize = 256;
/// The default cap on open connections when the descriptor limit allows more.
const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

/// How many connections a listener holds, and for how long.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Open connections in all; past it a new one is closed at once.
    pub max_connections: usize,
    /// Open connections from one client address (an IPv6 client's /64);
    /// WebSockets count for as long as they are open.
    pub max_per_client: usize,
    /// An HTTP/1.1 client must send a request's whole head within this
    /// long of starting it or of its previous response (keep-alive), and a
    /// TLS client its handshake.
    pub header_timeout: Duration,
    /// A connection on which no byte moves either way for this long, and
    /// no request waits for its worker, is asked to close (HTTP/1.1 after
    /// the response in progress, HTTP/2 with GOAWAY); if still nothing
    /// moves for as long again, it is closed, a quiet streamed response
    /// with it.
    pub idle_timeout: Duration,
}

impl ConnectionLimits {
    /// The admin API's: the defaults, without the idle timeout, which
    /// would cut a quiet `ridge tail`.
    pub fn admin() -> Self {
        Self {
            idle_timeout: Duration::from_secs(24 * 3600),
            ..Self::default()
        }
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: default_max_connections(),
            max_per_client: 1024,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// The connection cap the process's descriptor limit leaves room for: its
/// soft `RLIMIT_NOFILE` less [`RESERVED_FDS`], at most
/// [`DEFAULT_MAX_CONNECTIONS`]; at least 16.
pub fn default_max_connections() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and nothing else.
    let fds = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    fds.saturating_sub(RESERVED_FDS)
        .clamp(16, DEFAULT_MAX_CONNECTIONS)
}

/// Raises the soft file-descriptor limit to the hard one, as servers do:
/// the soft default (often 1,024) is far below what a busy node needs.
pub fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: both calls only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Why a connection was closed as soon as it was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `max_connections` are open.
    Full,
    /// `max_per_client` are open from the same client.
    ClientFull,
}

impl Refused {
    /// The label it is counted with in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Full => "max_connections",
            Refused::ClientFull => "max_per_client",
        }
    }
}

/// The open connections of one listener, counted against its limits.
pub struct Admission {
    limits: ConnectionLimits,
    open: AtomicUsize,
    by_client: Mutex<HashMap<IpAddr, usize>>,
}

impl Admission {
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: AtomicUsize::new(0),
            by_client: Mutex::new(HashMap::new()),
        })
    }

    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// Counts a new connection from `peer`, or refuses it. The connection
    /// is counted until the returned ticket drops.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Ticket, Refused> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.limits.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::Full);
        }
        let client = client_key(peer);
        let mut by_client = self.by_client.lock().expect("connection table");
        let count = by_client.entry(client).or_insert(0);
        if *count >= self.limits.max_per_client {
            drop(by_client);
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::ClientFull);
        }
        *count += 1;
        Ok(Ticket {
            admission: self.clone(),
            client,
        })
    }
}

/// An IPv4 address, or an IPv6 client's /64 (one subscriber's usual
/// allocation, so that a client cannot dodge the cap by changing address).
pub(crate) fn client_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
        v4 => v4,
    }
}

/// One admitted connection; dropping it frees its place.
pub struct Ticket {
    admission: Arc<Admission>,
    client: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut by_client = self.admission.by_client.lock().expect("connection table");
        if let Some(count) = by_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                by_client.remove(&self.client);
            }
        }
        drop(by_client);
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the idle check of a connection looks at: reads and writes on it
/// (a count rather than a time: bumping it costs nothing, and the check
/// only asks whether it changed), and requests waiting for their worker's
/// response, during which a quiet connection is not idle.
#[derive(Clone, Default)]
pub struct Activity(Arc<ActivityCounts>);

#[derive(Default)]
struct ActivityCounts {
    moved: AtomicU64,
    answering: AtomicUsize,
}

impl Activity {
    pub fn bump(&self) {
        // One writer (the connection's task): no read-modify-write needed.
        let moved = &self.0.moved;
        moved.store(moved.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.0.moved.load(Ordering::Relaxed)
    }

    /// Whether a request on the connection waits for its response.
    pub fn answering(&self) -> bool {
        self.0.answering.load(Ordering::Relaxed) > 0
    }

    /// Marks a request as waiting for its response until the guard drops.
    pub fn answer_pending(&self) -> AnswerPending {
        self.0.answering.fetch_add(1, Ordering::Relaxed);
        AnswerPending(self.clone())
    }
}

/// A request waiting for its response (see [`Activity::answer_pending`]).
pub struct AnswerPending(Activity);

impl Drop for AnswerPending {
    fn drop(&mut self) {
        self.0 .0.answering.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The accept loop's answer to failing `accept` calls: with descriptors
/// exhausted every call fails at once, so retrying at once spins a core and
/// floods the log. Waits grow from 10 ms to 1 s while failures repeat, and
/// the log says so at most every 5 s, with the number of failures between.
#[derive(Default)]
pub struct AcceptBackoff {
    delay: Duration,
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MOST: Duration = Duration::from_secs(1);
    const LOG_EVERY: Duration = Duration::from_secs(5);

    /// After an accepted connection: failures are over.
    pub fn succeeded(&mut self) {
        self.delay = Duration::ZERO;
    }

    /// After a failed accept: logs it (rate-limited) and returns how long
    /// to wait before the next one. A connection that was reset before it
    /// was accepted is no reason to wait.
    pub fn failed(&mut self, error: &std::io::Error) -> Duration {
        if matches!(
            error.kind(),
            std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
        ) {
            return Duration::ZERO;
        }
        self.unlogged += 1;
        let now = Instant::now();
        if self
            .last_logged
            .is_none_or(|at| now.duration_since(at) >= Self::LOG_EVERY)
        {
            tracing::warn!(
                %error,
                failures = self.unlogged,
                "cannot accept connections; retrying with back-off"
            );
            self.last_logged = Some(now);
            self.unlogged = 0;
        }
        self.delay = (self.delay * 2).clamp(Self::FIRST, Self::MOST);
        self.delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize, max_per_client: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections,
            max_per_client,
            ..ConnectionLimits::default()
        }
    }

    #[test]
    fn connections_are_capped_per_client_and_in_all() {
        let admission = Admission::new(limits(3, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = admission.admit(a).unwrap();
        let _second = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).err(), Some(Refused::ClientFull));
        let _third = admission.admit(b).unwrap();
        assert_eq!(admission.admit(b).err(), Some(Refused::Full));
        drop(first);
        assert!(admission.admit(a).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64_and_a_mapped_ipv4_is_the_ipv4() {
        let admission = Admission::new(limits(10, 1));
        let _one = admission.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(
            admission.admit("2001:db8::ffff:2".parse().unwrap()).err(),
            Some(Refused::ClientFull)
        );
        assert!(admission.admit("2001:db8:0:1::1".parse().unwrap()).is_ok());
        let _v4 = admission.admit("10.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(
            admission.admit("::ffff:10.0.0.1".parse().unwrap()).err(),
            Some(Refused::ClientFull)
        );
    }

    #[test]
    fn accept_failures_back_off_up_to_a_second_and_reset_on_success() {
        let mut backoff = AcceptBackoff::default();
        let exhausted = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(backoff.failed(&exhausted), Duration::from_millis(10));
        assert_eq!(backoff.failed(&exhausted), Duration::from_millis(20));
        for _ in 0..20 {
            backoff.failed(&exhausted);
        }
        assert_eq!(backoff.failed(&exhausted), Duration::from_secs(1));
        backoff.succeeded();
        assert_eq!(backoff.failed(&exhausted), Duration::from_millis(10));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert_eq!(backoff.failed(&reset), Duration::ZERO);
    }
}
