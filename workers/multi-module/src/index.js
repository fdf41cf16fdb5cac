// A worker split into modules: relative imports, a text file and a JSON file.
import { renderPage } from "./lib/render.js";
import template from "./page.html";
import settings from "./settings.json";

export default {
  fetch(request, env) {
    const html = renderPage(template, { title: env.SITE, items: settings.items });
    return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
  },
};
