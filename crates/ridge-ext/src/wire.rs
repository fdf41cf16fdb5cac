//! The parts of a request and a response that cross between Rust and the
//! worker's JS on every request, converted with V8's API directly: serde_v8's
//! generic path cost about as much as the rest of the op calls together.
//!
//! Headers cross both ways as one Latin-1 ("one-byte") string, a header
//! block of `name:value\r\n` lines, as `ByteString`s do, so every byte a
//! client sent reaches the worker unchanged. One string costs far less than
//! a JS array of pairs (two strings and an array per header, and a property
//! read for each through V8's API), and JS splits a request's block only if
//! the worker reads its headers. The encoding cannot be ambiguous: names
//! are tokens (no `:`), and values hold no CR or LF.

use bytes::Bytes;
use deno_core::v8;
use deno_core::FromV8;
use deno_core::ResourceId;
use deno_core::ToV8;
use deno_error::JsErrorBox;
use http::{HeaderMap, HeaderName, HeaderValue};

/// An HTTP request as the worker's JS takes it from
/// `op_ridge_take_invocation`: `[rid, EVENT_FETCH, method, url, headerBlock,
/// bodyRid | null]`.
pub struct IncomingRequest<'r> {
    pub rid: ResourceId,
    pub method: &'r str,
    pub url: &'r str,
    pub headers: HeaderMap,
    pub body_rid: Option<ResourceId>,
    /// Where the header block is written (kept between requests).
    pub scratch: &'r mut Vec<u8>,
}

impl<'a> ToV8<'a> for IncomingRequest<'_> {
    type Error = JsErrorBox;

    fn to_v8<'i>(
        self,
        scope: &mut v8::PinScope<'a, 'i>,
    ) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        let block = self.scratch;
        block.clear();
        for (name, value) in &self.headers {
            block.extend_from_slice(name.as_str().as_bytes());
            block.push(b':');
            block.extend_from_slice(value.as_bytes());
            block.extend_from_slice(b"\r\n");
        }
        let body_rid = match self.body_rid {
            Some(rid) => v8::Integer::new_from_unsigned(scope, rid).into(),
            None => v8::null(scope).into(),
        };
        // The method and URL are ASCII: hyper accepts nothing else there.
        let fields = [
            v8::Integer::new_from_unsigned(scope, self.rid).into(),
            v8::Integer::new_from_unsigned(scope, EVENT_FETCH).into(),
            latin1(scope, self.method.as_bytes())?,
            latin1(scope, self.url.as_bytes())?,
            latin1(scope, block)?,
            body_rid,
        ];
        Ok(v8::Array::new_with_elements(scope, &fields).into())
    }
}

/// The event kinds JS tells invocations apart by (js/http/10_worker.js).
pub const EVENT_FETCH: u32 = 0;
pub const EVENT_SCHEDULED: u32 = 1;
pub const EVENT_RPC: u32 = 2;
pub const EVENT_ALARM: u32 = 3;
pub const EVENT_QUEUE: u32 = 4;

/// A cron run as the worker's JS takes it from `op_ridge_take_invocation`:
/// `[rid, EVENT_SCHEDULED, cron, scheduledTime]`.
pub struct IncomingScheduled<'r> {
    pub rid: ResourceId,
    pub event: &'r ridge_core::ScheduledEvent,
}

impl<'a> ToV8<'a> for IncomingScheduled<'_> {
    type Error = JsErrorBox;

    fn to_v8<'i>(
        self,
        scope: &mut v8::PinScope<'a, 'i>,
    ) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        let cron = v8::String::new(scope, &self.event.cron)
            .ok_or_else(|| JsErrorBox::range_error("a cron expression is too large"))?;
        let fields = [
            v8::Integer::new_from_unsigned(scope, self.rid).into(),
            v8::Integer::new_from_unsigned(scope, EVENT_SCHEDULED).into(),
            cron.into(),
            v8::Number::new(scope, self.event.scheduled_time_ms as f64).into(),
        ];
        Ok(v8::Array::new_with_elements(scope, &fields).into())
    }
}

/// A Durable Object's alarm as the worker's JS takes it from
/// `op_ridge_take_invocation`: `[rid, EVENT_ALARM, [class, id, name],
/// retryCount]`.
pub struct IncomingAlarm<'r> {
    pub rid: ResourceId,
    pub event: &'r crate::http::AlarmEvent,
}

impl<'a> ToV8<'a> for IncomingAlarm<'_> {
    type Error = JsErrorBox;

    fn to_v8<'i>(
        self,
        scope: &mut v8::PinScope<'a, 'i>,
    ) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        let fields = [
            v8::Integer::new_from_unsigned(scope, self.rid).into(),
            v8::Integer::new_from_unsigned(scope, EVENT_ALARM).into(),
            object_address(scope, &self.event.object)?,
            v8::Integer::new_from_unsigned(scope, self.event.retry_count).into(),
        ];
        Ok(v8::Array::new_with_elements(scope, &fields).into())
    }
}

/// An RPC call as the worker's JS takes it from `op_ridge_take_invocation`:
/// `[rid, EVENT_RPC, method, entrypoint or null, arguments (serialized),
/// the resources of the streams among them, of the caller's stubs, of the
/// writable streams' sinks, the Durable Object called ([class, id, name])
/// or null]`.
pub struct IncomingRpc {
    pub rid: ResourceId,
    pub entrypoint: Option<String>,
    pub method: String,
    pub args: Vec<u8>,
    pub streams: Vec<ResourceId>,
    /// The resource through which the caller's stubs among `args` are called.
    pub stubs: ResourceId,
    /// The sinks of the `WritableStream`s among `args`.
    pub writables: Vec<ResourceId>,
    /// The Durable Object called, if the call is to one.
    pub object: Option<crate::http::ObjectAddress>,
}

impl<'a> ToV8<'a> for IncomingRpc {
    type Error = JsErrorBox;

    fn to_v8<'i>(
        self,
        scope: &mut v8::PinScope<'a, 'i>,
    ) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        let too_large = || JsErrorBox::range_error("an RPC call is too large");
        let method = v8::String::new(scope, &self.method).ok_or_else(too_large)?;
        let entrypoint: v8::Local<v8::Value> = match &self.entrypoint {
            Some(name) => v8::String::new(scope, name).ok_or_else(too_large)?.into(),
            None => v8::null(scope).into(),
        };
        let length = self.args.len();
        let store = v8::ArrayBuffer::new_backing_store_from_vec(self.args).make_shared();
        let buffer = v8::ArrayBuffer::with_backing_store(scope, &store);
        let args = v8::Uint8Array::new(scope, buffer, 0, length).ok_or_else(too_large)?;
        let rids = |rids: &[ResourceId]| {
            let rids: Vec<v8::Local<v8::Value>> = rids
                .iter()
                .map(|&rid| v8::Integer::new_from_unsigned(scope, rid).into())
                .collect();
            v8::Array::new_with_elements(scope, &rids)
        };
        let streams = rids(&self.streams);
        let writables = rids(&self.writables);
        let object: v8::Local<v8::Value> = match &self.object {
            None => v8::null(scope).into(),
            Some(object) => object_address(scope, object)?,
        };
        let fields = [
            v8::Integer::new_from_unsigned(scope, self.rid).into(),
            v8::Integer::new_from_unsigned(scope, EVENT_RPC).into(),
            method.into(),
            entrypoint,
            args.into(),
            streams.into(),
            v8::Integer::new_from_unsigned(scope, self.stubs).into(),
            writables.into(),
            object,
        ];
        Ok(v8::Array::new_with_elements(scope, &fields).into())
    }
}

/// A queue batch as the worker's JS takes it from
/// `op_ridge_take_invocation`: `[rid, EVENT_QUEUE, queue, messages]`, each
/// message `[id, timestamp (ms), contentType, body (Uint8Array),
/// attempts]`.
pub struct IncomingQueue<'r> {
    pub rid: ResourceId,
    pub queue: &'r str,
    pub messages: Vec<crate::queues::DeliveredMessage>,
}

impl<'a> ToV8<'a> for IncomingQueue<'_> {
    type Error = JsErrorBox;

    fn to_v8<'i>(
        self,
        scope: &mut v8::PinScope<'a, 'i>,
    ) -> Result<v8::Local<'a, v8::Value>, Self::Error> {
        let too_large = || JsErrorBox::range_error("a queue batch is too large");
        let mut messages = Vec::with_capacity(self.messages.len());
        for message in self.messages {
            let length = message.body.len();
            let store =
                v8::ArrayBuffer::new_backing_store_from_vec(message.body.to_vec()).make_shared();
            let buffer = v8::ArrayBuffer::with_backing_store(scope, &store);
            let body = v8::Uint8Array::new(scope, buffer, 0, length).ok_or_else(too_large)?;
            let fields = [
                v8::String::new(scope, &message.id)
                    .ok_or_else(too_large)?
                    .into(),
                v8::Number::new(scope, message.timestamp_ms as f64).into(),
                v8::String::new(scope, &message.content_type)
                    .ok_or_else(too_large)?
                    .into(),
                body.into(),
                v8::Integer::new_from_unsigned(scope, message.attempts).into(),
            ];
            messages.push(v8::Array::new_with_elements(scope, &fields).into());
        }
        let fields = [
            v8::Integer::new_from_unsigned(scope, self.rid).into(),
            v8::Integer::new_from_unsigned(scope, EVENT_QUEUE).into(),
            v8::String::new(scope, self.queue)
                .ok_or_else(too_large)?
                .into(),
            v8::Array::new_with_elements(scope, &messages).into(),
        ];
        Ok(v8::Array::new_with_elements(scope, &fields).into())
    }
}

/// A Durable Object's address as JS takes it: `[class, id, name or null]`.
fn object_address<'a>(
    scope: &mut v8::PinScope<'a, '_>,
    object: &crate::http::ObjectAddress,
) -> Result<v8::Local<'a, v8::Value>, JsErrorBox> {
    let too_large = || JsErrorBox::range_error("a Durable Object name is too large");
    let class = v8::String::new(scope, &object.class).ok_or_else(too_large)?;
    let id = v8::String::new(scope, &object.id).ok_or_else(too_large)?;
    let name: v8::Local<v8::Value> = match &object.name {
        Some(name) => v8::String::new(scope, name).ok_or_else(too_large)?.into(),
        None => v8::null(scope).into(),
    };
    Ok(v8::Array::new_with_elements(scope, &[class.into(), id.into(), name]).into())
}

fn latin1<'a>(
    scope: &mut v8::PinScope<'a, '_>,
    bytes: &[u8],
) -> Result<v8::Local<'a, v8::Value>, JsErrorBox> {
    v8::String::new_from_one_byte(scope, bytes, v8::NewStringType::Normal)
        .map(Into::into)
        .ok_or_else(|| JsErrorBox::range_error("a request is too large for a JS string"))
}

/// A response's headers, from the header block js/http/10_worker.js builds from
/// deno_fetch's header list. Fetch's `Headers` has validated them already;
/// one that HTTP still refuses is dropped.
pub struct ResponseHeaders(pub HeaderMap);

impl<'a> FromV8<'a> for ResponseHeaders {
    type Error = JsErrorBox;

    fn from_v8<'i>(
        scope: &mut v8::PinScope<'a, 'i>,
        value: v8::Local<'a, v8::Value>,
    ) -> Result<Self, Self::Error> {
        let block = v8::Local::<v8::String>::try_from(value)
            .map_err(|_| JsErrorBox::type_error("headers must be a header block string"))?;
        // Most header blocks fit on the stack.
        let mut on_stack = [0u8; 1024];
        let mut on_heap = Vec::new();
        let bytes = if block.length() <= on_stack.len() {
            &mut on_stack[..block.length()]
        } else {
            on_heap.resize(block.length(), 0);
            &mut on_heap[..]
        };
        block.write_one_byte_v2(scope, 0, bytes, v8::WriteFlags::empty());
        let lines = bytes
            .split(|&b| b == b'\n')
            .filter_map(|line| line.strip_suffix(b"\r"));
        let mut headers = HeaderMap::with_capacity(lines.clone().count());
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(&line[..colon]),
                header_value(&line[colon + 1..]),
            ) {
                headers.append(name, value);
            }
        }
        Ok(Self(headers))
    }
}

/// The content types `Response` sets by itself (for a string body, and in
/// `Response.json`): shared, not copied for every response that has one.
const COMMON_VALUES: [&str; 2] = ["text/plain;charset=UTF-8", "application/json"];

fn header_value(bytes: &[u8]) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    match COMMON_VALUES
        .iter()
        .find(|common| common.as_bytes() == bytes)
    {
        Some(common) => Ok(HeaderValue::from_static(common)),
        None => HeaderValue::from_bytes(bytes),
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
