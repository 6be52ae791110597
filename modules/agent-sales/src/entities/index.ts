import { AgentAllocation, AgentCart, AgentCartLine, AgentRefund, AgentRefundAllocation, AgentRefundLine, AgentSale, AgentSaleLine } from './sales.ts';
import { AgentReturn, AgentTransfer, AgentTransferLine } from './transfers.ts';

/** Every entity the module owns (the ORM loads them; migrations/ creates their tables). */
export const entities = [AgentTransfer, AgentTransferLine, AgentReturn, AgentCart, AgentCartLine, AgentSale, AgentSaleLine, AgentAllocation, AgentRefund, AgentRefundLine, AgentRefundAllocation];
