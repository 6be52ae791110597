import t from 'tap';
import { BadUserInputError, definePlugin, isId, notFound, requirePermission } from '@atrium/core';
import { assertEdgeInputs, createTestApp, type Assertions } from '@atrium/core/testing';
import { Note, notes } from './fixtures/notes.ts';

/** A tap `t` that records the helper's checks instead of failing the test. */
function recorder() {
  const checks: { passed: boolean; message: string; found: unknown }[] = [];
  const recorded: Assertions = {
    ok: (value, message) => checks.push({ passed: !!value, message, found: value }),
    same: (found, wanted, message) => checks.push({ passed: JSON.stringify(found) === JSON.stringify(wanted), message, found }),
  };
  return { checks, recorded };
}

/** Bugs the check must find: an empty title throws a plain error, a blank one writes before it is refused, NUL reaches the database. */
const careless = definePlugin({
  name: 'careless',
  version: '1.0.0',
  dependsOn: ['notes'],
  graphql: {
    typeDefs: /* GraphQL */ `
      extend type Query { noteTitleLength(id: ID!): Int }
      extend type Mutation { renameNote(id: ID!, title: String!): Boolean! }
    `,
    resolvers: {
      Query: {
        noteTitleLength: async (_root: unknown, { id }: { id: string }, context) => {
          requirePermission(context, 'notes.note.read');
          return isId(id) ? ((await context.em.findOne(Note, { id }))?.title.length ?? null) : null;
        },
      },
      Mutation: {
        renameNote: async (_root: unknown, { id, title }: { id: string; title: string }, context) => {
          requirePermission(context, 'notes.note.manage');
          if (!isId(id) || !(await context.em.findOne(Note, { id }))) throw notFound('Note');
          if (title === '') throw new Error('an unchecked empty title');
          await context.em.nativeUpdate(Note, { id }, { title });
          if (!title.trim()) throw new BadUserInputError({ title: 'must not be blank' });
          return true;
        },
      },
    },
  },
});

t.test('assertEdgeInputs finds an internal error, a failed mutation that wrote, and a field left out', async (t) => {
  const test = await createTestApp({ modules: [notes, careless] });
  t.teardown(() => test.close());
  const { checks, recorded } = recorder();
  await assertEdgeInputs(recorded, test, {
    module: 'careless',
    async seed(company) {
      const created = await test.gql('mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }', { input: { title: 'Kept', branchId: company.defaultBranchId } }, { token: company.owner.token });
      return { noteId: created.data.createNote.id as string };
    },
    operations: { 'Mutation.renameNote': ({ noteId }) => ({ id: noteId, title: 'Renamed' }) },
  });
  const failed = checks.filter((check) => !check.passed);
  t.same(
    failed.map((check) => check.message),
    ['careless: every root query and mutation is probed or skipped with a reason', 'Mutation.renameNote as owner: 21 requests, each answered with data or a clear error (a failed mutation writing nothing)'],
  );
  t.same(failed[0]!.found, ['Query.noteTitleLength'], 'the field left out is named');
  t.same(
    failed[1]!.found,
    ['title = "": INTERNAL (Internal server error)', 'title = "   ": answered BAD_USER_INPUT and wrote to note', 'title = "a\\u0000b": INTERNAL (Internal server error)'],
    'the internal error and the write are found, each with the input that caused it',
  );
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
      'Mutation.createNote': ({ company }) => ({ input: { title: 'Another', branchId: company.defaultBranchId, secret: 'hush' } }),
      // A note of its own for every request: each deletion reaches a live note.
      'Mutation.deleteNote': async ({ create }) => ({ id: (await create('Doomed')).data.createNote.id }),
    },
  });
});
