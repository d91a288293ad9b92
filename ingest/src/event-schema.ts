/**
 * JSON schemas of the request bodies, checked by Fastify (Ajv, no type coercion) before a handler runs.
 *
 * They check types and lengths; the rules that depend on the event's type (track needs `event`, group needs
 * `groupId`, everything but alias needs `userId` or `anonymousId`) are in normalize-events.ts, because Ajv's
 * messages for conditional schemas do not name the field a client has to fix.
 *
 * Both spellings are accepted: Segment's (`userId`, `event`, `messageId`) and the simple shape
 * (`user_id`, `event_name`, `message_id`). Unknown keys (`integrations`, `_metadata`, `channel`) are allowed and
 * ignored, as Segment does.
 */

export const EVENT_TYPES = ["track", "page", "screen", "identify", "group", "alias"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Segment's limits. */
export const MAX_EVENT_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_BATCH_EVENTS = 2500;
/** Deepest nesting a body may have (envelope, batch array, event, then properties 28 levels deep). */
export const MAX_JSON_DEPTH = 32;

/** Ajv options of the body schemas: no coercion, no defaults, nothing removed (Fastify's own defaults change bodies). */
export const AJV_OPTIONS = { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, allowUnionTypes: true } as const;

// Ids, a page's name and category may be null: Segment's own analytics-python sends "anonymousId": null with every call
// that has a user id ("userId": null without one) and nulls for a page's name and category not given; null is absent.
// A number id beyond 2^53 has already lost digits when JSON.parse returns it (9007199254740993 reads as ...992, another
// user): refused, naming the field, so the client sends it as a string.
const id = { type: ["string", "number", "null"], maxLength: 1024, minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } as const;
const name = { type: "string", maxLength: 1024 } as const;
const optionalName = { type: ["string", "null"], maxLength: 1024 } as const;
const date = { type: "string", maxLength: 64 } as const;
const object = { type: "object" } as const;

export const eventSchema = {
  type: "object",
  properties: {
    type: { type: "string", enum: EVENT_TYPES },
    event: name,
    event_name: name,
    name: optionalName,
    category: optionalName,
    userId: id,
    user_id: id,
    anonymousId: id,
    anonymous_id: id,
    groupId: id,
    previousId: id,
    messageId: { type: "string", minLength: 1, maxLength: 256 },
    message_id: { type: "string", minLength: 1, maxLength: 256 },
    timestamp: date,
    originalTimestamp: date,
    sentAt: date,
    properties: object,
    traits: object,
    context: object,
    integrations: object,
    writeKey: { type: "string" },
  },
} as const;

export const batchSchema = {
  type: "object",
  required: ["batch"],
  properties: {
    batch: { type: "array", maxItems: MAX_BATCH_EVENTS, items: eventSchema },
    writeKey: { type: "string" },
    sentAt: date,
    context: object,
  },
} as const;
