import t from 'tap';
import { BadUserInputError, definePlugin, isId, notFound, requirePermission, subscription } from '@atrium/core';
import { assertEdgeInputs, createTestApp, type TestApp, type TestCompany } from '@atrium/core/testing';
import { Note, noteCreated, notes } from './fixtures/notes.ts';
import { recorder } from './fixtures/recorder.ts';

/**
 * Bugs the check must find: an empty title throws a plain error, a blank one writes before it is
 * refused, NUL reaches the database; the subscription looks its note up with any id; a note's
 * excerpt throws a plain error for a negative length; a renamed note's title takes an argument no
 * probed query reaches; a blank mark is refused after it was written, to a table without a company_id.
 */
const careless = definePlugin({
  name: 'careless',
  version: '1.0.0',
  dependsOn: ['notes'],
  migrations: new URL('./fixtures/careless-migrations/', import.meta.url),
  graphql: {
    typeDefs: /* GraphQL */ `
      extend type Query { noteTitleLength(id: ID!): Int, carelessNote(id: ID!): Note }
      extend type Note { excerpt(length: Int): String! }
      type RenamedNote { title(shout: Boolean): String! }
      extend type Mutation { renameNote(id: ID!, title: String!): RenamedNote!, markNote(id: ID!, mark: String!): Boolean! }
      extend type Subscription { noteCreatedAfter(id: ID!): Note! }
    `,
    resolvers: {
      Query: {
        noteTitleLength: async (_root: unknown, { id }: { id: string }, context) => {
          requirePermission(context, 'notes.note.read');
          return isId(id) ? ((await context.em.findOne(Note, { id }))?.title.length ?? null) : null;
        },
        carelessNote: async (_root: unknown, { id }: { id: string }, context) => {
          requirePermission(context, 'notes.note.read');
          return isId(id) ? context.em.findOne(Note, { id }) : null;
        },
      },
      Note: {
        excerpt: (note: Note, { length }: { length?: number | null }) => {
          if (length != null && length < 0) throw new Error('an unchecked negative length');
          return note.title.slice(0, length ?? 10);
        },
      },
      RenamedNote: {
        title: ({ title }: { title: string }, { shout }: { shout?: boolean | null }) => (shout ? title.toUpperCase() : title),
      },
      Subscription: {
        noteCreatedAfter: subscription(async ({ id }: { id: string }, context) => {
          const viewer = requirePermission(context, 'notes.note.read');
          if (!(await context.em.findOne(Note, { id }))) throw notFound('Note');
          return noteCreated(viewer.companyId);
        }),
      },
      Mutation: {
        renameNote: async (_root: unknown, { id, title }: { id: string; title: string }, context) => {
          requirePermission(context, 'notes.note.manage');
          if (!isId(id) || !(await context.em.findOne(Note, { id }))) throw notFound('Note');
          if (title === '') throw new Error('an unchecked empty title');
          await context.em.nativeUpdate(Note, { id }, { title });
          if (!title.trim()) throw new BadUserInputError({ title: 'must not be blank' });
          return { title };
        },
        markNote: async (_root: unknown, { id, mark }: { id: string; mark: string }, context) => {
          requirePermission(context, 'notes.note.manage');
          if (!isId(id) || !(await context.em.findOne(Note, { id }))) throw notFound('Note');
          if (mark.includes('\u0000')) throw new BadUserInputError({ mark: 'must not hold NUL' });
          await context.em.execute('insert into careless_mark (note_id, mark) values (?, ?)', [id, mark]);
          if (!mark.trim()) throw new BadUserInputError({ mark: 'must not be blank' });
          return true;
        },
      },
    },
  },
});

/** The seed of the sweeps below: one note in the caller's company. */
async function oneNote(company: TestCompany, test: TestApp): Promise<{ noteId: string }> {
  const created = await test.gql('mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }', { input: { title: 'Kept', branchId: company.defaultBranchId } }, { token: company.owner.token });
  return { noteId: created.data.createNote.id as string };
}

t.test('assertEdgeInputs finds an internal error, a failed mutation that wrote, and fields left out', async (t) => {
  const test = await createTestApp({ modules: [notes, careless] });
  t.teardown(() => test.close());
  const { checks, recorded } = recorder();
  await assertEdgeInputs(recorded, test, {
    module: 'careless',
    seed: oneNote,
    operations: {
      'Query.carelessNote': ({ noteId }) => ({ id: noteId }),
      'Subscription.noteCreatedAfter': ({ noteId }) => ({ id: noteId }),
      'Mutation.renameNote': ({ noteId }) => ({ id: noteId, title: 'Renamed' }),
      'Mutation.markNote': ({ noteId }) => ({ id: noteId, mark: 'seen' }),
    },
  });
  const failed = checks.filter((check) => !check.passed);
  t.same(failed.map((check) => check.message), [
    'careless: every root query, mutation and subscription is probed or skipped with a reason',
    'careless: every field with arguments is reached by a probed or skipped query or skipped with a reason',
    'Query.carelessNote as owner: 15 requests, each answered with data or a clear error (a failed mutation writing nothing)',
    'Subscription.noteCreatedAfter as owner: 10 requests, each answered with data or a clear error (a failed mutation writing nothing)',
    'Mutation.renameNote as owner: 23 requests, each answered with data or a clear error (a failed mutation writing nothing)',
    'Mutation.markNote as owner: 23 requests, each answered with data or a clear error (a failed mutation writing nothing)',
  ]);
  t.same(failed[0]!.found, ['Query.noteTitleLength'], 'the root field left out is named');
  t.same(failed[1]!.found, ['RenamedNote.title'], "the field whose argument only a mutation's answer reaches is named");
  t.same(
    failed[2]!.found,
    [-1, -2147483648].map((length) => `Note.excerpt(length) = ${length}: INTERNAL (Internal server error)`),
    "a nested field's argument is probed through the query that reaches it",
  );
  t.same(
    (failed[3]!.found as string[]).map((line) => line.replace(/urn:uuid:[0-9a-f-]+/, 'urn:uuid:…')),
    ['not-an-id', '', 'urn:uuid:…', 'a\u0000b', 42].map((id) => `id = ${JSON.stringify(id)}: INTERNAL (Internal server error)`),
    'a subscription refused with an internal error is found',
  );
  t.same(
    failed[4]!.found,
    ['title = "": INTERNAL (Internal server error)', 'title = "   ": answered BAD_USER_INPUT and wrote to note', 'title = "a\\u0000b": INTERNAL (Internal server error)'],
    'the internal error and the write are found, each with the input that caused it',
  );
  t.same(failed[5]!.found, ['""', '"   "'].map((mark) => `mark = ${mark}: answered BAD_USER_INPUT and wrote to careless_mark`), 'a write to a table without a company_id is found');
});

t.test('assertEdgeInputs passes a module that answers every edge input clearly', async (t) => {
  const test = await createTestApp({ modules: [notes] });
  t.teardown(() => test.close());
  await assertEdgeInputs(t, test, {
    module: 'notes',
    async seed(company) {
      const as = { token: company.owner.token };
      const create = (title: string) => test.gql('mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }', { input: { title, branchId: company.defaultBranchId } }, as);
      const noteId = (await create('First')).data.createNote.id as string;
      return { company, noteId, create };
    },
    operations: {
      'Query.notes': () => ({ first: 10 }),
      'Query.note': ({ noteId }) => ({ id: noteId }),
      'Query.noteRows': () => ({ first: 10 }),
      'Query.rawNoteCount': () => ({}),
      'Subscription.noteCreated': () => ({}),
      'Mutation.createNote': ({ company }) => ({ input: { title: 'Another', branchId: company.defaultBranchId, secret: 'hush' } }),
      // A note of its own for every request: each deletion reaches a live note.
      'Mutation.deleteNote': async ({ create }) => ({ id: (await create('Doomed')).data.createNote.id }),
    },
  });
});

t.test("assertEdgeInputs fails where the HTTP rate limit answered instead of the module, naming the fix", async (t) => {
  const test = await createTestApp({ modules: [notes], config: { httpRateLimit: 5 } });
  t.teardown(() => test.close());
  const { checks, recorded } = recorder();
  await assertEdgeInputs(recorded, test, {
    module: 'notes',
    seed: oneNote,
    operations: { 'Query.note': ({ noteId }) => ({ id: noteId }) },
    skip: { 'Query.notes': 'not here', 'Query.noteRows': 'not here', 'Query.rawNoteCount': 'not here', 'Subscription.noteCreated': 'not here', 'Mutation.createNote': 'not here', 'Mutation.deleteNote': 'not here' },
  });
  const limited = checks.find((check) => check.message.startsWith('Query.note as owner'));
  t.notOk(limited?.passed, 'the sweep of Query.note fails');
  t.ok(((limited?.found ?? []) as string[]).some((line) => line.endsWith("RATE_LIMITED (give the sweep's app config { httpRateLimit: 0 })")), 'and says how to mend it');
});
