// node:tls: TLS client sockets on top of cloudflare:sockets, as workerd
// builds them. tls.connect() opens a connection with TLS from the start
// (secureTransport "on"); tls.connect({ socket }) upgrades a connected
// net.Socket in place with startTls(), which is how database drivers
// (PostgreSQL's SSLRequest, MySQL, SMTP's STARTTLS) switch to TLS.
// Certificates are verified by Ridge against the web's roots and the
// node's --outbound-ca; servers are not available in Workers.

import { Socket, _normalizeArgs } from "./net.js";
import { nodeError } from "./internal/errors.js";

function optionNotImplemented(name) {
  return nodeError(TypeError, "ERR_OPTION_NOT_IMPLEMENTED", `The options.${name} option is not implemented`);
}

function notImplemented(what) {
  return new Error(`${what} is not implemented`);
}

/** Options Ridge's TLS cannot honour are refused rather than ignored: a
 * driver asking not to verify certificates must not get a silent yes. */
function refuseUnsupported(options) {
  if (options.rejectUnauthorized === false) throw optionNotImplemented("rejectUnauthorized");
  for (const name of ["pskCallback", "SNICallback", "requestOCSP", "ALPNProtocols", "requestCert", "isServer", "enableTrace"]) {
    if (options[name] !== undefined && options[name] !== false) throw optionNotImplemented(name);
  }
  if (options.secureContext !== undefined && !(options.secureContext instanceof SecureContext)) {
    throw nodeError(TypeError, "ERR_TLS_INVALID_CONTEXT", "context must be a SecureContext");
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
    const start = () => {
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
    if (wrapped.connecting) wrapped.once("connect", start);
    else start();
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
  if (options.minDHSize !== undefined) throw optionNotImplemented("minDHSize");
  refuseUnsupported(options);
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

/** Node's hostname check against a certificate's names (`subjectaltname`
 * and `subject.CN`, as getPeerCertificate() gives them); undefined when it
 * matches, otherwise the error. */
export function checkServerIdentity(hostname, cert) {
  const host = `${hostname}`.toLowerCase().replace(/\.$/, "");
  const altNames = `${cert?.subjectaltname ?? ""}`.split(/,\s*/).filter(Boolean);
  const dnsNames = altNames.filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4).toLowerCase());
  const ips = altNames.filter((n) => n.startsWith("IP Address:")).map((n) => n.slice(11));
  const matches = (pattern) => {
    if (pattern === host) return true;
    if (!pattern.startsWith("*.")) return false;
    const suffix = pattern.slice(1);
    return host.endsWith(suffix) && !host.slice(0, -suffix.length).includes(".") && host.length > suffix.length;
  };
  let reason;
  if (/^[\d.]+$/.test(host) || host.includes(":")) {
    if (ips.includes(host)) return undefined;
    reason = `IP: ${hostname} is not in the cert's list: ${ips.join(", ")}`;
  } else if (dnsNames.length > 0) {
    if (dnsNames.some(matches)) return undefined;
    reason = `Host: ${hostname}. is not in the cert's altnames: ${altNames.join(", ")}`;
  } else {
    const cn = cert?.subject?.CN;
    if (cn !== undefined && matches(`${cn}`.toLowerCase())) return undefined;
    reason = cn === undefined ? "Cert does not contain a DNS name" : `Host: ${hostname}. is not cert's CN: ${cn}`;
  }
  const error = nodeError(Error, "ERR_TLS_CERT_ALTNAME_INVALID", `Hostname/IP does not match certificate's altnames: ${reason}`);
  error.reason = reason;
  error.host = hostname;
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

export function convertALPNProtocols(protocols, out) {
  const names = Array.isArray(protocols) ? protocols : [];
  const bytes = [];
  for (const name of names) {
    const encoded = new TextEncoder().encode(name);
    bytes.push(encoded.length, ...encoded);
  }
  out.ALPNProtocols = new Uint8Array(bytes);
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
  getCiphers, convertALPNProtocols, rootCertificates, DEFAULT_MIN_VERSION, DEFAULT_MAX_VERSION,
  DEFAULT_CIPHERS, DEFAULT_ECDH_CURVE, CLIENT_RENEG_LIMIT, CLIENT_RENEG_WINDOW,
};
