// A WebSocket echo server, Cloudflare-style, with a cron heartbeat.
//   websocat ws://127.0.0.1:8787/
export default {
  fetch(request) {
    if (request.headers.get("Upgrade") !== "websocket") {
      return new Response("Connect with a WebSocket client, e.g. websocat ws://127.0.0.1:8787/\n", { status: 426 });
    }
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener("message", (event) => {
      server.send(typeof event.data === "string" ? `echo: ${event.data}` : event.data);
    });
    server.addEventListener("close", (event) => {
      console.log(`client left: ${event.code} ${event.reason}`);
    });
    return new Response(null, { status: 101, webSocket: client });
  },
  scheduled(event) {
    console.log(`heartbeat for ${event.cron} at ${new Date(event.scheduledTime).toISOString()}`);
  },
};
