/** The part of `saml` (auth0, npm: signs SAML 2.0 assertions) the test IdP uses; the package ships no types. */
declare module 'saml' {
  export const Saml20: {
    create(options: {
      cert: string | Buffer;
      key: string | Buffer;
      issuer: string;
      lifetimeInSeconds?: number;
      audiences?: string | string[];
      recipient?: string;
      inResponseTo?: string;
      attributes?: Record<string, string | string[]>;
      nameIdentifier?: string;
      nameIdentifierFormat?: string;
      sessionIndex?: string;
      signatureAlgorithm?: string;
      digestAlgorithm?: string;
    }): string;
  };
}
