// A worker whose top level does real work before it can answer: a sieve of
// the primes below two million and a table of their gaps, kept for lookups.
const LIMIT = 2_000_000;
const composite = new Uint8Array(LIMIT);
const primes = [];
for (let n = 2; n < LIMIT; n++) {
  if (composite[n]) continue;
  primes.push(n);
  for (let multiple = n * n; multiple < LIMIT; multiple += n) composite[multiple] = 1;
}
const gaps = new Map();
for (let i = 1; i < primes.length; i++) {
  const gap = primes[i] - primes[i - 1];
  gaps.set(gap, (gaps.get(gap) ?? 0) + 1);
}

export default {
  fetch(request) {
    const n = Number(new URL(request.url).searchParams.get("n") ?? 1000);
    return Response.json({ nth: primes[n], gapsOf2: gaps.get(2), count: primes.length });
  },
};
