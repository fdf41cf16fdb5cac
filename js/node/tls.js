// node:tls: TLS client sockets on top of cloudflare:sockets, as workerd
// builds them. tls.connect() opens a connection with TLS from the start
// (secureTransport "on"); tls.connect({ socket }) upgrades a connected
// net.Socket in place with startTls(), which is how database drivers
// (PostgreSQL's SSLRequest, MySQL, SMTP's STARTTLS) switch to TLS.
// Certificates are verified by Ridge against the web's roots and the
// node's --outbound-ca; servers are not available in Workers.

import { Socket, _normalizeArgs } from "./net.js";
import { Buffer } from "./buffer.js";
import { methodNotImplemented, nodeError, optionNotImplemented } from "./internal/errors.js";
import { validateFunction, validateNumber } from "./internal/validators.js";
import { canonicalIP, isIP } from "./internal/net/ip.js";

function notImplemented(what) {
  return new Error(`${what} is not implemented`);
}

/** Options Ridge's TLS cannot honour are refused rather than ignored (a
 * driver asking not to verify certificates must not get a silent yes),
 * checked in workerd's order. */
function refuseUnsupported(options) {
  for (const name of ["enableTrace", "isServer", "server", "requestCert"]) {
    if (options[name]) throw optionNotImplemented(`options.${name}`);
  }
  if (options.rejectUnauthorized === false) throw optionNotImplemented("options.rejectUnauthorized");
  for (const name of ["ALPNProtocols", "SNICallback"]) {
    if (options[name] !== undefined) throw optionNotImplemented(`options.${name}`);
  }
  if (options.requestOCSP) throw optionNotImplemented("options.requestOCSP");
  if (options.secureContext !== undefined && !(options.secureContext instanceof SecureContext)) {
    throw nodeError(TypeError, "ERR_TLS_INVALID_CONTEXT", "context must be a SecureContext");
  }
  if (options.pskCallback !== undefined) throw optionNotImplemented("options.pskCallback");
  // Ridge checks the server's name itself; a custom check is validated and,
  // as on workerd, not called (there is no peer certificate to give it).
  if (options.checkServerIdentity !== undefined) {
    validateFunction(options.checkServerIdentity, "options.checkServerIdentity");
  }
}

export class SecureContext {
  constructor(options = {}) {
    this.context = undefined;
    this.options = options;
  }
}

export function createSecureContext(options = {}) {
  if (options.secureOptions !== undefined && !Number.isInteger(options.secureOptions)) {
    throw nodeError(TypeError, "ERR_INVALID_ARG_TYPE", `The "options.secureOptions" property must be of type number.`);
  }
  return new SecureContext(options);
}

export class TLSSocket extends Socket {
  constructor(socket = undefined, options = {}) {
    refuseUnsupported(options);
    super({ allowHalfOpen: options.allowHalfOpen });
    this.encrypted = true;
    this.authorized = false;
    this.authorizationError = null;
    this.alpnProtocol = false;
    this.servername = options.servername ?? null;
    this._wrapped = socket ?? null;
  }

  /** Both a plain and an upgraded connection end up here once open. */
  _connected() {
    this.authorized = true;
    super._connected();
    this.emit("secure");
    this.emit("secureConnect");
  }

  /** Upgrades the wrapped net.Socket (connected, or once it connects). */
  _upgrade(host) {
    const wrapped = this._wrapped;
    const closed = () => nodeError(Error, "ERR_SOCKET_CLOSED", "Socket is closed");
    // The wrapped socket failing before it connected fails this one too.
    const failed = (error) => this.destroy(error ?? closed());
    const start = () => {
      wrapped.removeListener("error", failed);
      wrapped.removeListener("close", failedOnClose);
      if (wrapped.destroyed || wrapped.pending) {
        this.destroy(closed());
        return;
      }
      const plain = wrapped._takeConnection();
      const hostname = this.servername ?? host;
      let upgraded;
      try {
        upgraded = plain.startTls({ expectedServerHostname: hostname });
      } catch (error) {
        this.destroy(error);
        return;
      }
      this.connecting = true;
      this.remoteAddress = wrapped.remoteAddress;
      this.remotePort = wrapped.remotePort;
      this.remoteFamily = wrapped.remoteFamily;
      this._attach(upgraded, hostname, wrapped.remotePort);
    };
    const failedOnClose = () => failed();
    if (wrapped.connecting) {
      wrapped.once("connect", start);
      wrapped.once("error", failed);
      wrapped.once("close", failedOnClose);
    } else {
      start();
    }
  }

  getPeerCertificate() {
    throw notImplemented("getPeerCertificate");
  }
  getCertificate() {
    throw notImplemented("TLSSocket.getCertificate");
  }
  getPeerX509Certificate() {
    throw notImplemented("TLSSocket.getPeerX509Certificate");
  }
  getX509Certificate() {
    throw notImplemented("TLSSocket.getX509Certificate");
  }
  setKeyCert() {
    throw notImplemented("TLSSocket.setKeyCert");
  }
  exportKeyingMaterial() {
    throw notImplemented("exportKeyingMaterial");
  }
  getCipher() {
    return null;
  }
  getProtocol() {
    return null;
  }
  getSession() {
    return null;
  }
  getTLSTicket() {
    return null;
  }
  getFinished() {
    return null;
  }
  getPeerFinished() {
    return null;
  }
  getSharedSigalgs() {
    return null;
  }
  getEphemeralKeyInfo() {
    return null;
  }
  isSessionReused() {
    return false;
  }
  renegotiate() {
    return false;
  }
  setMaxSendFragment() {
    return false;
  }
  setServername(name) {
    this.servername = name;
  }
  setSession() {}
  disableRenegotiation() {}
  enableTrace() {}
}

/** The arguments of tls.connect(): ([port][, host][, options][, callback]). */
function normalizeConnectArgs(args) {
  const rest = [...args];
  const callback = typeof rest[rest.length - 1] === "function" ? rest.pop() : null;
  let options = {};
  const last = rest[rest.length - 1];
  if (last !== null && typeof last === "object") options = { ...rest.pop() };
  if (rest.length > 0) {
    const [base] = _normalizeArgs(rest);
    options = { ...base, ...options };
  }
  return [options, callback];
}

/** tls.connect(options[, cb]) / (port[, host][, options][, cb]). */
export function connect(...args) {
  const [options, callback] = normalizeConnectArgs(args);
  if (options.minDHSize !== undefined) {
    validateNumber(options.minDHSize, "options.minDHSize", 1);
    throw optionNotImplemented("options.minDHSize");
  }
  const socket = new TLSSocket(options.socket, options);
  if (callback) socket.once("secureConnect", callback);
  if (options.timeout) socket.setTimeout(options.timeout);
  if (options.socket !== undefined) {
    if (!(options.socket instanceof Socket)) {
      throw nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", "[ridge] tls.connect({ socket }) takes a net.Socket; TLS over other streams is not implemented");
    }
    socket._upgrade(options.host ?? options.socket.remoteAddress ?? "localhost");
    return socket;
  }
  return socket.connect({ ...options, host: options.host ?? "localhost" });
}

/** Splits a certificate's `subjectaltname` ("DNS:a, IP Address:b"); a
 * name may be a JSON string in quotes (when it holds a comma or quote). */
function splitAltNames(altNames) {
  if (!altNames.includes('"')) return altNames.split(", ");
  const names = [];
  let current = "";
  let offset = 0;
  while (offset < altNames.length) {
    const comma = altNames.indexOf(",", offset);
    const quote = altNames.indexOf('"', offset);
    if (quote !== -1 && (comma === -1 || quote < comma)) {
      const quoted = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(altNames.slice(quote));
      if (quoted === null) {
        throw nodeError(SyntaxError, "ERR_TLS_CERT_ALTNAME_FORMAT", "Invalid subject alternative name string");
      }
      current += altNames.slice(offset, quote) + JSON.parse(quoted[0]);
      offset = quote + quoted[0].length;
    } else if (comma !== -1) {
      names.push(current + altNames.slice(offset, comma));
      current = "";
      offset = comma + 2; // past ", "
    } else {
      current += altNames.slice(offset);
      offset = altNames.length;
    }
  }
  names.push(current);
  return names;
}

const withoutTrailingDot = (name) => name.replace(/\.$/, "");
const hostLabels = (name) => withoutTrailingDot(name).replace(/[A-Z]/g, (c) => c.toLowerCase()).split(".");

/** Whether the host (its labels) matches a certificate name, per RFC 6125:
 * at most one wildcard, in the leftmost label only, never for a label
 * that is an A-label (xn--) nor directly under a top-level domain. */
function matchesName(host, pattern) {
  if (!pattern) return false;
  const labels = hostLabels(`${pattern}`);
  if (labels.length !== host.length || labels.includes("")) return false;
  // Unicode, control characters and blanks never match.
  if (labels.some((label) => /[^\u0021-\u007F]/u.test(label))) return false;
  for (let i = host.length - 1; i > 0; i--) {
    if (host[i] !== labels[i]) return false;
  }
  const [first] = labels;
  const pieces = first.split("*");
  if (pieces.length === 1 || first.includes("xn--")) return host[0] === first;
  if (pieces.length > 2 || labels.length <= 2) return false;
  const [prefix, suffix] = pieces;
  return prefix.length + suffix.length <= host[0].length && host[0].startsWith(prefix) && host[0].endsWith(suffix);
}

/**
 * Node's check of a hostname against a certificate's names (`subjectaltname`
 * and `subject.CN`, as getPeerCertificate() gives them): undefined when it
 * matches, otherwise the error, whose message is the reason (as workerd
 * words it, without Node's "Hostname/IP does not match" prefix).
 */
export function checkServerIdentity(hostname, cert) {
  const subject = cert.subject;
  const altNames = cert.subjectaltname;
  const dnsNames = [];
  const ips = [];
  if (altNames) {
    for (const name of splitAltNames(altNames)) {
      if (name.startsWith("DNS:")) dnsNames.push(name.slice(4));
      else if (name.startsWith("IP Address:")) ips.push(canonicalIP(name.slice(11)));
    }
  }
  const host = withoutTrailingDot(`${hostname}`);
  let valid = false;
  let reason;
  if (isIP(host)) {
    valid = ips.includes(canonicalIP(host));
    if (!valid) reason = `IP: ${host} is not in the cert's list: ${ips.join(", ")}`;
  } else if (dnsNames.length > 0 || subject?.CN) {
    const labels = hostLabels(host);
    if (dnsNames.length > 0) {
      valid = dnsNames.some((name) => matchesName(labels, name));
      if (!valid) reason = `Host: ${host}. is not in the cert's altnames: ${altNames}`;
    } else {
      // The Common Name counts only when there are no DNS names.
      const cn = subject.CN;
      valid = Array.isArray(cn) ? cn.some((name) => matchesName(labels, name)) : matchesName(labels, cn);
      if (!valid) reason = `Host: ${host}. is not cert's CN: ${cn}`;
    }
  } else {
    reason = "Cert does not contain a DNS name";
  }
  if (valid) return undefined;
  const error = nodeError(Error, "ERR_TLS_CERT_ALTNAME_INVALID", reason);
  error.reason = reason;
  error.host = host;
  error.cert = cert;
  return error;
}

export function createServer() {
  throw new Error("Not implemented");
}

export function Server() {
  throw new Error("Not implemented");
}

export function getCiphers() {
  throw new Error("Not implemented");
}

/** Puts the wire form of ALPN protocol names (each prefixed by its byte
 * length) in `out.ALPNProtocols`; bytes given already are copied. */
export function convertALPNProtocols(protocols, out) {
  if (Array.isArray(protocols)) {
    const encoded = protocols.map((name, index) => {
      const bytes = Buffer.from(name);
      if (bytes.length > 255) {
        throw nodeError(RangeError, "ERR_OUT_OF_RANGE", `The byte length of the protocol at index ${index} ` +
          `exceeds the maximum length. It must be <= 255. Received ${bytes.length}`);
      }
      return [Buffer.from([bytes.length]), bytes];
    });
    out.ALPNProtocols = Buffer.concat(encoded.flat());
  } else if (ArrayBuffer.isView(protocols)) {
    out.ALPNProtocols = Buffer.from(new Uint8Array(protocols.buffer, protocols.byteOffset, protocols.byteLength));
  }
}

/** Removed from Node; kept by workerd as a stub. */
export function createSecurePair() {
  throw methodNotImplemented("createSecurePair");
}

export const rootCertificates = Object.freeze([]);
export const DEFAULT_MIN_VERSION = "TLSv1.2";
export const DEFAULT_MAX_VERSION = "TLSv1.3";
export const DEFAULT_CIPHERS = "";
export const DEFAULT_ECDH_CURVE = "auto";
export const CLIENT_RENEG_LIMIT = 3;
export const CLIENT_RENEG_WINDOW = 600;

export default {
  TLSSocket, SecureContext, connect, createSecureContext, checkServerIdentity, createServer, Server,
  getCiphers, createSecurePair, convertALPNProtocols, rootCertificates, DEFAULT_MIN_VERSION, DEFAULT_MAX_VERSION,
  DEFAULT_CIPHERS, DEFAULT_ECDH_CURVE, CLIENT_RENEG_LIMIT, CLIENT_RENEG_WINDOW,
};
