// Firefox ESR 153 under a WebDriver BiDi session (puppeteer-core) sometimes
// never returns from `new Worker()` called in a worker; started plainly, it
// does not. No ringlock code runs here. Run: node test/browser/repro-firefox-nested-worker.mjs [trials]
// Prints, for each way of starting Firefox, how many trials hung (3 s each).
import puppeteer from "puppeteer-core";
import { serve } from "../../examples/browser/server.mjs";
import { plainFirefox } from "./firefox.mjs";

const FIREFOX = process.env.RINGLOCK_FIREFOX ?? "/usr/bin/firefox-esr";
const n = Number(process.argv[2] ?? 40);
const waiting = new Map();
const server = await serve(0, { onReport: (r) => waiting.get(r.id)?.(r) });
const report = (id) => new Promise((resolve) => waiting.set(id, resolve));
const url = (id) => `${server.url}/test/browser/repro-nested-worker.html?n=${n}&id=${id}`;

const browser = await puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true });
const page = await browser.newPage();
const automated = report("bidi");
await page.goto(url("bidi"));
const a = await automated;
await browser.close();
console.log(`${FIREFOX} under puppeteer (WebDriver BiDi): ${a.hangs} of ${a.n} trials hung`);

const plain = report("plain");
const ff = plainFirefox(FIREFOX, url("plain"));
const p = await plain;
await ff.stop();
console.log(`${FIREFOX} started plainly (--headless): ${p.hangs} of ${p.n} trials hung`);
await server.close();
