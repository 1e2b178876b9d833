import { z } from 'zod';

/**
 * Dynamic client registration (RFC 7591) and its management protocol (RFC 7592) at the Gateway's
 * OpenID Provider. The Gateway never writes the database: it reads the HTTP request (size, JSON,
 * bearer token) and asks the Manager over the bus (request/reply, like `end-users.provision`),
 * which checks the token, validates the metadata and creates, reads, replaces or deletes the
 * client as an ordinary OIDC client of the token's project (audited with source `dcr`). The client
 * then reaches every Gateway by the ordinary publication.
 */
export const CLIENT_REGISTRATION = 'oidc-clients.registration';

/**
 * Redis set of the projects that accept dynamic registrations: the Manager keeps it (after every
 * change of a project's switch, and in full when it connects); the Gateways read its size to
 * decide whether discovery names a `registration_endpoint`.
 */
export const CLIENT_REGISTRATION_PROJECTS_KEY = 'idm:client-registration:projects';

export const CLIENT_REGISTRATION_OPERATIONS = ['register', 'read', 'replace', 'delete'] as const;

export const clientRegistrationRequestSchema = z.object({
  environment: z.string().min(1).max(128),
  operation: z.enum(CLIENT_REGISTRATION_OPERATIONS),
  /** The registration endpoint's URL as the client addressed it (`<issuer>/register`): the base of `registration_client_uri`. */
  endpoint: z.string().min(1).max(2048),
  /** The bearer token: an initial access token (`register`), a registration access token (the others); null when none was sent. */
  token: z.string().max(512).nullable(),
  /** The client of the RFC 7592 calls (the last segment of `registration_client_uri`). */
  clientId: z.string().max(128).nullable(),
  /** The client metadata (a JSON object, parsed by the Gateway; validated by the Manager). */
  metadata: z.record(z.string(), z.unknown()).nullable(),
});
export type ClientRegistrationRequest = z.infer<typeof clientRegistrationRequestSchema>;

/**
 * The HTTP answer the Gateway relays (status and JSON body, RFC 7591 §3.2 and RFC 7592 §2), and
 * what to wait for before relaying it: the client as it must look in this Gateway's configuration
 * (present with these redirect URIs, or gone), so a client that registered can use the Gateway
 * that answered it at once.
 */
export const clientRegistrationReplySchema = z.object({
  status: z.number().int().min(200).max(599),
  body: z.record(z.string(), z.unknown()).nullable(),
  published: z.object({ clientId: z.string(), redirectUris: z.array(z.string()).nullable() }).optional(),
});
export type ClientRegistrationReply = z.infer<typeof clientRegistrationReplySchema>;
