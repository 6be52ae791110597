import t from 'tap';
import { createApp, definePlugin, type AtriumPlugin } from '@atrium/core';
import { createTestApp } from '@atrium/core/testing';
import { bare } from './fixtures/modules.ts';

/** createApp checks the module set before touching any database. */
function assertRefused(t: { throws: typeof import('tap').default.throws }, modules: AtriumPlugin[], message: RegExp, involved: string[], moduleConfig = {}) {
  t.throws(() => createApp({ modules, moduleConfig, environment: {} }), { name: 'PluginError', message, modules: involved });
}

t.test('start-up is refused, with one message naming the modules involved', async (t) => {
  t.test('a missing dependency', async (t) => {
    assertRefused(t, [bare('crm'), bare('cafe', '1.0.0', ['crm', 'menu'])], /^Module "cafe" depends on "menu", which is not installed$/, ['cafe', 'menu']);
  });
  t.test('a cycle', async (t) => {
    assertRefused(
      t,
      [bare('a', '1.0.0', ['b']), bare('b', '1.0.0', ['c']), bare('c', '1.0.0', ['a'])],
      /^Modules depend on each other in a cycle: a -> b -> c -> a$/,
      ['a', 'b', 'c'],
    );
  });
  t.test('a duplicate name', async (t) => {
    assertRefused(t, [bare('crm'), bare('crm', '2.0.0')], /^Module "crm" is installed twice$/, ['crm']);
  });
  t.test('a version outside the declared range', async (t) => {
    assertRefused(t, [bare('crm', '2.1.0'), bare('cafe', '1.0.0', ['crm@^1'])], /^Module "cafe" needs "crm@\^1", but version 2\.1\.0 is installed$/, ['cafe', 'crm']);
  });
  t.test('an invalid module config', async (t) => {
    const cafe = bare('cafe', '1.0.0', [], {
      config: { schema: { type: 'object', additionalProperties: false, properties: { tables: { type: 'integer', minimum: 1 } } } },
    });
    assertRefused(t, [cafe], /^Module "cafe" has invalid options: \/tables must be >= 1$/, ['cafe'], { cafe: { tables: 0 } });
    assertRefused(t, [cafe], /^Options are given for module "barber", which is not installed$/, ['barber'], { barber: {} });
  });
  t.test('a listener for an event no module emits', async (t) => {
    assertRefused(t, [bare('cafe', '1.0.0', [], { on: { 'crm.contact.merged': () => {} } })], /^Module "cafe" listens to "crm.contact.merged", which no installed module emits$/, ['cafe', 'crm']);
  });
  t.test('two modules defining the same root field or type', async (t) => {
    const field = (name: string) => bare(name, '1.0.0', [], { graphql: { typeDefs: 'extend type Query { menu: String }' } });
    assertRefused(t, [field('cafe'), field('barber')], /^Modules "cafe" and "barber" both define the GraphQL field Query.menu$/, ['cafe', 'barber']);
    const type = (name: string) => bare(name, '1.0.0', [], { graphql: { typeDefs: 'type Menu { id: ID! }' } });
    assertRefused(t, [type('cafe'), type('barber')], /^Modules "cafe" and "barber" both define the GraphQL type Menu$/, ['cafe', 'barber']);
  });
  t.test('a module resolving a field another module owns', async (t) => {
    const crm = bare('crm', '1.0.0', [], { graphql: { typeDefs: 'extend type Query { contacts: [String!]! }' } });
    const thief = bare('thief', '1.0.0', ['crm'], { graphql: { typeDefs: 'extend type Query { x: Int }', resolvers: { Query: { contacts: () => [] } } } });
    assertRefused(t, [crm, thief], /^Module "thief" resolves Query.contacts, which module "crm" owns$/, ['thief', 'crm']);
  });
  t.test('invalid SDL', async (t) => {
    assertRefused(t, [bare('cafe', '1.0.0', [], { graphql: { typeDefs: 'extend type Query { broken' } })], /^Module "cafe" has invalid GraphQL typeDefs: Syntax Error/, ['cafe']);
  });
  t.test('the reserved name "core"', async (t) => {
    assertRefused(t, [bare('core')], /reserved for the kernel/, ['core']);
  });
});

t.test('definePlugin checks the manifest itself', async (t) => {
  t.throws(() => definePlugin({ name: 'Bad Name', version: '1.0.0' }), /must be camelCase/);
  t.throws(
    () => definePlugin({ name: 'cafe', version: '1.0.0', permissions: [{ key: 'crm.contact.read', subject: 'Contact', actions: ['read'], description: '' }] }),
    /permission key "crm.contact.read" must start with "cafe."/,
  );
  t.throws(() => definePlugin({ name: 'cafe', version: '1.0.0', events: { 'crm.x.y': { schema: {} } } }), /event "crm.x.y" must start with "cafe."/);
});

t.test('modules start in dependency order, whatever order they are listed in', async (t) => {
  const modules = [bare('education', '1.0.0', ['crm@^1.2', 'messenger']), bare('messenger', '0.3.0', ['crm']), bare('crm', '1.4.0')];
  const test = await createTestApp({ modules });
  t.teardown(() => test.close());
  const res = await test.gql('{ atrium { modules { name version dependsOn } } }');
  t.same(res.data.atrium.modules, [
    { name: 'crm', version: '1.4.0', dependsOn: [] },
    { name: 'messenger', version: '0.3.0', dependsOn: ['crm'] },
    { name: 'education', version: '1.0.0', dependsOn: ['crm@^1.2', 'messenger'] },
  ]);
});

t.test('a module gets its own Fastify context and validated options in setup()', async (t) => {
  const hooks = bare('hooks', '1.0.0', [], {
    config: { schema: { type: 'object', properties: { greeting: { type: 'string', default: 'hello' } } } },
    setup({ fastify, config }) {
      fastify.get('/hooks/greeting', async () => ({ greeting: (config as { greeting: string }).greeting }));
    },
  });
  const test = await createTestApp({ modules: [hooks] });
  t.teardown(() => test.close());
  const res = await test.app.fastify.inject({ method: 'GET', url: '/hooks/greeting' });
  t.same(res.json(), { greeting: 'hello' });
});
