import { z } from 'zod';

/** Names are identifiers people type in URLs, bundles and CLIs: short, lowercase, no spaces. */
export const entityName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be 1-63 chars of a-z, 0-9, ".", "_" or "-", starting with a letter or digit');

export const description = z.string().max(1000);
export const entityId = z.uuid();
/** An instant the API returns: always `Date.toISOString()`, so UTC with a `Z`. */
export const timestamp = z.iso.datetime();
