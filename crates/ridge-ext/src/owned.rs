//! Resources that belong to a request and do not outlive it: outbound
//! sockets (`sockets.rs`), and the RPC stubs, stub servers and writable
//! streams' sinks of its calls (`rpc.rs`, `http.rs`).
//! Each is closed once its request has ended (response sent and
//! `waitUntil` work settled), so nothing a request opened keeps running,
//! or keeps another worker's objects alive, after it.

use deno_core::{OpState, ResourceId};

use crate::http::CpuLedger;

/// Which request each owned resource belongs to: `(resource, request)`.
#[derive(Default)]
struct Owners(Vec<(ResourceId, ResourceId)>);

/// Records that resource `resource` belongs to request `request`; `false`
/// (and nothing recorded) when that request has ended already, in which
/// case the caller closes the resource itself.
pub fn adopt(state: &mut OpState, request: ResourceId, resource: ResourceId) -> bool {
    if !state.borrow::<CpuLedger>().is_open(request) {
        return false;
    }
    if !state.has::<Owners>() {
        state.put(Owners::default());
    }
    state.borrow_mut::<Owners>().0.push((resource, request));
    true
}

/// Forgets resource `resource` (about to be replaced, as a socket by its
/// TLS successor); returns the request it belonged to.
pub fn release(state: &mut OpState, resource: ResourceId) -> Option<ResourceId> {
    let owners = &mut state.try_borrow_mut::<Owners>()?.0;
    let index = owners.iter().position(|&(owned, _)| owned == resource)?;
    Some(owners.swap_remove(index).1)
}

/// Closes the resources of requests that ended: called after each turn of
/// the event loop, once finished requests have left the ledger (cheap when
/// no request owns any).
pub fn close_resources_of_ended_requests(state: &mut OpState) {
    let Some(owners) = state.try_borrow::<Owners>() else {
        return;
    };
    if owners.0.is_empty() {
        return;
    }
    let ledger = state.borrow::<CpuLedger>().clone();
    let mut ended = Vec::new();
    state
        .borrow_mut::<Owners>()
        .0
        .retain(|&(resource, request)| {
            let open = ledger.is_open(request);
            if !open {
                ended.push(resource);
            }
            open
        });
    for resource in ended {
        // Closed already by its own code, possibly.
        if let Ok(resource) = state.resource_table.take_any(resource) {
            resource.close();
        }
    }
}
