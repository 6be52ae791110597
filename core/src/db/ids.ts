import { v7 as uuidv7 } from 'uuid';

/** A new primary key: a UUID v7 (time-ordered, so indexes stay compact). */
export const newId = (): string => uuidv7();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a client-supplied id can be a primary key; anything else is treated as missing. */
export const isId = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);
