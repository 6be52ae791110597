import { v7 as uuidv7 } from 'uuid';

/** A new primary key: a UUID v7 (time-ordered, so indexes stay compact). */
export const newId = (): string => uuidv7();

// Lower-case only: the form PostgreSQL answers with. Services and clients compare ids as strings, so
// `A1…` and `a1…` — one row to PostgreSQL — would be two ids to them (a sale's customer not found).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether a client-supplied id can be a primary key (a lower-case UUID); anything else is treated as missing. */
export const isId = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);
