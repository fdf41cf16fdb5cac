// A small JSON API with routing by method and URL pattern.
const todos = new Map([[1, { id: 1, title: "Try Ridge", done: false }]]);
let nextId = 2;

const routes = [
  ["GET", new URLPattern({ pathname: "/todos" }), () => Response.json([...todos.values()])],
  ["GET", new URLPattern({ pathname: "/todos/:id" }), (_req, { id }) => {
    const todo = todos.get(Number(id));
    return todo ? Response.json(todo) : Response.json({ error: `no todo ${id}` }, { status: 404 });
  }],
  ["POST", new URLPattern({ pathname: "/todos" }), async (req) => {
    const body = await req.json().catch(() => null);
    if (typeof body?.title !== "string") {
      return Response.json({ error: "expected a JSON body with a string `title`" }, { status: 400 });
    }
    const todo = { id: nextId++, title: body.title, done: false };
    todos.set(todo.id, todo);
    return Response.json(todo, { status: 201, headers: { location: `/todos/${todo.id}` } });
  }],
];

export default {
  async fetch(request) {
    for (const [method, pattern, handle] of routes) {
      const match = pattern.exec(request.url);
      if (match && request.method === method) return handle(request, match.pathname.groups);
    }
    return Response.json({ error: "not found" }, { status: 404 });
  },
};
