import { z } from 'zod';

export const loginSchema = z
  .strictObject({
    username: z.string().min(1).max(128),
    password: z.string().min(1).max(256),
  })
  .meta({ examples: [{ username: 'admin', password: 'correct-horse-battery' }] });

/** An operator session: the bearer token is shown only here, stored as its SHA-256. */
export const sessionSchema = z.object({ token: z.string(), tokenType: z.literal('Bearer'), expiresAt: z.iso.datetime() });
export type Session = z.infer<typeof sessionSchema>;
