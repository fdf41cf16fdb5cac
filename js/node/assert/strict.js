// node:assert/strict. In workerd this is node:assert itself: its equal,
// notEqual, deepEqual and notDeepEqual are already the strict ones.
export * from "../assert.js";
export { default } from "../assert.js";
