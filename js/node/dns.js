// node:dns: lookups through the node's resolver (see internal/dns.js), in
// Node's callback style; `dns.promises` is node:dns/promises.

import * as dns from "./internal/dns.js";
import * as promiseForms from "./dns/promises.js";
import { validateFunction } from "./internal/validators.js";

/** Calls `callback` with what `promise` gives, spread as Node's callbacks take it. */
function deliver(promise, callback, spread) {
  promise.then((value) => callback(null, ...spread(value)), (error) => callback(error));
}

/** lookup(hostname[, options], callback): (err, address, family), or
 * (err, addresses) with `all: true`. */
export function lookup(hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = undefined;
  }
  validateFunction(callback, "callback");
  const all = typeof options === "object" && options !== null && !!options.all;
  const answer = dns.lookupAddresses(hostname, options);
  deliver(answer, callback, (found) => (all ? [found] : [found.address, found.family]));
  return {};
}

/** A callback form of a node:dns/promises function. */
function callbackForm(promised) {
  return (...args) => {
    const callback = args.pop();
    validateFunction(callback, "callback");
    deliver(promised(...args), callback, (value) => [value]);
    return {};
  };
}

export function resolve(hostname, rrtype, callback) {
  if (typeof rrtype === "function") {
    callback = rrtype;
    rrtype = "A";
  }
  validateFunction(callback, "callback");
  deliver(dns.resolveType(hostname, rrtype), callback, (value) => [value]);
  return {};
}

export const resolve4 = callbackForm(promiseForms.resolve4);
export const resolve6 = callbackForm(promiseForms.resolve6);
export const resolveAny = callbackForm(promiseForms.resolveAny);
export const resolveCaa = callbackForm(promiseForms.resolveCaa);
export const resolveCname = callbackForm(promiseForms.resolveCname);
export const resolveMx = callbackForm(promiseForms.resolveMx);
export const resolveNaptr = callbackForm(promiseForms.resolveNaptr);
export const resolveNs = callbackForm(promiseForms.resolveNs);
export const resolvePtr = callbackForm(promiseForms.resolvePtr);
export const resolveSoa = callbackForm(promiseForms.resolveSoa);
export const resolveSrv = callbackForm(promiseForms.resolveSrv);
export const resolveTxt = callbackForm(promiseForms.resolveTxt);
export const reverse = callbackForm(promiseForms.reverse);
export const lookupService = callbackForm(promiseForms.lookupService);

export const { getServers, setServers } = promiseForms;
export const { getDefaultResultOrder, setDefaultResultOrder } = dns;
export const promises = promiseForms.promises;

/** A resolver object with the callback forms. */
export class Resolver {
  constructor() {
    Object.assign(this, {
      getServers, resolve, resolve4, resolve6, resolveAny, resolveCaa, resolveCname, resolveMx,
      resolveNaptr, resolveNs, resolvePtr, resolveSoa, resolveSrv, resolveTxt, reverse,
    });
  }
  cancel() {}
  setLocalAddress() {
    throw dns.notAvailable("Resolver.setLocalAddress");
  }
  setServers() {
    throw dns.notAvailable("Resolver.setServers");
  }
}

const {
  ADDRCONFIG, ALL, V4MAPPED, NODATA, FORMERR, SERVFAIL, NOTFOUND, NOTIMP, REFUSED, BADQUERY, BADNAME,
  BADFAMILY, BADRESP, CONNREFUSED, TIMEOUT, EOF, FILE, NOMEM, DESTRUCTION, BADSTR, BADFLAGS, NONAME,
  BADHINTS, NOTINITIALIZED, LOADIPHLPAPI, ADDRGETNETWORKPARAMS, CANCELLED,
} = dns;
export {
  ADDRCONFIG, ALL, V4MAPPED, NODATA, FORMERR, SERVFAIL, NOTFOUND, NOTIMP, REFUSED, BADQUERY, BADNAME,
  BADFAMILY, BADRESP, CONNREFUSED, TIMEOUT, EOF, FILE, NOMEM, DESTRUCTION, BADSTR, BADFLAGS, NONAME,
  BADHINTS, NOTINITIALIZED, LOADIPHLPAPI, ADDRGETNETWORKPARAMS, CANCELLED,
};

export default {
  lookup, lookupService, resolve, resolve4, resolve6, resolveAny, resolveCaa, resolveCname, resolveMx,
  resolveNaptr, resolveNs, resolvePtr, resolveSoa, resolveSrv, resolveTxt, reverse, getServers, setServers,
  getDefaultResultOrder, setDefaultResultOrder, Resolver, promises, ADDRCONFIG, ALL, V4MAPPED,
  NODATA, FORMERR, SERVFAIL, NOTFOUND, NOTIMP, REFUSED, BADQUERY, BADNAME, BADFAMILY, BADRESP,
  CONNREFUSED, TIMEOUT, EOF, FILE, NOMEM, DESTRUCTION, BADSTR, BADFLAGS, NONAME, BADHINTS,
  NOTINITIALIZED, LOADIPHLPAPI, ADDRGETNETWORKPARAMS, CANCELLED,
};
