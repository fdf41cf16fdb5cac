export default {
  fetch(request) {
    return new Response("Hello, world!\n", { headers: { "content-type": "text/plain" } });
  },
};
