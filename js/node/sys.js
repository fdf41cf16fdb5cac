// node:sys: the deprecated alias of node:util; the same exports and the
// same default object.

export * from "./util.js";
export { default } from "./util.js";
