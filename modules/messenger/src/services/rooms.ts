import { AtriumError, BadUserInputError, Branch, conflict, createValidator, type EntityManager, type Viewer } from '@atrium/core';
import { Conversation } from '../entities/conversations.ts';
import { heldRooms, isAdmin } from './access.ts';
import { companyIdOf, transact, type MessengerContext } from './context.ts';
import { openConversation } from './conversations.ts';

export interface CreateRoomInput {
  name: string;
  title: string;
}

const validateCreateRoom = createValidator<CreateRoomInput>({
  type: 'object',
  additionalProperties: false,
  required: ['name', 'title'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 50 },
    title: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
  },
});

/**
 * Serialises the work on one key of a company within the transaction (a room's name, a record's
 * chat): two at once cannot both find nothing and both create. Released at commit or rollback.
 */
export async function lockKey(tx: EntityManager, key: string): Promise<void> {
  await tx.execute('select pg_advisory_xact_lock(hashtext(?))', [key]);
}

/** The branch a company-wide conversation is filed under: the viewer's first, else the company's first. */
async function defaultBranch(tx: EntityManager, viewer: Viewer): Promise<string> {
  if (viewer.branchIds[0]) return viewer.branchIds[0];
  const [branch] = await tx.find(Branch, {}, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: 1 });
  if (!branch) throw new AtriumError('INTERNAL', 'The company has no branch');
  return branch.id;
}

/**
 * Opens the company's room of a name the app declares (`defineMessenger({ rooms })`); its members
 * are the holders of `messenger.room.<name>`. One room per name in a company: a second is CONFLICT.
 * The caller holds messenger.inbox.manage (checked by the resolver).
 */
export async function createRoom(ctx: MessengerContext, input: unknown): Promise<Conversation> {
  const viewer = ctx.viewer!;
  const { name, title } = validateCreateRoom(input);
  if (!ctx.options.rooms.some((room) => room.name === name)) throw new BadUserInputError({ 'input.name': 'is not a room this app declares' });
  return transact(ctx, async (tx) => {
    await lockKey(tx, `messenger.room:${companyIdOf(tx)}:${name}`);
    if (await tx.count(Conversation, { kind: 'ROOM', roomName: name })) throw conflict(`Your company already has the room "${name}"`, { field: 'input.name' });
    return openConversation(tx, ctx, { kind: 'ROOM', branchId: await defaultBranch(tx, viewer), roomName: name, title: title.trim() });
  });
}

/** The rooms the viewer may enter (admins: all of them), most recently active first. */
export async function listRooms(ctx: MessengerContext): Promise<Conversation[]> {
  const viewer = ctx.viewer!;
  if (isAdmin(viewer)) return ctx.em.find(Conversation, { kind: 'ROOM' }, { orderBy: { lastActivityAt: 'desc', id: 'desc' } });
  const rooms = heldRooms(viewer);
  if (!rooms.length) return [];
  return ctx.em.find(Conversation, { kind: 'ROOM', roomName: { $in: rooms } }, { orderBy: { lastActivityAt: 'desc', id: 'desc' } });
}
