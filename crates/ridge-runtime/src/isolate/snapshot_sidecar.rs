//! Repairs the sidecar of a snapshot layered on Ridge's runtime snapshot.
//!
//! deno_core keeps extension sources as V8 external strings and lists their
//! bytes in the snapshot's sidecar (appended after V8's blob), so that a
//! restored isolate can register them again as V8 external references, in
//! the same order. A snapshot made on top of another only lists the sources
//! its own runtime loaded (deno_core 0.413): the runtime snapshot's, which
//! the worker snapshot still references, go missing, and V8 resolves their
//! references to the wrong entries. [`keep_runtime_sources`] puts them back
//! in front, where the building isolate had them.
//!
//! The sidecar layout is deno_core's (`runtime/snapshot.rs`, pinned with
//! deno_core): `… op_count:u64 source_count:u64 addl_refs_count:u64
//! source_maps:map external_strings:seq`, then the V8 blob's length as a
//! trailing u64. Only that tail is read here.

use std::sync::OnceLock;

use super::snapshot::RUNTIME_SNAPSHOT;

/// The tail of a sidecar, from `op_count` to the end.
struct Tail<'a> {
    /// Where `op_count` starts in the sidecar.
    start: usize,
    op_count: u64,
    addl_refs_count: u64,
    /// The encoded entries of the source-map table (without its count).
    source_maps: &'a [u8],
    source_map_count: u32,
    external_strings: Vec<&'a [u8]>,
}

/// Why a snapshot's sidecar cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SidecarError {
    #[error("the snapshot is truncated")]
    Truncated,
    #[error("cannot read the runtime snapshot's sidecar")]
    Runtime,
    #[error("cannot read the worker snapshot's sidecar")]
    Worker,
}

/// `layered` (a snapshot taken on top of `RUNTIME_SNAPSHOT`) with the
/// runtime snapshot's external sources listed ahead of its own.
pub(super) fn keep_runtime_sources(layered: &[u8]) -> Result<Vec<u8>, SidecarError> {
    let runtime = runtime_tail().ok_or(SidecarError::Runtime)?;
    let (v8_blob, sidecar) = split(layered)?;
    let worker = find_tail(sidecar, Some(runtime.op_count)).ok_or(SidecarError::Worker)?;

    let runtime_bytes: usize = runtime.external_strings.iter().map(|s| s.len() + 4).sum();
    let mut out = Vec::with_capacity(layered.len() + runtime_bytes + runtime.source_maps.len());
    out.extend_from_slice(v8_blob);
    out.extend_from_slice(&sidecar[..worker.start]);
    let strings: Vec<&[u8]> = runtime
        .external_strings
        .iter()
        .chain(&worker.external_strings)
        .copied()
        .collect();
    out.extend_from_slice(&worker.op_count.to_le_bytes());
    out.extend_from_slice(&(strings.len() as u64).to_le_bytes());
    out.extend_from_slice(&worker.addl_refs_count.to_le_bytes());
    let maps = runtime.source_map_count + worker.source_map_count;
    out.extend_from_slice(&maps.to_le_bytes());
    out.extend_from_slice(runtime.source_maps);
    out.extend_from_slice(worker.source_maps);
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    for string in strings {
        out.extend_from_slice(&(string.len() as u32).to_le_bytes());
        out.extend_from_slice(string);
    }
    out.extend_from_slice(&(v8_blob.len() as u64).to_le_bytes());
    Ok(out)
}

/// The runtime snapshot's tail, read once.
fn runtime_tail() -> Option<&'static Tail<'static>> {
    static TAIL: OnceLock<Option<Tail<'static>>> = OnceLock::new();
    TAIL.get_or_init(|| {
        let (_, sidecar) = split(RUNTIME_SNAPSHOT).ok()?;
        find_tail(sidecar, None)
    })
    .as_ref()
}

/// A deno_core snapshot's V8 blob and sidecar.
fn split(snapshot: &[u8]) -> Result<(&[u8], &[u8]), SidecarError> {
    let (rest, len) = snapshot
        .split_last_chunk::<8>()
        .ok_or(SidecarError::Truncated)?;
    let len = u64::from_le_bytes(*len) as usize;
    if len > rest.len() {
        return Err(SidecarError::Truncated);
    }
    Ok(rest.split_at(len))
}

/// Finds the tail: the first place from which it decodes exactly to the
/// end of the sidecar, with as many external strings as `source_count`
/// says, and ops (`op_count` of them, when known). The first, because later
/// places can decode too: a list ending in empty strings (sources the
/// snapshot did not use) reads as a tail of zero counts.
fn find_tail(sidecar: &[u8], op_count: Option<u64>) -> Option<Tail<'_>> {
    (0..sidecar.len().saturating_sub(24)).find_map(|start| {
        read_tail(sidecar, start)
            .filter(|t| t.op_count > 0 && op_count.is_none_or(|n| n == t.op_count))
    })
}

fn read_tail(sidecar: &[u8], start: usize) -> Option<Tail<'_>> {
    // Plausibility bounds that rule out reading source text as counts.
    const MAX_COUNT: u64 = 1 << 20;
    let mut reader = Reader {
        bytes: sidecar,
        at: start,
    };
    let op_count = reader.u64().filter(|n| *n < MAX_COUNT)?;
    let source_count = reader.u64().filter(|n| *n < MAX_COUNT)?;
    let addl_refs_count = reader.u64().filter(|n| *n < MAX_COUNT)?;
    let source_map_count = reader.u32().filter(|n| u64::from(*n) < MAX_COUNT)?;
    let maps_start = reader.at;
    for _ in 0..source_map_count {
        // A key (length with deno_core's non-ASCII flag in bit 31), a value.
        let key = reader.u32()? & !(1 << 31);
        reader.take(key as usize)?;
        reader.bytes_field()?;
    }
    let source_maps = &sidecar[maps_start..reader.at];
    let string_count = reader.u32()?;
    if u64::from(string_count) != source_count {
        return None;
    }
    let external_strings = (0..string_count)
        .map(|_| reader.bytes_field())
        .collect::<Option<Vec<_>>>()?;
    (reader.at == sidecar.len()).then_some(Tail {
        start,
        op_count,
        addl_refs_count,
        source_maps,
        source_map_count,
        external_strings,
    })
}

/// Little-endian reads over a byte slice; `None` past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let taken = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(taken)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A length-prefixed byte string.
    fn bytes_field(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()?;
        self.take(len as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_runtime_snapshot_tail() {
        let (_, sidecar) = split(RUNTIME_SNAPSHOT).unwrap();
        let tail = find_tail(sidecar, None).expect("tail found");
        assert!(tail.op_count > 100, "ops: {}", tail.op_count);
        // Ridge's JS glue and Deno's extension sources are all listed.
        assert!(tail.external_strings.len() > 20);
        let glue = tail
            .external_strings
            .iter()
            .any(|s| s.windows(16).any(|w| w == b"__ridgeTakeStart"));
        assert!(glue, "Ridge's glue is among the external strings");
    }

    #[test]
    fn trailing_empty_strings_do_not_pass_for_the_tail() {
        let (_, sidecar) = split(RUNTIME_SNAPSHOT).unwrap();
        let real = find_tail(sidecar, None).unwrap();
        // The same sidecar with eight more empty strings listed at its end.
        let mut padded = sidecar[..real.start].to_vec();
        padded.extend_from_slice(&real.op_count.to_le_bytes());
        let count = real.external_strings.len() + 8;
        padded.extend_from_slice(&(count as u64).to_le_bytes());
        padded.extend_from_slice(&real.addl_refs_count.to_le_bytes());
        padded.extend_from_slice(&real.source_map_count.to_le_bytes());
        padded.extend_from_slice(real.source_maps);
        padded.extend_from_slice(&(count as u32).to_le_bytes());
        for string in &real.external_strings {
            padded.extend_from_slice(&(string.len() as u32).to_le_bytes());
            padded.extend_from_slice(string);
        }
        padded.extend_from_slice(&[0; 32]);
        let found = find_tail(&padded, None).unwrap();
        assert_eq!(found.start, real.start);
        assert_eq!(found.external_strings.len(), count);
    }

    #[test]
    fn merging_into_itself_doubles_the_sources_and_keeps_the_v8_blob() {
        let merged = keep_runtime_sources(RUNTIME_SNAPSHOT).unwrap();
        let (v8_blob, sidecar) = split(&merged).unwrap();
        let (original_blob, original_sidecar) = split(RUNTIME_SNAPSHOT).unwrap();
        assert_eq!(v8_blob, original_blob);
        let before = find_tail(original_sidecar, None).unwrap();
        let after = find_tail(sidecar, Some(before.op_count)).unwrap();
        assert_eq!(after.start, before.start);
        assert_eq!(
            after.external_strings.len(),
            2 * before.external_strings.len()
        );
        assert_eq!(after.source_map_count, 2 * before.source_map_count);
    }
}
