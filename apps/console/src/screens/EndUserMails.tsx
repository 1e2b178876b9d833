import { Alert } from '@mantine/core';
import { useState } from 'react';
import { api } from '../api/client';
import type { EndUser, EndUserMailSent } from '../api/types';
import { RowAction } from '../layout/EntityListPanel';

type Purpose = 'verification' | 'password-reset';
const WHAT: Record<Purpose, string> = { verification: 'verification mail', 'password-reset': 'password reset mail' };

interface Sent extends EndUserMailSent {
  purpose: Purpose;
  username: string;
}

/**
 * An operator sends an end user the mail the user would ask for themselves: the link to verify
 * their address, or to choose a new password. The operator never sees the link; what the
 * Manager answers (to which address, until when the link works) is shown, a refusal (no SMTP
 * server, already verified) is the panel's action error with the problem's detail.
 */
export function useEndUserMails(projectId: string, run: (work: () => Promise<unknown>) => Promise<boolean>) {
  const [sent, setSent] = useState<Sent | null>(null);
  const send = (user: EndUser, purpose: Purpose) => {
    setSent(null);
    void run(async () => {
      const answer = await api<EndUserMailSent>('POST', `/projects/${projectId}/users/${user.id}/${purpose}-mail`);
      setSent({ ...answer, purpose, username: user.username });
    });
  };
  /** The row's buttons: verification only while the address is unverified, reset only for a password the project holds. */
  const buttons = (user: EndUser) => (
    <>
      {!user.emailVerified && (
        <RowAction label={`Send verification mail to ${user.username}`} onClick={() => send(user, 'verification')}>
          Send verification
        </RowAction>
      )}
      {!user.identitySource && (
        <RowAction label={`Send password reset mail to ${user.username}`} onClick={() => send(user, 'password-reset')}>
          Send password reset
        </RowAction>
      )}
    </>
  );
  const result = sent && (
    <Alert color="green" role="status" title="Mail sent" withCloseButton closeButtonLabel="Dismiss" onClose={() => setSent(null)}>
      The {WHAT[sent.purpose]} for {sent.username} went to {sent.sentTo}; its link works until {new Date(sent.expiresAt).toLocaleString()}.
    </Alert>
  );
  return { buttons, result };
}
