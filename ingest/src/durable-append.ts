/** Appends bytes to a file and fdatasyncs it before resolving: for the few writes that must survive a crash. */
import { promises as fs } from "node:fs";

export async function appendDurably(path: string, data: Buffer | string): Promise<void> {
  const handle = await fs.open(path, "a");
  try {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    // A short write returns without an error (disk full, a file size limit): fail rather than report it durable.
    const { bytesWritten } = await handle.write(bytes);
    if (bytesWritten !== bytes.length) throw new Error(`short write to ${path}: ${bytesWritten} of ${bytes.length} bytes`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
