// Ridge: the Cache API (`caches.default`, `await caches.open(name)`), with
// Cloudflare's semantics: only GET requests, HTTP caching headers decide
// what is stored and for how long (src/cache.rs), and each worker sees only
// its own caches. Bodies are read by Rust from the response's stream.
import { primordials } from "ext:core/mod.js";
import { op_ridge_cache_delete, op_ridge_cache_match, op_ridge_cache_put } from "ext:core/ops";
import { internals } from "ext:ridge/globals/00_globals.js";

const { ObjectDefineProperty, ObjectPrototypeIsPrototypeOf, TypeError } = primordials;
const { Request, RequestPrototype } = internals.request;
const { Response, ResponsePrototype, toInnerResponse, wireHeaderList } = internals.response;
const { resourceForReadableStream } = internals.streams;

const kConstruct = Symbol("Cache");

/** The request a Cache API call is about: a Request, or a URL. */
function toRequest(request) {
  return ObjectPrototypeIsPrototypeOf(RequestPrototype, request) ? request : new Request(request);
}

class Cache {
  #name;

  constructor(token, name) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor: use caches.default or caches.open()");
    this.#name = name;
  }

  async match(request, options = undefined) {
    request = toRequest(request);
    if (request.method !== "GET" && !options?.ignoreMethod) return undefined;
    const found = op_ridge_cache_match(this.#name, request.url, request.headers.get("if-none-match") ?? "");
    if (found === null) return undefined;
    const { 0: status, 1: statusText, 2: headers, 3: body } = found;
    return new Response(status === 304 ? null : body, { status, statusText, headers });
  }

  async put(request, response) {
    request = toRequest(request);
    if (!ObjectPrototypeIsPrototypeOf(ResponsePrototype, response)) {
      throw new TypeError("cache.put() needs a Response as its second argument");
    }
    if (response.bodyUsed) throw new TypeError("cache.put(): the Response body has already been used");
    const inner = toInnerResponse(response);
    const body = response.body;
    const bodyRid = body === null ? -1 : resourceForReadableStream(body);
    await op_ridge_cache_put(
      this.#name,
      request.url,
      request.method,
      inner.status,
      inner.statusMessage,
      wireHeaderList(inner),
      bodyRid,
    );
  }

  async delete(request, options = undefined) {
    request = toRequest(request);
    if (request.method !== "GET" && !options?.ignoreMethod) return false;
    return op_ridge_cache_delete(this.#name, request.url);
  }
}

class CacheStorage {
  #default = new Cache(kConstruct, "default");

  constructor(token) {
    if (token !== kConstruct) throw new TypeError("Illegal constructor: use the global caches");
  }

  get default() {
    return this.#default;
  }

  async open(name) {
    return new Cache(kConstruct, `named:${name}`);
  }
}

ObjectDefineProperty(globalThis, "caches", {
  value: new CacheStorage(kConstruct),
  enumerable: true,
  configurable: true,
  writable: true,
});
ObjectDefineProperty(globalThis, "Cache", { value: Cache, enumerable: false, configurable: true, writable: true });
ObjectDefineProperty(globalThis, "CacheStorage", {
  value: CacheStorage,
  enumerable: false,
  configurable: true,
  writable: true,
});
