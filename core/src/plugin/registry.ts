import semver from 'semver';
import { Ajv } from 'ajv';
import type { AtriumPlugin } from './manifest.ts';

/** A set of modules that cannot start together; the message names the modules involved. */
export class PluginError extends Error {
  readonly modules: string[];
  constructor(message: string, modules: string[]) {
    super(message);
    this.name = 'PluginError';
    this.modules = modules;
  }
}

/** A module ready to start: its manifest and its validated options. */
export interface ResolvedPlugin {
  plugin: AtriumPlugin<any>;
  config: unknown;
}

/** A parsed `dependsOn` entry. */
export interface Dependency {
  name: string;
  range: string | undefined;
}

/** Parses `crm` or `crm@^1`. */
export function parseDependency(spec: string): Dependency {
  const at = spec.indexOf('@', 1);
  return at === -1 ? { name: spec, range: undefined } : { name: spec.slice(0, at), range: spec.slice(at + 1) };
}

/**
 * Orders modules so that each comes after its dependencies, and validates each module's options.
 * Refuses, with one message naming the modules involved: a duplicate name, a missing dependency, a
 * version outside the declared range, a dependency cycle, invalid module options.
 */
export function resolvePlugins(plugins: AtriumPlugin<any>[], moduleConfig: Record<string, unknown> = {}): ResolvedPlugin[] {
  const byName = new Map<string, AtriumPlugin<any>>();
  for (const plugin of plugins) {
    if (byName.has(plugin.name)) {
      throw new PluginError(`Module "${plugin.name}" is installed twice`, [plugin.name]);
    }
    if (!semver.valid(plugin.version)) {
      throw new PluginError(`Module "${plugin.name}" has an invalid version "${plugin.version}"`, [plugin.name]);
    }
    byName.set(plugin.name, plugin);
  }

  for (const plugin of plugins) {
    for (const dependency of (plugin.dependsOn ?? []).map(parseDependency)) {
      const target = byName.get(dependency.name);
      if (!target) {
        throw new PluginError(`Module "${plugin.name}" depends on "${dependency.name}", which is not installed`, [plugin.name, dependency.name]);
      }
      if (dependency.range !== undefined) {
        if (!semver.validRange(dependency.range)) {
          throw new PluginError(`Module "${plugin.name}" declares an invalid version range "${dependency.range}" for "${dependency.name}"`, [plugin.name, dependency.name]);
        }
        if (!semver.satisfies(target.version, dependency.range)) {
          throw new PluginError(
            `Module "${plugin.name}" needs "${dependency.name}@${dependency.range}", but version ${target.version} is installed`,
            [plugin.name, dependency.name],
          );
        }
      }
    }
  }

  const emitted = new Set(plugins.flatMap((plugin) => Object.keys(plugin.events ?? {})));
  for (const plugin of plugins) {
    for (const event of Object.keys(plugin.on ?? {})) {
      if (!emitted.has(event)) {
        const emitter = event.split('.')[0]!;
        throw new PluginError(`Module "${plugin.name}" listens to "${event}", which no installed module emits`, [plugin.name, emitter]);
      }
    }
  }

  for (const name of Object.keys(moduleConfig)) {
    if (!byName.has(name)) throw new PluginError(`Options are given for module "${name}", which is not installed`, [name]);
  }

  return topologicalOrder(plugins, byName).map((plugin) => ({ plugin, config: validateModuleConfig(plugin, moduleConfig[plugin.name]) }));
}

/** Depth-first order; a module on the current path seen again is a cycle, reported as a path. */
function topologicalOrder(plugins: AtriumPlugin<any>[], byName: Map<string, AtriumPlugin<any>>): AtriumPlugin<any>[] {
  const ordered: AtriumPlugin<any>[] = [];
  const done = new Set<string>();
  const path: string[] = [];

  const visit = (plugin: AtriumPlugin<any>): void => {
    if (done.has(plugin.name)) return;
    const cycleStart = path.indexOf(plugin.name);
    if (cycleStart !== -1) {
      const cycle = [...path.slice(cycleStart), plugin.name];
      throw new PluginError(`Modules depend on each other in a cycle: ${cycle.join(' -> ')}`, path.slice(cycleStart));
    }
    path.push(plugin.name);
    for (const dependency of plugin.dependsOn ?? []) visit(byName.get(parseDependency(dependency).name)!);
    path.pop();
    done.add(plugin.name);
    ordered.push(plugin);
  };
  for (const plugin of plugins) visit(plugin);
  return ordered;
}

const configAjv = new Ajv({ allErrors: true, useDefaults: true, strict: true });

function validateModuleConfig(plugin: AtriumPlugin<any>, given: unknown): unknown {
  if (!plugin.config) {
    if (given !== undefined) throw new PluginError(`Module "${plugin.name}" takes no options`, [plugin.name]);
    return undefined;
  }
  const value = structuredClone(given ?? {});
  const validate = configAjv.compile(plugin.config.schema);
  if (!validate(value)) {
    const problems = validate.errors!.map((e) => `${e.instancePath || '(options)'} ${e.message}`).join('; ');
    throw new PluginError(`Module "${plugin.name}" has invalid options: ${problems}`, [plugin.name]);
  }
  return value;
}
