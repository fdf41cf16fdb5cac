import { escapeHtml } from "./escape.js";

/** Fills `{{title}}` and `{{items}}` in the template. */
export function renderPage(template, { title, items }) {
  const list = items.map((item) => `<li>${escapeHtml(item)}</li>`).join("");
  return template.replaceAll("{{title}}", escapeHtml(title)).replace("{{items}}", list);
}
