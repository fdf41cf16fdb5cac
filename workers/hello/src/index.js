// The smallest useful worker: greets the caller, using a variable from ridge.toml.
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const name = url.searchParams.get("name") ?? "world";
    return new Response(`${env.GREETING}, ${name}!\n`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
