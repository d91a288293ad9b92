/** Appends bytes to a file and fdatasyncs it before resolving: for the few writes that must survive a crash. */
import { promises as fs } from "node:fs";

export async function appendDurably(path: string, data: Buffer | string): Promise<void> {
  const handle = await fs.open(path, "a");
  try {
    await (typeof data === "string" ? handle.write(data) : handle.write(data));
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
