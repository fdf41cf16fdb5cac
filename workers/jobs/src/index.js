// A job queue: `POST /jobs?text=…` queues a job and answers its id at once;
// the `queue()` handler does the work in the background (here: counting
// the words) and stores the result in KV, where `GET /jobs/ID` finds it.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/jobs") {
      const id = crypto.randomUUID();
      await env.JOBS.send({ id, text: url.searchParams.get("text") ?? "" });
      return Response.json({ id, status: "queued" }, { status: 202 });
    }
    const job = url.pathname.match(/^\/jobs\/([\w-]+)$/);
    if (job) {
      const result = await env.RESULTS.get(job[1], "json");
      return Response.json(result ?? { id: job[1], status: "queued" });
    }
    return new Response("POST /jobs?text=... queues a job; GET /jobs/ID shows it\n", { status: 404 });
  },

  async queue(batch, env) {
    for (const message of batch.messages) {
      const { id, text } = message.body;
      const words = text.split(/\s+/).filter(Boolean).length;
      await env.RESULTS.put(id, JSON.stringify({ id, status: "done", words, attempts: message.attempts }));
      message.ack();
    }
  },
};
