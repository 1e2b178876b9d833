/** The part of `saml` (auth0, npm: signs SAML 2.0 assertions) the test IdP uses; the package ships no types. */
declare module 'saml' {
  interface AssertionOptions {
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
    /** XML Encryption of the Assertion (then the result comes through the callback only). */
    encryptionCert?: string;
    encryptionPublicKey?: string;
    encryptionAlgorithm?: string;
    keyEncryptionAlgorithm?: string;
    disallowEncryptionWithInsecureAlgorithm?: boolean;
    warnOnInsecureEncryptionAlgorithm?: boolean;
  }
  export const Saml20: {
    create(options: AssertionOptions & { cert: string | Buffer; key: string | Buffer }): string;
    create(options: AssertionOptions & { cert: string | Buffer; key: string | Buffer }, callback: (err: Error | null, xml?: string) => void): void;
    createUnsignedAssertion(options: AssertionOptions, callback: (err: Error | null, xml?: string) => void): void;
  };
}
