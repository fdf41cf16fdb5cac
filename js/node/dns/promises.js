// node:dns/promises: the promise forms of node:dns (see internal/dns.js).
// As on workerd, a bad argument throws at once rather than rejecting.

import * as dns from "../internal/dns.js";

const {
  resolve, resolve4, resolve6, resolveAny, resolveCaa, resolveCname, resolveMx, resolveNaptr, resolveNs,
  resolvePtr, resolveSoa, resolveSrv, resolveTxt, reverse, lookupService, getServers, setServers,
  getDefaultResultOrder, setDefaultResultOrder,
} = dns;
export {
  resolve, resolve4, resolve6, resolveAny, resolveCaa, resolveCname, resolveMx, resolveNaptr, resolveNs,
  resolvePtr, resolveSoa, resolveSrv, resolveTxt, reverse, lookupService, getServers, setServers,
  getDefaultResultOrder, setDefaultResultOrder,
};

/** lookup(hostname[, options]): { address, family }, or every address with `all`. */
export function lookup(hostname, options = undefined) {
  return new Promise((resolveLookup, reject) => {
    dns.lookup(hostname, options, (error, address, family) => {
      if (error) reject(error);
      else resolveLookup(Array.isArray(address) ? address : { address, family });
    });
  });
}

/** A resolver object; every instance asks the node's resolver. */
export class Resolver {
  cancel() {}

  getServers() {
    return getServers();
  }

  resolve(name, rrtype = undefined) {
    return resolve(name, rrtype);
  }

  resolve4(name, options = undefined) {
    return resolve4(name, options);
  }

  resolve6(name, options = undefined) {
    return resolve6(name, options);
  }

  resolveAny(name) {
    return resolveAny(name);
  }

  resolveCaa(name) {
    return resolveCaa(name);
  }

  resolveCname(name) {
    return resolveCname(name);
  }

  resolveMx(name) {
    return resolveMx(name);
  }

  resolveNaptr(name) {
    return resolveNaptr(name);
  }

  resolveNs(name) {
    return resolveNs(name);
  }

  resolvePtr(name) {
    return resolvePtr(name);
  }

  resolveSoa(name) {
    return resolveSoa(name);
  }

  resolveSrv(name) {
    return resolveSrv(name);
  }

  resolveTxt(name) {
    return resolveTxt(name);
  }

  reverse(ip) {
    return reverse(ip);
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

/** What require("dns/promises") and dns.promises are: the functions and
 * the error codes (workerd leaves the lookup flags out of it). */
const promises = {
  lookup, lookupService, resolve, resolve4, resolve6, resolveAny, resolveCaa, resolveCname, resolveMx,
  resolveNaptr, resolveNs, resolvePtr, resolveSoa, resolveSrv, resolveTxt, reverse, getServers, setServers,
  getDefaultResultOrder, setDefaultResultOrder, Resolver, ...dns.errorCodes,
};

export default promises;
