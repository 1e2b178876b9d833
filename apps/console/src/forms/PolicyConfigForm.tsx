import Form from '@rjsf/core';
import type { RJSFSchema, UiSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import { useMemo } from 'react';
import { AnyOfSelectWidget } from './AnyOfSelectWidget';
import { KeyManagersWidget } from './KeyManagersWidget';
import { withDefaultsRequired } from './schema-defaults';
import { withTitles } from './schema-titles';
import type { ErrorTree } from './server-errors';

const widgets = { SelectWidget: AnyOfSelectWidget };
const baseUiSchema: UiSchema = { 'ui:submitButtonOptions': { norender: true } };

/** Properties with a picker of their own instead of the generic field (by name, whatever the policy). */
function uiSchemaFor(schema: Record<string, unknown>): UiSchema {
  const properties = (schema.properties ?? {}) as Record<string, unknown>;
  return 'keyManagers' in properties ? { ...baseUiSchema, keyManagers: { 'ui:widget': KeyManagersWidget } } : baseUiSchema;
}

interface Props {
  /** The policy type's config schema from GET /api/v1/policy-types (JSON Schema draft-07). */
  schema: Record<string, unknown>;
  value: Record<string, unknown>;
  onChange: (value: Record<string, unknown>) => void;
  /** What the Manager said about this policy's fields on the last save. */
  serverErrors?: ErrorTree;
  idPrefix: string;
}

/**
 * One policy's settings, generated from its JSON Schema: a policy folder that lands with a new
 * schema gets its form with no console change. The browser checks the schema as the operator
 * types; the Manager's own findings (which the schema cannot express) come back on the field.
 */
export function PolicyConfigForm({ schema, value, onChange, serverErrors, idPrefix }: Props) {
  const titled = useMemo(() => withTitles(withDefaultsRequired(schema)), [schema]);
  const uiSchema = useMemo(() => uiSchemaFor(schema), [schema]);
  return (
    <Form
      schema={titled as RJSFSchema}
      uiSchema={uiSchema}
      formData={value}
      validator={validator}
      widgets={widgets}
      idPrefix={idPrefix}
      experimental_defaultFormStateBehavior={{ emptyObjectFields: 'populateRequiredDefaults' }}
      liveValidate
      showErrorList={false}
      extraErrors={serverErrors as never}
      onChange={(event) => onChange((event.formData ?? {}) as Record<string, unknown>)}
    />
  );
}
