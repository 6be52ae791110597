/**
 * Scenario 2's data, written through Atrium's GraphQL API as a company would: two branches, sales
 * reps owning contacts, a MEMBER who may read contacts of one branch, contacts with labels and
 * e-mail addresses, notes (which set a contact's last activity), a few deleted contacts, and a second
 * company whose contacts nobody of the first may see. A fixed random seed makes every run the same.
 */

export interface Seeded {
  companyId: string;
  /** The branch of the MEMBER whose list is measured. */
  memberBranchId: string;
  /** The MEMBER's access token (valid 15 minutes). */
  memberToken: string;
  /** Live contacts of the company, all branches. */
  liveContacts: number;
}

export interface SeedOptions {
  /** Contacts of the measured company. */
  contacts: number;
  /** Contacts of the second company. */
  otherContacts: number;
  /** Parallel requests while seeding. */
  concurrency: number;
}

export type Variables = Record<string, unknown>;

export async function gql<Data>(url: string, query: string, variables: Variables = {}, token?: string): Promise<Data> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const answer = (await response.json()) as { data?: Data; errors?: unknown[] };
  if (answer.errors?.length || !answer.data) throw new Error(`seeding: ${query.slice(0, 60)}… failed: ${JSON.stringify(answer.errors)}`);
  return answer.data;
}

/** Runs `task` over `items`, `concurrency` at a time. */
export async function inParallel<T, R>(items: T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** mulberry32: a small seeded generator, so that every run lists the same contacts. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Aziz', 'Dilnoza', 'Olivia', 'Liam', 'Sardor', 'Malika', 'Noah', 'Emma', 'Bekzod', 'Zarina', 'Lucas', 'Mia', 'Timur', 'Nilufar', 'Ethan', 'Sofia'];
const LAST = ['Karimov', 'Smith', 'Yusupova', 'Brown', 'Rashidov', 'Garcia', 'Tursunova', 'Miller', 'Aliyev', 'Davis', 'Nazarova', 'Wilson'];
const COMPANIES = ['Trading', 'Logistics', 'Textiles', 'Foods', 'Pharma', 'Motors'];
const LABELS = ['lead', 'customer', 'vip', 'partner', 'supplier', 'wholesale', 'churned'];
const NOTES = ['Called, interested in the spring catalogue', 'Sent a quote', 'Asked for a discount on bulk orders', 'Meeting at their office next week', 'Paid the last invoice'];

const SIGN_UP = 'mutation ($input: SignUpInput!) { signUp(input: $input) { accessToken user { id } } }';
const CREATE_CONTACT = 'mutation ($input: CreateContactInput!) { createContact(input: $input) { id } }';

async function signUp(url: string, companyName: string, email: string): Promise<string> {
  const data = await gql<{ signUp: { accessToken: string } }>(url, SIGN_UP, {
    input: { companyName, email, password: 'bench-password-123', displayName: `${companyName} owner` },
  });
  return data.signUp.accessToken;
}

/** A person or an organisation, with an e-mail address unique to it and 0 to 3 labels. */
function contactInput(next: () => number, index: number, branchId: string, ownerId: string | null): Variables {
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)]!;
  const organisation = next() < 0.2;
  const name = organisation ? `${pick(LAST)} ${pick(COMPANIES)}` : `${pick(FIRST)} ${pick(LAST)}`;
  const labels = [...new Set(Array.from({ length: Math.floor(next() * 4) }, () => pick(LABELS)))];
  return {
    kind: organisation ? 'ORGANIZATION' : 'PERSON',
    name,
    emails: [`${name.toLowerCase().replace(/\s+/g, '.')}.${index}@example.com`],
    labels,
    branchId,
    ownerId,
  };
}

export async function seed(url: string, options: SeedOptions): Promise<Seeded> {
  const next = random(20261121);
  const ownerToken = await signUp(url, 'Bench Nested Ltd', 'owner@nested.example.com');
  const as = <Data>(query: string, variables?: Variables) => gql<Data>(url, query, variables, ownerToken);

  const { company, branches } = await as<{ company: { id: string }; branches: { id: string }[] }>('{ company { id } branches { id } }');
  const main = branches[0]!.id;
  const north = (await as<{ createBranch: { id: string } }>('mutation { createBranch(input: { name: "North" }) { id } }')).createBranch.id;
  const createRole = async (name: string, permissions: string[]) =>
    (await as<{ createRole: { id: string } }>('mutation ($input: CreateRoleInput!) { createRole(input: $input) { id } }', { input: { name, permissions } })).createRole.id;
  const salesRole = await createRole('Sales rep', ['crm.contact.read', 'crm.contact.manage', 'crm.note.create', 'crm.deal.read']);
  const readerRole = await createRole('Contact reader', ['crm.contact.read']);
  const createUser = async (email: string, displayName: string, roleId: string, branchId: string) =>
    (
      await as<{ createUser: { id: string } }>('mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }', {
        input: { email, password: 'bench-password-123', displayName, systemRole: 'MEMBER', roleIds: [roleId], branchIds: [branchId] },
      })
    ).createUser.id;

  // Three sales reps per branch own the branch's contacts.
  const reps = new Map<string, string[]>([
    [main, []],
    [north, []],
  ]);
  for (const [b, branchId] of [main, north].entries()) {
    for (let r = 0; r < 3; r++) reps.get(branchId)!.push(await createUser(`rep-${b}-${r}@nested.example.com`, `${FIRST[b * 3 + r]} ${LAST[r]} (sales)`, salesRole, branchId));
  }
  await createUser('member@nested.example.com', 'Bench Member', readerRole, north);
  const login = await gql<{ login: { accessToken: string } }>(url, 'mutation ($input: LoginInput!) { login(input: $input) { accessToken } }', {
    input: { email: 'member@nested.example.com', password: 'bench-password-123' },
  });

  // Contacts spread over both branches; most have an owner among the branch's reps.
  const inputs = Array.from({ length: options.contacts }, (_, index) => {
    const branchId = next() < 0.5 ? main : north;
    const owners = reps.get(branchId)!;
    return contactInput(next, index, branchId, next() < 0.9 ? owners[Math.floor(next() * owners.length)]! : null);
  });
  const ids = await inParallel(inputs, options.concurrency, async (input) => (await as<{ createContact: { id: string } }>(CREATE_CONTACT, { input })).createContact.id);
  // About 60% have a note (their last activity); about 4% are deleted.
  const noted = ids.filter(() => next() < 0.6);
  await inParallel(noted, options.concurrency, (contactId) =>
    as('mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }', { input: { contactId, body: NOTES[Math.floor(next() * NOTES.length)] } }),
  );
  const deleted = ids.filter(() => next() < 0.04);
  await inParallel(deleted, options.concurrency, (id) => as('mutation ($id: ID!) { deleteContact(id: $id) { id } }', { id }));

  // Another company: its contacts must never show.
  const otherToken = await signUp(url, 'Other Company', 'owner@other.example.com');
  const otherBranch = (await gql<{ branches: { id: string }[] }>(url, '{ branches { id } }', {}, otherToken)).branches[0]!.id;
  const otherInputs = Array.from({ length: options.otherContacts }, (_, index) => contactInput(next, index, otherBranch, null));
  await inParallel(otherInputs, options.concurrency, (input) => gql(url, CREATE_CONTACT, { input }, otherToken));

  return { companyId: company.id, memberBranchId: north, memberToken: login.login.accessToken, liveContacts: ids.length - deleted.length };
}
