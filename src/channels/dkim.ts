import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import addressparser from 'nodemailer/lib/addressparser';
import DKIM from 'nodemailer/lib/dkim';

/** One signing key: mail whose From is at `domain` is signed `d=<domain>; s=<selector>`. */
export interface DkimKey {
  domain: string;
  selector: string;
  /** The RSA private key, PEM. */
  privateKey: string;
  /** Where the key came from (a variable, or a file of DKIM_KEYS_DIR), for messages about it. */
  source: string;
}

/** What config.ts hands over: the single-key variables (already checked for shape) and DKIM_KEYS_DIR, resolved. */
export interface DkimSettings {
  domain: string | undefined;
  selector: string | undefined;
  privateKey: string | undefined;
  privateKeyFile: string | undefined;
  keysDir: string | undefined;
}

/** A file of DKIM_KEYS_DIR is named after the DNS record of its public key: `<selector>._domainkey.<domain>.pem`. */
const KEY_FILE = /^(.+)\._domainkey\.(.+)\.pem$/;

/** The domain of the (first) address in a header value such as `Touchpoint <news@example.com>`, lower case. */
export function addressDomain(value: string): string | undefined {
  const first = addressparser(value)[0];
  const address = first && 'address' in first ? first.address : undefined;
  return address?.includes('@') ? address.slice(address.lastIndexOf('@') + 1).toLowerCase() : undefined;
}

/**
 * Why `pem` cannot sign, or nothing. nodemailer signs `rsa-sha256` only, and quietly sends the
 * message unsigned when the key does not work: a key that would is checked once, at start.
 */
function keyProblem(pem: string): string | undefined {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(pem);
  } catch (err) {
    return `is not a PEM private key (${(err as Error).message})`;
  }
  if (key.asymmetricKeyType !== 'rsa') return `is not an RSA key (${key.asymmetricKeyType ?? 'unknown type'}); DKIM signing here needs one`;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  return bits < 1024 ? `is a ${bits}-bit RSA key; mailbox providers ignore keys under 1024 bits (use 2048)` : undefined;
}

/**
 * The signing keys the settings name, and every problem with them (a key that does not parse, a
 * file that cannot be read, a domain with two keys), each naming the variable or file at fault.
 */
export function readDkimKeys(settings: DkimSettings): { keys: DkimKey[]; problems: string[] } {
  const found: DkimKey[] = [];
  const problems: string[] = [];
  const add = (key: DkimKey) => {
    const problem = keyProblem(key.privateKey);
    if (problem) problems.push(`${key.source} ${problem}`);
    else if (found.some((k) => k.domain === key.domain)) problems.push(`${key.source}: ${key.domain} already has a DKIM key`);
    else found.push(key);
  };
  const read = (file: string, source: string): string | undefined => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`${source} cannot be read (${(err as Error).message})`);
      return undefined;
    }
  };

  const { domain, selector, privateKey, privateKeyFile } = settings;
  if (selector !== undefined) {
    if (privateKey === undefined && privateKeyFile === undefined) {
      problems.push('"DKIM_SELECTOR" is set without DKIM_PRIVATE_KEY or DKIM_PRIVATE_KEY_FILE');
    } else if (domain === undefined) {
      problems.push('"DKIM_DOMAIN" is needed: MAIL_FROM has no domain to sign for');
    } else if (privateKey !== undefined) {
      // A PEM in one line of .env or a CI variable keeps its line breaks as `\n`.
      add({ domain, selector, privateKey: privateKey.replaceAll('\\n', '\n'), source: '"DKIM_PRIVATE_KEY"' });
    } else if (privateKeyFile !== undefined) {
      const source = `"DKIM_PRIVATE_KEY_FILE" (${privateKeyFile})`;
      const pem = read(privateKeyFile, source);
      if (pem !== undefined) add({ domain, selector, privateKey: pem, source });
    }
  }
  if (settings.keysDir !== undefined) {
    const names = (() => {
      try {
        return fs.readdirSync(settings.keysDir).filter((name) => name.endsWith('.pem'));
      } catch (err) {
        problems.push(`"DKIM_KEYS_DIR" (${settings.keysDir}) cannot be read (${(err as Error).message})`);
        return [];
      }
    })();
    for (const name of names.sort()) {
      const source = `"DKIM_KEYS_DIR" file ${name}`;
      const match = KEY_FILE.exec(name);
      if (!match) {
        problems.push(`${source} is not named <selector>._domainkey.<domain>.pem`);
        continue;
      }
      const pem = read(path.join(settings.keysDir, name), source);
      if (pem !== undefined) add({ selector: match[1]!, domain: match[2]!.toLowerCase(), privateKey: pem, source });
    }
  }
  return { keys: found, problems };
}

/**
 * Header fields the signature covers. nodemailer's default list lacks the two that only count
 * when signed: List-Unsubscribe-Post (RFC 8058 section 4: one-click unsubscribe) and Feedback-ID
 * (Gmail's feedback loop). Fields a message does not have are left out of `h=`.
 */
const SIGNED_FIELDS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'Feedback-ID',
].join(':');

/** Signs built messages with the key of their From domain (nodemailer's DKIM signer, as its transports use it). */
export class DkimSigner {
  private readonly byDomain: Map<string, DKIM>;

  constructor(keys: DkimKey[]) {
    this.byDomain = new Map(
      keys.map((k) => [
        k.domain,
        new DKIM({ domainName: k.domain, keySelector: k.selector, privateKey: k.privateKey, headerFieldNames: SIGNED_FIELDS }),
      ]),
    );
  }

  /** `raw` with a DKIM-Signature of `fromDomain`'s key on top; as it is when that domain has no key. */
  async sign(raw: Buffer, fromDomain: string | undefined): Promise<Buffer> {
    const dkim = fromDomain === undefined ? undefined : this.byDomain.get(fromDomain);
    if (!dkim) return raw;
    const chunks: Buffer[] = [];
    const signed: PassThrough = dkim.sign(raw);
    for await (const chunk of signed) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}
