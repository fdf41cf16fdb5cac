//! `ridge init`: a new Workers project from a template, like
//! create-cloudflare's: a configuration (wrangler.jsonc, or ridge.toml when
//! asked), the code, a package.json and a .gitignore.

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;

use ridge_deploy::config::{self, WorkerConfig, CONFIG_FILE};

/// What the new project starts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Template {
    /// "Hello, world!" in TypeScript.
    Hello,
    /// "Hello, world!" in JavaScript.
    HelloJs,
    /// A Hono app (npm: hono).
    Hono,
    /// An OpenAPI 3.1 API with chanfana, Hono and zod, with its docs at /.
    Openapi,
}

impl Template {
    fn main(self) -> &'static str {
        match self {
            Self::HelloJs => "src/index.js",
            _ => "src/index.ts",
        }
    }

    /// npm packages the template's code imports, with the versions it was
    /// written against.
    fn dependencies(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Hello | Self::HelloJs => &[],
            Self::Hono => &[("hono", "^4.10.4")],
            Self::Openapi => &[
                ("chanfana", "^2.8.3"),
                ("hono", "^4.10.4"),
                ("zod", "^3.25.76"),
            ],
        }
    }

    /// The template's source files, by path.
    fn files(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Self::Hello => vec![("src/index.ts", HELLO_TS)],
            Self::HelloJs => vec![("src/index.js", HELLO_JS)],
            Self::Hono => vec![("src/index.ts", HONO)],
            Self::Openapi => vec![
                ("src/index.ts", OPENAPI_INDEX),
                ("src/endpoints/taskList.ts", OPENAPI_LIST),
                ("src/endpoints/taskFetch.ts", OPENAPI_FETCH),
                ("src/types.ts", OPENAPI_TYPES),
            ],
        }
    }
}

const HELLO_TS: &str = r#"interface Env {
  GREETING: string;
}

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const name = new URL(request.url).searchParams.get("name") ?? "world";
    return new Response(`${env.GREETING}, ${name}!\n`);
  },
} satisfies ExportedHandler<Env>;

// The runtime's types: `npm install -D @cloudflare/workers-types` replaces these.
interface ExportedHandler<E> {
  fetch(request: Request, env: E, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Response>;
}
"#;

const HELLO_JS: &str = r#"export default {
  async fetch(request, env, ctx) {
    const name = new URL(request.url).searchParams.get("name") ?? "world";
    return new Response(`${env.GREETING}, ${name}!\n`);
  },
};
"#;

const HONO: &str = r#"import { Hono } from "hono";

type Bindings = { GREETING: string };

const app = new Hono<{ Bindings: Bindings }>();

app.get("/", (c) => c.text(`${c.env.GREETING}, ${c.req.query("name") ?? "world"}!\n`));

app.get("/api/items/:id", (c) => c.json({ id: c.req.param("id") }));

export default app;
"#;

const OPENAPI_INDEX: &str = r#"import { fromHono } from "chanfana";
import { Hono } from "hono";
import { TaskFetch } from "./endpoints/taskFetch";
import { TaskList } from "./endpoints/taskList";

const app = new Hono();

// The OpenAPI registry: the docs are served at /, the schema at /openapi.json.
const openapi = fromHono(app, { docs_url: "/" });

openapi.get("/api/tasks", TaskList);
openapi.get("/api/tasks/:taskSlug", TaskFetch);

export default app;
"#;

const OPENAPI_TYPES: &str = r#"import { Bool, DateTime, Str } from "chanfana";
import { z } from "zod";

export const Task = z.object({
  name: Str({ example: "lorem" }),
  slug: Str(),
  description: Str({ required: false }),
  completed: Bool({ default: false }),
  due_date: DateTime(),
});
"#;

const OPENAPI_LIST: &str = r#"import { Bool, Num, OpenAPIRoute } from "chanfana";
import { z } from "zod";
import { Task } from "../types";

export class TaskList extends OpenAPIRoute {
  schema = {
    tags: ["Tasks"],
    summary: "List tasks",
    request: {
      query: z.object({
        page: Num({ description: "Page number", default: 0 }),
        isCompleted: Bool({ description: "Filter by completed flag", required: false }),
      }),
    },
    responses: {
      "200": {
        description: "Returns a list of tasks",
        content: { "application/json": { schema: z.object({ success: Bool(), tasks: Task.array() }) } },
      },
    },
  };

  async handle() {
    const data = await this.getValidatedData<typeof this.schema>();
    const tasks = [
      { name: "Clean my room", slug: "clean-room", completed: false, due_date: "2025-01-05T00:00:00.000Z" },
      { name: "Build something awesome", slug: "build-something", completed: true, due_date: "2025-01-05T00:00:00.000Z" },
    ];
    const { isCompleted } = data.query;
    return {
      success: true,
      page: data.query.page,
      tasks: isCompleted === undefined ? tasks : tasks.filter((task) => task.completed === isCompleted),
    };
  }
}
"#;

const OPENAPI_FETCH: &str = r#"import { Bool, OpenAPIRoute, Str } from "chanfana";
import { z } from "zod";
import { Task } from "../types";

export class TaskFetch extends OpenAPIRoute {
  schema = {
    tags: ["Tasks"],
    summary: "Get a single task by slug",
    request: { params: z.object({ taskSlug: Str({ description: "Task slug" }) }) },
    responses: {
      "200": {
        description: "Returns a single task if found",
        content: { "application/json": { schema: z.object({ success: Bool(), task: Task }) } },
      },
    },
  };

  async handle() {
    const data = await this.getValidatedData<typeof this.schema>();
    return {
      success: true,
      task: { name: "my task", slug: data.params.taskSlug, completed: false, due_date: "2025-01-05T00:00:00.000Z" },
    };
  }
}
"#;

/// Writes a new project into `dir` from `template`; `ridge_toml` writes
/// Ridge's own configuration file instead of wrangler.jsonc.
pub fn init(dir: &Path, name: Option<String>, template: Template, ridge_toml: bool) -> Result<()> {
    if let Some(existing) = WorkerConfig::find_file(dir) {
        bail!("{} already has a {}", dir.display(), existing.display());
    }
    let name = name.unwrap_or_else(|| {
        let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        config::name_from(absolute.file_name())
    });
    if let Err(problem) = ridge_core::names::validate_worker_name(&name) {
        bail!("{name:?} cannot be a worker name: it {problem}; pass --name");
    }
    let main = template.main();
    let date = time::OffsetDateTime::now_utc().date();
    let (config_file, config) = if ridge_toml {
        (
            CONFIG_FILE,
            format!(
                "name = \"{name}\"\nmain = \"{main}\"\ncompatibility_date = \"{date}\"\n\n\
                 [vars]\nGREETING = \"Hello\"\n\n\
                 # [[kv_namespaces]]\n# binding = \"CACHE\"\n# id = \"{name}-cache\"\n\n\
                 # [triggers]\n# crons = [\"*/5 * * * *\"]\n"
            ),
        )
    } else {
        (
            "wrangler.jsonc",
            format!(
                "{{\n  \"name\": \"{name}\",\n  \"main\": \"{main}\",\n  \"compatibility_date\": \"{date}\",\n  \
                 \"vars\": {{ \"GREETING\": \"Hello\" }},\n  \
                 // \"kv_namespaces\": [{{ \"binding\": \"CACHE\", \"id\": \"{name}-cache\" }}],\n  \
                 // \"triggers\": {{ \"crons\": [\"*/5 * * * *\"] }},\n}}\n"
            ),
        )
    };
    let dependencies = template
        .dependencies()
        .iter()
        .map(|(package, version)| format!("\"{package}\": \"{version}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let package = format!(
        "{{\n  \"name\": \"{name}\",\n  \"private\": true,\n  \"type\": \"module\",\n  \
         \"scripts\": {{ \"dev\": \"ridge dev\", \"deploy\": \"ridge deploy\" }},\n  \
         \"dependencies\": {{ {dependencies} }}\n}}\n"
    );
    let mut files: Vec<(&str, String)> = vec![
        (config_file, config),
        ("package.json", package),
        (
            ".gitignore",
            ".ridge/\n.dev.vars\nnode_modules/\n".to_string(),
        ),
    ];
    files.extend(
        template
            .files()
            .into_iter()
            .map(|(p, c)| (p, c.to_string())),
    );
    for (path, content) in &files {
        let target = dir.join(path);
        if target.exists() {
            println!("  kept    {}", target.display());
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, content)
            .with_context(|| format!("cannot write {}", target.display()))?;
        println!("  created {}", target.display());
    }
    let install = if template.dependencies().is_empty() {
        String::new()
    } else {
        format!("cd {} && npm install && ", dir.display())
    };
    if install.is_empty() {
        println!("Run it: ridge dev {}", dir.display());
    } else {
        println!("Run it: {install}ridge dev");
    }
    Ok(())
}
