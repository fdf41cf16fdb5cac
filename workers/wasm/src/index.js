// Imports a WebAssembly module (as a WebAssembly.Module, like Cloudflare) and
// calls its exported `add` function: GET /?a=2&b=3 answers 5.
import addModule from "./add.wasm";

const { exports } = new WebAssembly.Instance(addModule);

export default {
  fetch(request) {
    const params = new URL(request.url).searchParams;
    const a = Number(params.get("a") ?? 0);
    const b = Number(params.get("b") ?? 0);
    return new Response(`${exports.add(a, b)}\n`);
  },
};
