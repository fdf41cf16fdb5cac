//! Back-off for worker versions that keep failing, so that a broken or
//! hostile worker costs its isolate thread little and its neighbours
//! nothing: without it, a top-level `while (true) {}` spent its whole
//! startup CPU budget on every request, and a handler that keeps running
//! out of CPU was restarted at full rate.
//!
//! - A version whose isolate **fails to start** is not started again for a
//!   while: 250 ms after the first failure, doubling with each one after,
//!   up to 30 s. Requests in that time get the cached start error at once.
//! - A version whose isolates are **stopped by a limit** more than three
//!   times within the last minute is backed off for 1 s, doubling with each
//!   further stop within that minute, up to 30 s; its requests get a 503
//!   saying so. Stops older than a minute no longer count.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use ridge_core::LimitExceeded;
use ridge_ext::WorkerReply;

const FIRST_START_BACKOFF: Duration = Duration::from_millis(250);
const FIRST_LIMIT_BACKOFF: Duration = Duration::from_secs(1);
const LONGEST_BACKOFF: Duration = Duration::from_secs(30);
/// Limit stops tolerated before a version is backed off.
const FREE_LIMIT_STOPS: u32 = 3;
/// Failures further apart than this are not counted together.
const MEMORY: Duration = Duration::from_secs(60);

/// What requests to a backed-off version get.
#[derive(Clone, Debug)]
pub enum Refusal {
    /// The start error, as a request that waited for the start got it.
    StartFailed(StartFailure),
    /// Backed off after repeated limit stops.
    Limits,
}

/// A start error, kept to answer with.
#[derive(Clone, Debug)]
pub enum StartFailure {
    Limit(LimitExceeded),
    Error(String),
}

impl StartFailure {
    /// The answer for the requests that waited for the failed start.
    pub fn reply(&self) -> WorkerReply {
        match self {
            StartFailure::Limit(limit) => WorkerReply::LimitExceeded(*limit),
            StartFailure::Error(message) => WorkerReply::Error(message.clone()),
        }
    }

    /// The answer for requests that come while the version is backed off.
    fn cached_reply(&self) -> WorkerReply {
        match self {
            StartFailure::Limit(limit) => WorkerReply::LimitExceeded(*limit),
            StartFailure::Error(message) => WorkerReply::NotStarted(message.clone()),
        }
    }
}

struct Strikes {
    /// Failures in a row, none more than [`MEMORY`] after the one before.
    count: u32,
    last: Instant,
    until: Instant,
    refusal: Refusal,
}

/// The versions backed off on one isolate thread.
#[derive(Default)]
pub struct Backoffs {
    by_version: HashMap<String, Strikes>,
    /// When each version's isolates were last stopped by limits, within
    /// the last minute.
    limit_stops: HashMap<String, VecDeque<Instant>>,
}

impl Backoffs {
    /// The answer for a request to version `id` now, if it is backed off.
    pub fn refusal(&self, id: &str, now: Instant) -> Option<WorkerReply> {
        let strikes = self.by_version.get(id)?;
        if now >= strikes.until {
            return None;
        }
        Some(match &strikes.refusal {
            Refusal::StartFailed(failure) => failure.cached_reply(),
            Refusal::Limits => {
                let left = strikes.until - now;
                WorkerReply::LimitExceeded(LimitExceeded::BackedOff(left.as_millis().max(1) as u64))
            }
        })
    }

    /// Version `id` failed to start with `failure`.
    pub fn start_failed(&mut self, id: &str, failure: StartFailure, now: Instant) {
        let count = self.strike(id, now);
        let wait = grown(FIRST_START_BACKOFF, count - 1);
        self.set(id, count, now, wait, Refusal::StartFailed(failure));
    }

    /// An isolate of version `id` was stopped by a limit.
    pub fn limit_stopped(&mut self, id: &str, now: Instant) {
        let stops = self.limit_stops.entry(id.to_string()).or_default();
        stops.push_back(now);
        while stops
            .front()
            .is_some_and(|first| now.duration_since(*first) >= MEMORY)
        {
            stops.pop_front();
        }
        let count = stops.len() as u32;
        if count > FREE_LIMIT_STOPS {
            let wait = grown(FIRST_LIMIT_BACKOFF, count - FREE_LIMIT_STOPS - 1);
            self.set(id, count, now, wait, Refusal::Limits);
        }
    }

    /// Version `id` started: a cached start error no longer applies.
    pub fn started(&mut self, id: &str) {
        if matches!(
            self.by_version.get(id),
            Some(Strikes {
                refusal: Refusal::StartFailed(_),
                ..
            })
        ) {
            self.by_version.remove(id);
        }
    }

    /// Forgets versions whose failures are old.
    pub fn forget_old(&mut self, now: Instant) {
        self.by_version
            .retain(|_, strikes| now.duration_since(strikes.last) < MEMORY || now < strikes.until);
        self.limit_stops.retain(|_, stops| {
            stops
                .back()
                .is_some_and(|last| now.duration_since(*last) < MEMORY)
        });
    }

    /// The count of start failures in a row of `id`, none more than
    /// [`MEMORY`] after the one before, with one more at `now`.
    fn strike(&self, id: &str, now: Instant) -> u32 {
        match self.by_version.get(id) {
            Some(strikes) if now.duration_since(strikes.last) < MEMORY => strikes.count + 1,
            _ => 1,
        }
    }

    fn set(&mut self, id: &str, count: u32, now: Instant, wait: Duration, refusal: Refusal) {
        if wait > Duration::ZERO {
            tracing::warn!(
                version = id,
                failures = count,
                backoff_ms = wait.as_millis() as u64,
                "worker backed off after failing repeatedly"
            );
        }
        self.by_version.insert(
            id.to_string(),
            Strikes {
                count,
                last: now,
                until: now + wait,
                refusal,
            },
        );
    }
}

/// `first`, doubled `doublings` times, at most [`LONGEST_BACKOFF`].
fn grown(first: Duration, doublings: u32) -> Duration {
    first
        .saturating_mul(1 << doublings.min(16))
        .min(LONGEST_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_for(backoffs: &Backoffs, now: Instant) -> Duration {
        let mut wait = Duration::ZERO;
        while backoffs.refusal("v", now + wait).is_some() {
            wait += Duration::from_millis(10);
        }
        wait
    }

    #[test]
    fn start_failures_are_answered_from_cache_for_a_growing_while() {
        let mut backoffs = Backoffs::default();
        let now = Instant::now();
        let failure = || StartFailure::Error("Worker failed to start: boom".into());
        backoffs.start_failed("v", failure(), now);
        assert_eq!(refused_for(&backoffs, now), Duration::from_millis(250));
        match backoffs.refusal("v", now) {
            Some(WorkerReply::NotStarted(message)) => assert!(message.contains("boom")),
            other => panic!("{other:?}"),
        }
        backoffs.start_failed("v", failure(), now);
        assert_eq!(refused_for(&backoffs, now), Duration::from_millis(500));
        for _ in 0..20 {
            backoffs.start_failed("v", failure(), now);
        }
        assert_eq!(refused_for(&backoffs, now), LONGEST_BACKOFF);
        backoffs.started("v");
        assert!(backoffs.refusal("v", now).is_none());
    }

    #[test]
    fn limit_stops_are_backed_off_from_the_fourth_within_a_minute() {
        let mut backoffs = Backoffs::default();
        let now = Instant::now();
        for _ in 0..3 {
            backoffs.limit_stopped("v", now);
            assert!(backoffs.refusal("v", now).is_none());
        }
        backoffs.limit_stopped("v", now);
        assert_eq!(refused_for(&backoffs, now), Duration::from_secs(1));
        assert!(matches!(
            backoffs.refusal("v", now),
            Some(WorkerReply::LimitExceeded(LimitExceeded::BackedOff(1000)))
        ));
        backoffs.limit_stopped("v", now);
        assert_eq!(refused_for(&backoffs, now), Duration::from_secs(2));
        // A minute later the count starts over.
        let later = now + MEMORY + Duration::from_secs(1);
        backoffs.limit_stopped("v", later);
        assert!(backoffs.refusal("v", later).is_none());
    }
}
