// The worker benches/h3_load.rs drives: a small answer, and a large
// streamed download (/download?mb=N) made of one reused 64 KiB chunk.
const chunk = new Uint8Array(64 * 1024).fill(120);

export default {
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/download") return new Response("Hello, world!\n");
    let left = Number(url.searchParams.get("mb") ?? 100) * 16;
    const body = new ReadableStream({
      pull(controller) {
        if (left-- > 0) controller.enqueue(chunk);
        else controller.close();
      },
    });
    return new Response(body, { headers: { "content-length": String(Number(url.searchParams.get("mb") ?? 100) * 1024 * 1024) } });
  },
};
