// node:url - the WHATWG `URL` and `URLSearchParams` (the globals), the
// helpers Node adds around them (domainToASCII/domainToUnicode, file URL
// conversions, urlToHttpOptions, format with options), and Node's legacy
// API: `url.parse()` into a `Url` object, `url.format()`, `url.resolve()`
// and `url.resolveObject()`, with the quirks workerd keeps. File paths
// follow POSIX rules unless `{ windows: true }` is given.

import { posix as posixPath, win32 as win32Path } from "./path.js";
import { escape as escapeComponent, parse as parseQuery, stringify as stringifyQuery } from "./querystring.js";
import { toUnicode as punycodeToUnicode } from "./punycode.js";
import { invalidArgType, missingArgs, nodeError } from "./internal/errors.js";
import { validateString } from "./internal/validators.js";

const { URL, URLSearchParams } = globalThis;
export { URL, URLSearchParams };

// ---------------------------------------------------------------------------
// Domain names

/**
 * `domain` as the host of a special URL ("ws://x" with its hostname set),
 * or null when it cannot be one. The hostname setter leaves a URL alone
 * when it fails, so it is tried on two URLs with different hosts.
 */
function specialHostname(domain) {
  if (domain.length === 0) return null;
  const first = new URL("ws://x");
  const second = new URL("ws://y");
  first.hostname = domain;
  second.hostname = domain;
  return first.hostname === second.hostname ? first.hostname : null;
}

/** The labels of an ASCII host name, Punycode ones ("xn--...") shown in Unicode. */
function hostnameToUnicode(hostname) {
  return hostname.split(".").map((label) => {
    if (!label.startsWith("xn--")) return label;
    try {
      return punycodeToUnicode(label);
    } catch {
      return label;
    }
  }).join(".");
}

export function domainToASCII(domain) {
  if (arguments.length < 1) throw missingArgs("domain");
  return specialHostname(`${domain}`) ?? "";
}

export function domainToUnicode(domain) {
  if (arguments.length < 1) throw missingArgs("domain");
  const hostname = specialHostname(`${domain}`);
  return hostname === null ? "" : hostnameToUnicode(hostname);
}

// ---------------------------------------------------------------------------
// File URLs

/**
 * Whether `value` looks like a WHATWG URL: it has `href` and `protocol`,
 * but not the `auth` and `path` of a legacy `Url`.
 */
function isURL(value) {
  return Boolean(value?.href && value.protocol && value.auth === undefined && value.path === undefined);
}

const invalidFileUrlPath = (detail) => nodeError(Error, "ERR_INVALID_FILE_URL_PATH", `File URL path ${detail}`);

function posixPathFromURL(url) {
  if (url.hostname !== "") {
    throw nodeError(Error, "ERR_INVALID_FILE_URL_HOST", 'File URL host must be "localhost" or empty on linux');
  }
  if (/%2f/i.test(url.pathname)) throw invalidFileUrlPath("must not include encoded / characters");
  return decodeURIComponent(url.pathname);
}

function windowsPathFromURL(url) {
  if (/%2f|%5c/i.test(url.pathname)) throw invalidFileUrlPath("must not include encoded \\ or / characters");
  const pathname = decodeURIComponent(url.pathname.replaceAll("/", "\\"));
  if (url.hostname !== "") return `\\\\${domainToUnicode(url.hostname)}${pathname}`;
  // "/C:/..." without a host: the drive letter starts the path.
  if (!/^[a-zA-Z]$/.test(pathname[1] ?? "") || pathname[2] !== ":") throw invalidFileUrlPath("must be absolute");
  return pathname.slice(1);
}

export function fileURLToPath(path, options) {
  let url;
  if (typeof path === "string") url = new URL(path);
  else if (isURL(path)) url = path;
  else throw invalidArgType("path", ["string", "URL"], path);
  if (url.protocol !== "file:") throw nodeError(Error, "ERR_INVALID_URL_SCHEME", "The URL must be of scheme file");
  return options?.windows ? windowsPathFromURL(url) : posixPathFromURL(url);
}

// What pathToFileURL() escapes before the URL parser sees the path, since
// the parser would take it as syntax (or drop it): "%" first, so that the
// escapes it adds stay as they are.
const PATH_ESCAPES = [
  ["%", "%25"], ["\t", "%09"], ["\n", "%0A"], ["\r", "%0D"], [" ", "%20"], ['"', "%22"],
  ["#", "%23"], ["?", "%3F"], ["[", "%5B"], ["\\", "%5C"], ["]", "%5D"], ["^", "%5E"],
  ["|", "%7C"], ["~", "%7E"],
];

function encodePathChars(path, windows) {
  for (const [char, escaped] of PATH_ESCAPES) {
    // Windows paths keep their backslashes: the parser reads them as "/".
    if (char === "\\" && windows) continue;
    path = path.replaceAll(char, escaped);
  }
  return path;
}

/**
 * ERR_INVALID_ARG_VALUE for a UNC path, shown as util.inspect() shows a
 * string (backslashes escaped), as in workerd.
 */
function invalidUncPath(filepath, reason) {
  const escaped = filepath.replaceAll("\\", "\\\\");
  const shown = escaped.includes("'") && !escaped.includes('"') ? `"${escaped}"` : `'${escaped.replaceAll("'", "\\'")}'`;
  return nodeError(TypeError, "ERR_INVALID_ARG_VALUE", `The argument 'path' ${reason}. Received ${shown}`);
}

export function pathToFileURL(filepath, options) {
  const windows = Boolean(options?.windows);
  if (typeof filepath !== "string") throw invalidArgType("filepath", "string", filepath);
  if (windows && filepath.startsWith("\\\\")) {
    // A UNC path, "\\server\share\..." or "\\?\UNC\server\share\...".
    const prefixLength = filepath.startsWith("\\\\?\\UNC\\") ? 8 : 2;
    const hostnameEnd = filepath.indexOf("\\", prefixLength);
    if (hostnameEnd === -1) throw invalidUncPath(filepath, "Missing UNC resource path");
    if (hostnameEnd === 2) throw invalidUncPath(filepath, "Empty UNC servername");
    const url = new URL("file://");
    url.hostname = domainToASCII(filepath.slice(prefixLength, hostnameEnd));
    url.pathname = encodePathChars(filepath.slice(hostnameEnd).replaceAll("\\", "/"), true);
    return url;
  }
  const path = windows ? win32Path : posixPath;
  let resolved = path.resolve(filepath);
  // resolve() drops a trailing separator, which marks a directory.
  const last = filepath[filepath.length - 1];
  if ((last === "/" || (windows && last === "\\")) && resolved[resolved.length - 1] !== path.sep) {
    resolved += "/";
  }
  return new URL(`file://${encodePathChars(resolved, windows)}`);
}

export function toPathIfFileURL(fileURLOrPath) {
  return isURL(fileURLOrPath) ? fileURLToPath(fileURLOrPath) : fileURLOrPath;
}

/** The options object http.request() takes, for a URL. */
export function urlToHttpOptions(url) {
  const { hostname, pathname, port, username, password, search } = url;
  const options = {
    __proto__: null,
    ...url, // the properties a caller may have added to the URL
    protocol: url.protocol,
    hostname: hostname && hostname[0] === "[" ? hostname.slice(1, -1) : hostname,
    hash: url.hash,
    search,
    pathname,
    path: `${pathname || ""}${search || ""}`,
    href: url.href,
  };
  if (port !== "") options.port = Number(port);
  if (username || password) options.auth = `${decodeURIComponent(username)}:${decodeURIComponent(password)}`;
  return options;
}

// ---------------------------------------------------------------------------
// The legacy API: Url objects

// Protocols whose URLs have "//" and a host; the set holds each with and
// without its colon, as callers pass either.
const SLASHED_PROTOCOLS = new Set(["http", "https", "ftp", "gopher", "file", "ws", "wss"].flatMap((p) => [p, `${p}:`]));
// "javascript:" URLs have no host, and their text is not escaped.
const isJavascript = (protocol) => protocol === "javascript" || protocol === "javascript:";

const PROTOCOL = /^[a-z0-9.+-]+:/i;
const PORT = /:[0-9]*$/;
// "//user@host": a host even without a protocol.
const AUTH_AND_HOST = /^\/\/[^@/]+@[^@/]+/;
// A path (with a query) and nothing else: parsed without further ado.
const SIMPLE_PATH = /^(\/\/?(?!\/)[^?\s]*)(\?[^\s]*)?$/;
const HOSTNAME_MAX_LENGTH = 255;
const FORBIDDEN_HOST_CHARS = /[\0\t\n\r #%/:<>?@[\\\]^|]/;
const FORBIDDEN_IPV6_HOST_CHARS = /[\0\t\n\r #%/<>?@\\^|]/;
// Characters that end the host part, and those that end only its name (the
// host restarts after an "@").
const HOST_ENDS = new Set(["#", "/", "?"]);
const NOT_IN_HOST = new Set([" ", '"', "%", "'", ";", "<", ">", "\\", "^", "`", "{", "|", "}"]);
// Characters parse() escapes in the rest of the URL.
const AUTO_ESCAPES = {
  "\t": "%09", "\n": "%0A", "\r": "%0D", " ": "%20", '"': "%22", "'": "%27", "<": "%3C",
  ">": "%3E", "\\": "%5C", "^": "%5E", "`": "%60", "{": "%7B", "|": "%7C", "}": "%7D",
};
const AUTO_ESCAPED = /[\t\n\r "'<>\\^`{|}]/g;

// Leading and trailing characters parse() ignores: controls, space, NBSP, BOM.
const isUrlSpace = (code) => code < 33 || code === 0xa0 || code === 0xfeff;

const isIpv6Hostname = (hostname) => hostname.startsWith("[") && hostname.endsWith("]");

/**
 * A host name in ASCII, as IDNA's ToASCII gives it; "" when it is not
 * valid. ASCII labels stay as they are, except Punycode ones, which must
 * decode; the others go through the URL parser's own IDNA mapping (given
 * a last label of its own, so a number-like one is not read as IPv4).
 */
function hostnameToASCII(hostname) {
  const labels = hostname.split(".").map((label) => {
    if (/^[\0-\x7f]*$/.test(label) && !label.startsWith("xn--")) return label;
    const ascii = specialHostname(`${label}.x`);
    return ascii === null ? null : ascii.slice(0, -2);
  });
  return labels.includes(null) ? "" : labels.join(".");
}

export function Url() {
  this.protocol = null;
  this.slashes = null;
  this.auth = null;
  this.host = null;
  this.port = null;
  this.hostname = null;
  this.hash = null;
  this.search = null;
  this.query = null;
  this.pathname = null;
  this.path = null;
  this.href = null;
}

/**
 * The URL's text without the surrounding spaces, and with backslashes
 * before its query or fragment turned into slashes; and whether it has an
 * "@" (before those) and a "#".
 */
function prepareUrlText(url) {
  let start = 0;
  let end = url.length;
  while (start < end && isUrlSpace(url.charCodeAt(start))) start++;
  while (end > start && isUrlSpace(url.charCodeAt(end - 1))) end--;
  const text = url.slice(start, end);
  const split = text.search(/[?#]/);
  const head = split === -1 ? text : text.slice(0, split);
  return {
    rest: head.replaceAll("\\", "/") + (split === -1 ? "" : text.slice(split)),
    hasAt: head.includes("@"),
    hasHash: text.includes("#"),
  };
}

/**
 * Splits the authority off `rest` (which starts right after "//"): sets
 * auth, host, port and hostname, and returns what follows the host.
 */
function parseAuthority(urlObject, rest, url) {
  let hostEnd = -1;
  let atSign = -1;
  let nonHost = -1;
  for (let i = 0; i < rest.length && hostEnd === -1; i++) {
    const char = rest[i];
    if (char === "\t" || char === "\n" || char === "\r") {
      // Dropped from the authority.
      rest = rest.slice(0, i) + rest.slice(i + 1);
      i--;
    } else if (NOT_IN_HOST.has(char)) {
      if (nonHost === -1) nonHost = i;
    } else if (HOST_ENDS.has(char)) {
      if (nonHost === -1) nonHost = i;
      hostEnd = i;
    } else if (char === "@") {
      // The last "@" ends the user info, whatever came before it.
      atSign = i;
      nonHost = -1;
    }
  }
  let start = 0;
  if (atSign !== -1) {
    urlObject.auth = decodeURIComponent(rest.slice(0, atSign));
    start = atSign + 1;
  }
  if (nonHost === -1) {
    urlObject.host = rest.slice(start);
    rest = "";
  } else {
    urlObject.host = rest.slice(start, nonHost);
    rest = rest.slice(nonHost);
  }
  urlObject.parseHost();
  if (typeof urlObject.hostname !== "string") urlObject.hostname = "";

  const ipv6 = isIpv6Hostname(urlObject.hostname);
  if (!ipv6) {
    // A name with a ":" left ("a:b:80") ends there; the rest joins the path.
    const cut = urlObject.hostname.search(/[/\\#?:]/);
    if (cut !== -1) {
      rest = `/${urlObject.hostname.slice(cut)}${rest}`;
      urlObject.hostname = urlObject.hostname.slice(0, cut);
    }
  }
  urlObject.hostname = urlObject.hostname.length > HOSTNAME_MAX_LENGTH ? "" : urlObject.hostname.toLowerCase();
  if (urlObject.hostname !== "") {
    if (ipv6) {
      if (FORBIDDEN_IPV6_HOST_CHARS.test(urlObject.hostname)) throw invalidUrl(url);
    } else {
      urlObject.hostname = hostnameToASCII(urlObject.hostname);
      if (urlObject.hostname === "" || FORBIDDEN_HOST_CHARS.test(urlObject.hostname)) throw invalidUrl(url);
    }
  }
  urlObject.host = urlObject.hostname + (urlObject.port ? `:${urlObject.port}` : "");
  if (ipv6) {
    urlObject.hostname = urlObject.hostname.slice(1, -1);
    if (rest[0] !== "/") rest = `/${rest}`;
  }
  return rest;
}

function invalidUrl(url) {
  const error = nodeError(Error, "ERR_INVALID_URL", "Invalid URL");
  error.input = url;
  return error;
}

/** Sets search and query (parsed, with `parseQueryString`) from `text` ("?..." or null). */
function setSearch(urlObject, text, parseQueryString) {
  if (text !== null) {
    urlObject.search = text;
    urlObject.query = parseQueryString ? parseQuery(text.slice(1)) : text.slice(1);
  } else if (parseQueryString) {
    urlObject.search = null;
    urlObject.query = { __proto__: null };
  }
}

Url.prototype.parse = function parse(url, parseQueryString, slashesDenoteHost) {
  validateString(url, "url");
  const prepared = prepareUrlText(url);
  let rest = prepared.rest;

  if (!slashesDenoteHost && !prepared.hasHash && !prepared.hasAt) {
    const simple = SIMPLE_PATH.exec(rest);
    if (simple) {
      this.path = rest;
      this.href = rest;
      this.pathname = simple[1];
      setSearch(this, simple[2] ?? null, parseQueryString);
      return this;
    }
  }

  const protocol = PROTOCOL.exec(rest)?.[0];
  const lowerProtocol = protocol?.toLowerCase();
  if (protocol) {
    this.protocol = lowerProtocol;
    rest = rest.slice(protocol.length);
  }

  let slashes = false;
  if (slashesDenoteHost || protocol || AUTH_AND_HOST.test(rest)) {
    slashes = rest.startsWith("//");
    if (slashes && !isJavascript(lowerProtocol)) {
      rest = rest.slice(2);
      this.slashes = true;
    }
  }

  // The protocol as written decides here: "HTTP:x" has a host, "http:x" not.
  if (!isJavascript(lowerProtocol) && (slashes || (protocol && !SLASHED_PROTOCOLS.has(protocol)))) {
    rest = parseAuthority(this, rest, url);
  }

  if (!isJavascript(lowerProtocol)) rest = rest.replace(AUTO_ESCAPED, (char) => AUTO_ESCAPES[char]);

  const hashAt = rest.indexOf("#");
  const beforeHash = hashAt === -1 ? rest : rest.slice(0, hashAt);
  if (hashAt !== -1) this.hash = rest.slice(hashAt);
  const questionAt = beforeHash.indexOf("?");
  setSearch(this, questionAt === -1 ? null : beforeHash.slice(questionAt), parseQueryString);
  const pathEnd = questionAt !== -1 ? questionAt : hashAt;
  if (pathEnd === -1) {
    if (rest.length > 0) this.pathname = rest;
  } else if (pathEnd > 0) {
    this.pathname = rest.slice(0, pathEnd);
  }
  if (SLASHED_PROTOCOLS.has(lowerProtocol) && this.hostname && !this.pathname) this.pathname = "/";

  if (this.pathname || this.search) this.path = (this.pathname || "") + (this.search || "");
  this.href = this.format();
  return this;
};

Url.prototype.format = function format() {
  let auth = this.auth || "";
  // User info is escaped like a query component, ":" excepted.
  if (auth) auth = `${escapeComponent(auth).replaceAll("%3A", ":")}@`;

  let protocol = this.protocol || "";
  let pathname = this.pathname || "";
  let hash = this.hash || "";
  let host = "";
  if (this.host) {
    host = auth + this.host;
  } else if (this.hostname) {
    const hostname = this.hostname;
    host = auth + (hostname.includes(":") && !isIpv6Hostname(hostname) ? `[${hostname}]` : hostname);
    if (this.port) host += `:${this.port}`;
  }

  const query = this.query !== null && typeof this.query === "object" ? stringifyQuery(this.query) : "";
  let search = this.search || (query && `?${query}`) || "";
  if (protocol && !protocol.endsWith(":")) protocol += ":";
  if (typeof pathname === "string") pathname = pathname.replaceAll("#", "%23").replaceAll("?", "%3F");

  if (this.slashes || SLASHED_PROTOCOLS.has(protocol)) {
    if (this.slashes || host) {
      if (pathname && pathname[0] !== "/") pathname = `/${pathname}`;
      host = `//${host}`;
    } else if (protocol.startsWith("file")) {
      host = "//";
    }
  }

  search = search.replaceAll("#", "%23");
  if (hash && hash[0] !== "#") hash = `#${hash}`;
  if (search && search[0] !== "?") search = `?${search}`;
  return protocol + host + pathname + search + hash;
};

/** Sets `path` from pathname and search, if either is set. */
function updatePath(result) {
  if (result.pathname !== null || result.search !== null) {
    result.path = (result.pathname ? result.pathname : "") + (result.search ? result.search : "");
  }
}

/** Moves user info written into a host ("user@host") to `auth`. */
function splitAuthFromHost(result) {
  if (result.host && result.host.indexOf("@") > 0) {
    const [auth, host] = result.host.split("@");
    result.auth = auth;
    result.host = result.hostname = host;
  }
}

Url.prototype.resolveObject = function resolveObject(relative) {
  if (typeof relative === "string") {
    const parsed = new Url();
    parsed.parse(relative, false, true);
    relative = parsed;
  }
  const result = new Url();
  Object.assign(result, this);
  result.hash = relative.hash;

  // Only a fragment (or nothing): the base with the new hash.
  if (relative.href === "") {
    result.href = result.format();
    return result;
  }

  // "//host/path": everything but the protocol comes from the relative URL.
  if (relative.slashes && !relative.protocol) {
    for (const key of Object.keys(relative)) {
      if (key !== "protocol") result[key] = relative[key];
    }
    if (SLASHED_PROTOCOLS.has(result.protocol) && result.hostname && !result.pathname) {
      result.path = result.pathname = "/";
    }
    result.href = result.format();
    return result;
  }

  if (relative.protocol && relative.protocol !== result.protocol) {
    // Another protocol: the relative URL stands on its own. For a slashed
    // protocol written without a host ("http:a/b"), the path's first
    // component is the host.
    if (!SLASHED_PROTOCOLS.has(relative.protocol)) {
      Object.assign(result, relative);
      result.href = result.format();
      return result;
    }
    result.protocol = relative.protocol;
    if (!relative.host && !/^file:?$/.test(relative.protocol) && !isJavascript(relative.protocol)) {
      const relPath = (relative.pathname || "").split("/");
      while (relPath.length > 0 && !(relative.host = relPath.shift()));
      relative.host ||= "";
      relative.hostname ||= "";
      if (relPath[0] !== "") relPath.unshift("");
      if (relPath.length < 2) relPath.unshift("");
      result.pathname = relPath.join("/");
    } else {
      result.pathname = relative.pathname;
    }
    result.search = relative.search;
    result.query = relative.query;
    result.host = relative.host || "";
    result.auth = relative.auth;
    result.hostname = relative.hostname || relative.host;
    result.port = relative.port;
    if (result.pathname || result.search) result.path = (result.pathname || "") + (result.search || "");
    result.slashes ||= relative.slashes;
    result.href = result.format();
    return result;
  }

  const isSourceAbs = Boolean(result.pathname && result.pathname[0] === "/");
  const isRelAbs = Boolean(relative.host || (relative.pathname && relative.pathname[0] === "/"));
  let mustEndAbs = isRelAbs || isSourceAbs || Boolean(result.host && relative.pathname);
  const removeAllDots = mustEndAbs;
  let srcPath = (result.pathname && result.pathname.split("/")) || [];
  const relPath = (relative.pathname && relative.pathname.split("/")) || [];
  // Protocols without "//" (e.g. "mailto:") keep their host as the path's
  // first component while resolving.
  const noLeadingSlashes = Boolean(result.protocol && !SLASHED_PROTOCOLS.has(result.protocol));
  if (noLeadingSlashes) {
    result.hostname = "";
    result.port = null;
    if (result.host) {
      if (srcPath[0] === "") srcPath[0] = result.host;
      else srcPath.unshift(result.host);
    }
    result.host = "";
    if (relative.protocol) {
      relative.hostname = null;
      relative.port = null;
      result.auth = null;
      if (relative.host) {
        if (relPath[0] === "") relPath[0] = relative.host;
        else relPath.unshift(relative.host);
      }
      relative.host = null;
    }
    mustEndAbs &&= relPath[0] === "" || srcPath[0] === "";
  }

  if (isRelAbs) {
    // An absolute relative path (or a new host) replaces the base's.
    if (relative.host || relative.host === "") {
      if (result.host !== relative.host) result.auth = null;
      result.host = relative.host;
      result.port = relative.port;
    }
    if (relative.hostname || relative.hostname === "") {
      if (result.hostname !== relative.hostname) result.auth = null;
      result.hostname = relative.hostname;
    }
    result.search = relative.search;
    result.query = relative.query;
    srcPath = relPath;
  } else if (relPath.length > 0) {
    // A relative path replaces the base's last component.
    srcPath.pop();
    srcPath = srcPath.concat(relPath);
    result.search = relative.search;
    result.query = relative.query;
  } else if (relative.search !== null && relative.search !== undefined) {
    // Only a query: the base's path with the new query.
    if (noLeadingSlashes) {
      result.hostname = result.host = srcPath.shift();
      splitAuthFromHost(result);
    }
    result.search = relative.search;
    result.query = relative.query;
    updatePath(result);
    result.href = result.format();
    return result;
  }

  if (srcPath.length === 0) {
    // No path left, e.g. "http://a" and "?x" (handled above) or "".
    result.pathname = null;
    result.path = result.search ? `/${result.search}` : null;
    result.href = result.format();
    return result;
  }

  // Resolve "." and ".."; a last "." or ".." (or "") means a directory.
  let last = srcPath[srcPath.length - 1];
  const hasTrailingSlash = ((result.host || relative.host || srcPath.length > 1) &&
    (last === "." || last === "..")) || last === "";
  let up = 0;
  for (let i = srcPath.length - 1; i >= 0; i--) {
    last = srcPath[i];
    if (last === ".") {
      srcPath.splice(i, 1);
    } else if (last === "..") {
      srcPath.splice(i, 1);
      up++;
    } else if (up) {
      srcPath.splice(i, 1);
      up--;
    }
  }
  // A relative path keeps the ".." that climb above its start.
  if (!mustEndAbs && !removeAllDots) {
    for (; up > 0; up--) srcPath.unshift("..");
  }
  if (mustEndAbs && srcPath[0] !== "" && (!srcPath[0] || srcPath[0][0] !== "/")) srcPath.unshift("");
  if (hasTrailingSlash && !srcPath.join("/").endsWith("/")) srcPath.push("");

  const isAbsolute = srcPath[0] === "" || Boolean(srcPath[0] && srcPath[0][0] === "/");
  if (noLeadingSlashes) {
    result.hostname = result.host = isAbsolute ? "" : srcPath.length > 0 ? srcPath.shift() : "";
    splitAuthFromHost(result);
  }

  mustEndAbs ||= Boolean(result.host && srcPath.length > 0);
  if (mustEndAbs && !isAbsolute) srcPath.unshift("");

  if (srcPath.length === 0) {
    result.pathname = null;
    result.path = null;
  } else {
    result.pathname = srcPath.join("/");
  }
  updatePath(result);
  result.auth = relative.auth || result.auth;
  result.slashes ||= relative.slashes;
  result.href = result.format();
  return result;
};

Url.prototype.resolve = function resolve(relative) {
  return this.resolveObject(parse(relative, false, true)).format();
};

/** Splits `host` into hostname and port ("host:80"). */
Url.prototype.parseHost = function parseHost() {
  let host = this.host;
  const port = PORT.exec(host)?.[0];
  if (port) {
    if (port !== ":") this.port = port.slice(1);
    host = host.slice(0, host.length - port.length);
  }
  if (host) this.hostname = host;
};

// ---------------------------------------------------------------------------
// The legacy functions

/** Parses a URL string into a `Url`; a `Url` is returned as it is. */
export function parse(url, parseQueryString, slashesDenoteHost) {
  if (url instanceof Url) return url;
  const urlObject = new Url();
  urlObject.parse(url, parseQueryString, slashesDenoteHost);
  return urlObject;
}

/** The href of a WHATWG URL without the parts `options` leave out. */
function formatURL(url, options) {
  let fragment = true;
  let unicode = false;
  let search = true;
  let auth = true;
  if (options) {
    if (typeof options !== "object" || Array.isArray(options)) throw invalidArgType("options", "Object", options);
    if (options.fragment != null) fragment = Boolean(options.fragment);
    if (options.unicode != null) unicode = Boolean(options.unicode);
    if (options.search != null) search = Boolean(options.search);
    if (options.auth != null) auth = Boolean(options.auth);
  }
  const copy = new URL(url.href);
  if (!fragment) copy.hash = "";
  if (!search) copy.search = "";
  if (!auth) {
    copy.username = "";
    copy.password = "";
  }
  const href = copy.href;
  if (!unicode || copy.hostname === "") return href;
  const userinfo = copy.username || copy.password
    ? `${copy.username}${copy.password ? `:${copy.password}` : ""}@`
    : "";
  const before = `${copy.protocol}//${userinfo}`;
  if (!href.startsWith(before + copy.hostname)) return href;
  return before + hostnameToUnicode(copy.hostname) + href.slice(before.length + copy.hostname.length);
}

/**
 * A URL string from a legacy `Url` (or any object with its fields), a URL
 * string (parsed first), or a WHATWG `URL` with `options`
 * ({ auth, fragment, search, unicode }).
 */
export function format(urlObject, options) {
  if (typeof urlObject === "string") {
    urlObject = parse(urlObject);
  } else if (typeof urlObject !== "object" || urlObject === null) {
    throw invalidArgType("urlObject", ["Object", "string"], urlObject);
  } else if (urlObject instanceof URL) {
    return formatURL(urlObject, options);
  }
  return Url.prototype.format.call(urlObject);
}

/** Resolves `relative` against `source`, as a browser resolves a link. */
export function resolve(source, relative) {
  return parse(source, false, true).resolve(relative);
}

export function resolveObject(source, relative) {
  if (!source) return relative;
  return parse(source, false, true).resolveObject(relative);
}

export default {
  domainToASCII,
  domainToUnicode,
  URL,
  URLSearchParams,
  fileURLToPath,
  pathToFileURL,
  toPathIfFileURL,
  urlToHttpOptions,
  format,
  parse,
  resolve,
  resolveObject,
  Url,
};
