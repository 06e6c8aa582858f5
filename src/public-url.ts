import type { Config } from './config.ts';
import type { Queryable } from './db/statement.ts';
import { announcedPublicUrl, announcePublicUrl } from './db/settings.ts';
import { log } from './log.ts';

/** The base URL of links in messages (unsubscribe, double opt-in), whichever process records them. */
export interface LinkBase {
  /** The base URL now; warns once when nothing says where the server is. */
  url(): string;
  /** Announces this process's own URL as the server's (at the start of `serve`) and uses it. */
  announce(): Promise<void>;
}

/**
 * PUBLIC_URL when set. Else the URL the running server announced through the database: a CLI
 * `run` has its own default (http://localhost:3000) however the server was started, and its links
 * must reach the server that answers them. With neither, its own default, with a warning. A
 * long-lived process (a worker started before `serve`, or one that outlives a restart of `serve` on
 * another port) reads the announcement again at most every `refreshMs`, beside its work.
 */
export async function linkBase(db: Queryable, config: Config, refreshMs = 10_000): Promise<LinkBase> {
  let url = config.publicUrlConfigured ? config.publicUrl : await announcedPublicUrl(db);
  let warned = false;
  let readAt = Date.now();
  const refresh = () => {
    if (config.publicUrlConfigured || Date.now() - readAt < refreshMs) return;
    readAt = Date.now();
    announcedPublicUrl(db).then(
      (announced) => void (announced !== undefined && (url = announced)),
      () => {},
    );
  };
  return {
    url() {
      refresh();
      if (url !== undefined) return url;
      if (!warned) {
        warned = true;
        log.warn(
          `PUBLIC_URL is not set and no server has announced its URL: links in messages point to ${config.publicUrl}; ` +
            'set PUBLIC_URL, or start `touchpoint serve` first',
        );
      }
      return config.publicUrl;
    },
    async announce() {
      await announcePublicUrl(db, config.publicUrl);
      url = config.publicUrl;
    },
  };
}
