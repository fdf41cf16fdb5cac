//! The assets binding (`env.ASSETS`): a version's static assets as its
//! ops (ridge-ext `assets.rs`) see them. The answer is the one the edge
//! would give for the same request, with the not-found handling always on.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use deno_core::OpState;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use ridge_assets::{AssetBody, Assets};
use ridge_ext::assets::{AssetReply, AssetsBinding, AssetsHost};

use crate::worker::WorkerVersion;

/// Gives the ops the version's assets, when it has an assets binding.
pub(super) fn install(state: &mut OpState, version: &WorkerVersion) {
    if let Some(assets) = version.assets.as_ref().filter(|a| a.binding().is_some()) {
        state.put(AssetsBinding(Rc::new(AssetsAdapter(assets.clone()))));
    }
}

struct AssetsAdapter(Arc<Assets>);

impl AssetsHost for AssetsAdapter {
    fn fetch(
        &self,
        method: &str,
        url: &str,
        headers: Vec<(String, String)>,
    ) -> Pin<Box<dyn Future<Output = AssetReply>>> {
        let assets = self.0.clone();
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        let url = url.to_string();
        let mut request = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) =
                (HeaderName::try_from(name), HeaderValue::try_from(value))
            {
                request.append(name, value);
            }
        }
        Box::pin(async move {
            let host = url::Url::parse(&url)
                .ok()
                .and_then(|url| url.host_str().map(str::to_string))
                .unwrap_or_default();
            let plan = assets.plan_for_url(&url);
            let (parts, body) = assets
                .respond(plan, &method, &host, &request)
                .await
                .into_parts();
            let headers = parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            AssetReply {
                status: parts.status.as_u16(),
                headers,
                body: match body {
                    AssetBody::Empty => None,
                    body => Some(body.into_stream()),
                },
            }
        })
    }
}
