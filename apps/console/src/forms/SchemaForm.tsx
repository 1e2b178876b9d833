import Form from '@rjsf/core';
import type { RJSFSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import { useMemo } from 'react';
import { AnyOfSelectWidget } from './AnyOfSelectWidget';
import { formSchema, withoutNulls } from './form-schema';
import { pickersFor } from './pickers';
import { withDefaultsRequired } from './schema-defaults';
import type { ErrorTree } from './server-errors';

const widgets = { SelectWidget: AnyOfSelectWidget };

interface Props {
  /** The JSON Schema of what the form edits: a policy's config (GET /api/v1/policy-types), or part of a request body from the OpenAPI document. */
  schema: Record<string, unknown>;
  value: Record<string, unknown>;
  onChange: (value: Record<string, unknown>) => void;
  /** What the Manager said about these fields on the last save. */
  serverErrors?: ErrorTree;
  idPrefix: string;
  /**
   * Fill every defaulted setting in (a policy's config: the Manager stores them all, and the
   * operator should see them); otherwise optional sections stay absent until filled, so an
   * untouched time rule is not sent half made.
   */
  showDefaults?: boolean;
  /**
   * The fields sit inside the caller's own <form> (its submit button saves them): rendered in a
   * <div>, since a form inside a form is invalid HTML and Enter in a field would submit the inner one.
   */
  embedded?: boolean;
}

/**
 * The one form generator of the console: a form from a JSON Schema. The browser checks the
 * schema as the operator types; the Manager's own findings (which the schema cannot express)
 * come back on the field they name. A schema that grows a field (a new policy, a new body
 * property) gets it in the form with no console change; a reference to another entity is picked
 * by name (see pickers).
 */
export function SchemaForm({ schema, value, onChange, serverErrors, idPrefix, showDefaults = false, embedded = false }: Props) {
  // Defaults are marked required after the shaping, which drops a `null` default the form cannot show.
  const shaped = useMemo(() => {
    const simple = formSchema(schema);
    return showDefaults ? withDefaultsRequired(simple) : simple;
  }, [schema, showDefaults]);
  const uiSchema = useMemo(() => ({ 'ui:submitButtonOptions': { norender: true }, ...pickersFor(shaped) }), [shaped]);
  // The form has no "null": a null is shown (and sent) as nothing, which the API reads as its default.
  const formData = useMemo(() => withoutNulls(value) as Record<string, unknown>, [value]);
  return (
    <Form
      schema={shaped as RJSFSchema}
      uiSchema={uiSchema}
      formData={formData}
      validator={validator}
      widgets={widgets}
      idPrefix={idPrefix}
      tagName={embedded ? 'div' : undefined}
      liveValidate
      experimental_defaultFormStateBehavior={{ emptyObjectFields: 'populateRequiredDefaults' }}
      showErrorList={false}
      extraErrors={serverErrors as never}
      onChange={(event) => onChange((event.formData ?? {}) as Record<string, unknown>)}
    />
  );
}
