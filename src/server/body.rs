//! The response body type the server hands to hyper: nothing, one buffer,
//! or a stream of chunks coming from a worker's isolate.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::ops::ResponseBody;

/// A worker's response body, as hyper sends it.
pub struct WireBody(ResponseBody);

impl WireBody {
    pub fn empty() -> Self {
        Self(ResponseBody::Empty)
    }

    pub fn text(text: impl Into<String>) -> Self {
        Self(ResponseBody::Full(Bytes::from(text.into())))
    }
}

impl From<ResponseBody> for WireBody {
    fn from(body: ResponseBody) -> Self {
        Self(body)
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
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamError>>> {
        match &mut self.0 {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Full(bytes) => {
                let bytes = std::mem::take(bytes);
                self.0 = ResponseBody::Empty;
                Poll::Ready((!bytes.is_empty()).then(|| Ok(Frame::data(bytes))))
            }
            ResponseBody::Stream(chunks) => match chunks.poll_recv(cx) {
                Poll::Ready(Some(Ok(bytes))) if bytes.is_empty() => {
                    self.0 = ResponseBody::Empty;
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

    fn is_end_stream(&self) -> bool {
        matches!(&self.0, ResponseBody::Empty)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            ResponseBody::Empty => SizeHint::with_exact(0),
            ResponseBody::Full(bytes) => SizeHint::with_exact(bytes.len() as u64),
            ResponseBody::Stream(_) => SizeHint::default(),
        }
    }
}
