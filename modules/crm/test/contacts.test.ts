import t from 'tap';
import { assertTenantIsolation, postgresOnly } from '@atrium/core/testing';
import { countRows, CREATE_CONTACT, crmApp } from './helpers.ts';

const UPDATE_CONTACT = /* GraphQL */ `
  mutation UpdateContact($id: ID!, $input: UpdateContactInput!) {
    updateContact(id: $id, input: $input) { id name emails phones identifier labels blocked customAttributes branch { id } owner { id displayName } }
  }
`;
const CONTACTS = /* GraphQL */ `
  query Contacts($first: Int, $after: String, $filter: ContactFilter, $orderBy: ContactOrder) {
    contacts(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      totalCount
      edges { cursor node { id name emails labels lastActivityAt owner { displayName } branch { name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const CONTACT = 'query ($id: ID!) { contact(id: $id) { id name deletedAt mergedIntoId emails phones labels identifier } }';
const MERGE = 'mutation ($input: MergeContactsInput!) { mergeContacts(input: $input) { id emails phones labels identifier customAttributes } }';
const SETTINGS = 'mutation ($input: UpdateCrmSettingsInput!) { updateCrmSettings(input: $input) { contactAttributeSchema defaultPhoneCountry } }';

t.test('contacts: the contract end to end', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;

  const created = await test.gql(
    CREATE_CONTACT,
    { input: { name: ' Alice Smith ', emails: [' Alice@Example.com ', 'alice@example.com'], phones: ['+998 90 123 45 67'], labels: ['vip', ' vip '], identifier: 'EXT-1', ownerId: owner.id } },
    owner,
  );
  t.equal(created.errors, undefined);
  const alice = created.data.createContact;
  t.match(alice, {
    name: 'Alice Smith',
    kind: 'PERSON',
    emails: ['alice@example.com'],
    phones: ['+998901234567'],
    labels: ['vip'],
    identifier: 'EXT-1',
    blocked: false,
    customAttributes: {},
    branch: { id: company.defaultBranchId },
    owner: { id: owner.id },
    deletedAt: null,
  });

  t.test('search matches name, identifier, address and phone prefixes', async (t) => {
    await test.gql(CREATE_CONTACT, { input: { name: 'Bob Stone', kind: 'ORGANIZATION', emails: ['bob@stone.io'] } }, owner);
    const search = async (text: string) => (await test.gql(CONTACTS, { filter: { search: text } }, owner)).data.contacts.edges.map((e: any) => e.node.name);
    t.same(await search('ali'), ['Alice Smith']);
    t.same(await search('SMI ali'), ['Alice Smith'], 'every word must match, in any order');
    t.same(await search('alice@exa'), ['Alice Smith'], 'a partly typed address');
    t.same(await search('ext-1'), ['Alice Smith'], 'the identifier');
    t.same(await search('90 123 45'), ['Alice Smith'], 'national digits, however spaced');
    t.same(await search('+99890'), ['Alice Smith'], 'international digits');
    t.same(await search('st'), ['Bob Stone']);
    t.same(await search("'&|!:*()"), ['Alice Smith', 'Bob Stone'], 'tsquery syntax in the search is ignored, not an error');
    t.same(await search('nobody'), []);
  });

  t.test('filters, order and pagination', async (t) => {
    const byLabel = await test.gql(CONTACTS, { filter: { labels: ['vip'] } }, owner);
    t.same(byLabel.data.contacts.edges.map((e: any) => e.node.name), ['Alice Smith']);
    const newest = await test.gql(CONTACTS, { orderBy: 'NEWEST', first: 1 }, owner);
    t.equal(newest.data.contacts.edges[0].node.name, 'Bob Stone');
    t.equal(newest.data.contacts.totalCount, 2);
    t.equal(newest.data.contacts.pageInfo.hasNextPage, true);
    const next = await test.gql(CONTACTS, { orderBy: 'NEWEST', first: 1, after: newest.data.contacts.pageInfo.endCursor }, owner);
    t.same(next.data.contacts.edges.map((e: any) => e.node.name), ['Alice Smith']);
    const bad = await test.gql(CONTACTS, { first: 101 }, owner);
    t.equal(bad.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const blocked = await test.gql(CONTACTS, { filter: { blocked: true } }, owner);
    t.equal(blocked.data.contacts.totalCount, 0);
  });

  t.test('update replaces what is given and emits crm.contact.updated with the changed fields', async (t) => {
    const updated = await test.gql(UPDATE_CONTACT, { id: alice.id, input: { name: 'Alice Jones', emails: ['alice@jones.dev'], blocked: true } }, owner);
    t.equal(updated.errors, undefined);
    t.match(updated.data.updateContact, { name: 'Alice Jones', emails: ['alice@jones.dev'], blocked: true, labels: ['vip'], identifier: 'EXT-1' });
    t.same(
      (await test.sql<{ email: string }>('select email from crm_contact_email where contact_id = $1', [alice.id])).map((r) => r.email),
      ['alice@jones.dev'],
      'the dropped address is released, the new one claimed',
    );
    const [event] = await test.sql<{ payload: any }>(`select payload from atrium_event where name = 'crm.contact.updated' order by occurred_at desc limit 1`);
    t.same(event?.payload, { contactId: alice.id, changed: ['name', 'emails', 'blocked'] });
    const reused = await test.gql(CREATE_CONTACT, { input: { name: 'New Alice', emails: ['alice@example.com'] } }, owner);
    t.equal(reused.errors, undefined, 'a released address can be used again');
  });

  t.test('delete hides a contact from lists; restore brings it back', async (t) => {
    const deleted = await test.gql('mutation ($id: ID!) { deleteContact(id: $id) { deletedAt } }', { id: alice.id }, owner);
    t.match(deleted.data.deleteContact.deletedAt, /Z$/);
    const live = await test.gql(CONTACTS, { filter: { search: 'jones' } }, owner);
    t.equal(live.data.contacts.totalCount, 0);
    const bin = await test.gql(CONTACTS, { filter: { deleted: true } }, owner);
    t.same(bin.data.contacts.edges.map((e: any) => e.node.id), [alice.id]);
    const edit = await test.gql(UPDATE_CONTACT, { id: alice.id, input: { name: 'x' } }, owner);
    t.equal(edit.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'a deleted contact is restored before it is edited');
    const restored = await test.gql('mutation ($id: ID!) { restoreContact(id: $id) { deletedAt } }', { id: alice.id }, owner);
    t.equal(restored.data.restoreContact.deletedAt, null);
    t.same((await test.gql(CONTACT, { id: alice.id }, owner)).data.contact.deletedAt, null);
    const [events] = await test.sql<{ n: number }>(`select count(*)::int as n from atrium_event where name in ('crm.contact.deleted', 'crm.contact.restored')`);
    t.equal(events!.n, 2);
  });
});

t.test('contacts: duplicates are CONFLICT within a company and fine across companies', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const other = await test.createCompany({ name: 'Other' });
  const first = await test.gql(CREATE_CONTACT, { input: { name: 'A', emails: ['same@example.com'], identifier: 'ID-1' } }, company.owner);
  t.equal(first.errors, undefined);
  const before = await countRows(test, 'crm_contact');

  const email = await test.gql(CREATE_CONTACT, { input: { name: 'B', emails: ['SAME@example.com'] } }, company.owner);
  t.equal(email.errors?.[0]?.extensions?.code, 'CONFLICT', 'e-mail addresses are unique per company, case-insensitively');
  t.equal(email.errors?.[0]?.extensions?.field, 'input.emails');
  const identifier = await test.gql(CREATE_CONTACT, { input: { name: 'B', identifier: 'ID-1' } }, company.owner);
  t.equal(identifier.errors?.[0]?.extensions?.code, 'CONFLICT');
  t.equal(identifier.errors?.[0]?.extensions?.field, 'input.identifier');
  const second = await test.gql(CREATE_CONTACT, { input: { name: 'B', emails: ['b@example.com'] } }, company.owner);
  const takeOver = await test.gql(UPDATE_CONTACT, { id: second.data.createContact.id, input: { emails: ['b@example.com', 'same@example.com'] } }, company.owner);
  t.equal(takeOver.errors?.[0]?.extensions?.code, 'CONFLICT', 'also when an update adds a taken address');
  t.equal(await countRows(test, 'crm_contact'), before + 1, 'only the valid contact was written');
  t.same(
    (await test.sql<{ email: string }>('select email from crm_contact_email where contact_id = $1', [second.data.createContact.id])).map((r) => r.email),
    ['b@example.com'],
    'the refused update claimed nothing',
  );

  const elsewhere = await test.gql(CREATE_CONTACT, { input: { name: 'A', emails: ['same@example.com'], identifier: 'ID-1' } }, other.owner);
  t.equal(elsewhere.errors, undefined, 'the same address and identifier in another company');
});

t.test('contacts: bad input is BAD_USER_INPUT with field paths and writes nothing', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const other = await test.createCompany({ name: 'Other' });
  const before = { contacts: await countRows(test, 'crm_contact'), emails: await countRows(test, 'crm_contact_email'), events: await countRows(test, 'atrium_event') };
  const cases: [string, Record<string, unknown>, string][] = [
    ['an empty name', { name: '  ' }, 'input.name'],
    ['a malformed address', { name: 'x', emails: ['not-an-address'] }, 'input.emails.0'],
    ['an invalid phone', { name: 'x', phones: ['+1 000'] }, 'input.phones.0'],
    ['a phone without country code (none configured)', { name: 'x', phones: ['90 123 45 67'] }, 'input.phones.0'],
    ['another company’s branch', { name: 'x', branchId: other.defaultBranchId }, 'input.branchId'],
    ['another company’s user as owner', { name: 'x', ownerId: other.owner.id }, 'input.ownerId'],
    ['a companyId (refused by the schema itself)', { name: 'x', companyId: other.id }, ''],
    ['an unknown kind (refused by the schema itself)', { name: 'x', kind: 'ROBOT' }, ''],
    ['a NUL character in the name (PostgreSQL stores none)', { name: 'Ann\u0000' }, 'input.name'],
    ['a NUL character in a custom attribute', { name: 'x', customAttributes: { note: 'a\u0000b' } }, 'input.customAttributes.note'],
    ['half a surrogate pair in a custom attribute (jsonb refuses it)', { name: 'x', customAttributes: { note: 'a\ud800' } }, 'input.customAttributes.note'],
    ['half a surrogate pair in a custom attribute’s key', { name: 'x', customAttributes: { '\udc00': 'a' } }, 'input.customAttributes'],
  ];
  for (const [what, input, field] of cases) {
    const res = await test.gql(CREATE_CONTACT, { input }, company.owner);
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', what);
    if (field) t.ok(Object.keys(res.errors?.[0]?.extensions?.fields ?? {}).some((key) => key.startsWith(field)), `${what}: names ${field}`);
  }
  t.same(
    { contacts: await countRows(test, 'crm_contact'), emails: await countRows(test, 'crm_contact_email'), events: await countRows(test, 'atrium_event') },
    before,
    'nothing was written',
  );

  const settings = await test.gql(SETTINGS, { input: { defaultPhoneCountry: 'UZ' } }, company.owner);
  t.same(settings.data.updateCrmSettings, { contactAttributeSchema: {}, defaultPhoneCountry: 'UZ' });
  const local = await test.gql(CREATE_CONTACT, { input: { name: 'Local', phones: ['90 123 45 67'] } }, company.owner);
  t.same(local.data.createContact.phones, ['+998901234567'], "a national number is read in the company's country");
});

t.test('contacts: deleteContact refuses what it cannot delete and writes nothing', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const DELETE = 'mutation ($id: ID!) { deleteContact(id: $id) { id deletedAt } }';
  const northId = (await test.gql('mutation { createBranch(input: { name: "North" }) { id } }', {}, company.owner)).data.createBranch.id as string;
  const inMain = (await test.gql(CREATE_CONTACT, { input: { name: 'Main contact' } }, company.owner)).data.createContact.id as string;
  const gone = (await test.gql(CREATE_CONTACT, { input: { name: 'Gone' } }, company.owner)).data.createContact.id as string;
  const firstDelete = await test.gql(DELETE, { id: gone }, company.owner);
  const reader = await test.createUser({ company, permissions: ['crm.contact.read'] });
  const northEditor = await test.createUser({ company, permissions: ['crm.contact.read', 'crm.contact.manage'], branches: [northId] });
  const rows = () => test.sql('select id, deleted_at, merged_into_id from crm_contact order by id');
  const before = { rows: await rows(), events: await countRows(test, 'atrium_event'), activity: await countRows(test, 'crm_contact_activity') };

  const cases: [string, string, { token: string }, string][] = [
    ['a malformed id is a missing one', 'nope', company.owner, 'NOT_FOUND'],
    ['an unknown id', '0190a1b2-0000-7000-8000-000000000000', company.owner, 'NOT_FOUND'],
    ['a contact of a branch the editor cannot see', inMain, northEditor, 'NOT_FOUND'],
    ['a reader without crm.contact.manage', inMain, reader, 'FORBIDDEN'],
  ];
  for (const [what, id, who, code] of cases) {
    const res = await test.gql(DELETE, { id }, who);
    t.equal(res.errors?.[0]?.extensions?.code, code, `${what}: ${code}`);
    t.equal(res.data, null, `${what}: no data`);
  }
  const again = await test.gql(DELETE, { id: gone }, company.owner);
  t.same(again.data.deleteContact, firstDelete.data.deleteContact, 'deleting a deleted contact answers it as it was');
  t.same(
    { rows: await rows(), events: await countRows(test, 'atrium_event'), activity: await countRows(test, 'crm_contact_activity') },
    before,
    'nothing was written: no contact deleted, no second crm.contact.deleted',
  );
});

t.test("contacts: custom attributes follow the company's schema", async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const schema = {
    type: 'object',
    additionalProperties: false,
    properties: { tier: { enum: ['gold', 'silver'] }, birthday: { type: 'string', format: 'date' }, address: { type: 'object', properties: { zip: { type: 'string', pattern: '^[0-9]{5}$' } } } },
  };
  const invalidSchema = await test.gql(SETTINGS, { input: { contactAttributeSchema: { type: 'object', properties: { tier: { enum: 'gold' } } } } }, company.owner);
  t.equal(invalidSchema.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'a schema that is not a JSON schema is refused');
  t.ok(invalidSchema.errors?.[0]?.extensions?.fields?.['input.contactAttributeSchema']);
  const typo = await test.gql(SETTINGS, { input: { contactAttributeSchema: { type: 'object', propertees: {} } } }, company.owner);
  t.equal(typo.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'an unknown keyword (a typo) is refused');
  t.equal(await countRows(test, 'crm_settings'), 0, 'refused schemas are not saved');
  const saved = await test.gql(SETTINGS, { input: { contactAttributeSchema: schema } }, company.owner);
  t.same(saved.data.updateCrmSettings.contactAttributeSchema, schema);
  const read = await test.gql('{ crmSettings { contactAttributeSchema } }', {}, company.owner);
  t.same(read.data.crmSettings.contactAttributeSchema, schema);

  const before = await countRows(test, 'crm_contact');
  const bad = await test.gql(CREATE_CONTACT, { input: { name: 'x', customAttributes: { tier: 'bronze', birthday: 'soon', address: { zip: '12' }, shoe: 42 } } }, company.owner);
  t.equal(bad.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  t.same(Object.keys(bad.errors?.[0]?.extensions?.fields ?? {}).sort(), [
    'input.customAttributes.address.zip',
    'input.customAttributes.birthday',
    'input.customAttributes.shoe',
    'input.customAttributes.tier',
  ]);
  t.equal(await countRows(test, 'crm_contact'), before, 'nothing written');
  const good = await test.gql(CREATE_CONTACT, { input: { name: 'x', customAttributes: { tier: 'gold', address: { zip: '12345' } } } }, company.owner);
  t.same(good.data.createContact.customAttributes, { tier: 'gold', address: { zip: '12345' } });
  const badUpdate = await test.gql(UPDATE_CONTACT, { id: good.data.createContact.id, input: { customAttributes: { tier: 'bronze' } } }, company.owner);
  t.same(badUpdate.errors?.[0]?.extensions?.fields, { 'input.customAttributes.tier': 'must be equal to one of the allowed values' });
  const [row] = await test.sql<{ custom_attributes: unknown }>('select custom_attributes from crm_contact where id = $1', [good.data.createContact.id]);
  t.same(row?.custom_attributes, { tier: 'gold', address: { zip: '12345' } }, 'the refused update changed nothing');
});

t.test('contacts: merge moves addresses, labels and references to the survivor and emits one event', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const make = async (input: Record<string, unknown>) => (await test.gql(CREATE_CONTACT, { input }, owner)).data.createContact.id as string;
  const survivorId = await make({ name: 'Ann', emails: ['ann@a.io'], labels: ['lead'], customAttributes: { source: 'web' } });
  const mergedId = await make({ name: 'Ann L.', emails: ['ann@b.io'], phones: ['+442071838750'], labels: ['vip', 'lead'], identifier: 'EXT-9', customAttributes: { source: 'fair', size: 3 } });
  const earlierId = await make({ name: 'Old Ann' });
  // A contact merged earlier into the one merged now ends up pointing at the survivor as well.
  await test.gql(MERGE, { input: { survivorId: mergedId, mergedId: earlierId } }, owner);

  const merged = await test.gql(MERGE, { input: { survivorId, mergedId } }, owner);
  t.equal(merged.errors, undefined);
  t.same(merged.data.mergeContacts, {
    id: survivorId,
    emails: ['ann@a.io', 'ann@b.io'],
    phones: ['+442071838750'],
    labels: ['lead', 'vip'],
    identifier: 'EXT-9',
    customAttributes: { source: 'web', size: 3 },
  });
  t.match((await test.gql(CONTACT, { id: mergedId }, owner)).data.contact, { deletedAt: /Z$/, mergedIntoId: survivorId, identifier: null });
  t.same((await test.gql(CONTACT, { id: earlierId }, owner)).data.contact.mergedIntoId, survivorId);
  t.same(
    (await test.sql<{ email: string; contact_id: string }>('select email, contact_id from crm_contact_email order by email')).map((r) => [r.email, r.contact_id]),
    [
      ['ann@a.io', survivorId],
      ['ann@b.io', survivorId],
    ],
  );
  const [activity] = await test.sql<{ n: number }>(`select count(*)::int as n from crm_contact_activity where contact_id = $1 and kind = 'crm.contact.merged'`, [survivorId]);
  t.equal(activity!.n, 2, 'the earlier merge’s timeline entry moved to the survivor, next to its own');
  const events = await test.sql<{ payload: unknown }>(`select payload from atrium_event where name = 'crm.contact.merged' and payload->>'mergedId' = $1`, [mergedId]);
  t.same(events.map((e) => e.payload), [{ survivorId, mergedId }], 'one crm.contact.merged');

  const before = await countRows(test, 'atrium_event');
  const again = await test.gql(MERGE, { input: { survivorId, mergedId } }, owner);
  t.equal(again.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'a merged contact cannot be merged again');
  const self = await test.gql(MERGE, { input: { survivorId, mergedId: survivorId } }, owner);
  t.equal(self.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  const restore = await test.gql('mutation ($id: ID!) { restoreContact(id: $id) { id } }', { id: mergedId }, owner);
  t.equal(restore.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'a merged contact is not restored');
  t.equal(await countRows(test, 'atrium_event'), before, 'refusals emit nothing');
});

t.test('contacts: a MEMBER sees and changes only what their keys and branches allow', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const branch = await test.gql('mutation { createBranch(input: { name: "North" }) { id } }', {}, company.owner);
  const northId = branch.data.createBranch.id as string;
  const inMain = (await test.gql(CREATE_CONTACT, { input: { name: 'Main contact' } }, company.owner)).data.createContact.id;
  const inNorth = (await test.gql(CREATE_CONTACT, { input: { name: 'North contact', branchId: northId } }, company.owner)).data.createContact.id;
  const reader = await test.createUser({ company, permissions: ['crm.contact.read'], branches: [northId] });
  const editor = await test.createUser({ company, permissions: ['crm.contact.read', 'crm.contact.manage'], branches: [northId] });

  const list = await test.gql(CONTACTS, {}, reader);
  t.same(list.data.contacts.edges.map((e: any) => e.node.name), ['North contact'], "only the reader's branch");
  t.equal(list.data.contacts.totalCount, 1, 'the count is filtered in SQL too');
  t.equal((await test.gql(CONTACT, { id: inMain }, reader)).data.contact, null, 'another branch’s contact is not found');
  t.equal((await test.gql(CONTACT, { id: inNorth }, reader)).data.contact.name, 'North contact');

  const before = await countRows(test, 'crm_contact');
  const create = await test.gql(CREATE_CONTACT, { input: { name: 'x', branchId: northId } }, reader);
  t.equal(create.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'reading is not writing');
  const update = await test.gql(UPDATE_CONTACT, { id: inNorth, input: { name: 'x' } }, reader);
  t.equal(update.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  const elsewhere = await test.gql(CREATE_CONTACT, { input: { name: 'x', branchId: company.defaultBranchId } }, editor);
  t.equal(elsewhere.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'an editor cannot add to a branch that is not theirs');
  const foreign = await test.gql(UPDATE_CONTACT, { id: inMain, input: { name: 'x' } }, editor);
  t.equal(foreign.errors?.[0]?.extensions?.code, 'NOT_FOUND', 'nor edit a contact they cannot see');
  const away = await test.gql(UPDATE_CONTACT, { id: inNorth, input: { branchId: company.defaultBranchId } }, editor);
  t.equal(away.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'nor move one out of their branches');
  t.equal(await countRows(test, 'crm_contact'), before);
  t.equal((await test.sql<{ name: string }>('select name from crm_contact where id = $1', [inNorth]))[0]?.name, 'North contact', 'nothing changed');
  const own = await test.gql(CREATE_CONTACT, { input: { name: 'By editor' } }, editor);
  t.same(own.data.createContact.branch, { id: northId }, "a new contact lands in the editor's branch");
  const noKeys = await test.createUser({ company, permissions: [] });
  t.equal((await test.gql(CONTACTS, {}, noKeys)).errors?.[0]?.extensions?.code, 'FORBIDDEN');
});

t.test('contacts: a list page costs the same number of statements whatever its size', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const second = await test.gql('mutation { createBranch(input: { name: "Second" }) { id } }', {}, company.owner);
  const member = await test.createUser({ company, permissions: ['crm.contact.read'], branches: [company.defaultBranchId, second.data.createBranch.id] });
  for (let i = 0; i < 60; i += 1) {
    const branchId = i % 2 ? company.defaultBranchId : second.data.createBranch.id;
    await test.gql(CREATE_CONTACT, { input: { name: `Contact ${String(i).padStart(2, '0')}`, labels: ['l'], ownerId: company.owner.id, branchId } }, company.owner);
  }
  const [{ display_name: ownerName }] = await test.sql<{ display_name: string }>('select display_name from app_user where id = $1', [company.owner.id]);
  const [{ name: defaultBranch }] = await test.sql<{ name: string }>('select name from branch where id = $1', [company.defaultBranchId]);
  const count = async (first: number) => {
    let res: any;
    const statements = await test.statements(async () => {
      res = await test.gql(CONTACTS, { first }, member);
    });
    t.equal(res.data.contacts.edges.length, first);
    const references = new Set(res.data.contacts.edges.map((edge: any) => `${edge.node.owner.displayName} in ${edge.node.branch.name}`));
    if (first > 1) t.same(references, new Set([`${ownerName} in Second`, `${ownerName} in ${defaultBranch}`]), 'owners and branches answered');
    // Read once for the page, each row still gets its own: odd numbers in the default branch.
    t.ok(
      res.data.contacts.edges.every((edge: any) => edge.node.branch.name === (Number(edge.node.name.slice(-2)) % 2 ? defaultBranch : 'Second')),
      'each contact with its own branch',
    );
    // Row-level security sets the session's company and role before each statement: count the statements that read.
    return statements.filter((sql) => !/^(select set_config|set local role)/.test(sql)).length;
  };
  await count(1); // warm the viewer cache
  const small = await count(5);
  const large = await count(50);
  t.equal(large, small, `${small} statements for 5 contacts with owner and branch, and for 50`);
  t.equal(small, 1, 'the page with its count, owners and branches, in one statement');

  // Pages walk the whole list in either order, every page counting the whole list.
  const third = await test.gql('mutation { createBranch(input: { name: "Third" }) { id } }', {}, company.owner);
  await test.gql(CREATE_CONTACT, { input: { name: 'Contact 00', branchId: third.data.createBranch.id } }, company.owner);
  await test.gql(CREATE_CONTACT, { input: { name: 'Contact 07' } }, company.owner);
  const walk = async (orderBy: 'NAME' | 'NEWEST') => {
    const seen: { id: string; name: string }[] = [];
    let after: string | null = null;
    for (;;) {
      const res: any = await test.gql(CONTACTS, { first: 25, after, orderBy }, member);
      t.equal(res.data.contacts.totalCount, 61, `${orderBy}: the total is the whole list's on every page`);
      seen.push(...res.data.contacts.edges.map((e: any) => ({ id: e.node.id, name: e.node.name })));
      t.equal(res.data.contacts.pageInfo.endCursor, res.data.contacts.edges.at(-1)?.cursor ?? null);
      if (!res.data.contacts.pageInfo.hasNextPage) {
        const beyond: any = await test.gql(CONTACTS, { first: 25, after: res.data.contacts.pageInfo.endCursor, orderBy }, member);
        t.same(beyond.data.contacts, { totalCount: 61, edges: [], pageInfo: { hasNextPage: false, endCursor: null } }, `${orderBy}: past the end, no rows and still the total`);
        return { seen, cursor: res.data.contacts.edges[0].cursor as string };
      }
      after = res.data.contacts.pageInfo.endCursor;
    }
  };
  const visible = await test.sql<{ id: string; name: string }>(
    'select id, name from crm_contact where company_id = $1 and branch_id = any($2::uuid[]) and deleted_at is null order by name, id',
    [company.id, [company.defaultBranchId, second.data.createBranch.id]],
  );
  const byName = await walk('NAME');
  t.same(byName.seen, visible, 'by name (ties by id), without the branch the member may not read');
  const newest = await walk('NEWEST');
  t.same(new Set(newest.seen.map((row) => row.id)), new Set(visible.map((row) => row.id)), 'newest first: the same contacts');
  t.equal(newest.seen[0]!.name, 'Contact 07', 'the last created first');
  const foreign = await test.gql(CONTACTS, { first: 5, after: byName.cursor, orderBy: 'NEWEST' }, member);
  t.equal(foreign.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', "a cursor by name does not fit the newest's times");
  t.equal(foreign.errors?.[0]?.extensions?.fields?.after, 'is not a cursor of this list');
});

t.test('contacts: a page reads only the columns its fields need', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const member = await test.createUser({ company, permissions: ['crm.contact.read'] });
  const input = { name: 'Ada', emails: ['ada@example.com'], phones: ['+998901234567'], labels: ['vip'], ownerId: company.owner.id };
  const ada = (await test.gql(CREATE_CONTACT, { input }, company.owner)).data.createContact.id;
  const list = async (query: string) => {
    let res: any;
    const statements = await test.statements(async () => {
      res = await test.gql(query, {}, member);
    });
    t.equal(res.errors, undefined);
    const page = statements.find((sql) => sql.includes('"crm_contact"'));
    // The page's columns (ahead of its type name; the count's select has parentheses).
    const columns = /select ([^()]*?'Contact' as "__typename")/.exec(page ?? '')?.[1] ?? '';
    return { node: res.data.contacts.edges[0]?.node, columns };
  };

  const few = await list('{ contacts { edges { node { name owner { id } } } } }');
  t.same(few.node, { name: 'Ada', owner: { id: company.owner.id } });
  // The key, the order's fields, the owner's id for its loader, and the branch the member's access is judged by.
  t.same(few.columns.split(', ').sort(), ['"branch_id" as "branchId"', '"id"', '"name"', '"owner_id" as "ownerId"', `'Contact' as "__typename"`].sort());

  const fragments = await list('query { contacts { edges { node { ...card ... on Contact { mail: emails } } } } } fragment card on Contact { phones labels }');
  t.same(fragments.node, { phones: ['+998901234567'], labels: ['vip'], mail: ['ada@example.com'] }, 'fields of fragments and aliases are read');
  t.match(fragments.columns, /"emails".*"phones".*"labels"/);
  t.notMatch(fragments.columns, /"custom_attributes"/);

  // A field that is not a column (its resolver could read anything): the whole row.
  const whole = await list('{ contacts { edges { node { id debts { id } } } } }');
  t.same(whole.node, { id: ada, debts: null }, 'null: the member may not see debts');
  t.match(whole.columns, /"custom_attributes" as "customAttributes".*"created_at" as "createdAt"/);
});

t.test('contacts: two parallel creates with one address give one contact and one CONFLICT', { skip: postgresOnly }, async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, i) => test.gql(CREATE_CONTACT, { input: { name: `Racer ${i}`, emails: ['race@example.com'] } }, company.owner)),
  );
  t.equal(results.filter((r) => !r.errors).length, 1, 'one wins');
  t.same(
    results.filter((r) => r.errors).map((r) => r.errors?.[0]?.extensions?.code),
    Array(5).fill('CONFLICT'),
  );
  t.equal(await countRows(test, 'crm_contact'), 1, 'the losers wrote nothing');
});

t.test("contacts: a company's first settings saved twice at once both succeed, one after the other", { skip: postgresOnly }, async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const SAVE = 'mutation ($input: UpdateCrmSettingsInput!) { updateCrmSettings(input: $input) { defaultPhoneCountry } }';
  const results = await Promise.all(['GB', 'DE', 'FR'].map((country) => test.gql(SAVE, { input: { defaultPhoneCountry: country } }, company.owner)));
  t.same(results.map((r) => r.errors?.[0]?.extensions?.code ?? 'ok'), ['ok', 'ok', 'ok'], 'no INTERNAL: the row is made once');
  const saved = await test.sql<{ default_phone_country: string }>('select default_phone_country from crm_settings where company_id = $1', [company.id]);
  t.equal(saved.length, 1, 'one row');
  t.ok(['GB', 'DE', 'FR'].includes(saved[0]!.default_phone_country), 'holding one of the saves');
});

t.test('contacts: a deal, debt, task or note made while its contact is merged away ends on the survivor, or is refused', { skip: postgresOnly }, async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const make = async (name: string) => (await test.gql(CREATE_CONTACT, { input: { name } }, owner)).data.createContact.id as string;
  const pipelineId = (await test.gql('mutation { createPipeline(input: { name: "Race", stages: [{ name: "New" }] }) { id } }', {}, owner)).data.createPipeline.id;
  const links = {
    deal: ['mutation ($id: ID!) { createDeal(input: { title: "d", pipelineId: "PIPELINE", contactId: $id }) { id } }'.replace('PIPELINE', pipelineId), 'crm_deal'],
    debt: ['mutation ($id: ID!) { createDebt(input: { contactId: $id, amount: "5", currency: "USD" }) { id } }', 'crm_debt'],
    task: ['mutation ($id: ID!) { createTask(input: { title: "t", contactId: $id }) { id } }', 'crm_task'],
    note: ['mutation ($id: ID!) { createNote(input: { body: "n", contactId: $id }) { id } }', 'crm_note'],
  } as const;
  for (let round = 0; round < 5; round++) {
    const [survivorId, mergedId] = [await make(`Survivor ${round}`), await make(`Merged ${round}`)];
    const [merge, ...made] = await Promise.all([
      test.gql(MERGE, { input: { survivorId, mergedId } }, owner),
      ...Object.values(links).map(([query]) => test.gql(query, { id: mergedId }, owner)),
    ]);
    t.equal(merge!.errors, undefined, `round ${round}: the merge succeeds`);
    for (const [i, [name, [, table]]] of Object.entries(links).entries()) {
      const refused = made[i]!.errors?.[0]?.extensions;
      if (refused) t.same([refused.code, refused.fields], ['BAD_USER_INPUT', { 'input.contactId': 'is a deleted contact' }], `round ${round}: the ${name} is refused as on a deleted contact`);
      const [left] = await test.sql<{ n: number }>(`select count(*)::int as n from ${table} where contact_id = $1`, [mergedId]);
      t.equal(left!.n, 0, `round ${round}: no ${name} is left on the merged contact`);
    }
  }
});

t.test('contacts: another company’s ids behave as missing ids', async (t) => {
  const { test } = await crmApp();
  t.teardown(() => test.close());
  await assertTenantIsolation(t, test, {
    async seed(a) {
      const make = async (name: string, email: string) =>
        (await test.gql(CREATE_CONTACT, { input: { name, emails: [email], identifier: email } }, a.owner)).data.createContact.id as string;
      return { id: await make('Secret', 'secret@a.io'), other: await make('Other', 'other@a.io'), ownerId: a.owner.id, branchId: a.defaultBranchId };
    },
    // B's own contacts, given A's ids: A's owner, branch and contacts must be as unknown to them as missing ones.
    async own(b) {
      const make = async (name: string) => (await test.gql(CREATE_CONTACT, { input: { name } }, b.owner)).data.createContact.id as string;
      return { id: await make('Mine'), other: await make('Also mine') };
    },
    operations: [
      { name: 'contact', query: CONTACT, variables: (seed) => ({ id: seed.id }) },
      { name: 'contacts', query: CONTACTS, variables: () => ({ filter: { search: 'secret' } }) },
      { name: 'contacts (deleted)', query: CONTACTS, variables: () => ({ filter: { deleted: true } }) },
      { name: 'updateContact', query: UPDATE_CONTACT, variables: (seed) => ({ id: seed.id, input: { name: 'Hijacked' } }) },
      { name: 'deleteContact', query: 'mutation ($id: ID!) { deleteContact(id: $id) { id } }', variables: (seed) => ({ id: seed.id }) },
      { name: 'restoreContact', query: 'mutation ($id: ID!) { restoreContact(id: $id) { id } }', variables: (seed) => ({ id: seed.id }) },
      { name: 'mergeContacts', query: MERGE, variables: (seed) => ({ input: { survivorId: seed.id, mergedId: seed.other } }) },
      { name: 'mergeContacts into B’s survivor', query: MERGE, variables: (seed, own) => ({ input: { survivorId: own.id, mergedId: seed.id } }) },
      { name: 'mergeContacts of B’s contact into A’s', query: MERGE, variables: (seed, own) => ({ input: { survivorId: seed.id, mergedId: own.other } }) },
      { name: 'createContact with A’s owner', query: CREATE_CONTACT, variables: (seed) => ({ input: { name: 'x', ownerId: seed.ownerId } }) },
      { name: 'createContact in A’s branch', query: CREATE_CONTACT, variables: (seed) => ({ input: { name: 'x', branchId: seed.branchId } }) },
      { name: 'updateContact of B’s with A’s owner', query: UPDATE_CONTACT, variables: (seed, own) => ({ id: own.id, input: { ownerId: seed.ownerId } }) },
      { name: 'updateContact of B’s into A’s branch', query: UPDATE_CONTACT, variables: (seed, own) => ({ id: own.id, input: { branchId: seed.branchId } }) },
      { name: 'contacts by A’s owner and branch', query: CONTACTS, variables: (seed) => ({ filter: { ownerId: seed.ownerId, branchId: seed.branchId } }) },
      { name: 'crmSettings', query: '{ crmSettings { contactAttributeSchema defaultPhoneCountry } }' },
      { name: 'updateCrmSettings', query: SETTINGS, variables: () => ({ input: { defaultPhoneCountry: 'DE' } }) },
    ],
  });
});
