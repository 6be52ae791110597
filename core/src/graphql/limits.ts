import {
  GraphQLError,
  Kind,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { GraphQLLimits } from '../app/config.ts';

import { MAX_PAGE_SIZE } from './connection.ts';

interface Cost {
  complexity: number;
  aliases: number;
}

/**
 * A validation rule that refuses operations above the configured cost or alias count. Cost: every
 * field counts 1, times the `first` argument of each paginated list above it (a variable counts as
 * the largest page).
 * (Depth is limited by mercurius' `queryDepth`.)
 */
export function costLimitRule(limits: Pick<GraphQLLimits, 'maxComplexity' | 'maxAliases'>): ValidationRule {
  return (context: ValidationContext) => ({
    OperationDefinition(operation) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of context.getDocument().definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      const cost: Cost = { complexity: 0, aliases: 0 };
      measure(operation.selectionSet, 1, fragments, new Set(), cost);
      if (cost.complexity > limits.maxComplexity) {
        context.reportError(
          new GraphQLError(`Operation is too complex: cost ${cost.complexity} is above the limit of ${limits.maxComplexity}`, { nodes: [operation] }),
        );
      }
      if (cost.aliases > limits.maxAliases) {
        context.reportError(
          new GraphQLError(`Operation uses ${cost.aliases} aliases, more than the limit of ${limits.maxAliases}`, { nodes: [operation] }),
        );
      }
    },
  });
}

function measure(
  selectionSet: SelectionSetNode,
  multiplier: number,
  fragments: Map<string, FragmentDefinitionNode>,
  visiting: Set<string>,
  cost: Cost,
): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.alias) cost.aliases += 1;
      cost.complexity += multiplier;
      if (selection.selectionSet) {
        const first = selection.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'last');
        // Variables are not known during validation: assume the largest page.
        const size = !first ? 1 : first.value.kind === Kind.INT ? Number.parseInt(first.value.value, 10) : MAX_PAGE_SIZE;
        measure(selection.selectionSet, multiplier * Math.max(1, size), fragments, visiting, cost);
      }
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      measure(selection.selectionSet, multiplier, fragments, visiting, cost);
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      // A fragment cycle is reported by graphql's own NoFragmentCycles rule.
      if (!fragment || visiting.has(name)) continue;
      visiting.add(name);
      measure(fragment.selectionSet, multiplier, fragments, visiting, cost);
      visiting.delete(name);
    }
  }
}
