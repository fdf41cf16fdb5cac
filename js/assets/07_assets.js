// Ridge: a worker's static assets binding (`env.ASSETS`, the `assets.binding`
// of its configuration), a Fetcher as on Cloudflare: `fetch(request)`
// answers as the assets would answer that request on the edge, always with
// the not-found handling. Rust (crates/ridge-assets) decides and reads the
// files; the body arrives as a stream.
import { primordials } from "ext:core/mod.js";
import { op_ridge_assets_fetch } from "ext:core/ops";
import { internals, registerBinding } from "ext:ridge/globals/00_globals.js";

const { ArrayPrototypeIncludes, TypeError } = primordials;
const { Request } = internals.request;
const { Response } = internals.response;
const { readableStreamForRid } = internals.streams;

const kConstruct = Symbol("Fetcher");
const REDIRECTS = [301, 302, 303, 307, 308];
/** As fetch(): a redirect chain longer than this is an error. */
const MAX_REDIRECTS = 20;

class Fetcher {
  constructor(token) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor");
  }

  async fetch(input, init = undefined) {
    const request = new Request(input, init);
    let url = request.url;
    const headers = [];
    for (const { 0: name, 1: value } of request.headers) headers.push([name, value]);
    for (let redirects = 0; ; redirects++) {
      const { 0: status, 1: responseHeaders, 2: bodyRid } = await op_ridge_assets_fetch(request.method, url, headers);
      const body = bodyRid === null ? null : readableStreamForRid(bodyRid);
      const response = new Response(body, { status, headers: responseHeaders });
      if (request.redirect === "manual" || !ArrayPrototypeIncludes(REDIRECTS, status)) return response;
      if (request.redirect === "error") throw new TypeError(`The assets answered ${status} (a redirect) and the request's redirect mode is "error"`);
      if (redirects === MAX_REDIRECTS) throw new TypeError(`The assets redirected more than ${MAX_REDIRECTS} times`);
      url = new URL(response.headers.get("location"), url).href;
    }
  }

  connect() {
    throw new TypeError("The assets binding cannot open sockets");
  }
}

registerBinding("assets", () => new Fetcher(kConstruct));
