//! WebSockets accepted by a worker (`WebSocketPair`), through a real client
//! (tokio-tungstenite) over HTTP/1.1: echo of text and binary frames, close
//! codes both ways, and the size, idle and CPU limits.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{fixture, Ridge};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(ridge: &Ridge) -> Socket {
    let (socket, response) = tokio_tungstenite::connect_async(format!("ws://{}/", ridge.addr))
        .await
        .expect("WebSocket handshake");
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-echo"], "yes");
    socket
}

/// The next message that is not a ping or pong, within 10 s.
pub async fn next(socket: &mut Socket) -> Message {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("a valid frame");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

pub fn close_code(message: Message) -> (u16, String) {
    match message {
        Message::Close(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_worker_echoes_text_and_binary_and_closes_with_its_code() {
    let ridge = Ridge::dev(&fixture("websocket"), &[]);
    let mut socket = connect(&ridge).await;
    socket.send(Message::text("hello")).await.unwrap();
    assert_eq!(next(&mut socket).await, Message::text("hello"));
    let bytes = vec![0u8, 1, 2, 255, 254];
    socket.send(Message::binary(bytes.clone())).await.unwrap();
    assert_eq!(next(&mut socket).await, Message::binary(bytes));
    socket.send(Message::text("count")).await.unwrap();
    assert_eq!(next(&mut socket).await, Message::text("seen 3"));
    socket.send(Message::text("close")).await.unwrap();
    assert_eq!(
        close_code(next(&mut socket).await),
        (4001, "asked to close".into())
    );

    // The client closes: the worker hears the code and reason.
    let mut socket = connect(&ridge).await;
    socket
        .close(Some(CloseFrame {
            code: CloseCode::from(4002),
            reason: "client done".into(),
        }))
        .await
        .unwrap();
    ridge.wait_for_log("closed by client: 4002 client done");

    // A plain request to the same worker is answered normally.
    let response = reqwest::get(ridge.url("/")).await.unwrap();
    assert_eq!(response.status(), 426);
}

#[tokio::test]
async fn websocket_limits_close_with_the_right_codes() {
    let ridge = Ridge::dev(&fixture("websocket"), &[]);

    // Over the 4 KiB message limit: 1009.
    let mut socket = connect(&ridge).await;
    socket
        .send(Message::text("x".repeat(5 * 1024)))
        .await
        .unwrap();
    let (code, reason) = close_code(next(&mut socket).await);
    assert_eq!(code, 1009, "{reason}");

    // Idle for longer than 2 s: 1001.
    let mut socket = connect(&ridge).await;
    let (code, reason) = close_code(next(&mut socket).await);
    assert_eq!(code, 1001);
    assert!(reason.contains("idle"), "{reason}");

    // A message handler that never returns: the CPU limit stops the
    // isolate, and its sockets close with 1011 and the reason.
    let mut bystander = connect(&ridge).await;
    let mut socket = connect(&ridge).await;
    socket.send(Message::text("spin")).await.unwrap();
    let (code, reason) = close_code(next(&mut socket).await);
    assert_eq!(code, 1011, "{reason}: {}", ridge.logs());
    assert!(reason.contains("CPU"), "{reason}");
    let (code, _) = close_code(next(&mut bystander).await);
    assert_eq!(code, 1011);

    // A new isolate takes the next socket.
    let mut socket = connect(&ridge).await;
    socket.send(Message::text("again")).await.unwrap();
    assert_eq!(next(&mut socket).await, Message::text("again"));
}
