// A small static server for the browser demo and the browser tests. It serves
// the package root (so that /dist/bindings/index.js is reachable) on
// 127.0.0.1 with the two headers that make a page cross-origin isolated, which
// shared memory needs:
//   Cross-Origin-Opener-Policy: same-origin
//   Cross-Origin-Embedder-Policy: require-corp
// Paths under /plain/ are served without them (to show the error a page that
// is not isolated gets). Run: npm run demo:browser [-- --port=8080]
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".png": "image/png",
};

/** Starts the server; resolves to its base URL. port 0 picks a free port.
 *  onReport (tests): called with the parsed JSON body of each POST /__report. */
export function serve(port = 0, { onReport } = {}) {
  const server = createServer((req, res) => {
    if (onReport && req.method === "POST" && req.url === "/__report") {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        try {
          onReport(JSON.parse(body));
          res.writeHead(204).end();
        } catch (e) {
          res.writeHead(400, { "content-type": "text/plain" }).end(String(e));
        }
      });
      return;
    }
    let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const plain = path.startsWith("/plain/");
    if (plain) path = path.slice("/plain".length);
    if (path.endsWith("/")) path += "index.html";
    const file = normalize(join(root, path));
    if (!file.startsWith(root) || file.includes(`${sep}node_modules${sep}`) || file.includes(`${sep}.git`)) {
      res.writeHead(403).end();
      return;
    }
    let size;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error("not a file");
      size = st.size;
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    const headers = {
      "content-type": types[extname(file)] ?? "application/octet-stream",
      "content-length": size,
      "cache-control": "no-store",
    };
    if (!plain) {
      headers["cross-origin-opener-policy"] = "same-origin";
      headers["cross-origin-embedder-policy"] = "require-corp";
    }
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      resolve({ url, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = process.argv.find((a) => a.startsWith("--port="));
  const { url } = await serve(arg ? Number(arg.slice(7)) : 8080);
  console.log(`ringlock browser demo: ${url}/examples/browser/`);
  console.log("(cross-origin isolated: COOP same-origin, COEP require-corp; Ctrl-C to stop)");
}
