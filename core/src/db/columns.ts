import { p } from '@mikro-orm/core';
import { newId } from './ids.ts';

/** The primary key every Atrium entity uses: a UUID v7 made on create. */
export const primaryId = () => p.uuid().primary().onCreate(() => newId());

/** A `timestamptz` set on create (and defaulted by the database for raw inserts). */
export const createdAt = () => p.datetime().defaultRaw('now()').onCreate(() => new Date());

/** Money: `numeric(14,2)`, read and written as a decimal string (never a float). */
export const money = () => p.decimal('string').precision(14).scale(2);
