import assert from "node:assert/strict";
import { ROOT } from "./harness.ts";

const FOLDERS = [
  "protocol",
  "pipeline",
  "wasm",
  "models",
  "payments",
  "runtime",
  "edge",
  "cloud",
  "cli",
  "bench",
  "tests",
];

async function sources(folder: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(`${ROOT}${dir}`)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && !["testdata", "build", "assembly", "schema"].includes(e.name)) {
        await walk(path);
      } else if (e.isFile && /\.tsx?$/.test(e.name)) out.push(path);
    }
  };
  await walk(folder);
  return out;
}

function imports(text: string): string[] {
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+"([^"]+)"/g)].map((m) =>
    m[1]!
  );
}

Deno.test("the web-standard core uses no Deno.* outside tests", async () => {
  for (const folder of ["pipeline", "models", "protocol", "wasm", "payments"]) {
    for (const file of await sources(folder)) {
      if (file.endsWith("_test.ts")) continue;
      const code = (await Deno.readTextFile(`${ROOT}${file}`)).replace(
        /\/\*[\s\S]*?\*\/|\/\/.*$/gm,
        "",
      );
      assert.ok(!/\bDeno\./.test(code), `${file} uses Deno.*`);
    }
  }
});

Deno.test("the cloud service reads no environment: its program's configuration does (cloud_config.ts)", async () => {
  for (const file of await sources("cloud")) {
    // Development servers (used by cli/, tests and bench) keep their own defaults.
    if (file.endsWith("_test.ts") || file.startsWith("cloud/dev/")) continue;
    const code = (await Deno.readTextFile(`${ROOT}${file}`)).replace(
      /\/\*[\s\S]*?\*\/|\/\/.*$/gm,
      "",
    );
    assert.ok(!/\bDeno\.env\b/.test(code), `${file} reads the environment`);
  }
});

Deno.test("folders import each other only through mod.ts, and _private files stay in their folder", async () => {
  for (const folder of FOLDERS) {
    for (const file of await sources(folder)) {
      const text = await Deno.readTextFile(`${ROOT}${file}`);
      for (const spec of imports(text)) {
        if (!spec.startsWith(".")) continue;
        const target = new URL(spec, `file://${ROOT}${file}`).pathname.slice(ROOT.length);
        const targetFolder = target.split("/")[0]!;
        if (targetFolder === folder) continue;
        const name = target.split("/").pop()!;
        assert.ok(!name.startsWith("_"), `${file} imports ${target}, private to ${targetFolder}/`);
        if (!["tests", "cli", "bench"].includes(folder) || !target.endsWith(".json")) {
          // cli/ holds entry points only; tests and benchmarks drive them directly.
          const allowed = name === "mod.ts" ||
            ((folder === "tests" || folder === "bench") && targetFolder === "cli");
          assert.ok(allowed, `${file} imports ${target} instead of ${targetFolder}/mod.ts`);
        }
      }
    }
  }
});

/** What each folder may not import from (cloud and edge meet only on NATS). */
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  protocol: ["cloud", "edge", "pipeline", "wasm", "models", "payments", "runtime"],
  runtime: ["cloud", "edge", "pipeline", "wasm", "models", "payments", "protocol"],
  pipeline: ["cloud", "edge", "runtime"],
  models: ["cloud", "edge", "runtime"],
  wasm: ["cloud", "edge", "runtime"],
  payments: ["cloud", "edge", "runtime"],
  edge: ["cloud"],
  cloud: ["edge"],
};

Deno.test("cloud and edge import nothing of each other, the core nothing of either, and runtime nothing of ours", async () => {
  for (const [folder, forbidden] of Object.entries(FORBIDDEN)) {
    for (const file of await sources(folder)) {
      for (const spec of imports(await Deno.readTextFile(`${ROOT}${file}`))) {
        if (!spec.startsWith(".")) continue;
        const target = new URL(spec, `file://${ROOT}${file}`).pathname.slice(ROOT.length).split(
          "/",
        )[0]!;
        assert.ok(!forbidden.includes(target), `${file} imports from ${target}/`);
      }
    }
  }
});

/**
 * cloud/'s rooms and who may use whom: http and ui on the domains, the domains on nats/, all of
 * them on runtime/. The service's composition (cloud/*.ts: app, cloud_service, mod) may use any
 * room but dev/ and testing/, which nothing else in cloud/ uses (see DEV_ONLY).
 */
const CLOUD_ROOMS: Readonly<Record<string, readonly string[]>> = {
  nats: [],
  provisioning: ["nats"],
  fleet: ["nats", "provisioning"],
  updates: ["nats", "provisioning", "fleet"],
  checkout: ["nats", "fleet"],
  datasets: ["nats", "fleet", "checkout"],
  auth: ["nats", "fleet", "checkout"],
  http: ["nats", "provisioning", "fleet", "updates", "checkout", "datasets", "auth"],
  ui: ["nats", "fleet", "updates", "checkout", "datasets", "auth", "http"],
  dev: ["nats", "provisioning"],
  testing: [],
};

/**
 * What the pages may not touch: NATS itself. They read and follow what they show through the
 * domains' services (`DeviceFeeds`, `SessionFeed`, `PaymentService`...), never the connection.
 */
const UI_NATS_USES: readonly RegExp[] = [
  /\.nc\b/,
  /\bjetstream\(/,
  /\bopenObjectStore\b/,
  /\bopenKv\b/,
];

Deno.test("the pages (cloud/ui/) import no NATS package and never use the connection, JetStream, a KV or an object store", async () => {
  const files = await sources("cloud/ui");
  assert.ok(files.length > 10, `the rule read cloud/ui/ (${files.length} files)`);
  for (const file of files) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    for (const spec of imports(text)) {
      assert.ok(!spec.startsWith("@nats-io/"), `${file} imports ${spec}`);
    }
    const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    for (const use of UI_NATS_USES) {
      assert.ok(!use.test(code), `${file} uses ${use.source}: go through a domain's service`);
    }
  }
});

/**
 * edge/'s rooms: the agent on everything; recording on the configuration and delivery; the
 * simulations on the hardware interface and updates; testing/ (fault hooks) on the agent's hooks,
 * used by nothing else in edge/. The entry points (edge/*.ts: main, supervisor_main, mod) may use
 * any room.
 */
const EDGE_ROOMS: Readonly<Record<string, readonly string[]>> = {
  provisioning: [],
  config: ["provisioning"],
  hardware: [],
  delivery: [],
  recording: ["config", "delivery"],
  updates: [],
  sim: ["hardware", "updates"],
  agent: ["provisioning", "config", "hardware", "delivery", "recording", "updates", "sim"],
  testing: ["agent"],
};

/** Checks that `base`'s rooms are exactly `allowed`'s, used downwards and through mod.ts. */
async function checkRooms(base: string, allowed: Readonly<Record<string, readonly string[]>>) {
  const rooms = new Set<string>();
  for await (const e of Deno.readDir(`${ROOT}${base}`)) {
    if (e.isDirectory && e.name !== "testdata") rooms.add(e.name);
  }
  assert.deepEqual([...rooms].sort(), Object.keys(allowed).sort(), `${base}'s rooms`);
  for (const file of await sources(base)) {
    const parts = file.split("/");
    const room = parts.length > 2 ? parts[1]! : undefined;
    for (const spec of imports(await Deno.readTextFile(`${ROOT}${file}`))) {
      if (!spec.startsWith(".")) continue;
      const target = new URL(spec, `file://${ROOT}${file}`).pathname.slice(ROOT.length).split("/");
      if (target[0] !== base || target.length < 3 || target[1] === room) continue;
      const to = target[1]!;
      assert.equal(target[2], "mod.ts", `${file} imports ${target.join("/")}, not ${to}/mod.ts`);
      if (room === undefined) continue; // the composition
      assert.ok(allowed[room]!.includes(to), `${file} (${room}/) imports from ${to}/`);
    }
  }
}

/**
 * Development and test code, and who besides cli/, tests/ and bench/ may use it: cloud/dev/ (the
 * local servers) and cloud/testing/ (crash injection) nothing else in cloud/, not even its
 * composition (cloud/*.ts; cloud/mod.ts exports neither); edge/testing/ (the fault hooks) only
 * edge/main.ts, the device program, which wires them from `VEND_FAULT` (edge/mod.ts does not
 * export them).
 */
const DEV_ONLY: Readonly<Record<string, readonly string[]>> = {
  "cloud/dev": [],
  "cloud/testing": [],
  "edge/testing": ["edge/main.ts"],
};

Deno.test("dev/ and testing/ are used only by cli/, tests/ and bench/ (and edge/main.ts), and no mod.ts exports them", async () => {
  for (const folder of FOLDERS) {
    const outside = ["cli", "tests", "bench"].includes(folder);
    for (const file of await sources(folder)) {
      for (const spec of imports(await Deno.readTextFile(`${ROOT}${file}`))) {
        if (!spec.startsWith(".")) continue;
        const target = new URL(spec, `file://${ROOT}${file}`).pathname.slice(ROOT.length);
        for (const [room, users] of Object.entries(DEV_ONLY)) {
          if (!target.startsWith(`${room}/`) || file.startsWith(`${room}/`)) continue;
          assert.ok(
            outside || users.includes(file),
            `${file} imports ${target}: ${room}/ is for cli/, tests/ and bench/${
              users.length ? ` (and ${users.join(", ")})` : ""
            }`,
          );
        }
      }
    }
  }
});

/**
 * What the programs' surfaces (cloud/mod.ts, edge/mod.ts) may re-export: what a user of the
 * service or of the device program needs, from these rooms only, and few names. Whoever extends a
 * domain imports its own mod.ts (cloud/fleet/mod.ts, edge/delivery/mod.ts...).
 */
const PROGRAM_SURFACES: Readonly<Record<string, readonly string[]>> = {
  "cloud/mod.ts": [
    "./cloud_service.ts",
    "./cloud_config.ts",
    "./app.ts",
    "./auth/mod.ts",
    "./nats/mod.ts",
    "./checkout/mod.ts",
  ],
  "edge/mod.ts": [
    "./agent/mod.ts",
    "./config/mod.ts",
    "./hardware/mod.ts",
    "./provisioning/mod.ts",
    "./updates/mod.ts",
  ],
};
const PROGRAM_SURFACE_MAX = 40;

Deno.test("cloud/mod.ts and edge/mod.ts export only their program's surface: a few names, from a few rooms", async () => {
  for (const [file, rooms] of Object.entries(PROGRAM_SURFACES)) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    const exports = [...text.matchAll(/export\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)];
    assert.ok(exports.length > 0, `${file} re-exports nothing the rule could read`);
    let names = 0;
    for (const [, list, from] of exports) {
      assert.ok(rooms.includes(from!), `${file} re-exports ${from}: import it from its own mod.ts`);
      names += list!.split(",").filter((n) => n.trim()).length;
    }
    assert.ok(
      names <= PROGRAM_SURFACE_MAX,
      `${file} exports ${names} names (at most ${PROGRAM_SURFACE_MAX})`,
    );
  }
});

Deno.test("cloud's rooms use each other only downwards, and only through their mod.ts", async () => {
  await checkRooms("cloud", CLOUD_ROOMS);
});

Deno.test("edge's rooms use each other only downwards, and only through their mod.ts", async () => {
  await checkRooms("edge", EDGE_ROOMS);
});

Deno.test("no source file is over 600 lines and no function over 120 (tests aside)", async () => {
  const files: string[] = [];
  for (const folder of FOLDERS.filter((f) => f !== "tests")) {
    for (const file of await sources(folder)) {
      if (file.endsWith("_test.ts")) continue;
      files.push(file);
      const lines = (await Deno.readTextFile(`${ROOT}${file}`)).split("\n").length;
      assert.ok(lines <= 600, `${file} is ${lines} lines (at most 600): split it by concern`);
    }
  }
  const lint = await new Deno.Command(Deno.execPath(), {
    args: [
      "lint",
      "--config",
      `${ROOT}tests/testdata/function_length/deno.json`,
      "--json",
      ...files.map((f) => `${ROOT}${f}`),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const report = JSON.parse(new TextDecoder().decode(lint.stdout)) as {
    diagnostics: { filename: string; message: string; range: { start: { line: number } } }[];
    errors: unknown[];
  };
  assert.deepEqual(report.errors, [], "the size plugin read every file");
  const long = report.diagnostics.map((d) =>
    `${d.filename.replace(`file://${ROOT}`, "")}:${d.range.start.line} ${d.message}`
  );
  assert.deepEqual(long, [], `functions over 120 lines:\n${long.join("\n")}`);
  assert.ok(files.length > 300, `the rule read the tree (${files.length} files)`);
});
