import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { afterCommit, BadUserInputError, newId, type EntityManager } from '@atrium/core';
import { Attachment, MAX_ATTACHMENTS } from '../entities/messages.ts';
import type { MessengerContext } from './context.ts';

/**
 * Where attachments' bytes live. The messenger keeps the metadata (messenger_attachment) and hands
 * the bytes to the storage under an opaque key; an S3-like adapter implements the same four calls.
 */
export interface AttachmentStorage {
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** Null when nothing is stored under the key. */
  get(key: string): Promise<Buffer | null>;
  delete(key: string): Promise<void>;
  /** A URL clients can download from (e.g. a signed one), or null when the bytes are served through the API. */
  url(key: string): Promise<string | null>;
}

/** Stores attachments as files under one directory (the default: `.atrium/attachments`). */
export class LocalDiskStorage implements AttachmentStorage {
  readonly #root: string;

  constructor(directory: string) {
    this.#root = resolve(directory);
  }

  #path(key: string): string {
    const path = resolve(this.#root, key);
    // Keys are made by the messenger, but a path must never leave the root whatever it is given.
    if (!path.startsWith(this.#root + sep)) throw new Error(`Attachment key "${key}" leaves the storage directory`);
    return path;
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.#path(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  async url(): Promise<string | null> {
    return null;
  }
}

export const defaultStorage = (): AttachmentStorage => new LocalDiskStorage(join(process.cwd(), '.atrium', 'attachments'));

/** An attachment as a client sends it: the file's bytes in base64. */
export interface AttachmentInput {
  fileName: string;
  contentType: string;
  dataBase64: string;
}

/** JSON schema of one attachment input (the base64 length is capped again once decoded). */
export const attachmentInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['fileName', 'contentType', 'dataBase64'],
  properties: {
    fileName: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\u0000]+$' },
    contentType: { type: 'string', minLength: 3, maxLength: 255, pattern: '^[\\w.+-]+/[\\w.+-]+$' },
    dataBase64: { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$' },
  },
};
export const attachmentsSchema = { type: 'array', maxItems: MAX_ATTACHMENTS, items: attachmentInputSchema };

export interface DecodedAttachment {
  fileName: string;
  contentType: string;
  bytes: Buffer;
}

/** Decodes attachments, refusing one larger than the configured cap (input path `root.<index>`). */
export function decodeAttachments(ctx: Pick<MessengerContext, 'options'>, attachments: AttachmentInput[] | null | undefined, root: string): DecodedAttachment[] {
  const list = attachments ?? [];
  if (list.length > MAX_ATTACHMENTS) throw new BadUserInputError({ [root]: `at most ${MAX_ATTACHMENTS} attachments` });
  const fields: Record<string, string> = {};
  const decoded = list.map((attachment, index) => {
    const bytes = Buffer.from(attachment.dataBase64, 'base64');
    if (bytes.byteLength > ctx.options.maxAttachmentBytes) fields[`${root}.${index}.dataBase64`] = `is larger than ${ctx.options.maxAttachmentBytes} bytes`;
    return { fileName: attachment.fileName, contentType: attachment.contentType.toLowerCase(), bytes };
  });
  if (Object.keys(fields).length) throw new BadUserInputError(fields);
  return decoded;
}

/**
 * Stores the bytes and adds the metadata rows to the unit of work. If the transaction fails, the
 * stored files are deleted again (`transact` runs `undo`).
 */
export async function storeAttachments(tx: EntityManager, ctx: MessengerContext, messageId: string, companyId: string, attachments: DecodedAttachment[]): Promise<Attachment[]> {
  const stored: Attachment[] = [];
  for (const attachment of attachments) {
    const id = newId();
    const storageKey = `${companyId}/${messageId}/${id}`;
    ctx.undo.push(() => ctx.options.storage.delete(storageKey));
    await ctx.options.storage.put(storageKey, attachment.bytes, attachment.contentType);
    stored.push(tx.create(Attachment, { id, companyId, messageId, fileName: attachment.fileName, contentType: attachment.contentType, byteSize: attachment.bytes.byteLength, storageKey }));
  }
  return stored;
}

/** Deletes the stored bytes of attachments once the transaction `tx` that removed their rows commits. */
export async function forgetAttachmentFiles(tx: EntityManager, ctx: MessengerContext, storageKeys: string[]): Promise<void> {
  if (!storageKeys.length) return;
  await afterCommit(tx, async () => {
    for (const key of storageKeys) await ctx.options.storage.delete(key);
  });
}
