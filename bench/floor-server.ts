/**
 * The floor for bench:ingest-steady (`--server floor`): Fastify answering POST /track after parsing the JSON body,
 * and nothing else (no auth, validation, logging, metrics or durability). What a request costs on this machine
 * before the ingest does any of its work, under the same load generator: a reference for the ingest's figures, not
 * a competitor (it keeps nothing).
 */
import Fastify from "fastify";

const app = Fastify({ logger: false });
app.post("/track", async () => ({ success: true }));
app.listen({ host: "127.0.0.1", port: 0 }).then((url) => process.send?.({ listening: url }));
