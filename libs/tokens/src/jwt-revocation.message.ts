import { z } from 'zod';

/** Our jti values are UUIDs; anything printable and short is accepted, nothing that could split a message. */
const JTI = '[\\x21-\\x7e]{1,128}';
export const REVOCABLE_JTI = new RegExp(`^${JTI}$`);

/**
 * What a Gateway's revocation tells every other Gateway on `<key>:events`: `<jti> <keepUntil>`
 * (epoch seconds), text because the revoke script (Lua) publishes it. Whole seconds of at most
 * 15 digits stay safe integers.
 */
export const jwtRevocationMessageSchema = z
  .string()
  .regex(new RegExp(`^${JTI} \\d{1,15}$`))
  .transform((text) => {
    const [jti, keepUntil] = text.split(' ');
    return { jti, keepUntil: Number(keepUntil) };
  });
export type JwtRevocationMessage = z.infer<typeof jwtRevocationMessageSchema>;
