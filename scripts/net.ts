/** Process helpers for tests, benchmarks and the demo. */
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import process from "node:process";

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** PATH with the project's own toolchain (Node 24, Deno from npm) first. */
export function projectPath(root: string, path = process.env.PATH ?? ""): string {
  return `${join(root, "node_modules", ".bin")}${delimiter}${path}`;
}
