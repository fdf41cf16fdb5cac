//! The response body type the server hands to hyper: nothing, one buffer,
//! or a stream of chunks coming from a worker's isolate; a worker's bodies
//! count the bytes sent for usage metering.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use ridge_ext::ResponseBody;
use ridge_runtime::observe::Observers;
use ridge_runtime::worker::WorkerVersion;

/// A worker's response body, as hyper sends it.
pub struct WireBody {
    body: ResponseBody,
    meter: Option<BytesOut>,
}

/// Bytes of a worker version's response sent so far; recorded as usage
/// when the body is done or dropped (a client that went away).
struct BytesOut {
    version: Arc<WorkerVersion>,
    /// The node's observers; usage is recorded in their meter.
    observers: Arc<Observers>,
    sent: u64,
}

impl Drop for BytesOut {
    fn drop(&mut self) {
        let sent = self.sent as i64;
        self.observers
            .usage
            .record(&self.version.name, &self.version.version_id, |row| {
                row.bytes_out += sent;
            });
    }
}

impl WireBody {
    pub fn empty() -> Self {
        ResponseBody::Empty.into()
    }

    pub fn text(text: impl Into<String>) -> Self {
        ResponseBody::Full(Bytes::from(text.into())).into()
    }

    /// Counts the bytes sent as `version`'s usage, in `observers`' meter.
    pub fn metered(mut self, version: Arc<WorkerVersion>, observers: Arc<Observers>) -> Self {
        self.meter = Some(BytesOut {
            version,
            observers,
            sent: 0,
        });
        self
    }
}

impl From<ResponseBody> for WireBody {
    fn from(body: ResponseBody) -> Self {
        Self { body, meter: None }
    }
}

/// A worker's response stream failed midway: the connection is reset, so
/// the client cannot mistake a truncated body for a complete one.
#[derive(Debug, thiserror::Error)]
#[error("worker response stream failed: {0}")]
pub struct StreamError(String);

impl http_body::Body for WireBody {
    type Data = Bytes;
    type Error = StreamError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamError>>> {
        let this = self.get_mut();
        let frame = this.next_frame(cx);
        if let (Poll::Ready(Some(Ok(frame))), Some(meter)) = (&frame, &mut this.meter) {
            meter.sent += frame.data_ref().map_or(0, |d| d.len() as u64);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.body, ResponseBody::Empty)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.body {
            ResponseBody::Empty => SizeHint::with_exact(0),
            ResponseBody::Full(bytes) => SizeHint::with_exact(bytes.len() as u64),
            ResponseBody::Stream(_) => SizeHint::default(),
        }
    }
}

impl WireBody {
    fn next_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamError>>> {
        match &mut self.body {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Full(bytes) => {
                let bytes = std::mem::take(bytes);
                self.body = ResponseBody::Empty;
                Poll::Ready((!bytes.is_empty()).then(|| Ok(Frame::data(bytes))))
            }
            ResponseBody::Stream(chunks) => match chunks.poll_recv(cx) {
                Poll::Ready(Some(Ok(bytes))) if bytes.is_empty() => {
                    self.body = ResponseBody::Empty;
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Ok(bytes))) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
                Poll::Ready(Some(Err(message))) => Poll::Ready(Some(Err(StreamError(message)))),
                Poll::Ready(None) => Poll::Ready(Some(Err(StreamError(
                    "the worker stopped before finishing its response".into(),
                )))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
