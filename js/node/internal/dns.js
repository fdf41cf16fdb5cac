// node:dns and node:dns/promises share this: lookups through the node's
// resolver, under the outbound policy (a name that leads to an address
// workers may not reach is refused, as connect() and fetch() refuse it).
// Ridge answers A and AAAA queries (lookup, resolve4, resolve6); other
// record types are not available (workerd asks Cloudflare's DNS over HTTPS
// for them, which a self-hosted node has no reason to depend on).
// As on workerd, arguments are checked synchronously: a bad argument
// throws, it is not reported through the callback or the promise.

import { op_ridge_dns_lookup } from "ext:core/ops";
import { subrequest } from "ext:ridge/cloudflare/11_sockets.js";
import { nextTick } from "../process.js";
import { isIP } from "./net/ip.js";
import { describeReceived, invalidArgValue, nodeError, optionNotImplemented } from "./errors.js";
import { validateBoolean, validateFunction, validateNumber, validateOneOf, validateString } from "./validators.js";

export const ADDRCONFIG = 1024;
export const ALL = 256;
export const V4MAPPED = 2048;
export const NODATA = "ENODATA";
export const FORMERR = "EFORMERR";
export const SERVFAIL = "ESERVFAIL";
export const NOTFOUND = "ENOTFOUND";
export const NOTIMP = "ENOTIMP";
export const REFUSED = "EREFUSED";
export const BADQUERY = "EBADQUERY";
export const BADNAME = "EBADNAME";
export const BADFAMILY = "EBADFAMILY";
export const BADRESP = "EBADRESP";
export const CONNREFUSED = "ECONNREFUSED";
export const TIMEOUT = "ETIMEOUT";
export const EOF = "EOF";
export const FILE = "EFILE";
export const NOMEM = "ENOMEM";
export const DESTRUCTION = "EDESTRUCTION";
export const BADSTR = "EBADSTR";
export const BADFLAGS = "EBADFLAGS";
export const NONAME = "ENONAME";
export const BADHINTS = "EBADHINTS";
export const NOTINITIALIZED = "ENOTINITIALIZED";
export const LOADIPHLPAPI = "ELOADIPHLPAPI";
export const ADDRGETNETWORKPARAMS = "EADDRGETNETWORKPARAMS";
export const CANCELLED = "ECANCELLED";

/** The error codes, which node:dns/promises's default export carries too. */
export const errorCodes = {
  NODATA, FORMERR, SERVFAIL, NOTFOUND, NOTIMP, REFUSED, BADQUERY, BADNAME, BADFAMILY, BADRESP,
  CONNREFUSED, TIMEOUT, EOF, FILE, NOMEM, DESTRUCTION, BADSTR, BADFLAGS, NONAME, BADHINTS,
  NOTINITIALIZED, LOADIPHLPAPI, ADDRGETNETWORKPARAMS, CANCELLED,
};

const FAMILIES = [0, 4, 6];
const ORDERS = ["verbatim", "ipv4first", "ipv6first"];

let defaultResultOrder = "verbatim";

export function getDefaultResultOrder() {
  return defaultResultOrder;
}

export function setDefaultResultOrder(order) {
  validateOneOf(order, "dnsOrder", ORDERS);
  defaultResultOrder = order;
}

/** Node's DNS error: `${syscall} ${code} ${hostname}`. */
function dnsError(code, syscall, hostname, detail = undefined) {
  const error = new Error(`${syscall} ${code} ${hostname}${detail ? ` (${detail})` : ""}`);
  error.code = code;
  error.errno = undefined;
  error.syscall = syscall;
  error.hostname = hostname;
  return error;
}

/** Every address of `hostname`, as { address, family }. */
async function addresses(hostname, syscall) {
  // A lookup is outbound I/O of the request, counted like a fetch().
  const answer = await op_ridge_dns_lookup(subrequest(), hostname);
  if (answer.outcome === "failed") {
    throw dnsError(answer.code, syscall, hostname, answer.code === "ENOTFOUND" ? undefined : answer.message);
  }
  return answer.addresses.map(([address, family]) => ({ address, family }));
}

/** lookup()'s options object: { family, all, order }, checked in workerd's order. */
function lookupOptions(options) {
  let family = 0;
  let all = false;
  let order = defaultResultOrder;
  if (options?.hints != null) {
    validateNumber(options.hints, "options.hints");
    // No hints (0) asks for nothing Ridge would have to do.
    if (options.hints !== 0) throw optionNotImplemented("options.hints");
  }
  if (options?.family != null) {
    if (options.family === "IPv4") family = 4;
    else if (options.family === "IPv6") family = 6;
    else {
      validateOneOf(options.family, "options.family", FAMILIES);
      family = options.family;
    }
  }
  if (options?.all != null) {
    validateBoolean(options.all, "options.all");
    all = options.all;
  }
  if (options?.verbatim != null) {
    validateBoolean(options.verbatim, "options.verbatim");
    order = options.verbatim ? "verbatim" : "ipv4first";
  }
  if (options?.order != null) {
    validateOneOf(options.order, "options.order", ORDERS);
    order = options.order;
  }
  return { family, all, order };
}

/** The addresses of a name (not an IP literal) of `family` (0: any), in `order`. */
async function lookupName(hostname, family, order) {
  let found = (await addresses(hostname, "getaddrinfo")).filter((a) => family === 0 || a.family === family);
  if (found.length === 0) throw dnsError("ENOTFOUND", "getaddrinfo", hostname);
  if (order !== "verbatim") {
    const first = order === "ipv4first" ? 4 : 6;
    found = [...found.filter((a) => a.family === first), ...found.filter((a) => a.family !== first)];
  }
  return found;
}

/**
 * lookup(hostname[, options], callback): callback(err, address, family),
 * or callback(err, addresses) with `all`. An empty name and an IP literal
 * are answered here, without asking the resolver (a literal whatever the
 * family asked for, as on workerd).
 */
export function lookup(hostname, options, callback) {
  if (hostname) validateString(hostname, "hostname");
  let settings;
  if (typeof options === "function") {
    callback = options;
    settings = lookupOptions(undefined);
  } else if (typeof options === "number") {
    validateFunction(callback, "callback");
    validateOneOf(options, "family", FAMILIES);
    settings = { ...lookupOptions(undefined), family: options };
  } else if (options !== undefined && typeof options !== "object") {
    // lookup(hostname, callback) with a callback that is not a function.
    validateFunction(arguments.length === 2 ? options : callback, "callback");
    throw nodeError(TypeError, "ERR_INVALID_ARG_TYPE",
      `The "options" argument must be of type object or integer.${describeReceived(options)}`);
  } else {
    validateFunction(callback, "callback");
    settings = lookupOptions(options);
  }
  const { family, all, order } = settings;
  if (!hostname) {
    if (all) nextTick(callback, null, []);
    else nextTick(callback, null, null, family === 6 ? 6 : 4);
    return;
  }
  const literal = isIP(hostname);
  if (literal) {
    if (all) nextTick(callback, null, [{ address: hostname, family: literal }]);
    else nextTick(callback, null, hostname, literal);
    return;
  }
  lookupName(hostname, family, order).then(
    (found) => (all ? callback(null, found) : callback(null, found[0].address, found[0].family)),
    (error) => callback(error),
  );
}

/** The A (4) or AAAA (6) records of `name`; `{ ttl }` is accepted, but
 * the system resolver reports no TTL, so it is 0. */
async function resolveFamily(name, family, options) {
  const syscall = family === 4 ? "queryA" : "queryAaaa";
  const found = (await addresses(name, syscall)).filter((a) => a.family === family);
  if (found.length === 0) throw dnsError("ENODATA", syscall, name);
  return options?.ttl ? found.map(({ address }) => ({ address, ttl: 0 })) : found.map(({ address }) => address);
}

export function resolve4(name, options = undefined) {
  validateString(name, "name");
  return resolveFamily(name, 4, options);
}

export function resolve6(name, options = undefined) {
  validateString(name, "name");
  return resolveFamily(name, 6, options);
}

/** Record types beyond A and AAAA are not answered by Ridge. */
export function notAvailable(what) {
  return nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", `[ridge] node:dns.${what} is not implemented: Ridge answers A and AAAA lookups only`);
}

/** A query for a record type Ridge does not answer: the name is checked,
 * then the promise is rejected. */
function unanswered(what) {
  return (name) => {
    validateString(name, "name");
    return Promise.reject(notAvailable(what));
  };
}

export const resolveAny = unanswered("resolveAny");
export const resolveCaa = unanswered("resolveCaa");
export const resolveCname = unanswered("resolveCname");
export const resolveMx = unanswered("resolveMx");
export const resolveNaptr = unanswered("resolveNaptr");
export const resolveNs = unanswered("resolveNs");
export const resolvePtr = unanswered("resolvePtr");
export const resolveSoa = unanswered("resolveSoa");
export const resolveSrv = unanswered("resolveSrv");
export const resolveTxt = unanswered("resolveTxt");
export const reverse = unanswered("reverse");

const RECORD_TYPES = {
  A: resolve4, AAAA: resolve6, ANY: resolveAny, CAA: resolveCaa, CNAME: resolveCname, MX: resolveMx,
  NAPTR: resolveNaptr, NS: resolveNs, PTR: resolvePtr, SOA: resolveSoa, SRV: resolveSrv, TXT: resolveTxt,
};

/** resolve(name[, rrtype]): the records of one type (A when none is named). */
export function resolve(name, rrtype = "A") {
  validateString(name, "name");
  if (!Object.hasOwn(RECORD_TYPES, rrtype)) throw invalidArgValue("rrtype", rrtype);
  return RECORD_TYPES[rrtype](name);
}

/** Not available on workerd either (nor its answer, a plain Error). */
export async function lookupService() {
  throw new Error("Not implemented");
}

/** The system resolver's servers are not the worker's to know. */
export function getServers() {
  return [];
}

/** Workers cannot choose their resolver; workerd's answer. */
export function setServers() {
  throw new Error("Not implemented");
}
