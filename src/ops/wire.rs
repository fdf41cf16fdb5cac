//! The parts of a request and a response that cross between Rust and the
//! worker's JS on every request, converted with V8's API directly: serde_v8's
//! generic path cost about as much as the rest of the op calls together.
//!
//! Header names and values cross as Latin-1 ("one-byte") strings, as
//! `ByteString`s do, so every byte a client sent reaches the worker unchanged.

use bytes::Bytes;
use deno_core::convert::ByteString;
use deno_core::v8;
use deno_core::FromV8;
use deno_core::ResourceId;
use deno_core::ToV8;
use deno_error::JsErrorBox;
use http::{HeaderMap, HeaderName, HeaderValue};

/// A request as the worker's JS takes it from `op_ridge_take_request`:
/// `[rid, method, url, [[name, value], …], bodyRid | null]`.
pub struct IncomingRequest<'r> {
    pub rid: ResourceId,
    pub method: &'r str,
    pub url: &'r str,
    pub headers: HeaderMap,
    pub body_rid: Option<ResourceId>,
}

impl<'a> ToV8<'a> for IncomingRequest<'_> {
    type Error = JsErrorBox;

    fn to_v8<'i>(
        self,
        scope: &mut v8::PinScope<'a, 'i>,
    ) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        let mut pairs = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let pair = [
                latin1(scope, name.as_str().as_bytes())?,
                latin1(scope, value.as_bytes())?,
            ];
            pairs.push(v8::Array::new_with_elements(scope, &pair).into());
        }
        let body_rid = match self.body_rid {
            Some(rid) => v8::Integer::new_from_unsigned(scope, rid).into(),
            None => v8::null(scope).into(),
        };
        let fields = [
            v8::Integer::new_from_unsigned(scope, self.rid).into(),
            utf8(scope, self.method)?,
            utf8(scope, self.url)?,
            v8::Array::new_with_elements(scope, &pairs).into(),
            body_rid,
        ];
        Ok(v8::Array::new_with_elements(scope, &fields).into())
    }
}

fn latin1<'a>(
    scope: &mut v8::PinScope<'a, '_>,
    bytes: &[u8],
) -> Result<v8::Local<'a, v8::Value>, JsErrorBox> {
    v8::String::new_from_one_byte(scope, bytes, v8::NewStringType::Normal)
        .map(Into::into)
        .ok_or_else(|| JsErrorBox::range_error("a header is too long for a JS string"))
}

fn utf8<'a>(
    scope: &mut v8::PinScope<'a, '_>,
    text: &str,
) -> Result<v8::Local<'a, v8::Value>, JsErrorBox> {
    v8::String::new_from_utf8(scope, text.as_bytes(), v8::NewStringType::Normal)
        .map(Into::into)
        .ok_or_else(|| JsErrorBox::range_error("a URL is too long for a JS string"))
}

/// A response's headers, from deno_fetch's header list
/// (`[[name, value], …]`). Fetch's `Headers` has validated them already;
/// one that HTTP still refuses is dropped.
pub struct ResponseHeaders(pub HeaderMap);

impl<'a> FromV8<'a> for ResponseHeaders {
    type Error = JsErrorBox;

    fn from_v8<'i>(
        scope: &mut v8::PinScope<'a, 'i>,
        value: v8::Local<'a, v8::Value>,
    ) -> Result<Self, Self::Error> {
        let not_a_list = || JsErrorBox::type_error("headers must be a list of [name, value] pairs");
        let list = v8::Local::<v8::Array>::try_from(value).map_err(|_| not_a_list())?;
        let mut headers = HeaderMap::with_capacity(list.length() as usize);
        for index in 0..list.length() {
            let pair = list
                .get_index(scope, index)
                .and_then(|pair| v8::Local::<v8::Array>::try_from(pair).ok())
                .ok_or_else(not_a_list)?;
            let (Some(name), Some(value)) = (pair.get_index(scope, 0), pair.get_index(scope, 1))
            else {
                return Err(not_a_list());
            };
            let name = ByteString::from_v8(scope, name).map_err(JsErrorBox::from_err)?;
            let value = ByteString::from_v8(scope, value).map_err(JsErrorBox::from_err)?;
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(&name),
                HeaderValue::from_bytes(&value),
            ) {
                headers.append(name, value);
            }
        }
        Ok(Self(headers))
    }
}

/// A whole response body: a string (sent as UTF-8) or bytes (an
/// ArrayBuffer or a view of one).
pub struct ResponseBytes(pub Bytes);

impl<'a> FromV8<'a> for ResponseBytes {
    type Error = JsErrorBox;

    fn from_v8<'i>(
        scope: &mut v8::PinScope<'a, 'i>,
        value: v8::Local<'a, v8::Value>,
    ) -> Result<Self, Self::Error> {
        if value.is_string() {
            return Ok(Self(Bytes::from(value.to_rust_string_lossy(scope))));
        }
        if let Ok(view) = v8::Local::<v8::ArrayBufferView>::try_from(value) {
            let mut bytes = vec![0; view.byte_length()];
            view.copy_contents(&mut bytes);
            return Ok(Self(Bytes::from(bytes)));
        }
        if let Ok(buffer) = v8::Local::<v8::ArrayBuffer>::try_from(value) {
            let store = buffer.get_backing_store();
            let bytes: Vec<u8> = store.iter().map(std::cell::Cell::get).collect();
            return Ok(Self(Bytes::from(bytes)));
        }
        Err(JsErrorBox::type_error(
            "a response body must be a string or bytes",
        ))
    }
}
