// A graphql-ws (graphql-transport-ws protocol) client, as a web app uses it.
// usage: node subscribe.mjs <ws-url> <operation-json>
//   operation-json: {"query": "...", "variables": {...}, "connectionParams": {...}, "max": N}
// Prints each result as one JSON line; "complete" last. Exit 1 on an error.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, raw] = process.argv.slice(2);
const { query, variables = {}, connectionParams = {}, max = 0 } = JSON.parse(raw);

const client = createClient({ url, webSocketImpl: WebSocket, connectionParams, lazy: true, retryAttempts: 0 });
const guard = setTimeout(() => {
  console.error("timed out");
  process.exit(2);
}, 60_000);

let count = 0;
try {
  const results = client.iterate({ query, variables });
  for await (const result of results) {
    console.log(JSON.stringify(result));
    count += 1;
    if (max && count >= max) {
      await results.return?.();
      break;
    }
  }
  console.log(JSON.stringify({ complete: true, count }));
} catch (error) {
  console.error(JSON.stringify(error, Object.getOwnPropertyNames(error ?? {})));
  process.exitCode = 1;
} finally {
  clearTimeout(guard);
  await client.dispose();
}
