// Echoes the request body back as it arrives, and counts its bytes on the way
// through a TransformStream: works for uploads of any size without buffering.
export default {
  fetch(request) {
    if (!request.body) return new Response("POST a body to have it echoed back\n");
    let bytes = 0;
    const counter = new TransformStream({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
      flush() {
        console.log(`echoed ${bytes} bytes`);
      },
    });
    return new Response(request.body.pipeThrough(counter), {
      headers: { "content-type": request.headers.get("content-type") ?? "application/octet-stream" },
    });
  },
};
