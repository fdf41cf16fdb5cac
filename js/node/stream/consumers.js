// node:stream/consumers: read a whole stream (Node or web, or any async
// iterable) into one value.

import { Buffer } from "../buffer.js";

export async function blob(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return new Blob(chunks);
}

export async function arrayBuffer(stream) {
  return (await blob(stream)).arrayBuffer();
}

export async function buffer(stream) {
  return Buffer.from(await arrayBuffer(stream));
}

export async function text(stream) {
  const decoder = new TextDecoder();
  let result = "";
  for await (const chunk of stream) {
    result += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
  }
  // Flush a multi-byte character cut at the end.
  return result + decoder.decode();
}

export async function json(stream) {
  return JSON.parse(await text(stream));
}

export default { arrayBuffer, blob, buffer, text, json };
