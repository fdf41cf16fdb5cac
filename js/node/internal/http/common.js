// What node:http's client and server share: the method and status tables,
// the checks on header names and values, and the errors they throw, worded
// as workerd words them.

import { describeReceived, nodeError } from "../errors.js";

export const METHODS = [
  "ACL", "BIND", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD", "LINK", "LOCK", "M-SEARCH", "MERGE",
  "MKACTIVITY", "MKCALENDAR", "MKCOL", "MOVE", "NOTIFY", "OPTIONS", "PATCH", "POST", "PROPFIND", "PROPPATCH",
  "PURGE", "PUT", "QUERY", "REBIND", "REPORT", "SEARCH", "SOURCE", "SUBSCRIBE", "TRACE", "UNBIND", "UNLINK",
  "UNLOCK", "UNSUBSCRIBE",
];

export const STATUS_CODES = {
  100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
  200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
  205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
  300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
  305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
  400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
  405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
  409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Payload Too Large",
  414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable", 417: "Expectation Failed",
  418: "I'm a Teapot", 421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
  424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required", 428: "Precondition Required",
  429: "Too Many Requests", 431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
  500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
  504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates",
  507: "Insufficient Storage", 508: "Loop Detected", 509: "Bandwidth Limit Exceeded", 510: "Not Extended",
  511: "Network Authentication Required",
};

// RFC 7230's token: what a method or a header name may be made of.
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
// What a header value may not hold: controls other than tab, and anything
// above Latin-1.
const INVALID_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

export function checkIsHttpToken(value) {
  return TOKEN.test(value);
}

/** Whether a header value (or one of an array of them) holds a forbidden character. */
export function checkInvalidHeaderChar(value) {
  if (Array.isArray(value)) return value.some((v) => INVALID_HEADER_CHAR.test(v));
  return INVALID_HEADER_CHAR.test(`${value}`);
}

export function validateHeaderName(name, label = "Header name") {
  if (typeof name !== "string" || !name || !checkIsHttpToken(name)) {
    throw httpErrors.invalidToken(label, name);
  }
}

export function validateHeaderValue(name, value) {
  if (value === undefined) throw httpErrors.invalidHeaderValue(value, name);
  if (checkInvalidHeaderChar(value)) throw httpErrors.invalidChar("header content", name);
}

// Node's pool of response parsers; fetch() parses responses, so there is
// no pool, only its size (http.setMaxIdleHTTPParsers).
export const parsers = { name: "parsers", max: 1000 };

/** A Transfer-Encoding value that says chunked. */
export const chunkExpression = /(?:^|\W)chunked(?:$|\W)/i;

/** The URL a request names, refused in workerd's words when it is not one. */
export function requestURL(text) {
  try {
    return new URL(text);
  } catch {
    throw new TypeError("Invalid URL string.");
  }
}

/** A WHATWG URL (Node's test: a URL has href and protocol, a legacy Url has auth and path). */
export function isURL(value) {
  return Boolean(value?.href && value.protocol && value.auth === undefined && value.path === undefined);
}

// setTimeout() takes a delay of at most a signed 32-bit number of milliseconds.
const TIMEOUT_MAX = 2 ** 31 - 1;

/** A socket-style timeout in milliseconds, checked as Node checks it. */
export function getTimerDuration(msecs, name) {
  if (typeof msecs !== "number") {
    throw nodeError(TypeError, "ERR_INVALID_ARG_TYPE",
      `The "${name}" argument must be of type number.${describeReceived(msecs)}`);
  }
  if (msecs < 0 || !Number.isFinite(msecs)) {
    throw nodeError(RangeError, "ERR_OUT_OF_RANGE",
      `The value of "${name}" is out of range. It must be a non-negative finite number. Received ${msecs}`);
  }
  return Math.min(msecs, TIMEOUT_MAX);
}

export const httpErrors = {
  invalidToken: (label, name) =>
    nodeError(TypeError, "ERR_INVALID_HTTP_TOKEN", `${label} must be a valid HTTP token ["${name}"]`),
  invalidHeaderValue: (value, name) =>
    nodeError(TypeError, "ERR_HTTP_INVALID_HEADER_VALUE", `Invalid value "${value}" for header "${name}"`),
  invalidChar: (what, field) => nodeError(TypeError, "ERR_INVALID_CHAR",
    `Invalid character in ${what}${field === undefined ? "" : ` ["${field}"]`}`),
  headersSent: (action) =>
    nodeError(Error, "ERR_HTTP_HEADERS_SENT", `Cannot ${action} headers after they are sent to the client`),
  invalidProtocol: (actual, expected) =>
    nodeError(TypeError, "ERR_INVALID_PROTOCOL", `Protocol "${actual}" not supported. Expected "${expected}"`),
  unescapedCharacters: (what) =>
    nodeError(TypeError, "ERR_UNESCAPED_CHARACTERS", `${what} contains unescaped characters`),
  invalidStatusCode: (code) => nodeError(RangeError, "ERR_HTTP_INVALID_STATUS_CODE", `Invalid status code: ${code}`),
  optionNotImplemented: (name) =>
    nodeError(Error, "ERR_OPTION_NOT_IMPLEMENTED", `The ${name} option is not implemented`),
  methodNotImplemented: (name) =>
    nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", `The ${name} method is not implemented`),
  // What a request learns when its connection goes away.
  connectionReset: (message) => nodeError(Error, "ECONNRESET", message),
  // ERR_INVALID_ARG_VALUE, for the strings and arrays of them http checks.
  invalidValue: (name, value, reason = "is invalid") => nodeError(TypeError, "ERR_INVALID_ARG_VALUE",
    `The ${name.includes(".") ? "property" : "argument"} '${name}' ${reason}. Received ${show(value)}`),
  // ERR_INVALID_ARG_TYPE for expectations Node lists as they are ("one of
  // undefined or null"), which the general helper would word as types.
  invalidType: (name, expected, value) => nodeError(TypeError, "ERR_INVALID_ARG_TYPE",
    `The "${name}" property must be ${expected}.${describeReceived(value)}`),
};

// How util.inspect() escapes a string it shows in single quotes.
const ESCAPES = { "\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** A string or an array as util.inspect() shows it, for error messages. */
function show(value) {
  if (typeof value === "string") return `'${value.replace(/[\\'\n\r\t]/g, (c) => ESCAPES[c])}'`;
  if (Array.isArray(value)) return value.length === 0 ? "[]" : `[ ${value.map(show).join(", ")} ]`;
  return String(value);
}
