// node:dns and node:dns/promises share this: lookups through the node's
// resolver, under the outbound policy (a name that leads to an address
// workers may not reach is refused, as connect() and fetch() refuse it).
// Ridge answers A and AAAA queries (lookup, resolve4, resolve6); other
// record types are not available (workerd asks Cloudflare's DNS over HTTPS
// for them, which a self-hosted node has no reason to depend on).

import { op_ridge_dns_lookup } from "ext:core/ops";
import { isIP } from "../net.js";
import { invalidArgType, invalidArgValue, nodeError } from "./errors.js";
import { validateString } from "./validators.js";

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

let defaultResultOrder = "verbatim";

export function getDefaultResultOrder() {
  return defaultResultOrder;
}

export function setDefaultResultOrder(order) {
  if (!["verbatim", "ipv4first", "ipv6first"].includes(order)) {
    throw invalidArgValue("dnsOrder", order, "must be one of: 'verbatim', 'ipv4first', 'ipv6first'");
  }
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
  const answer = await op_ridge_dns_lookup(hostname);
  if (answer.outcome === "failed") {
    throw dnsError(answer.code, syscall, hostname, answer.code === "ENOTFOUND" ? undefined : answer.message);
  }
  return answer.addresses.map(([address, family]) => ({ address, family }));
}

function lookupOptions(options) {
  let family = 0;
  let all = false;
  let order = defaultResultOrder;
  if (typeof options === "number") {
    family = options;
  } else if (options !== undefined && options !== null) {
    if (typeof options !== "object") throw invalidArgType("options", ["integer", "object"], options);
    if (options.hints !== undefined && options.hints !== 0) {
      throw nodeError(TypeError, "ERR_OPTION_NOT_IMPLEMENTED", "The options.hints option is not implemented");
    }
    if (options.family !== undefined) family = options.family;
    if (options.all !== undefined) all = !!options.all;
    if (options.order !== undefined) order = options.order;
    else if (options.verbatim === false) order = "ipv4first";
  }
  if (family === "IPv4") family = 4;
  if (family === "IPv6") family = 6;
  if (![0, 4, 6].includes(family)) throw invalidArgValue("options.family", family, "must be one of: 0, 4, 6");
  return { family, all, order };
}

/** lookup's answer: one { address, family }, or all of them with `all`. */
export async function lookupAddresses(hostname, options) {
  validateString(hostname, "hostname");
  const { family, all, order } = lookupOptions(options);
  let found;
  if (hostname === "") {
    found = [];
  } else if (isIP(hostname)) {
    found = [{ address: hostname, family: isIP(hostname) }];
  } else {
    found = (await addresses(hostname, "getaddrinfo")).filter((a) => family === 0 || a.family === family);
    if (found.length === 0) throw dnsError("ENOTFOUND", "getaddrinfo", hostname);
  }
  if (order !== "verbatim") {
    const first = order === "ipv4first" ? 4 : 6;
    found = [...found.filter((a) => a.family === first), ...found.filter((a) => a.family !== first)];
  }
  if (all) return found;
  return found[0] ?? { address: null, family: family === 6 ? 6 : 4 };
}

/** The A (4) or AAAA (6) records of `hostname`; `{ ttl }` is accepted, but
 * the system resolver reports no TTL, so it is 0. */
export async function resolveFamily(hostname, family, options = undefined) {
  validateString(hostname, "hostname");
  const syscall = family === 4 ? "queryA" : "queryAaaa";
  const found = (await addresses(hostname, syscall)).filter((a) => a.family === family);
  if (found.length === 0) throw dnsError("ENODATA", syscall, hostname);
  return options?.ttl ? found.map(({ address }) => ({ address, ttl: 0 })) : found.map(({ address }) => address);
}

/** resolve(hostname[, rrtype]): A and AAAA only. */
export function resolveType(hostname, rrtype = "A", options = undefined) {
  if (typeof rrtype !== "string") throw invalidArgType("rrtype", "string", rrtype);
  switch (rrtype) {
    case "A":
      return resolveFamily(hostname, 4, options);
    case "AAAA":
      return resolveFamily(hostname, 6, options);
    case "ANY": case "CAA": case "CNAME": case "MX": case "NAPTR": case "NS": case "PTR": case "SOA": case "SRV": case "TXT":
      return Promise.reject(notAvailable(`resolve(hostname, "${rrtype}")`));
    default:
      throw invalidArgValue("rrtype", rrtype);
  }
}

/** Record types beyond A and AAAA are not answered by Ridge. */
export function notAvailable(what) {
  return nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", `[ridge] node:dns.${what} is not implemented: Ridge answers A and AAAA lookups only`);
}
