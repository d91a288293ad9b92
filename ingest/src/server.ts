/**
 * Process entry point: reads the environment, starts the service, listens, and turns SIGTERM/SIGINT into a
 * graceful shutdown that exits 0. Everything else lives in service.ts and app.ts.
 */
import { readFileSync } from "node:fs";
import pino from "pino";
import { IngestConfigError, loadIngestConfig, withFileSecrets } from "./config";
import { createService } from "./service";

async function main(): Promise<void> {
  let config;
  try {
    config = loadIngestConfig(withFileSecrets(process.env, (path) => readFileSync(path, "utf8")));
  } catch (error) {
    if (error instanceof IngestConfigError) {
      process.stderr.write(`${JSON.stringify({ level: "fatal", msg: error.message, problems: error.problems })}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = pino({
    level: config.logLevel,
    base: { service: "ingest" },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names, not numbers: Loki's `level` label reads the same in every query.
    formatters: { level: (label) => ({ level: label }) },
  }, pino.destination({ sync: false }));

  const service = await createService(config, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, msg: "shutting down" });
    service.shutdown().then(
      () => { logger.flush(); process.exit(0); },
      (error: unknown) => { logger.fatal({ err: error }, "shutdown failed; spooled events stay on disk for the next start"); logger.flush(); process.exit(1); },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("uncaughtException", (error) => {
    logger.fatal({ err: error }, "uncaught exception; exiting (acknowledged events are in the spool)");
    logger.flush();
    process.exit(1);
  });

  const address = await service.app.listen({ host: config.host, port: config.port });
  logger.info({ address, msg: "listening" });
  process.send?.({ listening: address });
}

main().catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: "fatal", msg: "ingest failed to start", err: String((error as Error)?.stack ?? error) })}\n`);
  process.exit(1);
});
