// node:dns: lookups through the node's resolver (see internal/dns.js), in
// Node's callback style; `dns.promises` is node:dns/promises. As on
// workerd, a bad argument throws at once; the callback gets only the
// outcome of the query.

import * as dns from "./internal/dns.js";
import promises from "./dns/promises.js";
import { nextTick } from "./process.js";
import { validateFunction } from "./internal/validators.js";

export { promises };
export const { lookup, getServers, setServers, getDefaultResultOrder, setDefaultResultOrder } = dns;

/** The callback form of a promise-returning function, as util.callbackify
 * makes it: the last argument is the callback. */
function callbackForm(promised) {
  return (...args) => {
    const callback = args.pop();
    validateFunction(callback, "last argument");
    promised(...args).then((value) => nextTick(callback, null, value), (error) => nextTick(callback, error));
  };
}

export const resolve = callbackForm(dns.resolve);
export const resolve4 = callbackForm(dns.resolve4);
export const resolve6 = callbackForm(dns.resolve6);
export const resolveAny = callbackForm(dns.resolveAny);
export const resolveCaa = callbackForm(dns.resolveCaa);
export const resolveCname = callbackForm(dns.resolveCname);
export const resolveMx = callbackForm(dns.resolveMx);
export const resolveNaptr = callbackForm(dns.resolveNaptr);
export const resolveNs = callbackForm(dns.resolveNs);
export const resolvePtr = callbackForm(dns.resolvePtr);
export const resolveSoa = callbackForm(dns.resolveSoa);
export const resolveSrv = callbackForm(dns.resolveSrv);
export const resolveTxt = callbackForm(dns.resolveTxt);
export const reverse = callbackForm(dns.reverse);
export const lookupService = callbackForm(dns.lookupService);

/** A resolver object with the callback forms. */
export class Resolver {
  cancel() {}

  getServers() {
    return getServers();
  }

  resolve(...args) {
    resolve(...args);
  }

  resolve4(...args) {
    resolve4(...args);
  }

  resolve6(...args) {
    resolve6(...args);
  }

  resolveAny(...args) {
    resolveAny(...args);
  }

  resolveCaa(...args) {
    resolveCaa(...args);
  }

  resolveCname(...args) {
    resolveCname(...args);
  }

  resolveMx(...args) {
    resolveMx(...args);
  }

  resolveNaptr(...args) {
    resolveNaptr(...args);
  }

  resolveNs(...args) {
    resolveNs(...args);
  }

  resolvePtr(...args) {
    resolvePtr(...args);
  }

  resolveSoa(...args) {
    resolveSoa(...args);
  }

  resolveSrv(...args) {
    resolveSrv(...args);
  }

  resolveTxt(...args) {
    resolveTxt(...args);
  }

  reverse(...args) {
    reverse(...args);
  }

  // Neither applies to Workers (workerd's answer).
  setLocalAddress() {
    throw new Error("Not implemented");
  }

  setServers() {
    throw new Error("Not implemented");
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
  ...dns.errorCodes,
};
