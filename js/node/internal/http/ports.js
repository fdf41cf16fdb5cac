// The isolate's virtual TCP ports. A Node server on Workers opens no
// socket: listen() takes a port here, and requests reach the server through
// the handler registered on it (see httpServerHandler in server.js). Ports
// are unique within the isolate, as on one host; port 0 picks a free one
// from the ephemeral range.

const EPHEMERAL_MIN = 49152;
const EPHEMERAL_MAX = 65535;

class PortTable {
  #handlers = new Map();
  #nextEphemeral = EPHEMERAL_MIN;

  /** A free port from the ephemeral range (taken in turn), or 0 when none is left. */
  ephemeral() {
    for (let tries = EPHEMERAL_MIN; tries <= EPHEMERAL_MAX; tries++) {
      const port = this.#nextEphemeral;
      this.#nextEphemeral = port === EPHEMERAL_MAX ? EPHEMERAL_MIN : port + 1;
      if (!this.#handlers.has(port)) return port;
    }
    return 0;
  }

  /** Takes `port` for `handler`; false when it is taken already. */
  bind(port, handler) {
    if (this.#handlers.has(port)) return false;
    this.#handlers.set(port, handler);
    return true;
  }

  release(port) {
    this.#handlers.delete(port);
  }

  handler(port) {
    return this.#handlers.get(port);
  }
}

export const tcpPorts = new PortTable();
