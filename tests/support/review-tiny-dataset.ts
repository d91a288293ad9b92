/**
 * Review helper: hand-written datasets of a few rows, in the shape of tests/support/dataset.ts, so its expected*
 * functions compute the truth for an edge case that the generated dataset never produces.
 */
import { FEATURES, formatTime, type AliasRow, type Dataset, type EventRow, type IdentifyRow } from "./dataset";

let counter = 0;

/** A track event at `atMs`; received 100 ms later unless said otherwise. */
export function ev(name: string, userId: string, anonymousId: string, atMs: number, receivedMs = atMs + 100): EventRow {
  counter += 1;
  return {
    message_id: `review-${counter}`, type: "track", event_name: name, user_id: userId, anonymous_id: anonymousId,
    properties: {}, context: {}, event_time: formatTime(atMs), received_at: formatTime(receivedMs),
  };
}

export function identify(userId: string, anonymousId: string, atMs: number): IdentifyRow {
  counter += 1;
  return {
    message_id: `review-id-${counter}`, user_id: userId, anonymous_id: anonymousId, traits: {}, context: {},
    event_time: formatTime(atMs), received_at: formatTime(atMs + 100),
  };
}

export function alias(userId: string, previousId: string, atMs: number): AliasRow {
  counter += 1;
  return {
    message_id: `review-al-${counter}`, user_id: userId, previous_id: previousId, context: {},
    event_time: formatTime(atMs), received_at: formatTime(atMs + 100),
  };
}

/** A Dataset of the given rows, spanning [startMs, endMs). */
export function tinyDataset(startMs: number, endMs: number, events: EventRow[], identifies: IdentifyRow[] = [], aliases: AliasRow[] = []): Dataset {
  return { events, identifies, aliases, startMs, endMs, features: FEATURES };
}
