/**
 * The benchmark's baseline: the event tracker as the reference walkthrough writes it (Express, express.json(), an
 * in-memory buffer flushed every 5 s or every 100 events, 202 before anything is durable, no validation, no auth,
 * no backpressure). Kept faithful on purpose, defects included, so the comparison is with what the walkthrough
 * ships. Its only change: the ClickHouse URL and port come from the environment (the benchmark picks them).
 *
 * It writes to the reference schema (default.events with the hourly_stats view), which bench/ingest.ts creates.
 */
import { createClient } from "@clickhouse/client";
import express from "express";

const ch = createClient({
  url: process.env.CLICKHOUSE_URL ?? "http://localhost:8123",
  database: "default",
});

const app = express();
app.use(express.json());

let buffer: Record<string, unknown>[] = [];
const FLUSH_INTERVAL_MS = 5000;
const FLUSH_SIZE = 100;

async function flushEvents() {
  if (buffer.length === 0) return;
  const batch = buffer.splice(0);
  await ch.insert({ table: "events", values: batch, format: "JSONEachRow" });
  console.log(`Flushed ${batch.length} events to ClickHouse`);
}

setInterval(flushEvents, FLUSH_INTERVAL_MS);

app.post("/track", (req, res) => {
  const { user_id, event_name, properties = {} } = req.body;
  buffer.push({ user_id, event_name, properties: JSON.stringify(properties) });
  if (buffer.length >= FLUSH_SIZE) flushEvents();
  res.status(202).json({ status: "buffered" });
});

const server = app.listen(Number(process.env.PORT ?? 4000), "127.0.0.1", () => {
  const address = server.address();
  process.send?.({ listening: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}` });
});
