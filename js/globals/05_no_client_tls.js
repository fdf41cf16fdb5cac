// Ridge: stands in for `ext:deno_net/02_tls.js`, which deno_fetch loads for
// `Deno.createHttpClient` client certificates. Workers have no Deno namespace
// and so no custom HTTP clients; this keeps deno_fetch loadable without
// pulling in all of deno_net.
(function () {
  function loadTlsKeyPair(api) {
    throw new TypeError(`${api} is not available in Ridge workers`);
  }
  return { loadTlsKeyPair };
})();
