import { z } from 'zod';
import { bearerAccessSchema } from '../jwt-auth/schema';

export const oauth2AuthConfigSchema = z.strictObject({ ...bearerAccessSchema });
export type OAuth2AuthConfig = z.output<typeof oauth2AuthConfigSchema>;
