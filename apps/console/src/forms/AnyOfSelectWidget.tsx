import { VisuallyHidden } from '@mantine/core';
import { getDefaultRegistry } from '@rjsf/core';
import type { WidgetProps } from '@rjsf/utils';

const DefaultSelect = getDefaultRegistry().widgets.SelectWidget;

/**
 * The default select, labelled when it is the chooser between a setting's variants (anyOf/oneOf,
 * e.g. a token lifetime given or not): rjsf renders that one without a <label>, which leaves
 * screen readers with an unnamed control.
 */
export function AnyOfSelectWidget(props: WidgetProps) {
  const chooser = /__(any|one)of_select$/.test(props.id);
  return (
    <>
      {chooser && (
        <VisuallyHidden>
          <label htmlFor={props.id}>{`${props.label || 'Setting'}: variant`}</label>
        </VisuallyHidden>
      )}
      <DefaultSelect {...props} />
    </>
  );
}
