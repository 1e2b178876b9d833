import { createPublicKey, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { inflateRawSync } from 'node:zlib';
import * as saml from 'saml';
import { SignedXml } from 'xml-crypto';
import type { TestCertificate } from '@idm/test-kit';

/** What an SP's AuthnRequest (HTTP-Redirect binding) asked for. */
export interface AuthnRequest {
  id: string;
  acsUrl: string;
  issuer: string;
  relayState: string;
}

/** One Response, with every field a hostile IdP might get wrong open to change. */
export interface ResponseOptions {
  login: string;
  /** null: none (IdP-initiated). */
  inResponseTo: string | null;
  acsUrl: string;
  audience: string;
  attributes?: Record<string, string | string[]>;
  lifetimeSeconds?: number;
  destination?: string;
  recipient?: string;
  /** Signs the assertion with this certificate's key instead of the IdP's. */
  signer?: TestCertificate;
}

/** How the IdP encrypts an Assertion (XML Encryption by `saml`, through xml-encryption). */
export interface EncryptionOptions {
  /** The SP's certificate (PEM): the Assertion's key is encrypted to its public key. */
  cert: string;
  /** false: the Assertion inside is not signed. */
  signed?: boolean;
  keyEncryptionAlgorithm?: string;
  encryptionAlgorithm?: string;
}

const xmlEscape = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A SAML 2.0 IdP for tests: its assertions are signed by `saml` (auth0's library, npm) with an RSA
 * key whose certificate the SP trusts. `GET /sso` plays the user's sign-in (the `login` query
 * parameter names who) and answers the auto-posting form real IdPs send, to the AuthnRequest's ACS
 * with its RelayState. `response` builds any Response directly, for the hostile cases.
 */
export class TestSamlIdp {
  private constructor(
    readonly entityId: string,
    readonly ssoUrl: string,
    private readonly signer: TestCertificate,
    private readonly server: Server,
  ) {}

  /**
   * The SPs (by entityID, the AuthnRequest's Issuer) whose Assertions `/sso` encrypts, to the
   * certificate given (as an IdP does once it read the SP metadata's encryption key).
   */
  readonly encryptFor = new Map<string, string>();

  /** The IdP's signing certificate (PEM), as its metadata publishes it. */
  get certificate(): string {
    return this.signer.cert;
  }

  static async start(signer: TestCertificate): Promise<TestSamlIdp> {
    let idp: TestSamlIdp | null = null;
    const answer = async (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://idp');
      if (url.pathname !== '/sso' || idp === null) {
        res.writeHead(404);
        return res.end();
      }
      const request = TestSamlIdp.authnRequestOf(url.href);
      const login = url.searchParams.get('login') ?? 'alice';
      const o: ResponseOptions = { login, inResponseTo: request.id, acsUrl: request.acsUrl, audience: request.issuer };
      const encryptTo = idp.encryptFor.get(request.issuer);
      let body: string;
      try {
        body = idp.response(o, encryptTo === undefined ? idp.assertion(o) : await idp.encryptedAssertion(o, { cert: encryptTo }));
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        return res.end(`the test IdP could not build its Response: ${(err as Error).message}`);
      }
      const html = `<!doctype html><form method="post" action="${xmlEscape(request.acsUrl)}"><input type="hidden" name="SAMLResponse" value="${body}"><input type="hidden" name="RelayState" value="${xmlEscape(request.relayState)}"></form>`;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html);
    };
    const server = createServer((req, res) => void answer(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    idp = new TestSamlIdp(`${base}/idp`, `${base}/sso`, signer, server);
    return idp;
  }

  /** The AuthnRequest an SP's redirect URL carries (deflated, base64), and its RelayState. */
  static authnRequestOf(url: string): AuthnRequest {
    const params = new URL(url).searchParams;
    const xml = inflateRawSync(Buffer.from(params.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
    const attr = (name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(xml)?.[1] ?? '';
    return {
      id: attr('ID'),
      acsUrl: attr('AssertionConsumerServiceURL'),
      issuer: /<(?:saml:)?Issuer[^>]*>([^<]*)</.exec(xml)?.[1] ?? '',
      relayState: params.get('RelayState') ?? '',
    };
  }

  /** A signed Assertion for `login`: email, displayName, groups (staff) and `verified` (yes, except for out-* users). */
  assertion(o: ResponseOptions): string {
    const signer = o.signer ?? this.signer;
    return saml.Saml20.create({ ...this.assertionOptions(o), cert: signer.cert, key: signer.key });
  }

  private assertionOptions(o: ResponseOptions) {
    return {
      issuer: this.entityId,
      lifetimeInSeconds: o.lifetimeSeconds ?? 300,
      audiences: o.audience,
      recipient: o.recipient ?? o.acsUrl,
      ...(o.inResponseTo !== null && { inResponseTo: o.inResponseTo }),
      nameIdentifier: o.login,
      sessionIndex: `_${randomBytes(8).toString('hex')}`,
      attributes: o.attributes ?? {
        email: `${o.login}@idp.example`,
        displayName: `IdP ${o.login}`,
        groups: ['staff'],
        ...(!o.login.startsWith('out-') && { verified: 'yes' }),
      },
      signatureAlgorithm: 'rsa-sha256',
      digestAlgorithm: 'sha256',
    };
  }

  /**
   * The Assertion for `o` (signed by the IdP unless `signed: false`) encrypted to the SP's
   * certificate, as `<saml:EncryptedAssertion>`; AES-256-GCM and RSA-OAEP unless told otherwise.
   */
  encryptedAssertion(o: ResponseOptions, e: EncryptionOptions): Promise<string> {
    const signer = o.signer ?? this.signer;
    const options = {
      ...this.assertionOptions(o),
      cert: signer.cert,
      key: signer.key,
      encryptionCert: e.cert,
      encryptionPublicKey: createPublicKey(e.cert).export({ type: 'spki', format: 'pem' }).toString(),
      ...(e.encryptionAlgorithm !== undefined && { encryptionAlgorithm: e.encryptionAlgorithm }),
      ...(e.keyEncryptionAlgorithm !== undefined && { keyEncryptionAlgorithm: e.keyEncryptionAlgorithm }),
      // The hostile cases may ask for the algorithms the SP must refuse.
      disallowEncryptionWithInsecureAlgorithm: false,
      warnOnInsecureEncryptionAlgorithm: false,
    };
    return new Promise((resolve, reject) => {
      const done = (err: Error | null, xml?: string) => (err ? reject(err) : resolve(xml!));
      if (e.signed === false) saml.Saml20.createUnsignedAssertion(options, done);
      else saml.Saml20.create(options, done);
    });
  }

  /**
   * Any XML encrypted to `cert` as an EncryptedAssertion, with the xml-encryption `saml` itself
   * uses: what no honest IdP sends (a DTD hidden inside the encryption).
   */
  encryptRaw(xml: string, cert: string): Promise<string> {
    const xmlenc = createRequire(require.resolve('saml'))('xml-encryption') as {
      encrypt(xml: string, options: Record<string, unknown>, done: (err: Error | null, encrypted?: string) => void): void;
    };
    const options = {
      rsa_pub: createPublicKey(cert).export({ type: 'spki', format: 'pem' }).toString(),
      pem: cert,
      encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
      keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
    };
    return new Promise((resolve, reject) =>
      xmlenc.encrypt(xml, options, (err, encrypted) =>
        err ? reject(err) : resolve(`<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${encrypted}</saml:EncryptedAssertion>`),
      ),
    );
  }

  /** The Response around one or more assertions (by default one signed for `o`), base64 as the HTTP-POST binding sends it. */
  response(o: ResponseOptions, assertions: string = this.assertion(o)): string {
    const now = new Date().toISOString();
    const xml =
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${now}"` +
      ` Destination="${xmlEscape(o.destination ?? o.acsUrl)}"${o.inResponseTo !== null ? ` InResponseTo="${xmlEscape(o.inResponseTo)}"` : ''}>` +
      `<saml:Issuer>${xmlEscape(this.entityId)}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>${assertions}</samlp:Response>`;
    return Buffer.from(xml, 'utf8').toString('base64');
  }

  /**
   * The Response itself signed by the IdP (enveloped XML signature after its Issuer, xml-crypto),
   * around the given assertions, which may be unsigned: "an unsigned Assertion in a signed Response".
   */
  signedResponse(o: ResponseOptions, assertions: string): string {
    const xml = Buffer.from(this.response(o, assertions), 'base64').toString('utf8');
    const signer = new SignedXml({
      privateKey: this.signer.key,
      publicCert: this.signer.cert,
      signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
    });
    signer.addReference({
      xpath: "/*[local-name()='Response']",
      transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
      digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
    });
    signer.computeSignature(xml, { location: { reference: "/*[local-name()='Response']/*[local-name()='Issuer']", action: 'after' } });
    return Buffer.from(signer.getSignedXml(), 'utf8').toString('base64');
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
