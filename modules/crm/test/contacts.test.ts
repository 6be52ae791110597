import t from 'tap';
import { countRows, CREATE_CONTACT, crmApp } from './helpers.ts';

t.test('contacts: create, read, list and search', async (t) => {
  const { test, company } = await crmApp();
  t.teardown(() => test.close());
  const owner = company.owner;
  const created = await test.gql(CREATE_CONTACT, { input: { name: 'Alice Smith', emails: [' Alice@Example.com '], phones: ['+998 90 123 45 67'], labels: ['vip', ' vip '] } }, owner);
  t.equal(created.errors, undefined);
  t.match(created.data.createContact, { name: 'Alice Smith', kind: 'PERSON', emails: ['alice@example.com'], phones: ['+998901234567'], labels: ['vip'], branch: { id: company.defaultBranchId } });
  const search = async (text: string) =>
    (await test.gql('query ($f: ContactFilter) { contacts(filter: $f) { totalCount edges { node { name } } } }', { f: { search: text } }, owner)).data.contacts.totalCount;
  t.equal(await search('ali'), 1);
  t.equal(await search('smi'), 1);
  t.equal(await search('alice@exa'), 1);
  t.equal(await search('901234'), 1);
  t.equal(await search('+99890'), 1);
  t.equal(await search('bob'), 0);
  t.equal(await countRows(test, 'crm_contact_email'), 1);
});
