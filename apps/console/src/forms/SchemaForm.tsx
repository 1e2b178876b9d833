import Form from '@rjsf/core';
import type { RJSFSchema, UiSchema } from '@rjsf/utils';
import validator from '@rjsf/validator-ajv8';
import { useMemo } from 'react';
import { AnyOfSelectWidget } from './AnyOfSelectWidget';
import { formSchema } from './form-schema';
import type { ErrorTree } from './server-errors';

const uiSchema: UiSchema = { 'ui:submitButtonOptions': { norender: true } };
const widgets = { SelectWidget: AnyOfSelectWidget };

interface Props {
  /** The JSON Schema of what the form edits: a policy's config, or part of a request body from the OpenAPI document. */
  schema: Record<string, unknown>;
  value: Record<string, unknown>;
  onChange: (value: Record<string, unknown>) => void;
  /** What the Manager said about these fields on the last save. */
  serverErrors?: ErrorTree;
  idPrefix: string;
}

/**
 * A form generated from a JSON Schema: the browser checks the schema as the operator types; the
 * Manager's own findings (which the schema cannot express) come back on the field they name.
 * A schema that grows a field gets it in the form with no console change.
 */
export function SchemaForm({ schema, value, onChange, serverErrors, idPrefix }: Props) {
  const shaped = useMemo(() => formSchema(schema), [schema]);
  return (
    <Form
      schema={shaped as RJSFSchema}
      uiSchema={uiSchema}
      formData={value}
      validator={validator}
      widgets={widgets}
      idPrefix={idPrefix}
      liveValidate
      // Optional sections stay absent until the operator fills them: an untouched time rule must not be sent half made.
      experimental_defaultFormStateBehavior={{ emptyObjectFields: 'populateRequiredDefaults' }}
      showErrorList={false}
      extraErrors={serverErrors as never}
      onChange={(event) => onChange((event.formData ?? {}) as Record<string, unknown>)}
    />
  );
}
