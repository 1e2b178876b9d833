/** @jest-environment ./apps/console/test/jsdom-environment.js */
import { render, screen } from '@testing-library/react';
import { SchemaForm } from './SchemaForm';

// The Manager's own findings (which the schema cannot express) show on the field they name.
describe('a generated form', () => {
  const schema = {
    type: 'object',
    properties: { time: { type: 'object', properties: { mode: { type: 'string', enum: ['allow', 'restrict'] }, timeZone: { type: 'string' } }, required: ['mode'] } },
  };

  it("shows the server's finding under its field", () => {
    const view = render(<SchemaForm idPrefix="rules" schema={schema} value={{ time: { mode: 'allow', timeZone: 'Mars/Olympus' } }} onChange={() => undefined} />);
    view.rerender(
      <SchemaForm
        idPrefix="rules"
        schema={schema}
        value={{ time: { mode: 'allow', timeZone: 'Mars/Olympus' } }}
        onChange={() => undefined}
        serverErrors={{ time: { timeZone: { __errors: ['must be an IANA time zone'] } } }}
      />,
    );
    const field = document.getElementById('rules_time_timeZone')!.closest('.form-group')!;
    expect(field.textContent).toContain('must be an IANA time zone');
    expect(screen.getAllByText('must be an IANA time zone')).toHaveLength(1);
  });
});
