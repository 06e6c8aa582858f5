import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.ts';

/** One stored wording of a consent notice: `notices/<purpose>/<version>.<locale>.md`. */
export interface StoredNotice {
  purpose: string;
  version: string;
  locale: string;
  text: string;
  /** SHA-256 of the text, in hex: what a consent event's `notice_hash` is compared with. */
  hash: string;
  file: string;
}

/** The notice texts, by purpose, then version: each version in every locale it was written in. */
export type NoticeStore = ReadonlyMap<string, ReadonlyMap<string, readonly StoredNotice[]>>;

const FILE = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\.([a-z]{2,3}(?:-[A-Z]{2})?)\.md$/;
const PURPOSE = /^[a-z][a-z0-9_-]*$/;

export const sha256 = (text: string): string => crypto.createHash('sha256').update(text).digest('hex');

/**
 * Reads every notice text once, at start: a file's bytes are what the person was shown, so its hash
 * is taken of the file exactly as it is (no trimming). A notice covers its purpose on every channel.
 * No folder is an empty store; a file named otherwise is refused, naming it, so a typo never
 * silently makes a version unknown.
 */
export function loadNotices(dir: string): NoticeStore {
  const store = new Map<string, Map<string, StoredNotice[]>>();
  if (!fs.existsSync(dir)) return store;
  for (const purpose of fs.readdirSync(dir).sort()) {
    const folder = path.join(dir, purpose);
    if (!fs.statSync(folder).isDirectory()) continue;
    if (!PURPOSE.test(purpose))
      throw new AppError('invalid_config', `${folder}: a notice folder is named after its purpose (a-z, 0-9, _ and -)`);
    const versions = new Map<string, StoredNotice[]>();
    for (const name of fs.readdirSync(folder).sort()) {
      const file = path.join(folder, name);
      const match = FILE.exec(name);
      if (!match)
        throw new AppError('invalid_config', `${file}: notice files are named <version>.<locale>.md, like 2026-01.en.md or v3.de-DE.md`);
      const text = fs.readFileSync(file, 'utf8');
      const [, version, locale] = match as unknown as [string, string, string];
      versions.set(version, [...(versions.get(version) ?? []), { purpose, version, locale, text, hash: sha256(text), file }]);
    }
    store.set(purpose, versions);
  }
  return store;
}

/**
 * The stored notice a consent event's version and hash name. A version the store holds must match
 * one of its texts, else 422 naming the version. A version the store does not hold is taken (the
 * ledger has events from before the store, and from forms whose notices live elsewhere) and shown
 * as unknown in every proof: undefined.
 */
export function noticeFor(store: NoticeStore, purpose: string, version: string, hash: string | null): StoredNotice | undefined {
  const texts = store.get(purpose)?.get(version);
  if (!texts) return undefined;
  const matching = texts.find((n) => n.hash === hash);
  if (!matching) {
    throw new AppError(
      'unprocessable',
      `notice version '${version}' of purpose '${purpose}': the text does not match the stored notice (${texts.map((n) => path.basename(n.file)).join(', ')})`,
    );
  }
  return matching;
}

/** What a proof shows of an event's notice: the stored text it matches, or that its version is unknown here. */
export type ProofNotice = { version: string; locale: string; text: string } | { version: string; unknown: true };

export function proofNotice(store: NoticeStore, purpose: string, version: string | null, hash: string | null): ProofNotice | null {
  if (version === null) return null;
  const found = store
    .get(purpose)
    ?.get(version)
    ?.find((n) => n.hash === hash);
  return found ? { version, locale: found.locale, text: found.text } : { version, unknown: true };
}
