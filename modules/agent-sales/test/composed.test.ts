import t from 'tap';
import { definePlugin, forbidden, requirePermission, type ResolverContext } from '@atrium/core';
import { createTestApp } from '@atrium/core/testing';
import { checkoutAgentCart } from '../src/index.ts';
import { countRows, handOver, modules, newAgent, newCart, newProduct, ok } from './helpers.ts';

/**
 * A module that sells through agent sales inside a transaction of its own (a van's delivery run,
 * say, recording its stop with the sale): the sale commits, or not, with the module's own work.
 */
const deliveryRuns = definePlugin({
  name: 'deliveryRuns',
  version: '1.0.0',
  dependsOn: ['agentSales'],
  graphql: {
    typeDefs: /* GraphQL */ `
      extend type Mutation {
        "Checks the cart out inside the module's own transaction, which then fails."
        sellThenFail(cartId: ID!, idempotencyKey: String!): Boolean
      }
    `,
    resolvers: {
      Mutation: {
        sellThenFail: async (_root: unknown, input: { cartId: string; idempotencyKey: string }, context: ResolverContext) => {
          const viewer = requirePermission(context, 'agentSales.sale.create');
          await context.em.transactional(async (tx) => {
            await checkoutAgentCart({ em: tx, viewer, emit: context.emit, publish: context.publish }, input);
            throw forbidden('The delivery run refuses the stop');
          });
          return true;
        },
      },
    },
  },
});

const STOCK = 'subscription ($id: ID!) { agentStockChanged(agentId: $id) { reason stock { productId quantity } } }';
const CHECKOUT = 'mutation ($input: CheckoutAgentCartInput!) { checkoutAgentCart(input: $input) { id } }';

t.test("a checkout inside a caller's transaction publishes the stock change only once the caller commits", async (t) => {
  const test = await createTestApp({ modules: [...modules, deliveryRuns], config: { logLevel: 'error' } });
  t.teardown(() => test.close());
  const company = await test.createCompany();
  const agent = await newAgent(test, company);
  const soap = await newProduct(test, company.owner, 'Soap');
  await handOver(test, company.owner, agent, [{ productId: soap, quantity: 5 }]);
  const cartId = await newCart(test, agent, [{ productId: soap, quantity: 2 }]);
  const otherCartId = await newCart(test, agent, [{ productId: soap, quantity: 1 }]);
  const watching = await test.subscribe(STOCK, { id: agent.id }, company.owner);

  const failed = await test.gql('mutation ($cartId: ID!) { sellThenFail(cartId: $cartId, idempotencyKey: "run-1") }', { cartId }, agent);
  t.equal(failed.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  t.equal(await countRows(test, 'agent_sale'), 0, 'the sale was rolled back with the caller');

  await ok(test.gql(CHECKOUT, { input: { cartId: otherCartId, idempotencyKey: 'run-2' } }, agent));
  t.same((await watching.next()).data?.agentStockChanged, { reason: 'SALE', stock: [{ productId: soap, quantity: 4 }] }, 'the first change seen is the committed sale: the rolled-back one was never live');
  await watching.close();
});
