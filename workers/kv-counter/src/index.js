// Counts visits per path in Workers KV, and lists the busiest paths.
//
//   curl http://127.0.0.1:8787/hello      -> "/hello has been visited 1 time"
//   curl http://127.0.0.1:8787/__counts   -> {"/hello": 1, ...}
//
// KV is eventually consistent across nodes and read-modify-write is not
// atomic: concurrent visits can be counted once. Good enough for a counter
// on a dashboard, not for money.
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/__counts") {
      const counts = {};
      const { keys } = await env.COUNTS.list({ prefix: "visits:" });
      for (const { name, metadata } of keys) counts[name.slice("visits:".length)] = metadata.count;
      return Response.json(counts);
    }
    const key = `visits:${pathname}`;
    const count = Number((await env.COUNTS.get(key)) ?? 0) + 1;
    // The count also travels as metadata, so list() can show it without a get per key.
    await env.COUNTS.put(key, String(count), { metadata: { count } });
    return new Response(`${pathname} has been visited ${count} time${count === 1 ? "" : "s"}\n`);
  },
};
