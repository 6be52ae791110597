import { p } from '@mikro-orm/core';
import { newId } from './ids.ts';

/** The primary key every Atrium entity uses: a UUID v7 made on create. */
export const primaryId = () => p.uuid().primary().onCreate(() => newId());

/** A `timestamptz` set on create (and defaulted by the database for raw inserts). */
export const createdAt = () => p.datetime().defaultRaw('now()').onCreate(() => new Date());
