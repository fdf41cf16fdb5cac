// IP address text, shared by node:net (isIP), net.BlockList and
// net.SocketAddress, node:tls (certificate IP names) and node:dns: which
// strings are addresses (Node's rules: dotted-quad IPv4 without leading
// zeros; IPv6 with an optional zone id), their numeric value, and the
// canonical text of an IPv6 address.

const IPV4_SEGMENT = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)";
const IPV4 = `(?:${IPV4_SEGMENT}\\.){3}${IPV4_SEGMENT}`;
const IPV6_SEGMENT = "(?:[0-9a-fA-F]{1,4})";
const IPV6 = "(?:" +
  `(?:${IPV6_SEGMENT}:){7}(?:${IPV6_SEGMENT}|:)|` +
  `(?:${IPV6_SEGMENT}:){6}(?:${IPV4}|:${IPV6_SEGMENT}|:)|` +
  `(?:${IPV6_SEGMENT}:){5}(?::${IPV4}|(?::${IPV6_SEGMENT}){1,2}|:)|` +
  `(?:${IPV6_SEGMENT}:){4}(?:(?::${IPV6_SEGMENT}){0,1}:${IPV4}|(?::${IPV6_SEGMENT}){1,3}|:)|` +
  `(?:${IPV6_SEGMENT}:){3}(?:(?::${IPV6_SEGMENT}){0,2}:${IPV4}|(?::${IPV6_SEGMENT}){1,4}|:)|` +
  `(?:${IPV6_SEGMENT}:){2}(?:(?::${IPV6_SEGMENT}){0,3}:${IPV4}|(?::${IPV6_SEGMENT}){1,5}|:)|` +
  `(?:${IPV6_SEGMENT}:){1}(?:(?::${IPV6_SEGMENT}){0,4}:${IPV4}|(?::${IPV6_SEGMENT}){1,6}|:)|` +
  `(?::(?:(?::${IPV6_SEGMENT}){0,5}:${IPV4}|(?::${IPV6_SEGMENT}){1,7}|:))` +
  ")(?:%[0-9a-zA-Z-.:]{1,})?";
const IPV4_RE = new RegExp(`^${IPV4}$`);
const IPV6_RE = new RegExp(`^${IPV6}$`);

export function isIPv4(input) {
  return IPV4_RE.test(`${input}`);
}

export function isIPv6(input) {
  return IPV6_RE.test(`${input}`);
}

/** 4, 6, or 0 when `input` is not an IP address. */
export function isIP(input) {
  if (isIPv4(input)) return 4;
  if (isIPv6(input)) return 6;
  return 0;
}

function ipv4Value(address) {
  return address.split(".").reduce((value, part) => value * 256 + Number(part), 0);
}

/** The eight 16-bit groups of a valid IPv6 address (its zone id ignored). */
function ipv6Groups(address) {
  let text = address.split("%")[0];
  // An IPv4 tail ("::ffff:1.2.3.4") is the last two groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    const value = ipv4Value(tail);
    text = `${text.slice(0, lastColon + 1)}${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`;
  }
  const toGroups = (part) => (part === "" ? [] : part.split(":").map((group) => parseInt(group, 16)));
  const gap = text.indexOf("::");
  if (gap === -1) return toGroups(text);
  const head = toGroups(text.slice(0, gap));
  const rest = toGroups(text.slice(gap + 2));
  return [...head, ...new Array(8 - head.length - rest.length).fill(0), ...rest];
}

/**
 * An address as a 128-bit number, IPv4 addresses as their IPv4-mapped IPv6
 * form (::ffff:a.b.c.d), so that both families compare in one space, as
 * Node's BlockList compares them. `address` must be valid for `family`.
 */
export function addressValue(address, family) {
  if (family === 4) return 0xffff00000000n | BigInt(ipv4Value(address));
  return ipv6Groups(address).reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/**
 * The canonical text of an address (RFC 5952 for IPv6: lower case, no
 * leading zeros, the longest run of zero groups as "::"), as certificates'
 * IP names are compared; undefined when `address` is not an IP address.
 */
export function canonicalIP(address) {
  const text = `${address}`;
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) return undefined;
  const groups = ipv6Groups(text);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `::ffff:${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
