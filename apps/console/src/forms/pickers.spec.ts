import { KeyManagersWidget } from './KeyManagersWidget';
import { pickersFor } from './pickers';

// Which key manager picker a `keyManagers` list gets: a policy's holds ids, a client's JWT bearer grant names.
describe('key manager pickers', () => {
  it("picks a policy's key managers by id and a client's jwtBearer.keyManagers by name", () => {
    const ui = pickersFor({
      type: 'object',
      properties: {
        // jwt-auth's config: z.array(z.uuid())
        keyManagers: { type: 'array', items: { type: 'string', format: 'uuid' } },
        // token settings: jwtBearer.keyManagers, z.array(entityName)
        jwtBearer: { type: 'object', properties: { keyManagers: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' } } } },
      },
    });
    expect(ui.keyManagers).toEqual({ 'ui:widget': KeyManagersWidget, 'ui:label': false });
    expect(ui.jwtBearer).toEqual({ keyManagers: { 'ui:widget': KeyManagersWidget, 'ui:label': false, 'ui:options': { valueBy: 'name' } } });
  });
});
