import type { UiSchema } from '@rjsf/utils';
import { KeyManagersWidget } from './KeyManagersWidget';
import { ProxiesWidget } from './ProxiesWidget';

type Schema = Record<string, unknown>;

/**
 * Settings that hold ids of other entities, by property name wherever they sit in a schema (a
 * policy's `keyManagers`, a credential ACL's proxies): each gets a picker that offers the
 * entities by name, instead of a text field that wants an id.
 */
// `ui:label: false`: the picker labels itself (the form's own label on top would say it twice).
const PICKERS: Record<string, UiSchema> = {
  keyManagers: { 'ui:widget': KeyManagersWidget, 'ui:label': false },
  allowedProxies: { 'ui:widget': ProxiesWidget, 'ui:label': false, 'ui:options': { noneMeans: 'every proxy of the project' } },
  deniedProxies: { 'ui:widget': ProxiesWidget, 'ui:label': false, 'ui:options': { noneMeans: 'none' } },
};

/** A policy's `keyManagers` hold ids (uuid items); a client's `jwtBearer.keyManagers` hold names (as APIops bundles do). */
function holdsIds(property: Schema): boolean {
  return (property.items as Schema | undefined)?.format === 'uuid';
}

/** The uiSchema that puts a picker on each such property of `schema` (nested objects included). */
export function pickersFor(schema: Schema): UiSchema {
  const ui: UiSchema = {};
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  for (const [name, property] of Object.entries(properties)) {
    if (!property || typeof property !== 'object') continue;
    if (name === 'keyManagers' && property.type === 'array' && !holdsIds(property)) ui[name] = { ...PICKERS.keyManagers, 'ui:options': { valueBy: 'name' } };
    else if (name in PICKERS && property.type === 'array') ui[name] = PICKERS[name];
    else if (property.properties) {
      const nested = pickersFor(property);
      if (Object.keys(nested).length > 0) ui[name] = nested;
    }
  }
  return ui;
}
