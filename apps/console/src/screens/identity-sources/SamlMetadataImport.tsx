import { Button, Stack, Textarea } from '@mantine/core';
import { useState } from 'react';
import { api } from '../../api/client';
import type { IdentitySource } from '../../api/types';
import { ErrorAlert, useAction } from '../actions';

/**
 * A saml source's IdP settings from the IdP's metadata XML, pasted: the Manager takes its
 * entityID, HTTP-Redirect SSO URL and signing certificates into the source's config and keeps the
 * rest (POST /identity-sources/{id}/saml-metadata). It saves at once, so the dialog closes on
 * success: the form under it still holds the old values and must not write them back. A refusal
 * (a DTD, no IdP, no signing certificate) shows with the Manager's detail and changes nothing.
 */
export function SamlMetadataImport({ source, onImported }: { source: IdentitySource; onImported: () => void }) {
  const [xml, setXml] = useState('');
  const action = useAction([['identity-sources']]);
  const submit = async () => {
    const done = await action.run(() => api('POST', `/identity-sources/${source.id}/saml-metadata`, { metadataXml: xml }), `IdP metadata imported into ${source.name}`);
    if (done) onImported();
  };
  return (
    <Stack gap="xs">
      <ErrorAlert error={action.error} />
      <Textarea
        label="IdP metadata XML"
        description="Paste the IdP's metadata (its EntityDescriptor): its entityID, SSO URL (HTTP-Redirect) and signing certificates replace the source's, which is saved at once"
        autosize
        minRows={3}
        maxRows={10}
        value={xml}
        onChange={(e) => setXml(e.currentTarget.value)}
      />
      <Button variant="light" disabled={xml.trim() === ''} onClick={() => void submit()}>
        Import IdP metadata
      </Button>
    </Stack>
  );
}
