//! The op behind a worker's assets binding (`env.ASSETS.fetch`, see
//! `js/assets/07_assets.js`). The assets themselves, their rules and their
//! content belong to an [`AssetsHost`] the isolate is given (ridge-runtime's
//! `isolate/bindings/assets.rs`); the answer's body arrives as a stream.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use deno_core::op2;
use deno_core::ByteString;
use deno_core::OpState;
use deno_core::ResourceId;
use deno_error::JsErrorBox;

use crate::http::{add_body_resource, RequestBody};

/// What the assets answered.
pub struct AssetReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// `None` for a response without a body.
    pub body: Option<RequestBody>,
}

/// What the assets binding needs from the node: the version's assets.
pub trait AssetsHost {
    fn fetch(
        &self,
        method: &str,
        url: &str,
        headers: Vec<(String, String)>,
    ) -> Pin<Box<dyn Future<Output = AssetReply>>>;
}

/// The assets of an isolate's version, when it has any.
pub struct AssetsBinding(pub Rc<dyn AssetsHost>);

/// `[status, headers, body rid or null]` for a request to the assets.
#[op2]
#[serde]
pub async fn op_ridge_assets_fetch(
    state: Rc<RefCell<OpState>>,
    #[string] method: String,
    #[string] url: String,
    #[serde] headers: Vec<(ByteString, ByteString)>,
) -> Result<(u16, Vec<(String, String)>, Option<ResourceId>), JsErrorBox> {
    let host = state
        .borrow()
        .try_borrow::<AssetsBinding>()
        .map(|binding| binding.0.clone())
        .ok_or_else(|| JsErrorBox::generic("this worker has no static assets"))?;
    let headers = headers
        .into_iter()
        .map(|(name, value)| {
            (
                String::from_utf8_lossy(&name).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            )
        })
        .collect();
    let reply = host.fetch(&method, &url, headers).await;
    let body = reply
        .body
        .map(|chunks| add_body_resource(&mut state.borrow_mut(), chunks));
    Ok((reply.status, reply.headers, body))
}
