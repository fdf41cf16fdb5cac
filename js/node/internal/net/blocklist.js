// net.SocketAddress and net.BlockList, with Node's semantics. Node backs
// them with C++; here an address is compared as a 128-bit number (IPv4 as
// its IPv4-mapped IPv6 form), so IPv4 rules also apply to IPv4-mapped IPv6
// addresses and the other way round, as in Node.

import { addressValue, isIPv4, isIPv6 } from "./ip.js";
import { invalidArgValue, nodeError } from "../errors.js";
import {
  validateInt32, validateObject, validateOneOf, validatePort, validateString, validateUint32,
} from "../validators.js";

const FAMILIES = ["ipv4", "ipv6"];

/** A socket address: an IP address of a family, a port and an IPv6 flow label. */
export class SocketAddress {
  #address;
  #port;
  #family;
  #flowlabel;

  static isSocketAddress(value) {
    return value instanceof SocketAddress;
  }

  /** "host:port" or "[v6]:port" as a SocketAddress; undefined when it is not one. */
  static parse(input) {
    validateString(input, "input");
    let url;
    try {
      url = new URL(`http://${input}`);
    } catch {
      return undefined;
    }
    const { hostname, port } = url;
    const ipv6 = hostname.startsWith("[") && hostname.endsWith("]");
    try {
      return new SocketAddress({
        address: ipv6 ? hostname.slice(1, -1) : hostname,
        port: Number(port),
        family: ipv6 ? "ipv6" : "ipv4",
      });
    } catch {
      return undefined;
    }
  }

  constructor(options = {}) {
    validateObject(options, "options");
    let family = options.family || "ipv4";
    if (typeof family === "string") family = family.toLowerCase();
    validateOneOf(family, "options.family", FAMILIES);
    const { address = family === "ipv4" ? "127.0.0.1" : "::", port = 0, flowlabel = 0 } = options;
    validateString(address, "options.address");
    const portNumber = validatePort(port, "options.port");
    validateUint32(flowlabel, "options.flowlabel");
    if (!(family === "ipv4" ? isIPv4(address) : isIPv6(address))) {
      throw nodeError(Error, "ERR_INVALID_ADDRESS", "Invalid socket address");
    }
    this.#address = address;
    this.#port = portNumber;
    this.#family = family;
    this.#flowlabel = flowlabel;
  }

  get address() {
    return this.#address;
  }

  get port() {
    return this.#port;
  }

  get family() {
    return this.#family;
  }

  get flowlabel() {
    return this.#flowlabel;
  }

  toJSON() {
    return { address: this.#address, port: this.#port, family: this.#family, flowlabel: this.#flowlabel };
  }
}

/** A BlockList method's address argument as a SocketAddress (a string is checked first). */
function toSocketAddress(address, family, name) {
  if (SocketAddress.isSocketAddress(address)) return address;
  validateString(address, name);
  validateString(family, "family");
  return new SocketAddress({ address, family });
}

function valueOf(socketAddress) {
  return addressValue(socketAddress.address, socketAddress.family === "ipv4" ? 4 : 6);
}

const familyLabel = (socketAddress) => (socketAddress.family === "ipv4" ? "IPv4" : "IPv6");

/** Addresses, ranges and subnets to check addresses against. */
export class BlockList {
  // Newest first, as Node lists them; each rule tests a 128-bit value.
  #rules = [];

  static isBlockList(value) {
    return value instanceof BlockList;
  }

  addAddress(address, family = "ipv4") {
    const target = toSocketAddress(address, family, "address");
    const value = valueOf(target);
    this.#rules.unshift({
      matches: (candidate) => candidate === value,
      text: `Address: ${familyLabel(target)} ${target.address}`,
    });
  }

  addRange(start, end, family = "ipv4") {
    const first = toSocketAddress(start, family, "start");
    const last = toSocketAddress(end, family, "end");
    const low = valueOf(first);
    const high = valueOf(last);
    if (low > high) throw invalidArgValue("start", first, "must come before end");
    this.#rules.unshift({
      matches: (candidate) => candidate >= low && candidate <= high,
      text: `Range: ${familyLabel(first)} ${first.address}-${last.address}`,
    });
  }

  addSubnet(network, prefix, family = "ipv4") {
    const base = toSocketAddress(network, family, "network");
    const ipv4 = base.family === "ipv4";
    validateInt32(prefix, "prefix", 0, ipv4 ? 32 : 128);
    // In the 128-bit space an IPv4 prefix follows the 96 bits of ::ffff:.
    const bits = BigInt(ipv4 ? 96 + prefix : prefix);
    const shift = 128n - bits;
    const networkBits = valueOf(base) >> shift;
    this.#rules.unshift({
      matches: (candidate) => candidate >> shift === networkBits,
      text: `Subnet: ${familyLabel(base)} ${base.address}/${prefix}`,
    });
  }

  /** Whether `address` is blocked; an address that is not valid is not. */
  check(address, family = "ipv4") {
    let target;
    if (SocketAddress.isSocketAddress(address)) {
      target = address;
    } else {
      validateString(address, "address");
      validateString(family, "family");
      try {
        target = new SocketAddress({ address, family });
      } catch {
        return false;
      }
    }
    const value = valueOf(target);
    return this.#rules.some((rule) => rule.matches(value));
  }

  get rules() {
    return this.#rules.map((rule) => rule.text);
  }
}
