import t from 'tap';
import { createTestApp } from '@atrium/core/testing';
import { notes } from './fixtures/notes.ts';

const CREATE_NOTE = 'mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }';

for (const rowLevelSecurity of [true, false]) {
  t.test(`a raw query that omits the tenant filter, with row-level security ${rowLevelSecurity ? 'on' : 'off'}`, async (t) => {
    const test = await createTestApp({ modules: [notes], config: { rowLevelSecurity } });
    t.teardown(() => test.close());
    const a = await test.createCompany();
    const b = await test.createCompany();
    for (const company of [a, b, b]) {
      await test.gql(CREATE_NOTE, { input: { title: 'n', branchId: company.defaultBranchId } }, { token: company.owner.token });
    }
    t.equal((await test.sql<{ n: number }>('select count(*)::int as n from note'))[0]!.n, 5, 'two Welcome notes and three more');
    const count = (await test.gql('{ rawNoteCount }', {}, { token: a.owner.token })).data.rawNoteCount;
    // Without row-level security the forgotten filter leaks every company's rows: that is what it guards.
    t.equal(count, rowLevelSecurity ? 2 : 5);
  });
}
