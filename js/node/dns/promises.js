// node:dns/promises: the promise forms of node:dns (see internal/dns.js).

import * as dns from "../internal/dns.js";

export function lookup(hostname, options = undefined) {
  return dns.lookupAddresses(hostname, options);
}

export function lookupService() {
  return Promise.reject(dns.notAvailable("lookupService"));
}

export function resolve(hostname, rrtype = "A") {
  return dns.resolveType(hostname, rrtype);
}

export function resolve4(hostname, options = undefined) {
  return dns.resolveFamily(hostname, 4, options);
}

export function resolve6(hostname, options = undefined) {
  return dns.resolveFamily(hostname, 6, options);
}

const unavailable = (name) => () => Promise.reject(dns.notAvailable(name));
export const resolveAny = unavailable("resolveAny");
export const resolveCaa = unavailable("resolveCaa");
export const resolveCname = unavailable("resolveCname");
export const resolveMx = unavailable("resolveMx");
export const resolveNaptr = unavailable("resolveNaptr");
export const resolveNs = unavailable("resolveNs");
export const resolvePtr = unavailable("resolvePtr");
export const resolveSoa = unavailable("resolveSoa");
export const resolveSrv = unavailable("resolveSrv");
export const resolveTxt = unavailable("resolveTxt");
export const reverse = unavailable("reverse");

export function getServers() {
  return [];
}

export function setServers() {
  throw dns.notAvailable("setServers");
}

export const { getDefaultResultOrder, setDefaultResultOrder } = dns;

/** A resolver object; every instance asks the node's resolver. */
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
  NODATA, FORMERR, SERVFAIL, NOTFOUND, NOTIMP, REFUSED, BADQUERY, BADNAME, BADFAMILY, BADRESP,
  CONNREFUSED, TIMEOUT, EOF, FILE, NOMEM, DESTRUCTION, BADSTR, BADFLAGS, NONAME, BADHINTS,
  NOTINITIALIZED, LOADIPHLPAPI, ADDRGETNETWORKPARAMS, CANCELLED,
} = dns;
export {
  NODATA, FORMERR, SERVFAIL, NOTFOUND, NOTIMP, REFUSED, BADQUERY, BADNAME, BADFAMILY, BADRESP,
  CONNREFUSED, TIMEOUT, EOF, FILE, NOMEM, DESTRUCTION, BADSTR, BADFLAGS, NONAME, BADHINTS,
  NOTINITIALIZED, LOADIPHLPAPI, ADDRGETNETWORKPARAMS, CANCELLED,
};

export const promises = {
  lookup, lookupService, resolve, resolve4, resolve6, resolveAny, resolveCaa, resolveCname, resolveMx,
  resolveNaptr, resolveNs, resolvePtr, resolveSoa, resolveSrv, resolveTxt, reverse, getServers, setServers,
  getDefaultResultOrder, setDefaultResultOrder, Resolver,
};

export default promises;
