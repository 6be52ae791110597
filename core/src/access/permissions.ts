import type { PermissionDeclaration } from '../plugin/manifest.ts';
import type { ResolvedPlugin } from '../plugin/registry.ts';

/** A permission key with the module that declares it. */
export interface PermissionDefinition extends PermissionDeclaration {
  module: string;
}

/** The kernel's own keys (module `core`). */
export const corePermissions: PermissionDeclaration[] = [
  {
    key: 'core.user.read',
    subject: 'User',
    actions: ['read'],
    fields: ['id', 'displayName', 'systemRole', 'active', 'createdAt', 'roles', 'branches'],
    description: "See the company's users (without their e-mail addresses)",
  },
  { key: 'core.user.readContact', subject: 'User', actions: ['read'], fields: ['email'], description: "See users' e-mail addresses" },
  { key: 'core.user.manage', subject: 'User', actions: ['create', 'update', 'deactivate'], description: 'Create, change and deactivate members' },
  { key: 'core.role.read', subject: 'Role', actions: ['read'], description: 'See the custom roles' },
  { key: 'core.role.manage', subject: 'Role', actions: ['create', 'update', 'delete'], description: 'Create, change and delete custom roles' },
  { key: 'core.branch.manage', subject: 'Branch', actions: ['create', 'update'], description: 'Create and rename branches' },
  { key: 'core.apiKey.manage', subject: 'ApiKey', actions: ['create', 'read', 'delete'], description: 'Create, list and revoke API keys' },
  { key: 'core.webhook.manage', subject: 'Webhook', actions: ['create', 'read', 'update', 'delete'], description: 'Manage webhooks and read their delivery log' },
];

/** Every permission key of the installed modules. */
export class PermissionRegistry {
  readonly #byKey = new Map<string, PermissionDefinition>();

  constructor(modules: readonly ResolvedPlugin[]) {
    const all = [
      ...corePermissions.map((p) => ({ ...p, module: 'core' })),
      ...modules.flatMap(({ plugin }) => (plugin.permissions ?? []).map((p) => ({ ...p, module: plugin.name }))),
    ];
    for (const definition of all) {
      if (this.#byKey.has(definition.key)) throw new Error(`Permission key ${definition.key} is declared twice`);
      this.#byKey.set(definition.key, Object.freeze(definition));
    }
  }

  get(key: string): PermissionDefinition | undefined {
    return this.#byKey.get(key);
  }

  all(): PermissionDefinition[] {
    return [...this.#byKey.values()];
  }

  /** The keys of the given modules (the kernel's always). */
  forModules(modules: ReadonlySet<string>): PermissionDefinition[] {
    return this.all().filter((p) => p.module === 'core' || modules.has(p.module));
  }
}
