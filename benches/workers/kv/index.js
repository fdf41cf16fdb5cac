// The worker benches/kv.py drives. Timings are taken inside the worker: the
// clock stands still while JS runs, so every timed loop ends by yielding to
// the event loop once (a 0 ms timer), which moves the clock to "now".
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Zipf(s) sampler over keys 0..n-1, by inverse CDF (built once per isolate). */
let zipf = null;
function zipfSampler(n, s) {
  if (zipf?.n === n && zipf?.s === s) return zipf.sample;
  const cdf = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cdf[i] = total += 1 / Math.pow(i + 1, s);
  const sample = () => {
    const target = Math.random() * total;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  zipf = { n, s, sample };
  return sample;
}
const stats = { hits: 0, gets: 0 };

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const q = (name) => Number(url.searchParams.get(name));
    switch (url.pathname) {
      case "/fill": {
        // Keys k<from>..k<to-1>, values of `size` bytes.
        const value = "v".repeat(q("size"));
        const writes = [];
        for (let i = q("from"); i < q("to"); i++) writes.push(env.KV.put(`k${i}`, value));
        await Promise.all(writes);
        return new Response("ok");
      }
      case "/hot": {
        // n gets of one key the node's cache holds: µs per get.
        await env.KV.put("hot", "a hot value");
        await env.KV.get("hot");
        await tick();
        const start = performance.now();
        for (let i = 0; i < q("n"); i++) await env.KV.get("hot");
        await tick();
        return Response.json({ us_per_get: ((performance.now() - start) * 1000) / q("n") });
      }
      case "/cold": {
        // Gets of keys k<from>.. not read before on this node: store round trips.
        const start = performance.now();
        for (let i = q("from"); i < q("from") + q("n"); i++) {
          if ((await env.KV.get(`k${i}`)) === null) throw new Error(`k${i} is missing`);
        }
        await tick();
        return Response.json({ us_per_get: ((performance.now() - start) * 1000) / q("n") });
      }
      case "/zipf": {
        // A read-heavy request: n gets of Zipf-distributed keys.
        const sample = zipfSampler(q("keys"), q("s"));
        for (let i = 0; i < q("n"); i++) {
          const { cacheStatus } = await env.KV.getWithMetadata(`k${sample()}`);
          stats.gets++;
          if (cacheStatus === "HIT") stats.hits++;
        }
        return new Response("ok");
      }
      case "/stats": {
        const answer = Response.json(stats);
        stats.hits = stats.gets = 0;
        return answer;
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
