// node:path - POSIX and Windows path string manipulation, as workerd gives
// it: `path` is the POSIX flavour, `path.win32` a full Windows
// implementation. A worker has no file system, so the current directory
// that `resolve()` starts from is "/" for both flavours. `matchesGlob`
// matches as minimatch does with the options Node passes it, like workerd.

import { invalidArgType } from "./internal/errors.js";
import { validateString } from "./internal/validators.js";

// ---------------------------------------------------------------------------
// Shared helpers

const CWD = "/";

const isPosixSep = (ch) => ch === "/";
const isWinSep = (ch) => ch === "/" || ch === "\\";
const WIN_SEPARATORS = /[\\/]/;

/**
 * Resolves "." and ".." in a root-less path whose segments are split by
 * `separators`, joining the result with `sep`. Empty segments are dropped;
 * a ".." that cannot pop is kept only when the path may climb above its
 * start.
 */
function normalizeSegments(path, allowAboveRoot, sep, separators) {
  const out = [];
  for (const segment of path.split(separators)) {
    if (segment === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (allowAboveRoot) out.push("..");
    } else if (segment !== "" && segment !== ".") {
      out.push(segment);
    }
  }
  return out.join(sep);
}

/**
 * The last component of `path[from..]`, ignoring trailing separators:
 * `{ start, end }`, with `end` -1 when there is none. `start` is `from` when
 * no separator precedes the component.
 */
function lastComponent(path, from, isSep) {
  let end = path.length;
  while (end > from && isSep(path[end - 1])) end--;
  if (end === from) return { start: from, end: -1 };
  let start = end - 1;
  while (start > from && !isSep(path[start - 1])) start--;
  return { start, end };
}

/**
 * Where the extension of the file name `path[start..end]` starts, or -1: at
 * its last dot, unless that dot is its first character or the name is "..".
 * `dotDotAt` is where a ".." must start to count (posix.parse() looks one
 * character early after a leading "/", so it gives "/.." the extension ".",
 * a quirk Node and workerd share).
 */
function extensionStart(path, start, end, dotDotAt = start) {
  const dot = path.lastIndexOf(".", end - 1);
  if (dot <= start) return -1;
  if (dotDotAt === start && path.slice(start, end) === "..") return -1;
  return dot;
}

function basenameOf(path, suffix, from, isSep) {
  const { start, end } = lastComponent(path, from, isSep);
  if (suffix === undefined || suffix.length === 0 || suffix.length > path.length) {
    return end === -1 ? "" : path.slice(start, end);
  }
  if (suffix === path) return "";
  // Node compares the suffix with the name from its end backwards. A name
  // that is itself a tail of a longer suffix gives the rest of the path
  // (trailing separators included), as Node does.
  if (end === -1) return path.slice(start);
  const name = path.slice(start, end);
  if (name.length > suffix.length) {
    return name.endsWith(suffix) ? name.slice(0, name.length - suffix.length) : name;
  }
  if (name === suffix || !suffix.endsWith(name)) return name;
  return path.slice(start);
}

function extnameOf(path, from, isSep) {
  const { start, end } = lastComponent(path, from, isSep);
  if (end === -1) return "";
  const dot = extensionStart(path, start, end);
  return dot === -1 ? "" : path.slice(dot, end);
}

/** Fills `base`, `name` and `ext` of a parse() result from `path[start..end]`. */
function setBaseNameExt(ret, path, start, end, dotDotAt) {
  const dot = extensionStart(path, start, end, dotDotAt);
  ret.base = path.slice(start, end);
  ret.name = dot === -1 ? ret.base : path.slice(start, dot);
  ret.ext = dot === -1 ? "" : path.slice(dot, end);
}

function formatPath(sep, pathObject) {
  if (pathObject === null || typeof pathObject !== "object" || Array.isArray(pathObject)) {
    throw invalidArgType("pathObject", "Object", pathObject);
  }
  const dir = pathObject.dir || pathObject.root;
  const ext = pathObject.ext ? `${pathObject.ext[0] === "." ? "" : "."}${pathObject.ext}` : "";
  const base = pathObject.base || `${pathObject.name || ""}${ext}`;
  if (!dir) return base;
  return dir === pathObject.root ? `${dir}${base}` : `${dir}${sep}${base}`;
}

// ---------------------------------------------------------------------------
// matchesGlob(): minimatch's matching with the options Node uses
// (windowsPathsNoEscape, nonegate, nocomment; case-sensitive, as Workers
// run on "linux"). So a backslash is always a separator, never an escape.
// Like workerd, POSIX classes ([[:alpha:]]) are not read, empty extglob
// alternatives (@(a|)) are kept, and "**/.." is not split in two patterns.

// Brace expansion stops at this many patterns, as brace-expansion does.
const MAX_EXPANSIONS = 100_000;

/** Splits `text` at the `sep` characters outside braces and parentheses. */
function splitTopLevel(text, sep) {
  const parts = [""];
  let depth = 0;
  for (const char of text) {
    if (char === "{" || char === "(") depth++;
    else if (char === "}" || char === ")") depth--;
    if (char === sep && depth === 0) parts.push("");
    else parts[parts.length - 1] += char;
  }
  return parts;
}

/** The items of a sequence brace ("1..3", "01..10", "a..e", "1..9..2"), or null. */
function expandSequence(body) {
  const numeric = /^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$/.exec(body);
  const match = numeric ?? /^([a-zA-Z])\.\.([a-zA-Z])(?:\.\.(-?\d+))?$/.exec(body);
  if (match === null) return null;
  const [, first, last, step = "1"] = match;
  const from = numeric ? Number(first) : first.charCodeAt(0);
  const to = numeric ? Number(last) : last.charCodeAt(0);
  const increment = Math.max(Math.abs(Number(step)), 1) * (to < from ? -1 : 1);
  // A leading zero on either end pads every number to the longer width.
  const width = numeric && (/^-?0\d/.test(first) || /^-?0\d/.test(last)) ? Math.max(first.length, last.length) : 0;
  const items = [];
  for (let i = from; (increment > 0 ? i <= to : i >= to) && items.length < MAX_EXPANSIONS; i += increment) {
    if (!numeric) {
      const char = String.fromCharCode(i);
      items.push(char === "\\" ? "" : char);
    } else if (i < 0) {
      items.push(`-${String(-i).padStart(width - 1, "0")}`);
    } else {
      items.push(String(i).padStart(width, "0"));
    }
  }
  return items;
}

/** The patterns a glob's braces ("{a,b}", "{1..3}") stand for. */
function expandBraces(pattern) {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === "{") {
      if (depth === 0) open = i;
      depth++;
      continue;
    }
    // A "}" before any "{" leaves the depth below zero, as in workerd.
    if (pattern[i] !== "}" || --depth !== 0 || open === -1) continue;
    const body = pattern.slice(open + 1, i);
    let alternatives = splitTopLevel(body, ",");
    if (alternatives.length === 1) {
      alternatives = expandSequence(body);
      // "{x}" is no brace expression: look for the next one.
      if (alternatives === null) {
        open = -1;
        continue;
      }
    }
    const prefix = pattern.slice(0, open);
    const suffix = pattern.slice(i + 1);
    const results = [];
    for (const alternative of alternatives) {
      for (const expanded of expandBraces(prefix + alternative + suffix)) {
        results.push(expanded);
        if (results.length >= MAX_EXPANSIONS) return results;
      }
    }
    return results;
  }
  return [pattern];
}

/** The index of the ")" closing the "(" at `open`, or -1. */
function closingParen(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return i;
  }
  return -1;
}

const EXTGLOB_QUANTIFIERS = { "@": "", "*": "*", "+": "+", "?": "?" };

/** The regular-expression source for one path component of a glob. */
function componentRegex(part) {
  let regex = "";
  for (let i = 0; i < part.length; i++) {
    const char = part[i];
    // Extglobs: @(a|b) one, *(..) any number, +(..) at least one, ?(..) at
    // most one, !(..) anything else.
    if ("@*+?!".includes(char) && part[i + 1] === "(") {
      const close = closingParen(part, i + 1);
      if (close !== -1) {
        const group = splitTopLevel(part.slice(i + 2, close), "|").map(componentRegex).join("|");
        if (char === "!") {
          // minimatch negates the rest of the component along with the group.
          regex += `(?!(?:${group})${componentRegex(part.slice(close + 1))}$)[^/]*?`;
        } else {
          regex += `(?:${group})${EXTGLOB_QUANTIFIERS[char]}`;
        }
        i = close;
        continue;
      }
    }
    if (char === "[") {
      // A "]" right after "[" or "[!" is a member; a "[" never closed is a
      // plain character.
      let start = i + 1;
      const negate = part[start] === "!" || part[start] === "^";
      if (negate) start++;
      const close = part.indexOf("]", start + 1);
      if (close === -1) {
        regex += "\\[";
        continue;
      }
      // Reversed ranges ("z-a") are dropped; a class left empty matches nothing.
      const members = part.slice(start, close)
        .replace(/(.)-(.)/g, (range, from, to) => (from > to ? "" : range))
        .replace(/[[\]^\\]/g, "\\$&");
      regex += members === "" ? "(?!)" : `[${negate ? "^" : ""}${members}]`;
      i = close;
      continue;
    }
    if (char === "*") regex += "[^/]*";
    else if (char === "?") regex += "[^/]";
    else if (".+^$|(){}".includes(char)) regex += `\\${char}`;
    else regex += char;
  }
  return regex;
}

const GLOBSTAR = Symbol("globstar");
const MAGIC = /[*?[]|[@+!]\(/;
const DRIVE_COMPONENT = /^[a-z]:$/i;

/** A pattern component: GLOBSTAR, a literal string, or a RegExp. */
function compileComponent(part) {
  if (part === "**") return GLOBSTAR;
  // "*" matches at least one character.
  if (part === "*") return /^(?!\.)[^/]+$/;
  if (!MAGIC.test(part)) return part;
  // Wildcards match a leading dot only when the pattern has one, and never
  // match "." or "..".
  const dot = part.startsWith(".") ? "(?!\\.\\.?$)" : "(?!\\.)";
  return new RegExp(`^${dot}${componentRegex(part)}$`);
}

/**
 * The components of a path or pattern as minimatch sees them: runs of "/"
 * split once, "." and empty components dropped (a leading "" kept, two for
 * a Windows UNC path), and "x/.." removed. In a path, a Windows drive
 * stops "..".
 */
function globComponents(text, windows, isPath) {
  const parts = text.split(/\/+/);
  if (windows && /^\/\/[^/]+/.test(text)) parts.unshift("");
  let changed;
  do {
    changed = false;
    for (let i = 1; i < parts.length - 1; i++) {
      if (i === 1 && parts[1] === "" && parts[0] === "") continue;
      if (parts[i] === "." || parts[i] === "") {
        parts.splice(i--, 1);
        changed = true;
      }
    }
    if (parts[0] === "." && parts.length === 2 && (parts[1] === "." || parts[1] === "")) {
      parts.pop();
      changed = true;
    }
    for (let i = parts.indexOf("..", 1); i !== -1; i = parts.indexOf("..", i + 1)) {
      const before = parts[i - 1];
      if (!before || before === "." || before === ".." || before === "**" ||
          (windows && isPath && DRIVE_COMPONENT.test(before))) {
        continue;
      }
      // minimatch keeps a "." where this would start a pattern with "**".
      const keepDot = !isPath && i === 1 && parts[2] === "**";
      parts.splice(i - 1, 2, ...(keepDot ? ["."] : []));
      i -= 2;
      changed = true;
    }
  } while (changed);
  return parts.length === 0 ? [""] : parts;
}

/** Whether `file[fi..]` matches `pattern[pi..]`. */
function matchComponents(file, fi, pattern, pi) {
  for (; pi < pattern.length; fi++, pi++) {
    const part = pattern[pi];
    if (part === GLOBSTAR) {
      // "**" matches any number of components, but never one starting with
      // a dot; at the end it needs at least one.
      if (pi === pattern.length - 1) {
        return fi < file.length && file.slice(fi).every((f) => !f.startsWith("."));
      }
      for (let k = fi; k <= file.length; k++) {
        if (matchComponents(file, k, pattern, pi + 1)) return true;
        if (file[k]?.startsWith(".")) return false;
      }
      return false;
    }
    const f = file[fi];
    if (f === undefined) return false;
    if (typeof part === "string" ? part !== f : !part.test(f)) return false;
  }
  // A trailing "/" in the path is allowed.
  return fi === file.length || (fi === file.length - 1 && file[fi] === "");
}

/** A compiled glob: a match(path) function. */
function compileGlob(pattern, windows) {
  pattern = pattern.replaceAll("\\", "/");
  if (pattern === "") return (path) => path === "";
  // Expansions that come out empty ("{a,}") are dropped.
  const expansions = new Set(expandBraces(pattern));
  expansions.delete("");
  const compiled = [...expansions].map((expansion) => globComponents(expansion, windows, false)
    .filter((part, i, parts) => part !== "**" || parts[i - 1] !== "**")
    .map(compileComponent));
  return (path) => {
    if (windows) path = path.replaceAll("\\", "/");
    const file = globComponents(path, windows, true);
    // A drive letter at the start of a Windows path matches in either case.
    const drive = windows && /^[a-z]:(?:\/|$)/i.test(path) ? path.slice(0, 2) : "";
    return compiled.some((parts) => {
      if (drive && typeof parts[0] === "string" && parts[0].toLowerCase() === drive.toLowerCase()) {
        parts = [drive, ...parts.slice(1)];
      }
      return matchComponents(file, 0, parts, 0);
    });
  };
}

// Compiled globs, the most recent ones per flavour (as Node caches them).
const GLOB_CACHE_SIZE = 250;
const globCache = { posix: new Map(), win32: new Map() };

function globMatches(path, pattern, windows) {
  validateString(path, "path");
  validateString(pattern, "pattern");
  const cache = globCache[windows ? "win32" : "posix"];
  let match = cache.get(pattern);
  if (match === undefined) {
    match = compileGlob(pattern, windows);
    cache.set(pattern, match);
    if (cache.size > GLOB_CACHE_SIZE) cache.delete(cache.keys().next().value);
  }
  return match(path);
}

// ---------------------------------------------------------------------------
// POSIX

export const posix = {
  resolve(...args) {
    let resolved = "";
    let absolute = false;
    for (let i = args.length - 1; i >= -1 && !absolute; i--) {
      const path = i >= 0 ? args[i] : CWD;
      validateString(path, `paths[${i}]`);
      if (path.length === 0) continue;
      resolved = `${path}/${resolved}`;
      absolute = path[0] === "/";
    }
    return `/${normalizeSegments(resolved, false, "/", "/")}`;
  },

  normalize(path) {
    validateString(path, "path");
    if (path.length === 0) return ".";
    const absolute = path[0] === "/";
    const trailingSlash = path[path.length - 1] === "/";
    const body = normalizeSegments(path, !absolute, "/", "/");
    if (body.length === 0) return absolute ? "/" : trailingSlash ? "./" : ".";
    return `${absolute ? "/" : ""}${body}${trailingSlash ? "/" : ""}`;
  },

  isAbsolute(path) {
    validateString(path, "path");
    return path[0] === "/";
  },

  join(...args) {
    for (const arg of args) validateString(arg, "path");
    const joined = args.filter((arg) => arg.length > 0).join("/");
    return joined.length === 0 ? "." : posix.normalize(joined);
  },

  relative(from, to) {
    validateString(from, "from");
    validateString(to, "to");
    if (from === to) return "";
    const fromParts = posix.resolve(from).split("/").filter(Boolean);
    const toParts = posix.resolve(to).split("/").filter(Boolean);
    let common = 0;
    while (common < fromParts.length && common < toParts.length &&
           fromParts[common] === toParts[common]) {
      common++;
    }
    const up = new Array(fromParts.length - common).fill("..");
    return [...up, ...toParts.slice(common)].join("/");
  },

  // Paths have no namespaces on POSIX systems.
  toNamespacedPath(path) {
    return path;
  },

  dirname(path) {
    validateString(path, "path");
    if (path.length === 0) return ".";
    const hasRoot = path[0] === "/";
    // The component before the last one ends at the separator before it.
    let end = path.length;
    while (end > 1 && path[end - 1] === "/") end--;
    while (end > 1 && path[end - 1] !== "/") end--;
    end--;
    if (end < 1) return hasRoot ? "/" : ".";
    if (hasRoot && end === 1) return "//";
    return path.slice(0, end);
  },

  basename(path, suffix) {
    // Node checks the suffix first and calls it "ext" here.
    if (suffix !== undefined) validateString(suffix, "ext");
    validateString(path, "path");
    return basenameOf(path, suffix, 0, isPosixSep);
  },

  extname(path) {
    validateString(path, "path");
    return extnameOf(path, 0, isPosixSep);
  },

  format(pathObject) {
    return formatPath("/", pathObject);
  },

  parse(path) {
    validateString(path, "path");
    const ret = { root: "", dir: "", base: "", ext: "", name: "" };
    if (path.length === 0) return ret;
    const absolute = path[0] === "/";
    if (absolute) ret.root = "/";
    const from = absolute ? 1 : 0;
    const { start, end } = lastComponent(path, from, isPosixSep);
    if (end !== -1) {
      // Right after the leading "/", Node's ".." check looks one character
      // early, so parse("/..") gives { name: ".", ext: "." }.
      setBaseNameExt(ret, path, start, end, start === 1 && absolute ? 0 : start);
    }
    if (start > from) ret.dir = path.slice(0, start - 1);
    else if (absolute) ret.dir = "/";
    return ret;
  },

  matchesGlob(path, pattern) {
    return globMatches(path, pattern, false);
  },

  sep: "/",
  delimiter: ":",
};

// ---------------------------------------------------------------------------
// Windows

const DRIVE = /^[a-zA-Z]:/;
const UNC_ROOT = /^[\\/]{2}([^\\/]+)[\\/]+([^\\/]+)/;

/**
 * The root of a Windows path: `device` ("C:" or "\\server\share", "" when
 * none), where the rest of the path starts, whether the path is absolute,
 * and whether it is a UNC root.
 */
function winRoot(path) {
  const unc = UNC_ROOT.exec(path);
  if (unc) {
    return { device: `\\\\${unc[1]}\\${unc[2]}`, rootEnd: unc[0].length, absolute: true, unc: true };
  }
  if (isWinSep(path[0])) return { device: "", rootEnd: 1, absolute: true, unc: false };
  if (DRIVE.test(path)) {
    const absolute = isWinSep(path[2]);
    return { device: path.slice(0, 2), rootEnd: absolute ? 3 : 2, absolute, unc: false };
  }
  return { device: "", rootEnd: 0, absolute: false, unc: false };
}

/**
 * The root of a Windows path as dirname() and parse() see it: its length
 * (-1 if none), a UNC root followed by more keeping the separator after it;
 * and whether the path is nothing but a UNC root.
 */
function winDirRoot(path) {
  const root = winRoot(path);
  if (root.unc) {
    const rootEnd = root.rootEnd === path.length ? root.rootEnd : root.rootEnd + 1;
    return { rootEnd, uncOnly: root.rootEnd === path.length };
  }
  if (root.rootEnd === 0) return { rootEnd: -1, uncOnly: false };
  return { rootEnd: root.rootEnd, uncOnly: false };
}

/** The part of a Windows path after a leading drive letter ("C:"), if any. */
const afterDrive = (path) => (DRIVE.test(path) ? 2 : 0);

/**
 * relative() for resolved paths whose lower case changes their length
 * (some non-ASCII letters): components compared case-insensitively.
 */
function winRelativeByComponents(fromOrig, toOrig) {
  const fromParts = fromOrig.split("\\");
  const toParts = toOrig.split("\\");
  if (fromParts[fromParts.length - 1] === "") fromParts.pop();
  if (toParts[toParts.length - 1] === "") toParts.pop();
  let common = 0;
  while (common < fromParts.length && common < toParts.length &&
         fromParts[common].toLowerCase() === toParts[common].toLowerCase()) {
    common++;
  }
  if (common === 0) return toOrig;
  const up = new Array(fromParts.length - common).fill("..");
  return [...up, ...toParts.slice(common)].join("\\");
}

/** The span of a resolved Windows path without its leading and trailing backslashes. */
function trimBackslashes(path) {
  let start = 0;
  while (start < path.length && path[start] === "\\") start++;
  let end = path.length;
  while (end - 1 > start && path[end - 1] === "\\") end--;
  return { start, end, length: end - start };
}

/**
 * relative() for resolved paths, compared character by character in lower
 * case (`from`, `to`), the answer cut from `toOrig`. Node compares this way,
 * and a two-character first component reads as a drive root ("C:"), which
 * workerd keeps too.
 */
function winRelativeByChars(from, to, toOrig) {
  const f = trimBackslashes(from);
  const t = trimBackslashes(to);
  const length = Math.min(f.length, t.length);
  let i = 0;
  let lastCommonSep = -1;
  for (; i < length; i++) {
    const ch = from[f.start + i];
    if (ch !== to[t.start + i]) break;
    if (ch === "\\") lastCommonSep = i;
  }
  if (i !== length) {
    // Different from the first component on: different drives or servers.
    if (lastCommonSep === -1) return toOrig;
  } else {
    if (t.length > length) {
      // `from` is a directory above `to` ("C:\a" and "C:\a\b").
      if (to[t.start + i] === "\\") return toOrig.slice(t.start + i + 1);
      // `from` is a drive root ("C:\" and "C:\a").
      if (i === 2) return toOrig.slice(t.start + i);
    }
    if (f.length > length) {
      if (from[f.start + i] === "\\") lastCommonSep = i;
      else if (i === 2) lastCommonSep = 3;
    }
    if (lastCommonSep === -1) lastCommonSep = 0;
  }
  // One ".." for each component of `from` after the common part.
  const ups = [];
  for (let j = f.start + lastCommonSep + 1; j <= f.end; j++) {
    if (j === f.end || from[j] === "\\") ups.push("..");
  }
  let rest = t.start + lastCommonSep;
  if (ups.length > 0) return `${ups.join("\\")}${toOrig.slice(rest, t.end)}`;
  if (toOrig[rest] === "\\") rest++;
  return toOrig.slice(rest, t.end);
}

export const win32 = {
  resolve(...args) {
    let device = "";
    let tail = "";
    let absolute = false;
    // Drive-relative paths ("C:foo") and rooted ones ("\foo") keep looking
    // left for a drive; the current directory of every drive is "/".
    for (let i = args.length - 1; i >= -1; i--) {
      const path = i >= 0 ? args[i] : CWD;
      validateString(path, `paths[${i}]`);
      if (path.length === 0) continue;
      const root = winRoot(path);
      if (root.device.length > 0) {
        if (device.length === 0) device = root.device;
        else if (root.device.toLowerCase() !== device.toLowerCase()) continue;
      }
      if (absolute) {
        if (device.length > 0) break;
      } else {
        tail = `${path.slice(root.rootEnd)}\\${tail}`;
        absolute = root.absolute;
        if (absolute && device.length > 0) break;
      }
    }
    tail = normalizeSegments(tail, !absolute, "\\", WIN_SEPARATORS);
    return absolute ? `${device}\\${tail}` : `${device}${tail}` || ".";
  },

  normalize(path) {
    validateString(path, "path");
    if (path.length === 0) return ".";
    const root = winRoot(path);
    let tail = root.rootEnd < path.length
      ? normalizeSegments(path.slice(root.rootEnd), !root.absolute, "\\", WIN_SEPARATORS)
      : "";
    if (tail.length === 0 && !root.absolute) tail = ".";
    if (tail.length > 0 && isWinSep(path[path.length - 1])) tail += "\\";
    return root.absolute ? `${root.device}\\${tail}` : `${root.device}${tail}`;
  },

  isAbsolute(path) {
    validateString(path, "path");
    return isWinSep(path[0]) || (DRIVE.test(path) && isWinSep(path[2]));
  },

  join(...args) {
    for (const arg of args) validateString(arg, "path");
    const parts = args.filter((arg) => arg.length > 0);
    if (parts.length === 0) return ".";
    let joined = parts.join("\\");
    // A leading "\\" would read as a UNC root; keep it only when the first
    // part clearly is one (exactly two separators, then a server name).
    if (!/^[\\/]{2}[^\\/]/.test(parts[0])) joined = joined.replace(/^[\\/]{2,}/, "\\");
    return win32.normalize(joined);
  },

  relative(from, to) {
    validateString(from, "from");
    validateString(to, "to");
    if (from === to) return "";
    const fromOrig = win32.resolve(from);
    const toOrig = win32.resolve(to);
    if (fromOrig === toOrig) return "";
    const fromLower = fromOrig.toLowerCase();
    const toLower = toOrig.toLowerCase();
    if (fromLower === toLower) return "";
    if (fromLower.length !== fromOrig.length || toLower.length !== toOrig.length) {
      return winRelativeByComponents(fromOrig, toOrig);
    }
    return winRelativeByChars(fromLower, toLower, toOrig);
  },

  toNamespacedPath(path) {
    if (typeof path !== "string" || path.length === 0) return path;
    const resolved = win32.resolve(path);
    if (resolved.length <= 2) return path;
    if (resolved.startsWith("\\\\")) {
      // A UNC path, unless it already is a namespaced one.
      return resolved[2] === "?" || resolved[2] === "." ? resolved : `\\\\?\\UNC\\${resolved.slice(2)}`;
    }
    if (DRIVE.test(resolved) && resolved[2] === "\\") return `\\\\?\\${resolved}`;
    return resolved;
  },

  dirname(path) {
    validateString(path, "path");
    if (path.length === 0) return ".";
    const { rootEnd, uncOnly } = winDirRoot(path);
    if (uncOnly) return path;
    const offset = Math.max(rootEnd, 0);
    let end = path.length;
    while (end > offset && isWinSep(path[end - 1])) end--;
    while (end > offset && !isWinSep(path[end - 1])) end--;
    end--;
    if (end < offset) {
      if (rootEnd === -1) return ".";
      end = rootEnd;
    }
    return path.slice(0, end);
  },

  basename(path, suffix) {
    if (suffix !== undefined) validateString(suffix, "suffix");
    validateString(path, "path");
    return basenameOf(path, suffix, afterDrive(path), isWinSep);
  },

  extname(path) {
    validateString(path, "path");
    return extnameOf(path, afterDrive(path), isWinSep);
  },

  format(pathObject) {
    return formatPath("\\", pathObject);
  },

  parse(path) {
    validateString(path, "path");
    const ret = { root: "", dir: "", base: "", ext: "", name: "" };
    if (path.length === 0) return ret;
    const rootEnd = Math.max(winDirRoot(path).rootEnd, 0);
    ret.root = path.slice(0, rootEnd);
    const { start, end } = lastComponent(path, rootEnd, isWinSep);
    if (end !== -1) setBaseNameExt(ret, path, start, end);
    // A root directory keeps its separator ("C:\"); others lose it.
    ret.dir = start > rootEnd ? path.slice(0, start - 1) : ret.root;
    return ret;
  },

  matchesGlob(path, pattern) {
    return globMatches(path, pattern, true);
  },

  sep: "\\",
  delimiter: ";",
};

posix.win32 = win32.win32 = win32;
posix.posix = win32.posix = posix;

export const {
  resolve, normalize, isAbsolute, join, relative, toNamespacedPath, dirname, basename,
  extname, format, parse, matchesGlob, sep, delimiter,
} = posix;

export default posix;
