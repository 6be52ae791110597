import { createTestApp, type TestApp, type TestCompany } from '@atrium/core/testing';
import crm from '@atrium/crm';

/** A test app with the CRM, and a company to work in. */
export async function crmApp(): Promise<{ test: TestApp; company: TestCompany }> {
  const test = await createTestApp({ modules: [crm], config: { logLevel: 'error' } });
  const company = await test.createCompany();
  return { test, company };
}

/** Counts rows of a table (optionally with a where clause): bad input must leave counts unchanged. */
export async function countRows(test: TestApp, table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const [row] = await test.sql<{ count: number }>(`select count(*)::int as count from ${table} where ${where}`, params);
  return row!.count;
}

export const CREATE_CONTACT = /* GraphQL */ `
  mutation CreateContact($input: CreateContactInput!) {
    createContact(input: $input) { id name kind emails phones identifier labels blocked customAttributes branch { id } owner { id } lastActivityAt deletedAt }
  }
`;
