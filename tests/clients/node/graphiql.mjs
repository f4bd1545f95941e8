// GraphiQL, as served by the API, in headless Chromium: run an operation, wait for text in the
// result pane, save a screenshot. usage: node graphiql.mjs <graphql-url> <job-json>
//   job-json: {"query": "...", "variables": {...}, "headers": {...}, "expect": ["text", ...],
//              "screenshot": "path.png"}
// Headers go in GraphiQL's headers editor: sent with HTTP requests, and as the websocket's
// connection_init payload for subscriptions.
// Prints {"response": <result pane text>, "requests": [urls the page fetched]}.
import { chromium } from "playwright-core";

const [url, raw] = process.argv.slice(2);
const { query, variables, headers, expect, screenshot } = JSON.parse(raw);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const requests = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("request", (request) => requests.push(request.url()));
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  page.on("console", (message) => console.error(`console ${message.type()}: ${message.text()}`));
  page.on("requestfailed", (request) => console.error(`failed: ${request.url()}`));
  // The page decodes its parameters with decodeURIComponent, which leaves "+" alone.
  let search = `q=${encodeURIComponent(query)}`;
  if (variables) search += `&variables=${encodeURIComponent(JSON.stringify(variables))}`;
  if (headers) search += `&headers=${encodeURIComponent(JSON.stringify(headers))}`;
  await page.goto(`${url}?${search}`, { waitUntil: "load" });
  await page.locator(".graphiql-execute-button").click({ timeout: 30_000 });
  const pane = page.locator(".graphiql-response");
  try {
    for (const text of expect) {
      await pane.getByText(text).first().waitFor({ timeout: 45_000 });
    }
  } catch (error) {
    await page.screenshot({ path: screenshot.replace(/\.png$/, "-failed.png"), fullPage: true });
    throw error;
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ response: await pane.innerText(), requests }));
} finally {
  await browser.close();
}
