// What other modules (and bench/) may use of agent sales (its package's public API); everything else is internal.
export { AgentReturn, AgentTransfer, AgentTransferLine, TRANSFER_STATUSES, type TransferStatus } from './entities/transfers.ts';
export {
  AgentAllocation,
  AgentCart,
  AgentCartLine,
  AgentRefund,
  AgentRefundAllocation,
  AgentRefundLine,
  AgentSale,
  AgentSaleLine,
  CART_STATUSES,
  SALE_STATUSES,
  type CartStatus,
  type SaleStatus,
} from './entities/sales.ts';
export type { AgentSalesContext } from './services/context.ts';
export { checkoutAgentCart, insufficientStock, type CheckoutInput, type Shortfall } from './services/checkout.ts';
export { addToAgentCart, openAgentCart, type CartLineInput } from './services/carts.ts';
export { onHandOf, agentStockTopic, type AgentStock, type AgentStockChange } from './services/stock.ts';
export { ANALYTICS_READ, SALE_CREATE, TRANSFER_MANAGE } from './permissions.ts';
